# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide on the controller whether a certificate of a private PKI must be (re)issued.

The tls_certs role keeps its CAs and certificates on the controller. Asking this
filter instead of running modules keeps a run where nothing is due free of module
calls. The documentation is in tls_renewal_reasons.yml next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
tls_spec = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.tls_spec")


def _reasons():
    """Problems that say the certificate no longer fits, phrased as a reason to reissue it."""
    return {
        tls_spec.RULE_KEY_MISMATCH: "it does not belong to the private key",
        tls_spec.RULE_CHAIN: "it is not signed by the current CA",
        tls_spec.RULE_EXPIRED: "it has expired",
        tls_spec.RULE_NOT_YET_VALID: "it is not valid yet",
        tls_spec.RULE_EKU: "its extended key usage does not fit the purpose",
        tls_spec.RULE_KEY_USAGE: "its key usage lacks digitalSignature",
    }


def _extra_names(sans, names):
    """subjectAltNames of the certificate that are not in names."""
    wanted_dns = set()
    wanted_ips = set()
    for name in names:
        text = str(name).strip()
        try:
            wanted_ips.add(ipaddress.ip_address(text.strip("[]")))
        except ValueError:
            wanted_dns.add(text.rstrip(".").lower())
    extra = []
    for san in sans:
        kind, _sep, value = san.partition(":")
        if kind == "IP":
            if ipaddress.ip_address(value) not in wanted_ips:
                extra.append(value)
        elif value.rstrip(".").lower() not in wanted_dns:
            extra.append(value)
    return extra


def renewal_reasons(cert_path, purpose=None, key_path=None, ca_path=None, names=None, renew_days=30,
                    exact_names=True):
    """Why the certificate at cert_path must be issued again; empty when it is fine.

    purpose None describes a CA certificate: usages and names are not checked.
    exact_names also counts subjectAltNames that are no longer in names; without it
    only missing names count, for a certificate shared by hosts of which a run may
    only see some.
    """
    if purpose is not None and purpose not in tls_spec.PURPOSES:
        raise tls_spec.TlsSpecError("purpose %r is not one of %s" % (purpose, ", ".join(sorted(tls_spec.PURPOSES))))
    if not os.path.exists(cert_path):
        return ["there is no certificate yet"]
    if key_path and not os.path.exists(key_path):
        return ["there is no private key yet"]
    names = [str(name) for name in (names or []) if str(name).strip()]
    report = tls_spec.check_certificate_files(
        cert_path,
        purpose or "client",
        key_path=key_path,
        ca_path=ca_path,
        names=names if purpose else None,
        expiry_warning_days=int(renew_days),
        require_ecdsa=False,
    )
    reasons = []
    for problem in report["problems"]:
        rule = problem["rule"]
        if purpose is None and rule in (tls_spec.RULE_EKU, tls_spec.RULE_KEY_USAGE):
            continue
        # Who may read the key is fixed with chmod/chown, not by issuing again.
        if rule in (tls_spec.RULE_KEY_PERMISSIONS, tls_spec.RULE_KEY_OWNER):
            continue
        if rule == tls_spec.RULE_SAN:
            with open(cert_path, "rb") as handle:
                leaf = tls_spec.load_certificates(handle.read())[0]
            reasons.append("its subjectAltNames lack %s" % ", ".join(tls_spec.uncovered_names(leaf, names)))
        elif problem["file"] == ca_path and ca_path != cert_path:
            reasons.append("its CA file %s fails the %s check" % (ca_path, rule))
        else:
            reasons.append(_reasons().get(rule, "it fails the %s check" % rule))
    for warning in report["warnings"]:
        if warning["rule"] == tls_spec.RULE_EXPIRING and warning["file"] == cert_path:
            reasons.append("it expires in %d days" % report["facts"]["days_left"])
    if purpose and exact_names and report["facts"]:
        extra = _extra_names(report["facts"]["sans"], names)
        if extra:
            reasons.append("its subjectAltNames still hold %s" % ", ".join(extra))
    return reasons


def tls_renewal_reasons(cert_path, purpose=None, key_path=None, ca_path=None, names=None, renew_days=30,
                        exact_names=True):
    if not tls_spec.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("tls_renewal_reasons needs the Python library cryptography on the controller")
    try:
        return renewal_reasons(cert_path, purpose, key_path, ca_path, names, renew_days, exact_names)
    except (tls_spec.TlsSpecError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("tls_renewal_reasons: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"tls_renewal_reasons": tls_renewal_reasons}
