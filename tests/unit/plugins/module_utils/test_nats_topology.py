# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
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
    assert bad["problems"] == ["nats_stack_acs_managed_nodes holds 'http://x/y': give host names, host:port,"
                               " [IPv6]:port or nats:// URLs."]
    v6 = ["[2001:db8::1]:4223", "nats://[2001:db8::2]:4222", "2001:db8::3", "[2001:db8::4]"]
    with_v6 = options({"nats_stack_acs_managed_nodes": v6})
    assert (with_v6["problems"], with_v6["options"]["acs_managed_nodes"]) == ([], v6)


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


# ------------------------------------------------- whole records and messages


def record(host, kind, cluster="", members=(), routes=(), subscribers=(), **changes):
    """The part of derive() for one server, with the defaults of a server that is not behind NAT."""
    part = {"kind": kind, "server_name": host, "address": host, "client_url": "nats://%s:4222" % host,
            "cluster_name": cluster, "cluster_members": list(members), "routes": list(routes),
            "route_tls": len(members) > 1, "gateway_name": "", "gateway_peers": [], "advertise": {},
            "verify_subscribers": list(subscribers)}
    part.update(changes)
    return part


def test_a_server_alone_in_nats_servers_is_standalone_by_default():
    # No child group and no stack option: the inventory alone says standalone.
    assert topology.derive({"nats_servers": ["n1"]}, {}) == {
        "kind": "standalone", "clusters": {}, "servers": ["n1"], "problems": [],
        "hosts": {"n1": record("n1", "standalone", subscribers=["n1"])}}


def test_no_message_server_is_the_whole_empty_result():
    assert derive(inventory(east=["e1", "e2"]), kind="none") == {
        "kind": "none", "clusters": {}, "servers": ["e1", "e2"], "hosts": {}, "problems": []}


def test_a_server_left_out_of_the_cluster_groups_has_no_cluster_and_its_peer_no_route():
    groups = inventory(east=["e1"])
    groups["nats_servers"].append("e2")
    assert derive(groups) == {
        "kind": "cluster", "clusters": {"east": ["e1"]}, "servers": ["e1", "e2"],
        "problems": ["e2 is in nats_servers but in no cluster group (east): put it in the child group of nats_servers"
                     " named after its cluster, or set nats_server_cluster_name on it."],
        "hosts": {"e1": record("e1", "cluster", "east", ["e1"]), "e2": record("e2", "cluster")}}


def test_servers_in_no_cluster_group_are_named_without_a_list_of_clusters():
    assert derive({"nats_servers": ["a", "b"]})["problems"] == [
        "%s is in nats_servers but in no cluster group: put it in the child group of nats_servers named after its"
        " cluster, or set nats_server_cluster_name on it." % host for host in ("a", "b")]


def test_a_server_outside_a_hyper_cluster_is_told_every_cluster():
    groups = inventory(east=["e1", "e2"], west=["w1", "w2"])
    groups["nats_servers"].append("loose")
    assert derive(groups)["problems"] == [
        "loose is in nats_servers but in no cluster group (east, west): put it in the child group of nats_servers"
        " named after its cluster, or set nats_server_cluster_name on it."]


def test_the_messages_of_cluster_membership_name_the_fix():
    groups = inventory(east=["e1", "e2"], west=["w1", "w2"])
    groups["west"].append("e1")
    assert derive(groups)["problems"] == [
        "e1 is in 2 cluster groups (east, west): a server belongs to one cluster; take it out of all but one, or set"
        " nats_server_cluster_name on it."]
    assert derive(inventory(east=["e1", "e2"], west=["w1"]))["problems"] == [
        "cluster west has one server (w1): in a hyper-cluster every cluster needs at least two; add servers to group"
        " west or move this one into another cluster."]
    assert derive(inventory(east=["e1", "e2"]), {h: {"nats_server_cluster_name": "a b"} for h in ("e1", "e2")})[
        "problems"] == ["cluster name 'a b' (group or nats_server_cluster_name of e1, e2) is not usable by"
                        " nats-server: use letters, digits, '-' and '_'."]


def test_a_hyper_cluster_of_one_server_clusters_still_gets_its_gateway():
    result = derive(inventory(east=["e1", "e2"], west=["w1"]))
    assert result["hosts"]["w1"] == record(
        "w1", "hyper-cluster", "west", ["w1"], subscribers=["e1"], gateway_name="west",
        gateway_peers=[{"name": "east", "urls": ["nats://e1:7222", "nats://e2:7222"]}])


