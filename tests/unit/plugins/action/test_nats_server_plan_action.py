# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_server_plan action: the topology first, then the role's variables templated with it, then the run plan."""

from __future__ import annotations

import pathlib
import sys
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.cmsgs.nats.plugins.action import nats_server_plan as action_plugin
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_server_plan

from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults

try:  # ansible-core 2.19 templates only strings marked as coming from a trusted source
    from ansible.template import trust_as_template
except ImportError:  # 2.17 templates every string
    def trust_as_template(value):
        return value

GROUPS = {"all": ["a", "b", "c"], "nats_servers": ["a", "b", "c"], "east": ["a", "b", "c"]}
HOSTVARS = {"a": {"ansible_host": "10.0.0.1"}, "b": {}, "c": {}}


def role_vars_template(**overrides):
    """What vars/main.yml's _nats_server_vars does: the role's variables, two of them read from the topology."""
    values = role_defaults(**overrides)
    return {
        "role_values": values,
        "_nats_server_vars": trust_as_template(
            "{{ role_values | combine({'nats_server_cluster_name': _nats_server_topology.cluster_name | default(''),"
            " 'nats_server_cluster_routes': _nats_server_topology.routes | default([])}) }}"),
        # The role variable the action stands in for: a template that would fail if it were used.
        "_nats_server_topology": trust_as_template("{{ undefined_on_purpose.routes }}"),
    }


def run(host="b", args=None, groups=None, hostvars=None, **task_vars):
    task = Task()
    task.args = dict(args or {})
    templar = Templar(loader=DataLoader(), variables={})
    action = action_plugin.ActionModule(task, mock.MagicMock(), mock.MagicMock(check_mode=False), loader=DataLoader(),
                                        templar=templar, shared_loader_obj=None)
    variables = {"groups": GROUPS if groups is None else groups, "hostvars": HOSTVARS if hostvars is None else hostvars,
                 "inventory_hostname": host}
    variables.update(task_vars)
    return action.run(task_vars=variables)


def test_the_variables_are_templated_with_the_topology_it_derived():
    seen = []
    real = nats_server_plan.run_plan
    with mock.patch.object(nats_server_plan, "run_plan", side_effect=lambda v: seen.append(v) or real(v)):
        result = run(**role_vars_template())
    assert result["changed"] is False and "failed" not in result
    assert result["topology"]["routes"] == ["nats-route://10.0.0.1:6222", "nats-route://c:6222"]
    assert result["topology"]["cluster_name"] == "east"
    # The defaults that read the topology saw the one derived here, not the role variable.
    assert seen[0]["nats_server_cluster_routes"] == ["nats-route://10.0.0.1:6222", "nats-route://c:6222"]
    assert seen[0]["nats_server_cluster_name"] == "east"
    assert result["run"] == real(seen[0])
    assert result["run"]["problems"] == [] and result["run"]["operator_enabled"] is False


def test_the_stack_plan_gives_the_topology_when_there_is_one():
    stack_plan = {"topology": {"hosts": {"b": {"cluster_name": "west", "routes": ["nats-route://10.9.9.9:6222"]}}}}
    result = run(nats_stack_plan=stack_plan, hostvars={}, **role_vars_template())
    assert result["topology"] == {"cluster_name": "west", "routes": ["nats-route://10.9.9.9:6222"]}


def test_a_host_in_no_cluster_gets_an_empty_topology():
    result = run(host="acs-1", **role_vars_template())
    assert result["topology"] == {}


def test_problems_are_returned_for_the_role_to_report():
    result = run(**role_vars_template(nats_server_user="root"))
    assert result["run"]["problems"][0].startswith("nats_server_user is 'root'")


def test_a_value_the_rules_cannot_read_fails_naming_the_variable():
    with pytest.raises(AnsibleActionFail, match=r"^nats_server_plan: nats_server_jetstream_enabled must be true"):
        run(**role_vars_template(nats_server_jetstream_enabled="maybe"))


def test_a_topology_the_inventory_cannot_give_fails_naming_the_action():
    with pytest.raises(AnsibleActionFail, match=r"^nats_server_plan: nats_topology: c is in the groups but not in hostvars$"):
        run(hostvars={"a": {}, "b": {}}, **role_vars_template())


def test_outside_the_role_it_says_so():
    with pytest.raises(AnsibleActionFail, match=r"runs inside the cmsgs.nats.nats_server role, which defines _nats_server_vars"):
        run()


def test_options_are_refused():
    with pytest.raises(AnsibleActionFail, match=r"^nats_server_plan takes no options, got cluster, servers; it reads"):
        run(args={"servers": 3, "cluster": "east"}, **role_vars_template())


def test_a_run_warns_of_nothing():
    # ActionBase warns when given a tmp folder, which this action never asks for.
    with mock.patch("ansible.plugins.action.display.warning") as warning:
        run(**role_vars_template())
    warning.assert_not_called()


def test_preloading_imports_every_filter_file(monkeypatch):
    # The strategy loads this class in the controller's main process; the forked
    # workers of later tasks then find every filter file loaded.
    folder = pathlib.Path(action_plugin.__file__).resolve().parents[1] / "filter"
    names = sorted(path.stem for path in folder.glob("*.py"))
    assert "nats_server" in names and "tls_renewal" in names
    for name in names:
        monkeypatch.delitem(sys.modules, "ansible_collections.cmsgs.nats.plugins.filter." + name)
    action_plugin.preload_filters()
    for name in names:
        assert "ansible_collections.cmsgs.nats.plugins.filter." + name in sys.modules
