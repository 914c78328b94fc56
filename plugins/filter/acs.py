# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter through which the acs role takes its decisions.

It calls plugins/module_utils/acs_plan.py, where the rules live and are unit
tested; documented in acs_plan.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError, as_bool

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
plan = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.acs_plan")
nats_jwt = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt")


def acs_plan(variables, operator_jwt="", system_account_jwt="", recorded_config="", ncred_files=None,
             check_mode=False):
    if not nats_jwt.HAS_NKEYS:
        raise AnsibleFilterError("the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs")
    try:
        return plan.plan(variables, operator_jwt, system_account_jwt, recorded_config, ncred_files,
                         as_bool("check_mode", check_mode))
    except RoleValueError as exc:
        raise AnsibleFilterError("acs_plan: %s" % exc) from None


class FilterModule:
    """Decisions of the acs role."""

    def filters(self):
        return {"acs_plan": acs_plan}
