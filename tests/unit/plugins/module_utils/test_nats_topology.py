# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology an inventory describes, and the stack options read as survey answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_topology as topology


def inventory(**clusters):
    """groups for nats_servers with the given child groups (name -> hosts), plus one ACS host."""
    servers = [host for members in clusters.values() for host in members]
    groups = {"all": servers + ["acs-1"], "ungrouped": [], "nats_servers": servers, "acs_primary": ["acs-1"],
              "acs_secondary": []}
    groups.update(clusters)
    return groups


def derive(groups, hostvars=None, kind=""):
    return topology.derive(groups, hostvars or {}, kind)


# ----------------------------------------------------------------- kinds


def test_one_server_is_standalone_without_cluster_or_gateway():
    result = derive(inventory(nats_servers_only=["n1"]))
    assert result["problems"] == []
    assert result["kind"] == "standalone"
    host = result["hosts"]["n1"]
    assert (host["cluster_name"], host["routes"], host["gateway_name"], host["gateway_peers"]) == ("", [], "", [])
    assert host["route_tls"] is False
    assert host["client_url"] == "nats://n1:4222"
    assert host["verify_subscribers"] == ["n1"]


def test_a_cluster_of_three_routes_to_the_other_two():
    result = derive(inventory(east=["e1", "e2", "e3"]))
    assert result["problems"] == []
    assert result["kind"] == "cluster"
    assert result["clusters"] == {"east": ["e1", "e2", "e3"]}
    assert result["hosts"]["e1"]["routes"] == ["nats-route://e2:6222", "nats-route://e3:6222"]
    assert result["hosts"]["e2"]["routes"] == ["nats-route://e1:6222", "nats-route://e3:6222"]
    assert all(result["hosts"][h]["cluster_name"] == "east" for h in ("e1", "e2", "e3"))
    assert all(result["hosts"][h]["route_tls"] for h in ("e1", "e2", "e3"))
    assert result["hosts"]["e1"]["gateway_name"] == ""
    # Each server's message goes to the next member: every route direction of the ring carries one.
    assert [result["hosts"][h]["verify_subscribers"] for h in ("e1", "e2", "e3")] == [["e2"], ["e3"], ["e1"]]


def test_two_clusters_are_a_hyper_cluster_with_gateways_to_each_other():
    result = derive(inventory(east=["e1", "e2", "e3"], west=["w1", "w2"]),
                    {"w1": {"ansible_host": "10.0.0.21"}, "w2": {"nats_server_gateway_port": "7333"}})
    assert result["problems"] == []
    assert result["kind"] == "hyper-cluster"
    east = result["hosts"]["e2"]
    assert east["gateway_name"] == "east"
    assert east["gateway_peers"] == [{"name": "west", "urls": ["nats://10.0.0.21:7222", "nats://w2:7333"]}]
    west = result["hosts"]["w1"]
    assert west["gateway_peers"] == [{"name": "east", "urls": ["nats://e1:7222", "nats://e2:7222", "nats://e3:7222"]}]
    assert west["routes"] == ["nats-route://w2:6222"]
    # A route and a gateway hop from every server.
    assert east["verify_subscribers"] == ["e3", "w2"]
    assert result["hosts"]["w2"]["verify_subscribers"] == ["w1", "e2"]


def test_the_cluster_name_variable_overrides_the_group():
    result = derive(inventory(dc1=["a", "b"]),
                    {"a": {"nats_server_cluster_name": "blue"}, "b": {"nats_server_cluster_name": "blue"}})
    assert result["problems"] == []
    assert result["clusters"] == {"blue": ["a", "b"]}
    assert result["hosts"]["a"]["routes"] == ["nats-route://b:6222"]


def test_the_cluster_variable_settles_a_server_in_two_groups():
    groups = inventory(east=["e1", "e2"], west=["w1", "w2"])
    groups["west"].append("e2")
    result = derive(groups, {"e2": {"nats_server_cluster_name": "east"}})
    assert result["problems"] == []
    assert result["clusters"] == {"east": ["e1", "e2"], "west": ["w1", "w2"]}


