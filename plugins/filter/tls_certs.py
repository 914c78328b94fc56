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

from ansible_collections.cmsgs.nats.plugins.filter.tls_renewal import tls_renewal_reasons
from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
plan = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.tls_certs_plan")


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


def tls_certs_issue_set(variables, purpose, target=None, play_plans=None, host_names=None):
    """The certificate with the reasons it is due (renewal_reasons; empty when it is not)."""
    cert = _call("tls_certs_issue_set", plan.issue_set, variables, purpose, target, play_plans or [], host_names or [])
    renew_days = _call("tls_certs_issue_set", lambda: plan.RoleVars(variables).int("tls_certs_renew_days"))
    cert["reasons"] = tls_renewal_reasons(cert["cert"], purpose=cert["purpose"], key_path=cert["key"],
                                          ca_path=cert.get("ca", cert["cert"]), names=cert["names"],
                                          renew_days=renew_days, exact_names=cert["exact_names"])
    return cert


def tls_certs_san_entries(names):
    return _call("tls_certs_san_entries", plan.san_entries, names)


class FilterModule:
    """Decisions of the tls_certs role."""

    def filters(self):
        return {
            "tls_certs_preflight": tls_certs_preflight,
            "tls_certs_layout": tls_certs_layout,
            "tls_certs_own_checks": tls_certs_own_checks,
            "tls_certs_issue_set": tls_certs_issue_set,
            "tls_certs_san_entries": tls_certs_san_entries,
        }
