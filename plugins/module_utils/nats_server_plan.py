# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nats_server role decides from its variables, as plain functions.

The role's vars/main.yml hands the nats_server_* variables to the filters in
plugins/filter/nats_server.py, which call these functions:

* preflight_problems: every rule in PREFLIGHT_RULES, each a small function that
  returns the problems it finds, each naming the variable and the fix. Adding
  a rule is adding one function decorated with @preflight_rule and its test.
* operator_plan: the operator, system account and preloaded JWTs, each decoded
  once, their cross-checks (OPERATOR_RULES) and the settings they give.
* tls_sets, watch_files: the certificate sets the configuration uses.
* server_config: the configuration as data, one block per concern.
* folders: the folders the service owns and the ones its unit may write.
* local_address: where the role itself reaches a listener.
* apply_state: what the handlers do with a run's changes.

Every boolean and number is read through role_values, so survey strings and
YAML values mean the same thing.
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import urlsplit

from ansible_collections.cmsgs.nats.plugins.module_utils import guard_rails, nats_conf, nats_jwt, nats_server_trust, nats_topology, tls_spec
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError, RoleVars, collect_problems

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Go duration syntax as nats-server reads it; systemd reads the same spans.
DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
DURATION_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
# nats-server refuses a shorter lame_duck_duration when it loads its configuration.
LAME_DUCK_MIN_SECONDS = 30
RELEASE_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$")
ROUTE_URL_RE = re.compile(r"^nats-route://[^/:]+:[0-9]+/?$")
GATEWAY_URL_RE = re.compile(r"^nats://[^/:]+:[0-9]+/?$")
RESOLVER_URL_RE = re.compile(r"^https?://[^/]+/.*/$")
# Since 2.11 nats-server takes min_version in a tls block.
MIN_VERSION_SINCE = (2, 11, 0)
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")

# Folders of the [certs] volume, as the stack names them.
CERT_FOLDERS = {"client": "cmserver", "cluster": "cmcluster", "gateway": "cmgateway", "peers": "cmgwpeers"}


class PlanError(Exception):
    """The variables cannot give a configuration; preflight reports the cause first."""


def _vars(variables):
    return variables if isinstance(variables, RoleVars) else RoleVars(variables)


# ----------------------------------------------------------------- preflight

PREFLIGHT_RULES = []


def preflight_rule(function):
    """Register a preflight rule: function(RoleVars) -> list of problem strings."""
    PREFLIGHT_RULES.append(function)
    return function


def preflight_problems(variables):
    """Every problem the preflight rules find, in rule order; the trust rules
    (nats_server_trust.PREFLIGHT_RULES) come last."""
    return collect_problems(PREFLIGHT_RULES + nats_server_trust.PREFLIGHT_RULES, _vars(variables))


def preflight_warnings(variables):
    """The weaker choices the variables make, each naming the variable (nats_server_trust.WARNINGS)."""
    return collect_problems(nats_server_trust.WARNINGS, _vars(variables))


def _port(v, name):
    """The port number, or None when it is not one (reported by the rule)."""
    try:
        return v.int(name, 1, 65535)
    except RoleValueError:
        return None


def client_tls_custom_ca(v):
    """cmserver/ca.pem is a private CA; unset, it is one exactly when tls_certs generates the certificates."""
    if v.raw("nats_server_client_tls_custom_ca") is None:
        return v.str("tls_certs_mode", "provided") == "generate"
    return v.bool("nats_server_client_tls_custom_ca")


def log_time(v):
    """The journal stamps every line already; unset, only a log file gets the server's own stamps."""
    if v.raw("nats_server_log_time") is None:
        return bool(v.str("nats_server_log_file"))
    return v.bool("nats_server_log_time")


def tls_in_use(v):
    return (
        v.bool("nats_server_client_tls")
        or (bool(v.str("nats_server_cluster_name")) and v.bool("nats_server_cluster_tls"))
        or bool(v.str("nats_server_gateway_name"))
    )


@preflight_rule
def client_and_monitor_ports_are_ports(v):
    if _port(v, "nats_server_port") and _port(v, "nats_server_monitor_port"):
        return []
    return [
        "nats_server_port (%s) and nats_server_monitor_port (%s) must be port numbers between 1 and 65535."
        % (v.raw("nats_server_port"), v.raw("nats_server_monitor_port"))
    ]


@preflight_rule
def client_and_monitor_ports_differ(v):
    port, monitor = _port(v, "nats_server_port"), _port(v, "nats_server_monitor_port")
    if port is None or port != monitor:
        return []
    return ["nats_server_port and nats_server_monitor_port must differ (both are %s)." % port]


