# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters through which the tls_certs role takes its decisions.

They call plugins/module_utils/tls_certs_plan.py, where the rules live and are
unit tested. The documentation of each filter is in the YAML file of the same
name next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_certs_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError


def _call(name, function, *args):
    try:
        return function(*args)
    except (RoleValueError, KeyError) as exc:
        raise AnsibleFilterError("%s: %s" % (name, exc)) from None


def tls_certs_preflight(variables):
    return _call("tls_certs_preflight", plan.preflight_problems, variables)


def tls_certs_layout(variables):
    return _call("tls_certs_layout", plan.layout, variables)


def tls_certs_own_checks(variables):
    return _call("tls_certs_own_checks", plan.own_checks, variables)


def tls_certs_san_entries(names):
    return _call("tls_certs_san_entries", plan.san_entries, names)


class FilterModule:
    """Decisions of the tls_certs role."""

    def filters(self):
        return {
            "tls_certs_preflight": tls_certs_preflight,
            "tls_certs_layout": tls_certs_layout,
            "tls_certs_own_checks": tls_certs_own_checks,
            "tls_certs_san_entries": tls_certs_san_entries,
        }
