# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nats_server role lets its servers trust: the operator, route and gateway
peers, the account resolver.

Rules here are registered with the role's plan (nats_server_plan): PREFLIGHT_RULES
look at the variables, OPERATOR_RULES at the decoded JWTs, WARNINGS name the weaker
choices a run makes. The builders give the settings the configuration takes from
these choices. Every rule has a good and a bad case in
tests/unit/plugins/module_utils/test_nats_server_trust.py.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt

SPKI_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PEER_PURPOSES = ("cluster", "gateway", "gateway_peer")


# ------------------------------------------------------------ the operator


def operator_pin(value, variable):
    """(key, error): the operator key a pin variable holds, '' when it is empty.

    A pin takes the key itself (O...) or an operator JWT, such as the Region
    One Token, whose subject it is; the JWT's signature is checked, so only the
    holder of that key could have made it. Shared by every role that pins the
    operator (nats_server, acs), each passing its own variable's name.
    """
    value = ("" if value is None else str(value)).strip()
    if not value:
        return "", ""
    if nats_jwt.is_public_key(value, nats_jwt.OPERATOR):
        return value, ""
    try:
        return nats_jwt.decode(value, expected_kind=nats_jwt.OPERATOR, check_times=False).subject, ""
    except (nats_jwt.JwtError, TypeError, ValueError) as exc:
        return "", (
            "%s must be the operator's public key (56 characters starting with O) "
            "or an operator JWT such as the Region One Token, but it is neither (%s)." % (variable, exc)
        )


def operator_pin_problems(key, variable, operator, operator_source):
    """The operator JWT read from operator_source against the key pinned in variable."""
    if not key or operator is None or operator.subject == key:
        return []
    return [
        "%s holds operator %s, but the servers trust operator %s (%s). Nothing was "
        "changed: whoever can write that file could otherwise move every server to an operator of their own. "
        "Put back the operator JWT of %s, or, if the operator really changed, set %s "
        "to the new key." % (operator_source, operator.subject, key, variable, key, variable)
    ]


def system_account_pin_problems(key, operator, system_account, system_account_source):
    """The system account JWT must be the pinned operator's system account, signed by it
    (its identity key or a signing key listed in its now verified JWT)."""
    if not key or operator is None or operator.subject != key or system_account is None:
        return []
    operator_keys = [operator.subject] + nats_jwt.signing_key_names(operator.nats)
    system_account_id = operator.nats.get("system_account") or ""
    if system_account.issuer in operator_keys and system_account.subject == system_account_id:
        return []
    if not system_account_id:
        # Without a system account in the operator JWT there is no account to compare with.
        return [
            "%s is account %s signed by %s, but the pinned operator %s names no system account (its JWT has no "
            "system_account). Nothing was changed; put back the operator JWT of %s that names its SYS account." % (
                system_account_source, system_account.subject, system_account.issuer, key, key)
        ]
    return [
        "%s is account %s signed by %s, not the system account %s of the pinned operator %s. Nothing was changed; "
        "put back the SYS.jwt of operator %s." % (
            system_account_source, system_account.subject, system_account.issuer, system_account_id, key, key)
    ]


def pinned_operator_key(v):
    """(key, error): the operator key the servers trust, '' when none is pinned."""
    return operator_pin(v.str("nats_server_operator_public_key"), "nats_server_operator_public_key")


def operator_pin_is_an_operator(f):
    _key, error = pinned_operator_key(f.v)
    return [error] if error else []


def operator_is_the_pinned_one(f):
    key, _error = pinned_operator_key(f.v)
    return operator_pin_problems(key, "nats_server_operator_public_key", f.operator, f.operator_source)


def system_account_is_the_pinned_operators(f):
    key, _error = pinned_operator_key(f.v)
    return system_account_pin_problems(key, f.operator, f.system_account, f.system_account_source)


OPERATOR_RULES = [operator_pin_is_an_operator, operator_is_the_pinned_one, system_account_is_the_pinned_operators]


# ------------------------------------------------------------ resolver


def _url_resolver(v):
    return v.bool("nats_server_operator_enabled") and v.str("nats_server_resolver_type") == "url"


