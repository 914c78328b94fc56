# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that give the stack's TLS spec in the spelling a nats-server version accepts.

The documentation of each filter is in the YAML file of the same name next to this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
tls_spec = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.tls_spec")


def nats_tls_ciphers(server_version):
    try:
        return tls_spec.nats_cipher_suites(server_version)
    except tls_spec.TlsSpecError as exc:
        raise AnsibleFilterError("nats_tls_ciphers: %s" % exc)


def nats_tls_curves(server_version):
    try:
        return tls_spec.nats_curves(server_version)
    except tls_spec.TlsSpecError as exc:
        raise AnsibleFilterError("nats_tls_curves: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {
            "nats_tls_ciphers": nats_tls_ciphers,
            "nats_tls_curves": nats_tls_curves,
        }