@preflight_rule
def local_binary_exists(v):
    binary = v.str("nats_server_local_binary")
    if v.str("nats_server_install_method") != "local" or (binary and os.path.isfile(binary)):
        return []
    return [
        "nats_server_install_method is 'local' but nats_server_local_binary ('%s') is not a file on the controller. "
        "Set it to the path of a nats-server binary, or use the 'release' or 'package' method." % binary
    ]


@preflight_rule
def release_version_is_a_version(v):
    version = v.str("nats_server_version")
    if v.str("nats_server_install_method") != "release" or RELEASE_VERSION_RE.match(version):
        return []
    return ["nats_server_version ('%s') must be a release version such as '2.15.1' (no leading 'v')." % version]


@preflight_rule
def folders_are_absolute(v):
    names = ("nats_server_config_dir", "nats_server_data_dir", "nats_server_log_dir", "nats_server_jetstream_store_dir")
    if all(v.str(name).startswith("/") for name in names):
        return []
    return [
        "nats_server_config_dir, nats_server_data_dir, nats_server_log_dir and nats_server_jetstream_store_dir "
        "must be absolute paths."
    ]


@preflight_rule
def log_file_is_in_log_dir(v):
    log_file, log_dir = v.str("nats_server_log_file"), v.str("nats_server_log_dir")
    if not log_file or (os.path.dirname(log_file) == log_dir and os.path.basename(log_file)):
        return []
    return [
        "nats_server_log_file ('%s') must be a file directly in nats_server_log_dir ('%s'): the hardened service "
        "can write nowhere else. Leave it empty to log to the journal." % (log_file, log_dir)
    ]


@preflight_rule
def lame_duck_spans_are_durations(v):
    duration, grace = v.str("nats_server_lame_duck_duration"), v.str("nats_server_lame_duck_grace_period")
    if DURATION_RE.match(duration) and DURATION_RE.match(grace):
        return []
    return [
        "nats_server_lame_duck_duration ('%s') and nats_server_lame_duck_grace_period ('%s') must be durations "
        "such as '30s', '2m' or '1m30s'." % (duration, grace)
    ]


def duration_seconds(text):
    """Seconds in a Go duration that DURATION_RE accepts, such as '1m30s' or '500ms'."""
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in DURATION_PART_RE.findall(text))


def _lame_duck_span(v, name):
    """(where it is set, its value) of a lame-duck span: nats_server_config_extra wins over the variable."""
    extra = v.raw("nats_server_config_extra")
    key = name[len("nats_server_"):]
    if isinstance(extra, dict) and key in extra:
        return "nats_server_config_extra.%s" % key, str(extra[key])
    return name, v.str(name)


@preflight_rule
def lame_duck_duration_is_long_enough(v):
    # nats-server refuses a shorter one when it loads the file (-t included).
    source, duration = _lame_duck_span(v, "nats_server_lame_duck_duration")
    if not DURATION_RE.match(duration) or duration_seconds(duration) >= LAME_DUCK_MIN_SECONDS:
        return []
    return [
        "%s ('%s') must be at least %ds: nats-server refuses a shorter lame-duck duration."
        % (source, duration, LAME_DUCK_MIN_SECONDS)
    ]


@preflight_rule
def lame_duck_grace_period_is_shorter(v):
    # nats-server -t accepts a grace period as long as the duration; the server then refuses to start.
    duration_source, duration = _lame_duck_span(v, "nats_server_lame_duck_duration")
    grace_source, grace = _lame_duck_span(v, "nats_server_lame_duck_grace_period")
    if not (DURATION_RE.match(duration) and DURATION_RE.match(grace)):
        return []
    if duration_seconds(grace) < duration_seconds(duration):
        return []
    return [
        "%s ('%s') must be shorter than %s ('%s'): nats-server -t accepts it, but the server refuses to start."
        % (grace_source, grace, duration_source, duration)
    ]


@preflight_rule
def server_name_is_a_name(v):
    name = v.str("nats_server_name")
    if NAME_RE.match(name):
        return []
    return [
        "nats_server_name ('%s') must be letters, digits, '.', '_' or '-': it identifies the server to clients "
        "and to the rest of the cluster." % name
    ]


@preflight_rule
def operator_jwt_files_are_absolute(v):
    jwt_file, sys_file = v.str("nats_server_operator_jwt_file"), v.str("nats_server_operator_system_account_jwt_file")
    if all(path == "" or path.startswith("/") for path in (jwt_file, sys_file)):
        return []
    return [
        "nats_server_operator_jwt_file ('%s') and nats_server_operator_system_account_jwt_file ('%s') must be "
        "absolute paths on the host, or empty." % (jwt_file, sys_file)
    ]


def _url_resolver(v):
    return v.bool("nats_server_operator_enabled") and v.str("nats_server_resolver_type") == "url"


