# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tls_certs role decides from its variables, as plain functions.

* preflight_problems: every rule in PREFLIGHT_RULES; adding a rule is adding one
  function decorated with @preflight_rule and its test.
* layout: owners and modes of the [certs] volume, for volume_permissions.
* san_entries: subjectAltName entries of a signing request.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.cmsgs.nats.plugins.module_utils import guard_rails
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Folder of each purpose in [certs], as the stack names them.
FOLDERS = {"client": "cmserver", "cluster": "cmcluster", "gateway": "cmgateway"}
PEERS_FOLDER = "cmgwpeers"

PREFLIGHT_RULES = []


def preflight_rule(function):
    """Register a preflight rule: function(RoleVars) -> list of problem strings."""
    PREFLIGHT_RULES.append(function)
    return function


def _vars(variables):
    return variables if isinstance(variables, RoleVars) else RoleVars(variables)


def preflight_problems(variables):
    return collect_problems(PREFLIGHT_RULES, _vars(variables))


def peers(v):
    """Peers only matter on a host that runs a gateway."""
    return v.list("tls_certs_gateway_peers") if "gateway" in v.list("tls_certs_purposes") else []


def _generate(v):
    return v.str("tls_certs_mode") == "generate"


@preflight_rule
def certs_dir_is_absolute(v):
    certs_dir = v.str("tls_certs_dir")
    if certs_dir.startswith("/") and len(certs_dir) > 1:
        return []
    return ["tls_certs_dir ('%s') must be an absolute path." % certs_dir]


@preflight_rule
def pki_dir_is_absolute(v):
    pki_dir = v.str("tls_certs_pki_dir")
    if not _generate(v) or (pki_dir.startswith("/") and len(pki_dir) > 1):
        return []
    return ["tls_certs_pki_dir ('%s') must be an absolute path on the controller." % pki_dir]


@preflight_rule
def gateway_has_a_cluster_name(v):
    name = v.str("tls_certs_gateway_name")
    if "gateway" not in v.list("tls_certs_purposes") or NAME_RE.match(name):
        return []
    return [
        "tls_certs_purposes holds 'gateway' but tls_certs_gateway_name ('%s') is not a cluster name (letters, digits, "
        "'.', '_', '-'); set it, or nats_server_gateway_name, to this host's cluster." % name
    ]


@preflight_rule
def peers_are_cluster_names(v):
    if all(isinstance(peer, str) and NAME_RE.match(peer) for peer in peers(v)):
        return []
    return [
        "tls_certs_gateway_peers (%s) must list peer cluster names (letters, digits, '.', '_', '-')."
        % v.raw("tls_certs_gateway_peers")
    ]


@preflight_rule
def renewal_fits_validity(v):
    if not _generate(v):
        return []
    renew, valid, ca_valid = (v.int(name) for name in ("tls_certs_renew_days", "tls_certs_valid_days", "tls_certs_ca_valid_days"))
    if 0 <= renew < valid <= ca_valid:
        return []
    return [
        "tls_certs_renew_days (%s) must be less than tls_certs_valid_days (%s), which must not exceed "
        "tls_certs_ca_valid_days (%s); otherwise every run would issue again." % (renew, valid, ca_valid)
    ]


@preflight_rule
def generated_certificates_have_names(v):
    if not _generate(v) or v.list("tls_certs_host_names"):
        return []
    return ["tls_certs_host_names is empty; generated certificates need at least one subjectAltName."]


@preflight_rule
def certs_dir_is_not_a_system_folder(v):
    return guard_rails.system_folder_problems(v, ["tls_certs_dir"])


@preflight_rule
def owner_is_not_root(v):
    return guard_rails.root_user_problems(v, ["tls_certs_owner"])


def client_custom_ca(v):
    """Unset, cmserver/ca.pem is a private CA exactly in generate mode."""
    if v.raw("tls_certs_client_custom_ca") is None:
        return _generate(v)
    return v.bool("tls_certs_client_custom_ca")


