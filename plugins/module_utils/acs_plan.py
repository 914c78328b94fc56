# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the acs role decides from its variables and the files it reads, as plain functions.

* preflight_problems: every rule in PREFLIGHT_RULES (each JWT decoded once);
  adding a rule is adding one function decorated with @preflight_rule and its
  good and bad case in tests/unit/plugins/module_utils/test_acs_plan.py.
* plan: the problems and what the tasks take from the same reading: the mode,
  the [ncred] files and where each SYS file comes from, the managed nodes as
  URLs, and the service's configuration as data.

The operator is pinned with the rules nats_server uses (nats_server_trust): the
account server's user can write [ncred], so neither its REGION1.jwt nor its
SYS.jwt may decide on its own which operator the account server serves.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re

from ansible_collections.cmsgs.nats.plugins.module_utils import guard_rails, nats_jwt, nats_server_trust
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

PIN_VARIABLE = "acs_operator_public_key"
MODES = ("primary", "secondary", "none")
LOG_LEVELS = ("debug", "info", "warning", "error")
NATS_URL_RE = re.compile(r"^(nats|tls)://[^/]+:[0-9]+$")
PRIMARY_URL_RE = re.compile(r"^https?://[^/]+$")
SYSTEM_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SECONDS_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# An nkeys user seed opens a .creds file's second half.
CREDS_SEED_MARK = "-----BEGIN USER NKEY SEED-----"
FOLDER_VARIABLES = ("acs_ncred_dir", "acs_nsc_dir", "acs_store_dir", "acs_venv_dir", "acs_config_dir")
# The folders the role creates, owns or changes the mode of.
CHANGED_FOLDER_VARIABLES = ("acs_nsc_dir", "acs_store_dir", "acs_venv_dir", "acs_config_dir")
WILDCARD_HOSTS = ("0.0.0.0", "", "::")


def _number(value, kind=int):
    """value as kind, or None: survey strings read like YAML numbers, anything else is no number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if kind is int:
        return int(number) if number.is_integer() else None
    return number


def managed_node_urls(value):
    """ACS Managed Nodes as nats:// URLs: a list or one comma-separated string (a survey's),
    host names, IPv4 and IPv6 addresses with or without a port taken as the stack option
    documents (port 4222 when none)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [_node_url(text) for text in (str(item).strip() for item in items) if text]


_NODE_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/\[\]]+))(?::(?P<port>[0-9]+))?$")


def _node_url(text):
    """nats://host:port for a managed node; a URL, or what is neither host nor address, as given
    (the preflight then names it)."""
    if _is_ipv6(text):
        text = "[%s]" % text  # a bare IPv6 address: its colons are not a port
    match = _NODE_RE.match(text)
    if match is None or (match.group("v6") is not None and not _is_ipv6(match.group("v6"))):
        return text
    host = match.group("host") or "[%s]" % match.group("v6")
    return "nats://%s:%s" % (host, match.group("port") or "4222")


def _is_ipv6(text):
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def recorded_pin(recorded_config):
    """The operator key the account server's configuration already holds, '' when none.

    The file is root's (0640 root:cmaccount), out of the service user's reach,
    so a run that cannot derive the pin (a read-only [ncred] gives the bootstrap
    no nsc store to read it from) keeps this one instead of dropping it.
    """
    try:
        config = json.loads(recorded_config or "")
    except ValueError:
        return ""
    key = config.get("operator_public_key") if isinstance(config, dict) else None
    return key if isinstance(key, str) and nats_jwt.is_public_key(key, nats_jwt.OPERATOR) else ""


def _decode(token, kind, check_times):
    """(decoded, error) of a JWT the role was given or read; the error never repeats the token."""
    try:
        return nats_jwt.decode(token, expected_kind=kind, check_times=check_times), ""
    except (nats_jwt.JwtError, TypeError, ValueError) as exc:
        return None, "not a valid NATS %s JWT: %s" % (kind, exc)