@preflight_rule
def url_resolver_has_an_accounts_url(v):
    url = v.str("nats_server_resolver_url")
    if not _url_resolver(v) or RESOLVER_URL_RE.match(url):
        return []
    return [
        "nats_server_resolver_url ('%s') must be the account server's accounts URL, such as "
        "http://acs-1.example.com:9090/jwt/v1/accounts/ (ending in '/'), for the url resolver; or put a host in "
        "the acs_primary group, or set nats_server_resolver_type to 'full'." % url
    ]


@preflight_rule
def url_resolver_has_no_preload(v):
    if not _url_resolver(v) or not v.list("nats_server_resolver_preload"):
        return []
    return [
        "nats_server_resolver_preload is only possible with nats_server_resolver_type 'full': nats-server refuses "
        "to start with preloaded accounts and the url resolver. Push those accounts to the account server instead."
    ]


@preflight_rule
def resolver_dir_is_below_data_dir(v):
    resolver_dir, data_dir = v.str("nats_server_resolver_dir"), v.str("nats_server_data_dir")
    if resolver_dir.startswith(data_dir + "/") and len(resolver_dir) > len(data_dir) + 1:
        return []
    return [
        "nats_server_resolver_dir ('%s') must be below nats_server_data_dir ('%s'): the hardened service can "
        "write nowhere else." % (resolver_dir, data_dir)
    ]


@preflight_rule
def resolver_interval_is_a_duration(v):
    interval = v.str("nats_server_resolver_interval")
    if DURATION_RE.match(interval):
        return []
    return ["nats_server_resolver_interval ('%s') must be a duration such as '2m' or '30s'." % interval]


@preflight_rule
def gateways_use_tls(v):
    name = v.str("nats_server_gateway_name")
    if not name or v.bool("nats_server_gateway_tls"):
        return []
    return [
        "nats_server_gateway_tls is false, but traffic between clusters must be TLS: gateways "
        "(nats_server_gateway_name '%s') always use cmgateway/ and cmgwpeers/<peer>/. Set nats_server_gateway_tls "
        "to true, or leave nats_server_gateway_name empty." % name
    ]


@preflight_rule
def config_extra_keeps_transport_tls(v):
    """nats_server_config_extra must not let plain text in, nor take the gateway's TLS away."""
    extra = v.raw("nats_server_config_extra") or {}
    if not isinstance(extra, dict):
        return []
    # Route TLS may be off for a plain cluster of the role alone; the stack's checks refuse that.
    return nats_topology.config_extra_tls_problems(
        v.str("nats_server_name") or "this server", extra, False, bool(v.str("nats_server_gateway_name")))


@preflight_rule
def route_and_gateway_ports_are_free_ports(v):
    names = ("nats_server_port", "nats_server_monitor_port", "nats_server_cluster_port", "nats_server_gateway_port")
    ports = [_port(v, name) for name in names]
    # A bad client or monitor port is reported by its own rule.
    known = [port for port in ports if port is not None]
    if None not in ports[2:] and len(set(known)) == len(known):
        return []
    return [
        "nats_server_cluster_port (%s) and nats_server_gateway_port (%s) must be port numbers between 1 and 65535, "
        "different from each other, nats_server_port and nats_server_monitor_port."
        % (v.raw("nats_server_cluster_port"), v.raw("nats_server_gateway_port"))
    ]


@preflight_rule
def cluster_and_gateway_names_are_names(v):
    cluster, gateway = v.str("nats_server_cluster_name"), v.str("nats_server_gateway_name")
    if all(not name or NAME_RE.match(name) for name in (cluster, gateway)):
        return []
    return [
        "nats_server_cluster_name ('%s') and nats_server_gateway_name ('%s') must be letters, digits, '.', '_' "
        "or '-'." % (cluster, gateway)
    ]


@preflight_rule
def gateway_name_is_cluster_name(v):
    cluster, gateway = v.str("nats_server_cluster_name"), v.str("nats_server_gateway_name")
    if not cluster or not gateway or cluster == gateway:
        return []
    return [
        "nats_server_gateway_name ('%s') must equal nats_server_cluster_name ('%s'): nats-server refuses to "
        "start when they differ." % (gateway, cluster)
    ]


@preflight_rule
def routes_are_route_urls(v):
    routes = v.list("nats_server_cluster_routes")
    if all(isinstance(route, str) and ROUTE_URL_RE.match(route) for route in routes):
        return []
    return ["nats_server_cluster_routes (%s) must be URLs such as nats-route://nats-2.example.com:6222." % routes]


def _peer_is_valid(peer):
    if not isinstance(peer, dict) or not NAME_RE.match(str(peer.get("name", ""))):
        return False
    urls = peer.get("urls")
    return (
        isinstance(urls, list)
        and len(urls) > 0
        and all(isinstance(url, str) and GATEWAY_URL_RE.match(url) for url in urls)
    )