def test_no_message_server_when_the_option_says_none():
    result = derive(inventory(east=["e1", "e2"]), kind="none")
    assert (result["kind"], result["hosts"], result["problems"]) == ("none", {}, [])


def test_an_empty_servers_group_is_none():
    assert derive({"all": [], "nats_servers": []})["kind"] == "none"


def test_groups_with_other_hosts_are_not_clusters():
    groups = inventory(east=["e1", "e2"])
    groups["debian"] = ["e1", "e2", "acs-1"]
    assert derive(groups)["clusters"] == {"east": ["e1", "e2"]}


# --------------------------------------------------------------- advertise


def test_a_server_behind_nat_is_reached_and_advertised_at_its_public_address():
    result = derive(inventory(east=["e1", "e2"], west=["w1", "w2"]),
                    {"e1": {"nats_server_advertise_address": "203.0.113.7", "ansible_host": "10.0.0.1"}})
    assert result["problems"] == []
    assert result["hosts"]["e1"]["advertise"] == {
        "client": "203.0.113.7:4222", "cluster": "203.0.113.7:6222", "gateway": "203.0.113.7:7222"}
    assert result["hosts"]["e2"]["routes"] == ["nats-route://203.0.113.7:6222"]
    assert result["hosts"]["w1"]["gateway_peers"][0]["urls"][0] == "nats://203.0.113.7:7222"
    assert result["hosts"]["e2"]["advertise"] == {}


def test_ipv6_addresses_are_bracketed_in_urls():
    result = derive(inventory(east=["e1", "e2"]), {"e1": {"ansible_host": "2001:db8::1"}})
    assert result["hosts"]["e2"]["routes"] == ["nats-route://[2001:db8::1]:6222"]


def test_a_standalone_server_advertises_only_its_client_port():
    result = derive(inventory(solo=["n1"]), {"n1": {"nats_server_advertise_address": "nats.example.com"}})
    assert result["hosts"]["n1"]["advertise"] == {"client": "nats.example.com:4222"}


# ----------------------------------------------------------------- problems


def one_problem(result):
    assert len(result["problems"]) == 1, result["problems"]
    return result["problems"][0]


def test_a_server_in_two_clusters_is_named():
    groups = inventory(east=["e1", "e2"], west=["w1", "w2"])
    groups["west"].append("e1")
    problem = one_problem(derive(groups))
    assert problem.startswith("e1 is in 2 cluster groups (east, west)")
    assert "nats_server_cluster_name" in problem


def test_a_cluster_of_one_in_a_hyper_cluster_is_refused():
    problem = one_problem(derive(inventory(east=["e1", "e2"], west=["w1"])))
    assert problem.startswith("cluster west has one server (w1)")


def test_a_server_outside_every_cluster_group_is_named():
    groups = inventory(east=["e1", "e2"])
    groups["nats_servers"].append("loose")
    problem = one_problem(derive(groups))
    assert problem.startswith("loose is in nats_servers but in no cluster group (east)")


def test_several_servers_without_cluster_groups_are_refused():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"]}
    result = derive(groups)
    assert [p.split(" ")[0] for p in result["problems"]] == ["a", "b"]


def test_duplicate_server_names_are_named():
    problem = one_problem(derive(inventory(east=["e1", "e2", "e3"]),
                                 {"e1": {"nats_server_name": "n"}, "e3": {"nats_server_name": "n"}}))
    assert problem == ("e1 and e3 share their 'n' (nats_server_name): server names must be unique across the"
                       " topology.")


def test_duplicate_addresses_are_named():
    problem = one_problem(derive(inventory(east=["e1", "e2"]),
                                 {"e1": {"ansible_host": "10.0.0.5"}, "e2": {"ansible_host": "10.0.0.5"}}))
    assert problem.startswith("e1 and e2 share the address '10.0.0.5:4222'")


