# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters read only the topology's variables from hostvars and pass plain data on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import nats_topology

FILTERS = nats_topology.FilterModule().filters()


class Lazy(dict):
    """A hostvars entry that fails when a variable the topology does not need is read."""

    def __getitem__(self, name):
        if name == "expensive":
            raise AssertionError("templated a variable the topology does not read")
        return dict.__getitem__(self, name)


def test_filters_are_registered():
    assert set(FILTERS) == {"nats_topology", "nats_stack_options", "nats_stack_plan", "nats_server_topology",
                            "nats_restart_hosts"}


def test_topology_from_hostvars_and_groups():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"]}
    hostvars = {"a": Lazy(expensive=1, ansible_host="10.0.0.1"), "b": Lazy(expensive=1)}
    result = FILTERS["nats_topology"](hostvars, groups)
    assert result["problems"] == []
    assert result["hosts"]["b"]["routes"] == ["nats-route://10.0.0.1:6222"]


def test_explicit_cluster_groups():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"], "rack1": ["a"]}
    hostvars = {"a": {}, "b": {}}
    assert FILTERS["nats_topology"](hostvars, groups)["problems"][0].startswith("a is in 2 cluster groups")
    assert FILTERS["nats_topology"](hostvars, groups, cluster_groups=["east"])["problems"] == []


def test_a_server_missing_from_hostvars_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="x is in the groups but not in hostvars"):
        FILTERS["nats_topology"]({}, {"nats_servers": ["x"]})


def test_bad_arguments_are_filter_errors():
    with pytest.raises(AnsibleFilterError):
        FILTERS["nats_topology"]({}, ["nats_servers"])
    with pytest.raises(AnsibleFilterError):
        FILTERS["nats_stack_options"]("primary", {})


def test_stack_options_filter():
    result = FILTERS["nats_stack_options"]({"nats_stack_ncred_readonly": "false"}, {"acs_primary": ["acs"]}, "acs")
    assert result["options"]["ncred_readonly"] is False
    assert result["options"]["primary_acs_fqdn"] == "acs"


def test_stack_plan_filter_reads_the_security_variables():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"], "acs_primary": ["a"]}
    hostvars = {"a": Lazy(expensive=1, nats_server_cluster_tls="false"), "b": Lazy(expensive=1)}
    plan = FILTERS["nats_stack_plan"](hostvars, groups, {}, "a")
    assert plan["problems"] == ["nats_server_cluster_tls of a is false: routes between the servers of a cluster carry"
                                " TLS; remove the variable."]


def test_restart_hosts_are_running_servers_that_need_a_restart():
    hostvars = {
        "a": {"_nats_server_config_result": {"unit_active": True, "restart_required": True}},
        "b": {"_nats_server_config_result": {"unit_active": True, "restart_required": False},
              "_nats_server_binary_result": {"changed": True}},
        "c": {"_nats_server_config_result": {"unit_active": True, "restart_required": False}},
        # Not running yet: started with the others, not restarted alone.
        "d": {"_nats_server_config_result": {"unit_active": False, "restart_required": True}},
        "e": {},
    }
    assert FILTERS["nats_restart_hosts"](hostvars, ["b", "a", "c", "d", "e"]) == ["b", "a"]


def test_a_servers_topology_is_the_stack_plans_when_there_is_one():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"]}
    derived = {"a": {}, "b": {}}
    assert FILTERS["nats_server_topology"](derived, groups, "b")["routes"] == ["nats-route://a:6222"]
    assert FILTERS["nats_server_topology"](derived, groups, "acs-1") == {}
    # With the stack's plan, hostvars is not read at all.
    stack_plan = {"topology": {"hosts": {"b": {"routes": ["nats-route://10.0.0.1:6222"]}}}}
    assert FILTERS["nats_server_topology"]({}, groups, "b", stack_plan)["routes"] == ["nats-route://10.0.0.1:6222"]
    assert FILTERS["nats_server_topology"]({}, groups, "a", stack_plan) == {}
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["nats_server_topology"]({}, groups, "a", "plan")
    assert str(err.value) == "nats_server_topology: stack_plan must be the result of nats_stack_plan"