@preflight_rule
def gateway_peers_have_names_and_urls(v):
    peers = v.list("nats_server_gateway_peers")
    if all(_peer_is_valid(peer) for peer in peers):
        return []
    return [
        "Each entry of nats_server_gateway_peers needs a name (letters, digits, '.', '_', '-') and a non-empty "
        "list of urls such as nats://west-1.example.com:7222; got %s." % peers
    ]


@preflight_rule
def certs_dir_is_absolute(v):
    certs_dir = v.str("nats_server_certs_dir")
    if not tls_in_use(v) or (certs_dir.startswith("/") and len(certs_dir) > 1):
        return []
    return ["nats_server_certs_dir ('%s') must be an absolute path." % certs_dir]


@preflight_rule
def folders_are_not_system_folders(v):
    names = ["nats_server_config_dir", "nats_server_data_dir", "nats_server_jetstream_store_dir", "nats_server_resolver_dir"]
    if v.str("nats_server_log_file"):
        names.append("nats_server_log_dir")
    if tls_in_use(v):
        names.append("nats_server_certs_dir")
    return guard_rails.system_folder_problems(v, names)


@preflight_rule
def service_user_is_not_root(v):
    return guard_rails.root_user_problems(v, ["nats_server_user"])


@preflight_rule
def max_payload_fits_max_pending(v):
    # nats-server -t accepts a max_payload above max_pending; the server then
    # refuses to start. nats_config refuses it too; here it fails before the
    # binary or anything else on the host changes.
    extra = v.raw("nats_server_config_extra")
    extra = extra if isinstance(extra, dict) else {}
    try:
        nats_conf.check({"max_payload": extra.get("max_payload", v.raw("nats_server_max_payload")),
                         "max_pending": extra.get("max_pending")})
    except nats_conf.NatsConfError as exc:
        return [str(exc)]
    return []


# ------------------------------------------------------------ operator mode


def _read_text(read_result):
    """The text of a slurp result, '' when the task was skipped or failed."""
    content = (read_result or {}).get("content") or ""
    if not content:
        return ""
    return base64.b64decode(content).decode("utf-8", errors="replace").strip()


def _read_note(read_result):
    message = (read_result or {}).get("msg")
    return ": %s" % message if message else ""


class _Jwts:
    """Each token decoded once; the result or the reason it is unusable."""

    def __init__(self):
        self._seen = {}

    def decode(self, token, kind):
        key = (token, kind)
        if key not in self._seen:
            try:
                self._seen[key] = (nats_jwt.decode(token, expected_kind=kind), "")
            except nats_jwt.JwtError as exc:
                self._seen[key] = (None, "not a valid NATS %s JWT: %s" % (kind, exc))
            except (TypeError, AttributeError, ValueError) as exc:
                self._seen[key] = (None, "not a valid NATS %s JWT: %s" % (kind, exc))
        return self._seen[key]


class OperatorFacts:
    """What the operator rules look at, decoded once."""

    def __init__(self, v, operator_jwt_read=None, system_account_jwt_read=None):
        self.v = v
        self.jwts = _Jwts()
        inline = v.str("nats_server_operator_jwt").strip()
        self.operator_jwt = inline or _read_text(operator_jwt_read)
        self.operator_source = (
            "nats_server_operator_jwt" if inline else
            "nats_server_operator_jwt_file ('%s')" % v.str("nats_server_operator_jwt_file")
        )
        self.operator_read_note = _read_note(operator_jwt_read)
        inline_sys = v.str("nats_server_operator_system_account_jwt").strip()
        self.system_account_jwt = inline_sys or _read_text(system_account_jwt_read)
        self.system_account_source = (
            "nats_server_operator_system_account_jwt" if inline_sys else
            "nats_server_operator_system_account_jwt_file ('%s')"
            % v.str("nats_server_operator_system_account_jwt_file")
        )
        self.system_account_read_note = _read_note(system_account_jwt_read)
        self.full_resolver = v.str("nats_server_resolver_type") == "full"
        self.preload = v.list("nats_server_resolver_preload")

        self.operator, self.operator_error = (None, "")
        if self.operator_jwt:
            self.operator, self.operator_error = self.jwts.decode(self.operator_jwt, nats_jwt.OPERATOR)
        self.system_account, self.system_account_error = (None, "")
        if self.system_account_jwt:
            self.system_account, self.system_account_error = self.jwts.decode(self.system_account_jwt, nats_jwt.ACCOUNT)
        self.system_account_id = (self.operator.nats.get("system_account", "") if self.operator else "") or ""
        self.operator_keys = (
            [self.operator.subject] + list(self.operator.nats.get("signing_keys") or []) if self.operator else []
        )
        self.preload_decoded = [
            self.jwts.decode(token.strip() if isinstance(token, str) else token, nats_jwt.ACCOUNT)
            for token in self.preload
        ]

    @property
    def failed_early(self):
        """One of the checks before the cross-checks fails."""
        return (
            not self.operator_jwt
            or bool(self.operator_error)
            or not self.system_account_id
            or bool(self.system_account_jwt and self.system_account_error)
        )