def test_same_host_different_ports_is_fine():
    hostvars = {"e1": {"ansible_host": "10.0.0.5"},
                "e2": {"ansible_host": "10.0.0.5", "nats_server_port": 4223, "nats_server_cluster_port": "6223"}}
    result = derive(inventory(east=["e1", "e2"]), hostvars)
    assert result["problems"] == []
    assert result["hosts"]["e1"]["routes"] == ["nats-route://10.0.0.5:6223"]


@pytest.mark.parametrize("value", ["0", "70000", "http", True, "6222.5"])
def test_a_bad_port_is_named(value):
    problem = one_problem(derive(inventory(east=["e1", "e2"]), {"e2": {"nats_server_cluster_port": value}}))
    assert problem.startswith("nats_server_cluster_port of e2 is")


@pytest.mark.parametrize("value", ["nats://1.2.3.4", "a b", "host/path"])
def test_a_bad_advertise_address_is_named(value):
    problem = one_problem(derive(inventory(east=["e1", "e2"]), {"e1": {"nats_server_advertise_address": value}}))
    assert problem.startswith("nats_server_advertise_address of e1 is")


def test_names_nats_server_refuses_are_named():
    result = derive(inventory(east=["e1", "e2"]),
                    {"e1": {"nats_server_name": "my server"}, "e2": {"nats_server_cluster_name": "east"}})
    assert one_problem(result).startswith("nats_server_name of e1 is 'my server'")
    result = derive(inventory(east=["e1", "e2"]), {h: {"nats_server_cluster_name": "a b"} for h in ("e1", "e2")})
    assert one_problem(result).startswith("cluster name 'a b'")


@pytest.mark.parametrize(("kind", "clusters", "start"), [
    ("standalone", {"east": ["e1", "e2"]}, "nats_stack_message_channel_server is 'standalone' but the inventory"
                                           " describes one cluster (east) of 2 servers"),
    ("cluster", {"solo": ["n1"]}, "nats_stack_message_channel_server is 'cluster' but the inventory describes one"
                                  " server"),
    ("cluster", {"east": ["e1", "e2"], "west": ["w1", "w2"]},
     "nats_stack_message_channel_server is 'cluster' but the inventory describes 2 clusters (east, west)"),
    ("hyper-cluster", {"east": ["e1", "e2"]}, "nats_stack_message_channel_server is 'hyper-cluster'"),
])
def test_the_option_must_match_the_inventory(kind, clusters, start):
    assert one_problem(derive(inventory(**clusters), kind=kind)).startswith(start)


@pytest.mark.parametrize("spelling", ["hyper-cluster", "Hyper-Cluster", "hypercluster", " hyper_cluster "])
def test_the_option_accepts_survey_spellings(spelling):
    result = derive(inventory(east=["e1", "e2"], west=["w1", "w2"]), kind=spelling)
    assert (result["kind"], result["problems"]) == ("hyper-cluster", [])


def test_an_unknown_option_value_is_named():
    assert one_problem(derive(inventory(east=["e1", "e2"]), kind="mesh")).startswith(
        "nats_stack_message_channel_server is 'mesh': give one of none, standalone, cluster, hyper-cluster")


def test_every_problem_is_reported_at_once():
    groups = inventory(east=["e1", "e2"], west=["w1"])
    result = derive(groups, {"e1": {"nats_server_port": "x"}, "e2": {"nats_server_name": "w1"}})
    assert len(result["problems"]) == 3


# -------------------------------------------------------------- stack options


def options(raw, groups=None, address=""):
    return topology.stack_options(raw, groups if groups is not None else inventory(east=["e1", "e2"]), address)


