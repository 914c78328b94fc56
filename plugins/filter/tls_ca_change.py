# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell on the controller whether a host's installed CA and the controller's CA differ.

The tls_certs role asks this before it replaces a host's certificates. The
documentation is in tls_ca_change.yml next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
tls_spec = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.tls_spec")


def ca_change(installed_pem, controller_ca_path, host_path=None):
    """A sentence when installed_pem and the CA at controller_ca_path have different keys, else "".

    A CA renewed on the controller keeps its key, so only a CA issued afresh
    (its folder lost or moved) changes it, and with it every certificate.
    """
    installed = tls_spec.load_certificates(installed_pem.encode("ascii") if isinstance(installed_pem, str) else installed_pem)
    with open(controller_ca_path, "rb") as handle:
        controller = tls_spec.load_certificates(handle.read())
    if not installed or not controller:
        return ""
    old, new = tls_spec.spki_sha256(installed[0]), tls_spec.spki_sha256(controller[0])
    if old == new:
        return ""
    return ("%s holds a CA with key sha256:%s, but the controller's %s is a different CA (key sha256:%s)"
            % (host_path or "the host's CA", old, controller_ca_path, new))


def tls_ca_change(slurped, controller_ca_path=None, host_path=None, pki_dir=None):
    """ca_change() for the result of ansible.builtin.slurp (base64 content).

    With ``pki_dir`` the controller's CA is ``<pki_dir>/<item>/ca.pem``, ``item``
    being the purpose the slurp loop ran for, so a whole loop's results map
    through one call.
    """
    if not tls_spec.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("tls_ca_change needs the Python library cryptography on the controller")
    try:
        if pki_dir:
            controller_ca_path = os.path.join(pki_dir, slurped["item"], "ca.pem")
        if not controller_ca_path:
            raise ValueError("give controller_ca_path or pki_dir")
        data = base64.b64decode(slurped["content"]) if isinstance(slurped, dict) else slurped
        return ca_change(data, controller_ca_path, host_path or (slurped.get("source") if isinstance(slurped, dict) else None))
    except (tls_spec.TlsSpecError, ValueError, TypeError, KeyError, OSError) as exc:
        raise AnsibleFilterError("tls_ca_change: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"tls_ca_change": tls_ca_change}