def _is_local_host(host, v):
    if not host:
        return True
    if host in LOOPBACK_NAMES or host == v.str("nats_server_name"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolver_tls_ca_needs_an_https_resolver(v):
    ca_file = v.str("nats_server_resolver_tls_ca_file")
    if not ca_file:
        return []
    problems = []
    if not ca_file.startswith("/"):
        problems.append("nats_server_resolver_tls_ca_file ('%s') must be an absolute path on the host." % ca_file)
    if _url_resolver(v) and not v.str("nats_server_resolver_url").startswith("https://"):
        problems.append(
            "nats_server_resolver_tls_ca_file is set, but nats_server_resolver_url ('%s') is not https://: the CA "
            "only verifies an HTTPS resolver. Use the load balancer's https:// URL, or leave the CA empty."
            % v.str("nats_server_resolver_url")
        )
    return problems


def resolver_tls(v):
    """The resolver_tls block: the CA that verifies the load balancer in front of the
    account server. None leaves it out (the system trust store verifies https://)."""
    ca_file = v.str("nats_server_resolver_tls_ca_file")
    if not (_url_resolver(v) and ca_file and v.str("nats_server_resolver_url").startswith("https://")):
        return None
    return {"ca_file": ca_file}


def plain_http_resolver_across_hosts(v):
    url = v.str("nats_server_resolver_url")
    if not _url_resolver(v) or not url.startswith("http://"):
        return []
    host = urlsplit(url).hostname
    if _is_local_host(host, v):
        return []
    return [
        "nats_server_resolver_url (%s) is plain HTTP to another host: anyone on the path can withhold or replay "
        "account JWTs. Use the load balancer's https:// URL (nats_server_resolver_tls_ca_file for a private CA) "
        "unless that network is yours alone." % url
    ]


# ------------------------------------------------------------ route and gateway peers


def cluster_pins(v):
    """Route peers' keys (SPKI sha256) to pin; empty: no pinning."""
    return [str(pin).strip().lower() for pin in v.list("nats_server_cluster_pinned_certs")]


def cluster_pins_are_key_digests(v):
    bad = [pin for pin in cluster_pins(v) if not SPKI_SHA256_RE.match(pin)]
    if not bad:
        return []
    return [
        "nats_server_cluster_pinned_certs must hold the SHA-256 of each route certificate's public key, 64 hex "
        "digits (the spki_sha256 cmsgs.nats.tls_cert_check returns); these are not: %s." % ", ".join(bad)
    ]


def known_urls_need_route_host_names(v):
    if not v.bool("nats_server_cluster_verify_known_urls"):
        return []
    problems = []
    if not (v.str("nats_server_cluster_name") and v.bool("nats_server_cluster_tls")):
        problems.append(
            "nats_server_cluster_verify_known_urls needs routes over TLS: set nats_server_cluster_name and keep "
            "nats_server_cluster_tls true."
        )
    addresses = []
    for url in v.list("nats_server_cluster_routes"):
        host = urlsplit(str(url)).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            continue
        addresses.append(host)
    if addresses:
        problems.append(
            "nats_server_cluster_verify_known_urls matches the DNS names of a route peer's certificate against the "
            "route URLs, so every route must name its host by DNS name; these are addresses: %s."
            % ", ".join(addresses)
        )
    return problems


def own_route_key_is_pinned(v, tls_checks):
    """With route pins, this server's own route certificate must be among them:
    its peers, configured with the same list, would refuse it otherwise."""
    pins = cluster_pins(v)
    if not pins:
        return []
    own = [
        result.get("spki_sha256") for result in tls_checks or []
        if (result.get("item") or {}).get("purpose") == "cluster" and result.get("spki_sha256")
    ]
    missing = [key for key in own if key not in pins]
    if not missing:
        return []
    return [
        "nats_server_cluster_pinned_certs does not hold %s, the key of this server's cmcluster/cert.pem: the other "
        "route peers would refuse it. Add it to the list every cluster member gets." % ", ".join(missing)
    ]


def cluster_tls_trust(v):
    """Settings the route tls block takes from the trust choices."""
    pins = cluster_pins(v)
    return {
        "pinned_certs": pins or None,
        "verify_cert_and_check_known_urls": True if v.bool("nats_server_cluster_verify_known_urls") else None,
    }


def tls_set_trust(v, tls_set):
    """What tls_cert_check enforces beyond the spec for one certificate set: who may own
    its key, and whether its CA file may hold a publicly trusted CA."""
    extra = {}
    if tls_set.get("key"):
        extra["key_owners"] = sorted({"root", v.str("nats_server_user")})
    if tls_set.get("purpose") in PEER_PURPOSES:
        extra["public_ca"] = "warn" if v.bool("nats_server_tls_allow_public_peer_ca") else "refuse"
    return dict(tls_set, **extra)


PREFLIGHT_RULES = [resolver_tls_ca_needs_an_https_resolver, cluster_pins_are_key_digests, known_urls_need_route_host_names]


# ------------------------------------------------------------ weaker choices, reported


def unpinned_operator(v):
    if not v.bool("nats_server_operator_enabled") or v.str("nats_server_operator_public_key").strip():
        return []
    return [
        "nats_server_operator_public_key is empty: the servers trust whatever operator JWT this run reads. Pin "
        "the operator's key (or give the Region One Token as nats_stack_region1_token)."
    ]


def public_peer_ca_allowed(v):
    if not v.bool("nats_server_tls_allow_public_peer_ca"):
        return []
    return [
        "nats_server_tls_allow_public_peer_ca is true: a route or gateway CA from the system trust store is only "
        "warned about, and then any certificate it issued may join unless pinned certificates restrict it."
    ]


WARNINGS = [plain_http_resolver_across_hosts, unpinned_operator, public_peer_ca_allowed]