def test_three_clusters_verify_each_gateway_towards_the_next_cluster():
    result = derive(inventory(a=["x1", "x2"], b=["y1", "y2"], c=["z1", "z2"]))
    assert result["problems"] == []
    assert {host: part["verify_subscribers"] for host, part in result["hosts"].items()} == {
        "x1": ["x2", "y1"], "x2": ["x1", "y2"], "y1": ["y2", "z1"], "y2": ["y1", "z2"],
        "z1": ["z2", "x1"], "z2": ["z1", "x2"]}


@pytest.mark.parametrize(("kind", "clusters", "message"), [
    ("standalone", {}, "nats_stack_message_channel_server is 'standalone' but the inventory describes no message"
                       " server: a standalone needs exactly one host in nats_servers."),
    ("cluster", {"solo": ["n1"]}, "nats_stack_message_channel_server is 'cluster' but the inventory describes one"
                                  " server: a cluster needs two or more hosts in one child group of nats_servers."),
    ("hyper-cluster", {"east": ["e1", "e2"]},
     "nats_stack_message_channel_server is 'hyper-cluster' but the inventory describes one cluster (east) of 2"
     " servers: a hyper-cluster needs two or more child groups of nats_servers, each a cluster of two or more."),
    ("standalone", {"east": ["e1", "e2"], "west": ["w1", "w2"]},
     "nats_stack_message_channel_server is 'standalone' but the inventory describes 2 clusters (east, west): a"
     " standalone needs exactly one host in nats_servers."),
])
def test_an_option_the_inventory_does_not_match_says_what_it_needs(kind, clusters, message):
    assert derive(inventory(**clusters), kind=kind)["problems"] == [message]


@pytest.mark.parametrize(("kind", "clusters"), [
    ("standalone", {"solo": ["n1"]}),
    ("cluster", {"east": ["e1", "e2"]}),
    ("hyper-cluster", {"east": ["e1", "e2"], "west": ["w1", "w2"]}),
])
def test_an_option_the_inventory_matches_adds_no_problem(kind, clusters):
    result = derive(inventory(**clusters), kind=kind)
    assert (result["kind"], result["problems"]) == (kind, [])


@pytest.mark.parametrize("value", ["nats://203.0.113.7", "203.0.113.7:4222", "nats.example.com:4222", "a b"])
def test_a_bad_advertise_address_is_refused_and_the_server_keeps_its_own(value):
    result = derive(inventory(east=["e1", "e2"]),
                    {"e1": {"nats_server_advertise_address": value, "ansible_host": "10.0.0.1"}})
    assert result["problems"] == [
        "nats_server_advertise_address of e1 is %r: give the bare host name or address that peers and clients reach"
        " it at (no scheme, no port)." % value]
    assert result["hosts"]["e1"] == record("e1", "cluster", "east", ["e1", "e2"], ["nats-route://e2:6222"], ["e2"],
                                           address="10.0.0.1", client_url="nats://10.0.0.1:4222")


@pytest.mark.parametrize(("value", "url"), [("2001:db8::7", "[2001:db8::7]"), ("[2001:db8::7]", "[2001:db8::7]"),
                                            ("nats.example.com", "nats.example.com")])
def test_an_advertise_address_goes_into_urls_once_bracketed(value, url):
    result = derive(inventory(solo=["n1"]), {"n1": {"nats_server_advertise_address": value}})
    assert result["problems"] == []
    assert result["hosts"]["n1"] == record("n1", "standalone", subscribers=["n1"], address=value,
                                           client_url="nats://%s:4222" % url, advertise={"client": url + ":4222"})


def test_three_servers_sharing_a_name_are_named_together():
    result = derive(inventory(east=["e1", "e2", "e3"]), {h: {"nats_server_name": "n"} for h in ("e1", "e2", "e3")})
    assert result["problems"] == [
        "e1, e2 and e3 share their 'n' (nats_server_name): server names must be unique across the topology."]


@pytest.mark.parametrize(("listener", "ports", "kind"), [
    ("client", {"nats_server_cluster_port": 6223, "nats_server_gateway_port": 7223}, ""),
    ("cluster", {"nats_server_port": 4223, "nats_server_gateway_port": 7223}, ""),
    ("gateway", {"nats_server_port": 4223, "nats_server_cluster_port": 6223}, "hyper-cluster"),
])
def test_servers_sharing_an_address_and_a_port_are_named_once(listener, ports, kind):
    clusters = {"east": ["e1", "e2"], "west": ["w1", "w2"]} if kind else {"east": ["e1", "e2"]}
    hostvars = {"e1": {"ansible_host": "10.0.0.5"}, "e2": dict(ports, ansible_host="10.0.0.5")}
    port = {"client": 4222, "cluster": 6222, "gateway": 7222}[listener]
    variable = topology.PORT_VARIABLES[listener]
    assert derive(inventory(**clusters), hostvars)["problems"] == [
        "e1 and e2 share the address '10.0.0.5:%d' (nats_server_advertise_address/ansible_host and %s): each server"
        " needs an address of its own." % (port, variable)]