OPERATOR_RULES = []


def operator_rule(function):
    """Register an operator-mode rule: function(OperatorFacts) -> list of problem strings."""
    OPERATOR_RULES.append(function)
    return function


@operator_rule
def operator_jwt_given(f):
    if f.operator_jwt:
        return []
    return [
        "nats_server_operator_enabled is true but there is no operator JWT: set nats_server_operator_jwt (the "
        "Region One Token, or region1_bootstrap_operator_jwt of the primary ACS) or nats_server_operator_jwt_file "
        "('%s'%s)." % (f.v.str("nats_server_operator_jwt_file"), f.operator_read_note)
    ]


@operator_rule
def operator_jwt_valid(f):
    if not f.operator_jwt or not f.operator_error:
        return []
    return ["%s is %s." % (f.operator_source, f.operator_error)]


@operator_rule
def operator_names_its_system_account(f):
    if not f.operator or f.system_account_id:
        return []
    return [
        "The operator JWT of %s names no system account; issue it again with one "
        "(cmsgs.nats.jwt_operator system_account: SYS)." % f.operator_source
    ]


@operator_rule
def full_resolver_has_the_system_account_jwt(f):
    if not f.full_resolver or f.system_account_jwt:
        return []
    return [
        "The full resolver needs the system account's JWT: set nats_server_operator_system_account_jwt "
        "(region1_bootstrap_system_account_jwt of the primary ACS) or nats_server_operator_system_account_jwt_file "
        "('%s'%s)." % (f.v.str("nats_server_operator_system_account_jwt_file"), f.system_account_read_note)
    ]


@operator_rule
def system_account_jwt_valid(f):
    if not f.system_account_jwt or not f.system_account_error:
        return []
    return ["%s is %s." % (f.system_account_source, f.system_account_error)]


@operator_rule
def system_account_jwt_belongs_to_the_operator(f):
    if not f.full_resolver or f.failed_early or not f.system_account_jwt:
        return []
    account = f.system_account
    if account.subject == f.system_account_id and account.issuer in f.operator_keys:
        return []
    return [
        "%s is not the JWT of the operator's system account %s signed by that operator; pass the SYS.jwt that "
        "belongs to this operator." % (f.system_account_source, f.system_account_id)
    ]


@operator_rule
def preloaded_jwts_are_account_jwts(f):
    errors = [error for _decoded, error in f.preload_decoded if error]
    if not errors:
        return []
    return ["nats_server_resolver_preload must hold account JWTs: %s." % "; ".join(errors)]


@operator_rule
def preloaded_accounts_belong_to_the_operator(f):
    if f.failed_early:
        return []
    foreign = [decoded.name for decoded, error in f.preload_decoded if not error and decoded.issuer not in f.operator_keys]
    if not foreign:
        return []
    return [
        "nats_server_resolver_preload holds accounts that this operator did not sign: %s. Issue them under this "
        "operator, or leave them out." % ", ".join(foreign)
    ]


def operator_plan(variables, operator_jwt_read=None, system_account_jwt_read=None):
    """The operator mode's problems and, when there are none, its settings."""
    v = _vars(variables)
    if not v.bool("nats_server_operator_enabled"):
        return {"enabled": False, "problems": [], "jwt": "", "settings": {}}
    facts = OperatorFacts(v, operator_jwt_read, system_account_jwt_read)
    problems = collect_problems(OPERATOR_RULES + nats_server_trust.OPERATOR_RULES, facts)
    settings = {} if problems else _operator_settings(v, facts)
    return {"enabled": True, "problems": problems, "jwt": facts.operator_jwt, "settings": settings}


def _operator_settings(v, f):
    # The JWTs are inline: nats-server takes an operator JWT in place of a
    # path, and the service user could not open [ncred]/REGION1.jwt anyway.
    settings = {"operator": f.operator_jwt, "system_account": f.system_account_id}
    if v.str("nats_server_resolver_type") == "url":
        settings["resolver"] = "URL(%s)" % v.str("nats_server_resolver_url")
        resolver_tls = nats_server_trust.resolver_tls(v)
        if resolver_tls:
            settings["resolver_tls"] = resolver_tls
        return settings
    settings["resolver"] = {
        "type": "full",
        "dir": v.str("nats_server_resolver_dir"),
        "allow_delete": v.bool("nats_server_resolver_allow_delete"),
        "interval": v.str("nats_server_resolver_interval"),
    }
    preload = {}
    for token in [f.system_account_jwt] + list(f.preload):
        token = token.strip() if isinstance(token, str) else ""
        if token and token not in preload.values():
            decoded, _error = f.jwts.decode(token, nats_jwt.ACCOUNT)
            preload[decoded.subject] = token
    settings["resolver_preload"] = preload
    return settings