def own_checks(variables):
    """This host's certificate sets for tls_cert_check; the client CA only when it is a private one."""
    v = _vars(variables)
    certs_dir = v.str("tls_certs_dir")
    checks = []
    for purpose in v.list("tls_certs_purposes"):
        folder = "%s/%s" % (certs_dir, FOLDERS[purpose])
        checks.append({
            "purpose": purpose, "cert": folder + "/cert.pem", "key": folder + "/privkey.pem",
            "ca": folder + "/ca.pem" if purpose != "client" or client_custom_ca(v) else None,
        })
    return checks


def layout(variables):
    """Owners and modes of the volume: folders 0750, certificates 0644 (root, the
    server's group), private keys 0600 owned by the server's account. Files are
    optional here: generate mode installs them next, and in provided mode a
    missing one is reported by the check, naming file and rule."""
    v = _vars(variables)
    certs_dir, owner, group = v.str("tls_certs_dir"), v.str("tls_certs_owner"), v.str("tls_certs_group")

    def folder(path):
        return {"path": path, "state": "directory", "owner": "root", "group": group, "mode": "0750"}

    def public(path):
        return {"path": path, "state": "file", "owner": "root", "group": group, "mode": "0644", "required": False}

    def secret(path):
        return {"path": path, "state": "file", "owner": owner, "group": group, "mode": "0600", "required": False}

    parent = certs_dir.rsplit("/", 1)[0] or "/"
    entries = [{"path": parent, "state": "directory", "owner": "root", "mode": "0755"}, folder(certs_dir)]
    for purpose in v.list("tls_certs_purposes"):
        path = "%s/%s" % (certs_dir, FOLDERS[purpose])
        entries += [folder(path), public(path + "/cert.pem"), public(path + "/ca.pem"), secret(path + "/privkey.pem")]
    peer_names = peers(v)
    if peer_names:
        entries.append(folder("%s/%s" % (certs_dir, PEERS_FOLDER)))
    for peer in peer_names:
        path = "%s/%s/%s" % (certs_dir, PEERS_FOLDER, peer)
        entries += [folder(path), public(path + "/cert.pem"), public(path + "/ca.pem")]
    return entries


def issue_set(variables, purpose, target=None, play_plans=(), host_names=()):
    """One certificate to issue on the controller: a purpose's CA (target None) or a leaf.

    <pki>/<purpose>/ca.{key,pem} signs <pki>/<purpose>/<host or gateway>/{privkey,cert}.pem.
    Host certificates are per host; the gateway certificate is per gateway name,
    so that cmgwpeers/<peer>/cert.pem identifies a whole peer cluster, and names
    every host of the play that serves that gateway. A run may see only some of
    them (--limit), so a gateway certificate gains names but never loses any.
    """
    v = _vars(variables)
    pki = "%s/%s" % (v.str("tls_certs_pki_dir"), purpose)
    if target is None:
        return {"common_name": "%s %s CA" % (v.str("tls_certs_ca_name"), purpose), "dir": pki,
                "key": pki + "/ca.key", "cert": pki + "/ca.pem", "purpose": None, "names": [], "exact_names": True}
    if purpose == "gateway":
        names = []
        for plan in play_plans or []:
            if plan.get("gateway") == target and "gateway" in (plan.get("purposes") or []):
                names += [name for name in plan.get("names") or [] if name not in names]
    else:
        names = list(host_names or [])
    folder = "%s/%s" % (pki, target)
    return {"common_name": target, "dir": folder, "key": folder + "/privkey.pem", "cert": folder + "/cert.pem",
            "ca": pki + "/ca.pem", "ca_key": pki + "/ca.key", "purpose": purpose, "names": names,
            "exact_names": purpose != "gateway"}


def san_entries(names):
    """subjectAltName entries for a signing request: IP addresses as IP:, the rest as DNS:."""
    entries = []
    for name in names or []:
        try:
            ipaddress.ip_address(str(name))
        except ValueError:
            entries.append("DNS:%s" % name)
        else:
            entries.append("IP:%s" % name)
    return entries