def test_defaults_follow_the_inventory():
    result = options({}, address="acs-1.example.com")
    assert result["problems"] == []
    assert result["options"] == {"enable_acs": "primary", "message_channel_server": "", "primary_acs_fqdn":
                                 "acs-1.example.com", "acs_managed_nodes": [], "ncred_readonly": False,
                                 "region1_token": ""}
    no_acs = inventory(east=["e1", "e2"])
    no_acs["acs_primary"] = []
    assert options({}, no_acs)["options"]["enable_acs"] == "none"


@pytest.mark.parametrize(("value", "expected"), [
    ("false", False), ("False", False), ("no", False), ("0", False), (False, False), (0, False),
    ("true", True), ("TRUE", True), ("yes", True), ("1", True), (True, True), ("on", True),
])
def test_survey_booleans(value, expected):
    result = options({"nats_stack_ncred_readonly": value})
    assert (result["options"]["ncred_readonly"], result["problems"]) == (expected, [])


def test_a_bad_boolean_is_named():
    result = options({"nats_stack_ncred_readonly": "perhaps"})
    assert result["problems"] == ["nats_stack_ncred_readonly is 'perhaps': give true or false."]


def test_empty_survey_answers_mean_the_default():
    result = options({name: "" for name in topology.STACK_OPTIONS}, address="acs-1")
    assert result["problems"] == []
    assert result["options"]["enable_acs"] == "primary"
    assert result["options"]["primary_acs_fqdn"] == "acs-1"


def test_managed_nodes_from_survey_text_or_a_list():
    text = options({"nats_stack_acs_managed_nodes": "nats://e1:4222, e2\n10.0.0.3:4222"})
    assert text["options"]["acs_managed_nodes"] == ["nats://e1:4222", "e2", "10.0.0.3:4222"]
    assert options({"nats_stack_acs_managed_nodes": ["e1", "e2"]})["options"]["acs_managed_nodes"] == ["e1", "e2"]
    bad = options({"nats_stack_acs_managed_nodes": ["http://x/y"]})
    assert bad["problems"] == ["nats_stack_acs_managed_nodes holds 'http://x/y': give host names, host:port or"
                               " nats:// URLs."]


def test_enable_acs_choices():
    assert options({"nats_stack_enable_acs": " Primary "})["options"]["enable_acs"] == "primary"
    assert options({"nats_stack_enable_acs": "both"})["problems"] == [
        "nats_stack_enable_acs is 'both': give one of primary, secondary, none."]


def test_primary_needs_exactly_one_host():
    groups = inventory(east=["e1", "e2"])
    groups["acs_primary"] = ["a1", "a2"]
    assert options({"nats_stack_enable_acs": "primary"}, groups)["problems"] == [
        "nats_stack_enable_acs is 'primary' but the acs_primary group has 2 hosts (a1, a2): put exactly one host in it."]


def test_secondary_needs_hosts_and_the_primary():
    groups = inventory(east=["e1", "e2"])
    groups["acs_primary"] = []
    result = options({"nats_stack_enable_acs": "secondary"}, groups)
    assert len(result["problems"]) == 2
    assert "acs_secondary group is empty" in result["problems"][0]
    assert "set nats_stack_primary_acs_fqdn" in result["problems"][1]


def test_the_fqdn_is_a_bare_name():
    assert options({"nats_stack_primary_acs_fqdn": "https://acs.example.com/"})["problems"][0].startswith(
        "nats_stack_primary_acs_fqdn is 'https://acs.example.com/'")


def test_a_token_that_is_not_a_jwt_is_refused_without_echoing_it():
    result = options({"nats_stack_region1_token": "s3cret-not-a-jwt"})
    assert len(result["problems"]) == 1
    assert "s3cret" not in result["problems"][0]
    good = options({"nats_stack_region1_token": " aaa.bbb.ccc\n"})
    assert (good["options"]["region1_token"], good["problems"]) == ("aaa.bbb.ccc", [])


# ------------------------------------------------------- transport security

CLUSTER_MEMBER = {"route_tls": True, "gateway_name": ""}
GATEWAY_MEMBER = {"route_tls": True, "gateway_name": "east"}