# ---------------------------------------------------------------------- TLS


def cert_folders(v):
    certs_dir = v.str("nats_server_certs_dir")
    return {purpose: "%s/%s" % (certs_dir, folder) for purpose, folder in CERT_FOLDERS.items()}


def gateway_remotes(v):
    """The peer clusters this one connects out to; its own entry is skipped."""
    own = v.str("nats_server_gateway_name")
    return [peer for peer in v.list("nats_server_gateway_peers") if peer.get("name") != own]


def tls_sets(variables):
    """Every certificate set the configuration uses, for tls_cert_check.

    A peer's certificate is checked twice: against the peer's CA (this server
    connecting out) and against cmgateway/ca.pem (the peer connecting in).
    """
    v = _vars(variables)
    folders = cert_folders(v)
    sets = []
    if v.bool("nats_server_client_tls"):
        sets.append({
            "label": "cmserver", "purpose": "client",
            "cert": folders["client"] + "/cert.pem", "key": folders["client"] + "/privkey.pem",
            "ca": folders["client"] + "/ca.pem" if client_tls_custom_ca(v) else None,
            "require_ecdsa": v.bool("nats_server_client_tls_strict"),
        })
    if v.str("nats_server_cluster_name") and v.bool("nats_server_cluster_tls"):
        sets.append({
            "label": "cmcluster", "purpose": "cluster",
            "cert": folders["cluster"] + "/cert.pem", "key": folders["cluster"] + "/privkey.pem",
            "ca": folders["cluster"] + "/ca.pem",
        })
    if v.str("nats_server_gateway_name"):
        gateway_ca = folders["gateway"] + "/ca.pem"
        sets.append({
            "label": "cmgateway", "purpose": "gateway",
            "cert": folders["gateway"] + "/cert.pem", "key": folders["gateway"] + "/privkey.pem", "ca": gateway_ca,
        })
        for peer in gateway_remotes(v):
            folder = "%s/%s" % (folders["peers"], peer["name"])
            sets.append({
                "label": "cmgwpeers/" + peer["name"], "purpose": "gateway_peer",
                "cert": folder + "/cert.pem", "ca": folder + "/ca.pem",
                "names": [urlsplit(url).hostname for url in peer.get("urls", [])],
            })
            sets.append({
                "label": "cmgwpeers/%s trusted by cmgateway" % peer["name"], "purpose": "gateway_peer",
                "cert": folder + "/cert.pem", "ca": gateway_ca,
            })
    return [nats_server_trust.tls_set_trust(v, tls_set) for tls_set in sets]


def watch_files(sets):
    """Every file of the sets once: replacing one changes the configuration's header."""
    files = []
    for key in ("cert", "key", "ca"):
        for tls_set in sets:
            path = tls_set.get(key)
            if path and path not in files:
                files.append(path)
    return files


def gateway_pins(tls_check_results):
    """Keys of the peers' certificates as the TLS checks read them."""
    pins = {
        result.get("spki_sha256")
        for result in tls_check_results or []
        if (result.get("item") or {}).get("purpose") == "gateway_peer" and result.get("spki_sha256")
    }
    return sorted(pins)


def _tls_spec(version):
    """The stack's TLS spec (curve X25519, three ECDHE_ECDSA suites) as the installed server spells it."""
    try:
        parsed = tls_spec.parse_server_version(version)
        return {
            "curve_preferences": tls_spec.nats_curves(version),
            "cipher_suites": tls_spec.nats_cipher_suites(version),
            "min_version": "1.2" if parsed >= MIN_VERSION_SINCE else None,
        }
    except tls_spec.TlsSpecError as exc:
        raise PlanError("cannot spell the TLS settings for this nats-server: %s" % exc) from None