class Inputs:
    """The role's variables and the operator and system account JWTs, each decoded once.

    operator_jwt and system_account_jwt are the texts the account server would
    get: the variables when given, else what the role read from [ncred] as root
    ('' when the file is missing or the role has not read it). recorded_config
    is the service's configuration file as it is, whose pin an empty
    acs_operator_public_key keeps.
    """

    def __init__(self, variables, operator_jwt="", system_account_jwt="", recorded_config="", ncred_files=None,
                 check_mode=False):
        self.v = variables if isinstance(variables, RoleVars) else RoleVars(variables)
        ncred = self.v.str("acs_ncred_dir")
        self.pin, self.pin_error = nats_server_trust.operator_pin(self.v.str(PIN_VARIABLE), PIN_VARIABLE)
        if not self.pin and not self.pin_error:
            self.pin = recorded_pin(recorded_config)
        # stat results of the [ncred] files, as tasks/preflight.yml looked for them.
        self.ncred_stats = list(ncred_files or [])
        self.check_mode = check_mode

        self.mode = self.v.str("acs_mode").strip().lower()
        self.is_secondary = self.mode == "secondary"
        self.primary_url = self.v.str("acs_primary_url").strip().rstrip("/")
        self.managed_nodes = managed_node_urls(self.v.raw("acs_managed_nodes"))

        # A JWT given as text is checked as the variable's value (times too); one
        # read from [ncred] as the service reads it.
        self.operator_jwt_file = "%s/REGION1.jwt" % ncred
        self.operator_jwt_given = bool(self.v.str("acs_operator_jwt").strip())
        self.operator_jwt = self.v.str("acs_operator_jwt").strip() or str(operator_jwt or "").strip()
        self.operator_source = "acs_operator_jwt" if self.operator_jwt_given else self.operator_jwt_file
        self.operator, self.operator_error = (None, "")
        if self.operator_jwt:
            self.operator, self.operator_error = _decode(self.operator_jwt, nats_jwt.OPERATOR,
                                                         check_times=self.operator_jwt_given)

        self.system_account_jwt_given = bool(self.v.str("acs_system_account_jwt").strip())
        self.system_account_jwt = (self.v.str("acs_system_account_jwt").strip()
                                   or str(system_account_jwt or "").strip())
        self.system_account_source = "acs_system_account_jwt" if self.system_account_jwt_given else "%s/SYS.jwt" % ncred
        self.system_account, self.system_account_error = (None, "")
        if self.system_account_jwt:
            self.system_account, self.system_account_error = _decode(
                self.system_account_jwt, nats_jwt.ACCOUNT, check_times=self.system_account_jwt_given)
        self.sys_creds_given = bool(self.v.str("acs_sys_creds").strip())

        # SYS files: from [ncred], or written from the text below acs_config_dir.
        config_dir = self.v.str("acs_config_dir")
        self.system_account_jwt_path = (config_dir + "/SYS.jwt" if self.system_account_jwt_given
                                        else ncred + "/SYS.jwt")
        self.sys_creds_path = config_dir + "/sys.creds" if self.sys_creds_given else ncred + "/creds/sys.creds"

    @property
    def ncred_files(self):
        """The [ncred] files the account server reads and this host must have (not given as text)."""
        files = [] if self.operator_jwt_given else [self.operator_jwt_file]
        files += [] if self.system_account_jwt_given else [self.system_account_jwt_path]
        files += [] if self.sys_creds_given else [self.sys_creds_path]
        return files


PREFLIGHT_RULES = []


def preflight_rule(function):
    """Register a preflight rule: function(Inputs) -> list of problem strings."""
    PREFLIGHT_RULES.append(function)
    return function


def preflight_problems(variables, **reads):
    """Every rule's problems; reads are Inputs' operator_jwt, system_account_jwt, recorded_config,
    ncred_files and check_mode."""
    return collect_problems(PREFLIGHT_RULES, variables if isinstance(variables, Inputs) else Inputs(variables, **reads))