def test_servers_of_a_cluster_may_share_an_address_and_a_gateway_port():
    # Without a hyper-cluster no gateway listens.
    hostvars = {"e1": {"ansible_host": "10.0.0.5"},
                "e2": {"ansible_host": "10.0.0.5", "nats_server_port": 4223, "nats_server_cluster_port": 6223}}
    assert derive(inventory(east=["e1", "e2"]), hostvars)["problems"] == []


@pytest.mark.parametrize(("value", "port"), [(1, 1), ("65535", 65535), (" 4222 ", 4222)])
def test_ports_from_one_to_65535_are_accepted(value, port):
    assert topology.parse_port(value, "nats_server_port of n1") == (port, None)


@pytest.mark.parametrize("value", [0, "65536", -1, "", None, True, 4222.0])
def test_ports_outside_one_to_65535_are_refused(value):
    assert topology.parse_port(value, "nats_server_port of n1") == (
        None, "nats_server_port of n1 is %r: give a TCP port between 1 and 65535." % (value,))


@pytest.mark.parametrize(("value", "expected"), [(1, True), (0, False), ("Y", True), ("f", False), (" off ", False)])
def test_numbers_and_short_words_read_as_booleans(value, expected):
    assert topology.parse_bool(value, "x") == (expected, None)


@pytest.mark.parametrize("value", [2, -1, "2", None, "maybe"])
def test_other_values_are_not_booleans(value):
    assert topology.parse_bool(value, "nats_stack_ncred_readonly") == (
        None, "nats_stack_ncred_readonly is %r: give true or false." % (value,))


# ------------------------------------------------------ stack option messages


def test_no_primary_address_given_leaves_the_fqdn_empty():
    assert topology.stack_options({}, inventory(east=["e1", "e2"])) == {
        "options": {"enable_acs": "primary", "message_channel_server": "", "primary_acs_fqdn": "",
                    "acs_managed_nodes": [], "ncred_readonly": False, "region1_token": ""},
        "problems": []}


def test_a_bad_answer_keeps_the_default_of_its_option():
    result = options({"nats_stack_ncred_readonly": "perhaps", "nats_stack_message_channel_server": "mesh"},
                     address="acs-1")
    assert result == {
        "options": {"enable_acs": "primary", "message_channel_server": "", "primary_acs_fqdn": "acs-1",
                    "acs_managed_nodes": [], "ncred_readonly": False, "region1_token": ""},
        "problems": ["nats_stack_message_channel_server is 'mesh': give one of none, standalone, cluster,"
                     " hyper-cluster.",
                     "nats_stack_ncred_readonly is 'perhaps': give true or false."]}


@pytest.mark.parametrize(("value", "expected"), [("Hypercluster", "hyper-cluster"), ("cluster", "cluster"),
                                                 ("Standalone", "standalone"), ("none", "none")])
def test_the_message_channel_option_reads_survey_spellings(value, expected):
    result = options({"nats_stack_message_channel_server": value})
    assert (result["options"]["message_channel_server"], result["problems"]) == (expected, [])


@pytest.mark.parametrize("nodes", [
    ["nats://e1:4222", "tls://e2:4222", "e3", "10.0.0.3:4222", "2001:db8::2"],
    "nats://e1:4222 tls://e2:4222,e3\n10.0.0.3:4222 2001:db8::2",
])
def test_managed_nodes_accept_names_host_ports_and_urls(nodes):
    result = options({"nats_stack_acs_managed_nodes": nodes})
    assert result["problems"] == []
    assert result["options"]["acs_managed_nodes"] == [
        "nats://e1:4222", "tls://e2:4222", "e3", "10.0.0.3:4222", "2001:db8::2"]


def test_managed_nodes_that_are_not_hosts_or_nats_urls_are_named():
    named = ("nats://a://b", "tls://e1/x", "e1!", "NATS://e1", "[2001:db8::1]:", "[2001:db8::1]:x", "[nats-1]:4222")
    result = options({"nats_stack_acs_managed_nodes": list(named)})
    assert result["problems"] == [
        "nats_stack_acs_managed_nodes holds %r: give host names, host:port, [IPv6]:port or nats:// URLs." % node
        for node in named]