def tls_blocks(v, version, pins=()):
    """The client, cluster and gateway tls blocks (None for a concern that is off)."""
    if not tls_in_use(v):
        return {"client": None, "cluster": None, "gateway": None}
    spec = _tls_spec(version)
    folders = cert_folders(v)
    strict = v.bool("nats_server_client_tls_strict")
    client = {
        "cert_file": folders["client"] + "/cert.pem",
        "key_file": folders["client"] + "/privkey.pem",
        "ca_file": folders["client"] + "/ca.pem" if client_tls_custom_ca(v) else None,
        "curve_preferences": spec["curve_preferences"] if strict else None,
        "cipher_suites": spec["cipher_suites"] if strict else None,
        "min_version": spec["min_version"],
    }

    # Routes and gateways always ask for the peer's certificate; verify makes the configuration say so.
    def mutual(folder):
        return {
            "cert_file": folder + "/cert.pem",
            "key_file": folder + "/privkey.pem",
            "ca_file": folder + "/ca.pem",
            "verify": True,
            "curve_preferences": spec["curve_preferences"],
            "cipher_suites": spec["cipher_suites"],
            "min_version": spec["min_version"],
        }

    gateway = mutual(folders["gateway"])
    # cmgateway/ca.pem verifies every peer that connects in (a server cannot tell
    # which peer it is before the handshake), so it must trust each peer's CA.
    gateway["pinned_certs"] = list(pins) if v.bool("nats_server_gateway_pinned_certs") else None
    cluster = dict(mutual(folders["cluster"]), **nats_server_trust.cluster_tls_trust(v))
    return {"client": client, "cluster": cluster, "gateway": gateway}


# ------------------------------------------------------------ configuration