# ------------------------------------------------------------ what runs here, where


@preflight_rule
def mode_is_known(i):
    if i.mode in MODES:
        return []
    return [
        "acs_mode (\"Enable ACS\", from nats_stack_enable_acs or the host's group) is '%s'; it must be "
        "primary, secondary or none." % i.v.str("acs_mode")
    ]


@preflight_rule
def listen_port_is_a_port(i):
    port = _number(i.v.raw("acs_listen_port"))
    if port is not None and 0 < port < 65536:
        return []
    return ["acs_listen_port ('%s') must be a port number between 1 and 65535." % i.v.str("acs_listen_port")]


@preflight_rule
def folders_are_absolute(i):
    if all(i.v.str(name).startswith("/") for name in FOLDER_VARIABLES):
        return []
    return [
        "%s and %s must be absolute paths." % (
            ", ".join("%s ('%s')" % (name, i.v.str(name)) for name in FOLDER_VARIABLES[:-1]),
            "%s ('%s')" % (FOLDER_VARIABLES[-1], i.v.str(FOLDER_VARIABLES[-1])))
    ]


@preflight_rule
def folders_are_not_system_folders(i):
    return guard_rails.system_folder_problems(i.v, CHANGED_FOLDER_VARIABLES)


@preflight_rule
def store_is_a_folder_of_its_own(i):
    # normpath reads an empty path as ".".
    store = posixpath.normpath(i.v.str("acs_store_dir"))
    volumes = [posixpath.normpath(i.v.str(name)) for name in ("acs_ncred_dir", "acs_nsc_dir")]
    if store not in volumes:
        return []
    return [
        "acs_store_dir ('%s') must be a folder of its own, not [ncred] or the [nsc] volume itself, for example "
        "%s/acs." % (i.v.str("acs_store_dir"), i.v.str("acs_nsc_dir"))
    ]


@preflight_rule
def secondary_has_a_primary_url(i):
    if not i.is_secondary or PRIMARY_URL_RE.match(i.primary_url):
        return []
    return [
        "acs_primary_url ('%s') must be the primary account server's address, such as "
        "http://acs-1.example.com:9090, for a secondary to take its accounts from: put the primary in the "
        "acs_primary group, or set acs_primary_fqdn (\"Primary ACS FQDN\") or acs_primary_url."
        % i.v.str("acs_primary_url")
    ]


@preflight_rule
def managed_nodes_are_nats_urls(i):
    bad = [url for url in i.managed_nodes if not NATS_URL_RE.match(url)]
    if not bad:
        return []
    return [
        "acs_managed_nodes (\"ACS Managed Nodes\") must be nats:// or tls:// URLs with a port, such as "
        "nats://nats-1.example.com:4222; these are not: %s." % ", ".join(bad)
    ]


# ------------------------------------------------------------ the files it reads


@preflight_rule
def operator_jwt_is_valid(i):
    if not i.operator_error:
        return []
    if i.operator_jwt_given:
        return [
            "acs_operator_jwt (the \"Region One Token\") is %s. Set it to the REGION1 operator JWT, or leave it "
            "empty to read %s." % (i.operator_error, i.operator_jwt_file)
        ]
    return [
        "%s is %s. Put back the REGION1 operator JWT there, or give it as acs_operator_jwt (the Region One Token)."
        % (i.operator_source, i.operator_error)
    ]


@preflight_rule
def system_account_jwt_is_valid(i):
    if not i.system_account_error:
        return []
    if i.system_account_jwt_given:
        return [
            "acs_system_account_jwt is %s. Set it to the contents of [ncred]/SYS.jwt, or leave it empty to read "
            "%s/SYS.jwt." % (i.system_account_error, i.v.str("acs_ncred_dir"))
        ]
    return [
        "%s is %s. Put back the SYS.jwt of the REGION1 operator there (the bootstrap writes it), or give it as "
        "acs_system_account_jwt." % (i.system_account_source, i.system_account_error)
    ]