def test_bad_arguments_name_the_filter_and_what_to_give():
    with pytest.raises(AnsibleFilterError, match=r"^nats_topology: groups must be the groups variable, got 'list'$"):
        FILTERS["nats_topology"]({}, ["nats_servers"])
    with pytest.raises(AnsibleFilterError, match=r"^nats_topology: cluster_groups must be a list of group names$"):
        FILTERS["nats_topology"]({}, {"nats_servers": []}, cluster_groups="east")
    with pytest.raises(AnsibleFilterError, match=r"^nats_topology: x is in the groups but not in hostvars$"):
        FILTERS["nats_topology"]({}, {"nats_servers": ["x"]})
    options_error = r"^nats_stack_options: give a dict of the nats_stack_\* options and the groups variable$"
    for options, groups in (("primary", {}), ({}, ["acs_primary"])):
        with pytest.raises(AnsibleFilterError, match=options_error):
            FILTERS["nats_stack_options"](options, groups)
    plan_error = r"^nats_stack_plan: give hostvars, the groups variable and a dict of the nats_stack_\* options$"
    for options, groups in (("primary", {}), ({}, ["nats_servers"])):
        with pytest.raises(AnsibleFilterError, match=plan_error):
            FILTERS["nats_stack_plan"]({}, groups, options)


def test_an_inventory_without_servers_has_an_empty_topology():
    assert FILTERS["nats_topology"]({}, {"all": ["acs"]})["servers"] == []
    plan = FILTERS["nats_stack_plan"]({}, {"all": ["acs"]}, {})
    assert plan["topology"]["servers"] == [] and plan["options"]["acs_managed_nodes"] == []


def test_the_message_channel_server_option_is_handed_on():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"]}
    assert FILTERS["nats_topology"]({"a": {}, "b": {}}, groups)["kind"] == "cluster"
    none = FILTERS["nats_topology"]({"a": {}, "b": {}}, groups, "none")
    assert none["kind"] == "none" and none["hosts"] == {}


def test_stack_plan_hands_on_the_account_server_address_and_cluster_groups():
    groups = {"all": ["a", "b"], "nats_servers": ["a", "b"], "east": ["a", "b"], "rack1": ["a"]}
    hostvars = {"a": {}, "b": {}}
    assert FILTERS["nats_stack_plan"](hostvars, groups, {})["options"]["primary_acs_fqdn"] == ""
    assert FILTERS["nats_stack_options"]({}, groups)["options"]["primary_acs_fqdn"] == ""
    plan = FILTERS["nats_stack_plan"](hostvars, groups, {}, "acs.example.com")
    assert plan["options"]["primary_acs_fqdn"] == "acs.example.com"
    assert [p for p in plan["problems"] if p.startswith("a is in 2 cluster groups")]
    plan = FILTERS["nats_stack_plan"](hostvars, groups, {}, "acs.example.com", cluster_groups=["east"])
    assert plan["problems"] == [] and plan["topology"]["clusters"] == {"east": ["a", "b"]}


def test_stack_plan_hands_on_the_hosts_of_the_run():
    groups = {"all": ["a", "acs-1"], "nats_servers": ["a"], "east": ["a"], "acs_primary": ["acs-1"]}
    options = {"nats_stack_enable_acs": "primary"}
    assert FILTERS["nats_stack_plan"]({"a": {}}, groups, options)["deploy_problems"] == []
    limited = FILTERS["nats_stack_plan"]({"a": {}}, groups, options, "acs-1", run_hosts=("a",))
    assert limited["deploy_problems"] and "--limit 'a,acs-1'" in limited["deploy_problems"][0]