def security(variables, record=None):
    return topology.security_problems("e1", GATEWAY_MEMBER if record is None else record, variables)


def test_the_defaults_are_secure():
    assert security({}) == ([], False)


@pytest.mark.parametrize("value", [False, "false", "no", "0"])
def test_turning_route_or_gateway_tls_off_is_refused(value):
    problems, _insecure = security({"nats_server_cluster_tls": value, "nats_server_gateway_tls": value})
    assert problems == [
        "nats_server_cluster_tls of e1 is false: routes between the servers of a cluster carry TLS; remove the variable.",
        "nats_server_gateway_tls of e1 is false: traffic between clusters must be TLS; remove the variable.",
    ]


def test_route_tls_may_be_off_for_a_lone_server():
    assert security({"nats_server_cluster_tls": False}, {"route_tls": False, "gateway_name": ""}) == ([], False)


def test_config_extra_that_removes_tls_is_refused():
    problems, _insecure = security({"nats_server_config_extra": {"cluster": {"tls": None}, "gateway": {"tls": {}}}})
    assert [p.split(":")[0] for p in problems] == [
        "nats_server_config_extra of e1 turns route TLS off (cluster.tls)",
        "nats_server_config_extra of e1 turns gateway TLS off (gateway.tls)"]
    assert security({"nats_server_config_extra": {"gateway": None}})[0][0].startswith(
        "nats_server_config_extra of e1 turns gateway TLS off")


def test_allow_non_tls_anywhere_is_refused():
    extra = {"leafnodes": {"remotes": [{"allow_non_tls": True}]}}
    problems, _insecure = security({"nats_server_config_extra": extra}, CLUSTER_MEMBER)
    assert problems == ["nats_server_config_extra of e1 sets leafnodes.remotes[0].allow_non_tls: the stack never"
                        " accepts plain-text connections; remove it."]


def test_harmless_config_extra_passes():
    assert security({"nats_server_config_extra": {"cluster": {"pool_size": 3}, "gateway": {"tls": {"timeout": 5}}}}) \
        == ([], False)


@pytest.mark.parametrize("extra", [{"authorization": {"token": "x"}}, {"no_auth_user": "app"}, {"accounts": {}}])
def test_client_auth_besides_operator_mode_is_refused(extra):
    problems, _insecure = security({"nats_server_config_extra": extra})
    assert len(problems) == 1 and "REGION1 credentials only" in problems[0]


def test_operator_mode_off_needs_the_named_variable():
    problems, insecure = security({"nats_server_operator_enabled": "false"})
    assert insecure is False
    assert problems == ["nats_server_operator_enabled of e1 is false: the stack admits only clients with REGION1"
                        " credentials; remove it, or set nats_stack_insecure_no_client_auth: true to run without"
                        " client authentication."]
    assert security({"nats_server_operator_enabled": False, "nats_stack_insecure_no_client_auth": "true"}) == ([], True)
    assert security({"nats_stack_insecure_no_client_auth": "false"}) == ([], False)


# ---------------------------------------------------------------- the plan


def test_the_plan_gathers_every_problem_and_defaults_the_managed_nodes():
    groups = inventory(east=["e1", "e2"], west=["w1", "w2"])
    plan = topology.stack_plan({"nats_stack_ncred_readonly": "no"}, groups,
                               {"e1": {"nats_server_gateway_tls": "false"}, "w1": {"nats_server_port": "x"}}, "acs-1")
    assert plan["options"]["acs_managed_nodes"] == ["nats://e1:4222", "nats://e2:4222", "nats://w1:4222",
                                                    "nats://w2:4222"]
    assert len(plan["problems"]) == 2
    assert plan["topology"]["kind"] == "hyper-cluster"


def test_the_plan_names_insecure_servers():
    plan = topology.stack_plan({}, inventory(solo=["n1"]), {"n1": {"nats_stack_insecure_no_client_auth": True}}, "acs")
    assert (plan["insecure_hosts"], plan["problems"]) == (["n1"], [])