@pytest.mark.parametrize("value", [4222, {"e1": 4222}])
def test_managed_nodes_that_are_no_list_are_refused(value):
    result = options({"nats_stack_acs_managed_nodes": value})
    assert result["problems"] == [
        "nats_stack_acs_managed_nodes is %r: give a list of host names or nats:// URLs." % (value,)]
    assert result["options"]["acs_managed_nodes"] == []


@pytest.mark.parametrize("value", ["https://acs.example.com", "acs.example.com/jwt", "acs example"])
def test_the_fqdn_message_names_the_form_to_give(value):
    assert options({"nats_stack_primary_acs_fqdn": value})["problems"] == [
        "nats_stack_primary_acs_fqdn is %r: give the host name alone, such as acs.example.com (no scheme, no path)."
        % value]


def test_the_token_message_says_what_to_paste():
    assert options({"nats_stack_region1_token": "a.b"})["problems"] == [
        "nats_stack_region1_token is not a JWT (three dot-separated parts): paste the REGION1 operator JWT, or leave"
        " it empty to use [ncred]/REGION1.jwt."]


def test_primary_with_an_empty_group_is_refused():
    groups = inventory(east=["e1", "e2"])
    groups["acs_primary"] = []
    assert options({"nats_stack_enable_acs": "primary"}, groups)["problems"] == [
        "nats_stack_enable_acs is 'primary' but the acs_primary group has 0 hosts: put exactly one host in it."]


def test_secondary_messages_name_the_group_and_the_option():
    groups = inventory(east=["e1", "e2"])
    groups["acs_primary"] = []
    assert options({"nats_stack_enable_acs": "secondary"}, groups)["problems"] == [
        "nats_stack_enable_acs is 'secondary' but the acs_secondary group is empty: list the hosts that run the"
        " secondary account servers.",
        "nats_stack_enable_acs is 'secondary': set nats_stack_primary_acs_fqdn to the primary account server the"
        " secondaries replicate from."]
    groups["acs_secondary"] = ["acs-2"]
    result = options({"nats_stack_enable_acs": "secondary", "nats_stack_primary_acs_fqdn": "acs.example.com"}, groups)
    assert (result["options"]["enable_acs"], result["problems"]) == ("secondary", [])


# --------------------------------------------------- security option messages


def test_empty_security_answers_mean_the_secure_default():
    assert security({"nats_stack_insecure_no_client_auth": "", "nats_server_cluster_tls": "",
                     "nats_server_gateway_tls": "", "nats_server_operator_enabled": ""}) == ([], False)


def test_a_bad_insecure_answer_is_named_and_keeps_client_auth():
    assert security({"nats_stack_insecure_no_client_auth": "maybe", "nats_server_config_extra": {"users": []}}) == (
        ["nats_stack_insecure_no_client_auth of e1 is 'maybe': give true or false.",
         "nats_server_config_extra of e1 sets users: in operator mode clients authenticate with REGION1 credentials"
         " only; remove it."], False)


def test_bad_security_booleans_are_named():
    assert security({"nats_server_cluster_tls": "maybe", "nats_server_gateway_tls": 2,
                     "nats_server_operator_enabled": "perhaps"}) == (
        ["nats_server_cluster_tls of e1 is 'maybe': give true or false.",
         "nats_server_gateway_tls of e1 is 2: give true or false.",
         "nats_server_operator_enabled of e1 is 'perhaps': give true or false."], False)


def test_config_extra_that_is_no_mapping_is_refused():
    assert security({"nats_server_config_extra": ["cluster"]}) == (
        ["nats_server_config_extra of e1 is not a mapping."], False)


@pytest.mark.parametrize("tls", [False, "", None, {}])
def test_each_way_of_taking_route_or_gateway_tls_away_is_refused(tls):
    problems, _insecure = security({"nats_server_config_extra": {"cluster": {"tls": tls}, "gateway": {"tls": tls}}})
    assert problems == ["nats_server_config_extra of e1 turns route TLS off (cluster.tls): routes between the servers"
                        " of a cluster carry TLS; remove it.",
                        "nats_server_config_extra of e1 turns gateway TLS off (gateway.tls): traffic between clusters"
                        " must be TLS; remove it."]


def test_a_limited_run_names_every_server_it_reaches():
    plan = topology.stack_plan({}, inventory(east=["e1", "e2"]), {}, "acs-1", run_hosts=["e1", "e2"])
    assert plan["deploy_problems"] == [
        "This run is limited to e1, e2 without the primary ACS host acs-1, whose REGION1 play gives the servers the"
        " operator and system account JWTs and the operator key they pin: add acs-1 to the limit"
        " (--limit 'e1,e2,acs-1')."]
