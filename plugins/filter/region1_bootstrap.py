# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter through which the region1_bootstrap role takes its decisions.

It calls plugins/module_utils/region1_bootstrap_plan.py, where the rules live
and are unit tested; documented in region1_bootstrap_plan.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils import region1_bootstrap_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError


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