@preflight_rule
def sys_creds_are_creds(i):
    if not i.sys_creds_given or CREDS_SEED_MARK in i.v.str("acs_sys_creds"):
        return []
    # Never quote the value: it is a secret, even when it is the wrong one.
    return [
        "acs_sys_creds does not hold a NATS credentials file (no user seed in it). Set it to the contents of "
        "[ncred]/creds/sys.creds, or leave it empty to read %s/creds/sys.creds." % i.v.str("acs_ncred_dir")
    ]


@preflight_rule
def ncred_files_exist(i):
    """The files the service reads, named when this host lacks them. A check-mode run
    before the bootstrap ever wrote them cannot know better."""
    missing = [stat.get("item") for stat in i.ncred_stats
               if not (stat.get("stat") or {}).get("exists") and not stat.get("skipped")]
    if i.check_mode or i.mode == "none" or not missing:
        return []
    # With the Region One Token, REGION1 was made elsewhere: no bootstrap here can create SYS.
    first = ("The operator is the Region One Token, made elsewhere, so no bootstrap can create SYS: put them on"
             " the volume from where the operator key is kept," if i.operator_jwt_given else
             "Run the REGION1 bootstrap first (cmsgs.nats.region1 on the acs_primary host, with a writable [ncred]),")
    return [
        "The account server needs %s, which this host does not have. %s mount the [ncred] volume here "
        "(acs_ncred_dir, now %s), or give their contents as acs_operator_jwt, acs_system_account_jwt and "
        "acs_sys_creds." % (", ".join(missing), first, i.v.str("acs_ncred_dir"))
    ]


# ------------------------------------------------------------ the operator and SYS


@preflight_rule
def operator_pin_is_an_operator(i):
    return [i.pin_error] if i.pin_error else []


@preflight_rule
def operator_is_the_pinned_one(i):
    return nats_server_trust.operator_pin_problems(i.pin, PIN_VARIABLE, i.operator, i.operator_source)


@preflight_rule
def system_account_is_the_operators(i):
    """SYS.jwt is what the account server serves as SYS to every url resolver: it must be
    the system account of the operator it trusts, signed by that operator."""
    if i.pin:
        return nats_server_trust.system_account_pin_problems(
            i.pin, i.operator, i.system_account, i.system_account_source)
    if i.operator is None or i.system_account is None:
        return []
    operator_keys = [i.operator.subject] + nats_jwt.signing_key_names(i.operator.nats)
    system_account_id = i.operator.nats.get("system_account") or ""
    if i.system_account.issuer in operator_keys and i.system_account.subject == system_account_id:
        return []
    return [
        "%s is account %s signed by %s, not the system account %s of operator %s (%s): the account server would "
        "refuse to start. Put back the SYS.jwt of that operator." % (
            i.system_account_source, i.system_account.subject, i.system_account.issuer,
            system_account_id or "(none named)", i.operator.subject, i.operator_source)
    ]


# ------------------------------------------------------------ the service


@preflight_rule
def user_is_a_system_name(i):
    if SYSTEM_NAME_RE.fullmatch(i.v.str("acs_user")):
        return []
    return [
        "acs_user ('%s') must be a system user name (lower case letters, digits, '_' or '-')." % i.v.str("acs_user")
    ]


@preflight_rule
def user_is_not_root(i):
    return guard_rails.root_user_problems(i.v, ["acs_user"])


@preflight_rule
def delete_expired_is_a_boolean(i):
    i.v.bool("acs_delete_expired")  # a survey's "false" is false; anything else is named
    return []


@preflight_rule
def log_level_is_known(i):
    if i.v.str("acs_log_level").lower() in LOG_LEVELS:
        return []
    return ["acs_log_level ('%s') must be debug, info, warning or error." % i.v.str("acs_log_level")]