def test_servers_without_an_account_server_are_refused():
    groups = inventory(solo=["n1"])
    groups["acs_primary"] = []
    plan = topology.stack_plan({}, groups, {})
    assert plan["problems"] == ["nats_stack_enable_acs is 'none' and no account server is named: servers resolve"
                                " accounts through an account server; set nats_stack_primary_acs_fqdn to the one"
                                " they use."]
    assert topology.stack_plan({"nats_stack_primary_acs_fqdn": "acs.example.com"}, groups, {})["problems"] == []


def test_the_bootstrap_recipe_deploys_no_server():
    plan = topology.stack_plan({"nats_stack_enable_acs": "primary", "nats_stack_message_channel_server": "none",
                                "nats_stack_ncred_readonly": "false"}, inventory(east=["e1", "e2"]), {}, "acs-1")
    assert plan["problems"] == []
    assert (plan["topology"]["kind"], plan["options"]["ncred_readonly"]) == ("none", False)


def test_servers_that_resolve_no_accounts_through_an_acs_need_none():
    groups = inventory(solo=["n1"])
    groups["acs_primary"] = []
    assert topology.stack_plan({}, groups, {"n1": {"nats_server_resolver_type": "full"}})["problems"] == []
    plan = topology.stack_plan({}, groups, {"n1": {"nats_stack_insecure_no_client_auth": "yes"}})
    assert (plan["problems"], plan["insecure_hosts"]) == ([], ["n1"])


def test_a_run_limited_to_servers_without_the_primary_acs_stops_deploying_them():
    groups = inventory(east=["e1", "e2"])
    plan = topology.stack_plan({"nats_stack_enable_acs": "primary"}, groups, {}, "acs-1", run_hosts=["e1"])
    assert plan["problems"] == []
    assert plan["deploy_problems"] == [
        "This run is limited to e1 without the primary ACS host acs-1, whose REGION1 play gives the servers the"
        " operator and system account JWTs and the operator key they pin: add acs-1 to the limit"
        " (--limit 'e1,acs-1')."]
    # The whole inventory, or the limit with the ACS host, deploys.
    for run_hosts in (None, ["e1", "e2", "acs-1"], ["e1", "acs-1"]):
        assert topology.stack_plan({}, groups, {}, "acs-1", run_hosts=run_hosts)["deploy_problems"] == []
    # A run of the ACS alone deploys no server; neither does the bootstrap recipe.
    assert topology.stack_plan({}, groups, {}, "acs-1", run_hosts=["acs-1"])["deploy_problems"] == []
    bootstrap = {"nats_stack_message_channel_server": "none"}
    assert topology.stack_plan(bootstrap, groups, {}, "acs-1", run_hosts=["e1"])["deploy_problems"] == []


def test_a_limited_run_needs_the_primary_acs_only_for_what_the_token_does_not_give():
    groups = inventory(east=["e1", "e2"])
    token = {"nats_stack_region1_token": "eyJ0eXAiOiJKV1QifQ.e30.c2ln"}
    hostvars = {"e1": {"nats_server_resolver_type": "url"}, "e2": {"nats_server_resolver_type": "full"}}
    # The token gives the operator and its key; the url resolver takes SYS from the account server.
    assert topology.stack_plan(token, groups, hostvars, "acs-1", run_hosts=["e1"])["deploy_problems"] == []
    # The full resolver preloads SYS, which only the primary ACS host publishes.
    assert "e2 without the primary ACS host" in topology.stack_plan(token, groups, hostvars, "acs-1",
                                                                    run_hosts=["e2"])["deploy_problems"][0]
    # Without a primary account server in this stack, the servers' JWTs come from variables.
    secondary = {"nats_stack_enable_acs": "secondary", "nats_stack_primary_acs_fqdn": "acs.example.com"}
    assert topology.stack_plan(secondary, groups, {}, "acs-1", run_hosts=["e1"])["deploy_problems"] == []
