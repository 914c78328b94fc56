# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter through which the region1_bootstrap role takes its decisions.

It calls plugins/module_utils/region1_bootstrap_plan.py, where the rules live
and are unit tested; documented in region1_bootstrap_plan.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
nats_jwt = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt")
plan = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.region1_bootstrap_plan")


def region1_bootstrap_plan(variables, layout_entries=None):
    if not nats_jwt.HAS_NKEYS:
        raise AnsibleFilterError("the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs")
    try:
        return plan.plan(variables, layout_entries)
    except RoleValueError as exc:
        raise AnsibleFilterError("region1_bootstrap_plan: %s" % exc) from None


class FilterModule:
    """Decisions of the region1_bootstrap role."""

    def filters(self):
        return {"region1_bootstrap_plan": region1_bootstrap_plan}