def _merge(base, extra):
    """Deep merge like ansible.builtin.combine(recursive=True)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _size(v, name):
    """A JetStream limit: null, a byte count or a size string such as '1G', passed on as given.

    A negative count stays a number: nats-server reads -1 as its own default,
    and refuses the string "-1".
    """
    value = v.raw(name)
    if value is None or value == "":
        return None
    try:
        return v.int(name)
    except RoleValueError:
        return str(value)


def server_config(variables, version="", operator=None, tls_checks=None, check_mode=False):
    """The nats-server configuration as data; null values are left out of the file.

    Each concern contributes one block, merged in order; nats_server_config_extra
    is merged last.
    """
    v = _vars(variables)
    log_file = v.str("nats_server_log_file")
    config = {
        "server_name": v.str("nats_server_name"),
        "listen": "%s:%s" % (v.str("nats_server_listen_address"), v.int("nats_server_port")),
        "http": "%s:%s" % (v.str("nats_server_monitor_address"), v.int("nats_server_monitor_port")),
        "max_payload": v.int("nats_server_max_payload"),
        "max_connections": v.int("nats_server_max_connections"),
        "lame_duck_duration": v.str("nats_server_lame_duck_duration"),
        "lame_duck_grace_period": v.str("nats_server_lame_duck_grace_period"),
        "debug": v.bool("nats_server_debug"),
        "trace": v.bool("nats_server_trace"),
        "logtime": log_time(v),
        "log_file": log_file or None,
    }
    blocks = [config]
    if v.bool("nats_server_jetstream_enabled"):
        blocks.append({"jetstream": {
            "store_dir": v.str("nats_server_jetstream_store_dir"),
            "max_memory_store": _size(v, "nats_server_jetstream_max_memory"),
            "max_file_store": _size(v, "nats_server_jetstream_max_file"),
        }})
    if v.bool("nats_server_operator_enabled"):
        blocks.append(_operator_block(operator, check_mode))
    route_pin_problems = nats_server_trust.own_route_key_is_pinned(v, tls_checks)
    if route_pin_problems:
        raise PlanError(" | ".join(route_pin_problems))
    tls = tls_blocks(v, version, gateway_pins(tls_checks))
    if v.bool("nats_server_client_tls"):
        blocks.append({"tls": tls["client"]})
    listen = v.str("nats_server_listen_address")
    advertise = _advertise(v)
    if advertise:
        blocks.append({"client_advertise": advertise("nats_server_port")})
    if v.str("nats_server_cluster_name"):
        blocks.append({"cluster": {
            "name": v.str("nats_server_cluster_name"),
            "listen": "%s:%s" % (listen, v.int("nats_server_cluster_port")),
            "routes": v.list("nats_server_cluster_routes"),
            "tls": tls["cluster"] if v.bool("nats_server_cluster_tls") else None,
            "advertise": advertise("nats_server_cluster_port") if advertise else None,
        }})
    if v.str("nats_server_gateway_name"):
        peers_dir = cert_folders(v)["peers"]
        # A remote's own tls block replaces the gateway's for outgoing
        # connections, so it repeats this cluster's certificate and only swaps
        # in the peer's CA.
        remotes = [
            {
                "name": peer["name"],
                "urls": peer["urls"],
                "tls": dict(tls["gateway"], ca_file="%s/%s/ca.pem" % (peers_dir, peer["name"]), pinned_certs=None),
            }
            for peer in gateway_remotes(v)
        ]
        blocks.append({"gateway": {
            "name": v.str("nats_server_gateway_name"),
            "listen": "%s:%s" % (listen, v.int("nats_server_gateway_port")),
            "tls": tls["gateway"],
            "gateways": remotes,
            "advertise": advertise("nats_server_gateway_port") if advertise else None,
        }})
    extra = v.raw("nats_server_config_extra") or {}
    if not isinstance(extra, dict):
        raise PlanError("nats_server_config_extra must be a mapping of nats-server settings, got %r." % (extra,))
    blocks.append(extra)
    merged = {}
    for block in blocks:
        merged = _merge(merged, block)
    return merged


def _advertise(v):
    """host:port for a listener, from nats_server_advertise_address (behind NAT); None when it is empty."""
    address = v.str("nats_server_advertise_address").strip()
    if not address:
        return None
    host = "[%s]" % address if ":" in address and not address.startswith("[") else address
    return lambda port_variable: "%s:%s" % (host, v.int(port_variable))


def _operator_block(operator, check_mode):
    # Only a check-mode run ahead of the REGION1 bootstrap may lack the
    # operator JWT; its prediction leaves the operator settings out. Any other
    # run without it fails rather than configure a server that trusts everyone.
    operator = operator or {}
    if operator.get("settings"):
        return operator["settings"]
    if check_mode and not operator.get("jwt"):
        return {}
    problems = operator.get("problems") or ["the operator JWTs were not read"]
    raise PlanError("operator mode cannot be configured: %s" % " | ".join(problems))


# ------------------------------------------------------------------ folders


def folders(variables):
    """The folders the service owns (for volume_permissions) and those its unit may write."""
    v = _vars(variables)
    user, group = v.str("nats_server_user"), v.str("nats_server_group")
    log_to_file = bool(v.str("nats_server_log_file"))
    jetstream = v.bool("nats_server_jetstream_enabled")
    full_resolver = v.bool("nats_server_operator_enabled") and v.str("nats_server_resolver_type") == "full"

    def folder(path, owner, mode="0750"):
        return {"path": path, "state": "directory", "owner": owner, "group": group, "mode": mode}

    entries = [folder(v.str("nats_server_config_dir"), "root"), folder(v.str("nats_server_data_dir"), user)]
    writable = [v.str("nats_server_data_dir")]
    if log_to_file:
        entries.append(folder(v.str("nats_server_log_dir"), user))
        writable.append(v.str("nats_server_log_dir"))
    if jetstream:
        entries.append(folder(v.str("nats_server_jetstream_store_dir"), user))
        writable.append(v.str("nats_server_jetstream_store_dir"))
    if full_resolver:
        # The full resolver's folder exists, owned by the server, before
        # nats-server -t runs as root: -t creates a missing one root-owned,
        # which the server then cannot write.
        entries.append(folder(v.str("nats_server_resolver_dir"), user, "0700"))
    return {"entries": entries, "writable_paths": writable}


def local_address(address):
    """Where the role itself reaches a listener: a wildcard bind is reached on loopback."""
    return "127.0.0.1" if (address or "") in WILDCARD_ADDRESSES else address


# ---------------------------------------------------------------- run plan


def run_plan(variables):
    """What follows from the variables alone, worked out once per host and run.

    tasks/preflight.yml keeps it as the fact _nats_server_run, so the tasks
    after it read a value instead of templating every variable and calling a
    filter again each. It holds no variable's value (a fact shows at -v, and
    nats_server_config_extra may hold a password); with preflight problems
    nothing else is worked out (the run stops on them).
    """
    v = _vars(variables)
    plan = {"problems": preflight_problems(v), "warnings": [], "tls_sets": [],
            "watch_files": [], "layout": {"entries": [], "writable_paths": []}, "operator_enabled": False}
    if plan["problems"]:
        return plan
    sets = tls_sets(v)
    plan.update(warnings=preflight_warnings(v), tls_sets=sets, watch_files=watch_files(sets), layout=folders(v),
                operator_enabled=v.bool("nats_server_operator_enabled"))
    return plan


# -------------------------------------------------------------- apply state


def apply_state(config_result, binary_result=None, start_result=None, check_mode=False):
    """What the handlers do with this run's changes, from the results the role registered.

    restart_needed: the binary, the unit or a setting a reload cannot apply
    changed (a restart then makes the reload unnecessary).
    running: the server ran before this run's changes, or service.yml started
    it; health checks wait for nothing else.
    unit_pending: in check mode a new or changed unit was not written, so
    systemd cannot be asked about it yet (on a fresh host it does not exist).
    """
    config = config_result or {}
    return {
        "restart_needed": nats_topology.restart_required(binary_result, config),
        "running": bool(config.get("unit_active")) or bool((start_result or {}).get("changed")),
        "unit_pending": bool(check_mode) and bool(config.get("unit_changed")),
    }
