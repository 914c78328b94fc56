# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmsgs.nats.nats_server_plan: the topology and the run plan of one nats_server host, once per run.

Runs on the controller only. It reads this server's part of the topology (the
stack's plan, else the inventory), then templates the role's variables with
that topology already known, and works out what they decide
(nats_server_plan.run_plan). The role registers the result, and vars/main.yml
reads both from it for the rest of the run. They are not returned as
ansible_facts: facts from any module but set_fact rank below role variables, so
vars/main.yml's own definitions would win.

Why an action and not set_fact tasks:
- Four defaults (cluster and gateway names, routes, peers) read the topology.
  Templated before the topology is a fact, each of them would walk every
  host's variables again.
- The strategy loads an action's class in the controller's main process when
  it reaches the task, so the imports below happen there once. Each later task
  runs in a worker forked from that process and inherits them, instead of
  compiling the role's rules (nats_server_plan and what it imports) again in
  each task that calls one of its filters.
"""

from __future__ import annotations

import importlib
import os

from ansible.errors import AnsibleActionFail, AnsibleFilterError
from ansible.plugins.action import ActionBase

from ansible_collections.cmsgs.nats.plugins.filter import nats_topology
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_server_plan
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError

# Every filter file of the collection, imported for the reason above: the first
# time a task names one filter, ansible-core loads all of them.
FILTER_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "filter")


def preload_filters():
    for entry in sorted(os.listdir(FILTER_FOLDER)):
        name, extension = os.path.splitext(entry)
        if extension == ".py":
            importlib.import_module("ansible_collections.cmsgs.nats.plugins.filter." + name)


preload_filters()

# The role variable that gathers every nats_server_* variable (vars/main.yml).
ROLE_VARIABLES = "_nats_server_vars"
# The role variable the topology's readers name; set to the derived topology while the variables are templated.
TOPOLOGY_VARIABLE = "_nats_server_topology"


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # nothing runs on the host
        task_vars = task_vars or {}
        if self._task.args:
            raise AnsibleActionFail("nats_server_plan takes no options, got %s; it reads the nats_server role's variables"
                                    % ", ".join(sorted(self._task.args)))
        if ROLE_VARIABLES not in task_vars:
            raise AnsibleActionFail("nats_server_plan runs inside the cmsgs.nats.nats_server role, "
                                    "which defines %s; it was called from outside it" % ROLE_VARIABLES)
        stack_plan = self._templar.template(task_vars.get("nats_stack_plan"))
        try:
            topology = nats_topology.nats_server_topology(task_vars["hostvars"], task_vars["groups"],
                                                          task_vars["inventory_hostname"], stack_plan)
        except AnsibleFilterError as exc:
            raise AnsibleActionFail("nats_server_plan: %s" % exc) from None
        # The defaults that read the topology find it here instead of deriving it again.
        self._templar.available_variables = dict(task_vars, **{TOPOLOGY_VARIABLE: topology})
        variables = self._templar.template(task_vars[ROLE_VARIABLES])
        try:
            run = nats_server_plan.run_plan(variables)
        except (nats_server_plan.PlanError, RoleValueError) as exc:
            raise AnsibleActionFail("nats_server_plan: %s" % exc) from None
        result.update(changed=False, topology=topology, run=run)
        return result