@preflight_rule
def max_body_bytes_in_range(i):
    size = _number(i.v.raw("acs_max_body_bytes"))
    if size is not None and 1024 <= size <= 1049600:
        return []
    return [
        "acs_max_body_bytes ('%s') must be a number of bytes between 1024 and 1049600." % i.v.str("acs_max_body_bytes")
    ]


@preflight_rule
def request_timeout_in_range(i):
    text = i.v.str("acs_request_timeout_seconds").strip()
    if SECONDS_RE.match(text) and 0 < float(text) <= 3600:
        return []
    return [
        "acs_request_timeout_seconds ('%s') must be a number of seconds above 0, at most 3600."
        % i.v.str("acs_request_timeout_seconds")
    ]


@preflight_rule
def pack_max_in_range(i):
    most = _number(i.v.raw("acs_pack_max"))
    if most is not None and 0 <= most <= 1000000:
        return []
    return ["acs_pack_max ('%s') must be a number of accounts between 0 and 1000000." % i.v.str("acs_pack_max")]


@preflight_rule
def wheel_dir_is_absolute(i):
    wheel_dir = i.v.str("acs_wheel_dir")
    if not wheel_dir or wheel_dir.startswith("/"):
        return []
    return [
        "acs_wheel_dir ('%s') must be an absolute path on the controller, or empty to build the wheels." % wheel_dir
    ]


# ------------------------------------------------------------ what the tasks take


def local_url(v):
    """Where the run asks for /healthz: the listen address, or loopback for a wildcard."""
    host = v.str("acs_listen_host").strip()
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    elif ":" in host:
        host = "[%s]" % host
    return "http://%s:%d" % (host, _number(v.raw("acs_listen_port")))


def service_config(i):
    """The file the service reads (keys as extensions/acs/README.md documents them)."""
    v = i.v
    return {
        "listen_host": v.str("acs_listen_host"),
        "listen_port": _number(v.raw("acs_listen_port")),
        "store_dir": v.str("acs_store_dir"),
        "operator_jwt": i.operator_jwt,
        "operator_public_key": i.pin,
        "system_account_jwt_path": i.system_account_jwt_path,
        "sys_creds_path": i.sys_creds_path,
        "nats_urls": i.managed_nodes,
        "primary_url": i.primary_url if i.is_secondary else "",
        "max_body_bytes": _number(v.raw("acs_max_body_bytes")),
        "request_timeout_seconds": _number(v.raw("acs_request_timeout_seconds"), float),
        "pack_max": _number(v.raw("acs_pack_max")),
        "delete_expired": v.bool("acs_delete_expired"),
        "log_level": v.str("acs_log_level").lower(),
    }


def plan(variables, operator_jwt="", system_account_jwt="", recorded_config="", ncred_files=None, check_mode=False):
    """Everything the role's tasks ask, from one reading of the variables and the files read."""
    i = Inputs(variables, operator_jwt, system_account_jwt, recorded_config, ncred_files, check_mode)
    problems = preflight_problems(i)
    store, nsc = (posixpath.normpath(i.v.str(name)) for name in ("acs_store_dir", "acs_nsc_dir"))
    return {
        "problems": problems,
        "mode": i.mode,
        "is_secondary": i.is_secondary,
        "managed_nodes": i.managed_nodes,
        "primary_url": i.primary_url,
        "ncred_files": i.ncred_files,
        "operator_jwt_given": i.operator_jwt_given,
        "system_account_jwt_given": i.system_account_jwt_given,
        "sys_creds_given": i.sys_creds_given,
        "system_account_jwt_path": i.system_account_jwt_path,
        "sys_creds_path": i.sys_creds_path,
        # The service user may pass through the [nsc] root only to reach a store inside it.
        "store_in_nsc": store.startswith(nsc.rstrip("/") + "/"),
        # The service refuses an operator JWT of another key at start too.
        "operator_public_key": i.pin,
        # Built only from inputs that passed: the preflight stops on any problem.
        "local_url": "" if problems else local_url(i.v),
        "config": {} if problems else service_config(i),
    }
