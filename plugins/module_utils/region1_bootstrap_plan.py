# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the region1_bootstrap role decides from its variables, as plain functions.

* preflight_problems: every rule in PREFLIGHT_RULES (the Region One Token is
  decoded once); adding a rule is adding one function decorated with
  @preflight_rule and its test.
* layout: [ncred] as the stack documents it, plus the nsc store's JWTs when
  the role creates the operator.
* orphans: files in [ncred] whose entity is missing from the nsc store.
"""

from __future__ import annotations

import posixpath
import re

from ansible_collections.cmsgs.nats.plugins.module_utils import guard_rails, nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

# The names the stack depends on: the REGION1 namespace, its system account
# and the user the account server signs in with.
OPERATOR = "REGION1"
SYSTEM_ACCOUNT = "SYS"
SYSTEM_USER = "sys"
FQDN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$")
SYSTEM_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class Inputs:
    """The role's variables, with the token decoded once."""

    def __init__(self, variables):
        self.v = variables if isinstance(variables, RoleVars) else RoleVars(variables)
        self.token = self.v.str("region1_bootstrap_region1_token").strip()
        self.token_claims, self.token_error = None, ""
        if self.token:
            try:
                self.token_claims = nats_jwt.decode(self.token, expected_kind=nats_jwt.OPERATOR).claims
            except nats_jwt.JwtError as exc:
                self.token_error = "not a valid NATS operator JWT: %s" % exc

    @property
    def creates_operator(self):
        """Only a writable volume without a token gets a newly created operator."""
        return not self.v.bool("region1_bootstrap_ncred_readonly") and not self.token

    def paths(self):
        ncred, nsc = self.v.str("region1_bootstrap_ncred_dir"), self.v.str("region1_bootstrap_nsc_dir")
        store = "%s/stores/%s" % (nsc, OPERATOR)
        accounts = "%s/accounts/%s" % (store, SYSTEM_ACCOUNT)
        return {
            "operator_jwt": "%s/%s.jwt" % (ncred, OPERATOR),
            "system_account_jwt": "%s/%s.jwt" % (ncred, SYSTEM_ACCOUNT),
            "sys_creds": "%s/creds/%s.creds" % (ncred, SYSTEM_USER),
            "store_operator_jwt": "%s/%s.jwt" % (store, OPERATOR),
            "store_system_account_jwt": "%s/%s.jwt" % (accounts, SYSTEM_ACCOUNT),
            "store_sys_user_jwt": "%s/users/%s.jwt" % (accounts, SYSTEM_USER),
        }


PREFLIGHT_RULES = []


def preflight_rule(function):
    """Register a preflight rule: function(Inputs) -> list of problem strings."""
    PREFLIGHT_RULES.append(function)
    return function


def preflight_problems(variables):
    return collect_problems(PREFLIGHT_RULES, variables if isinstance(variables, Inputs) else Inputs(variables))


@preflight_rule
def volumes_are_absolute(i):
    ncred, nsc = i.v.str("region1_bootstrap_ncred_dir"), i.v.str("region1_bootstrap_nsc_dir")
    if ncred.startswith("/") and nsc.startswith("/"):
        return []
    return [
        "region1_bootstrap_ncred_dir ('%s') and region1_bootstrap_nsc_dir ('%s') must be absolute paths." % (ncred, nsc)
    ]


@preflight_rule
def volumes_are_separate(i):
    ncred, nsc = i.v.str("region1_bootstrap_ncred_dir"), i.v.str("region1_bootstrap_nsc_dir")
    if posixpath.normpath(ncred) != posixpath.normpath(nsc):
        return []
    return [
        "region1_bootstrap_ncred_dir and region1_bootstrap_nsc_dir are both '%s': [ncred] is readable by the "
        "account server, [nsc] holds every seed; give them separate volumes." % ncred
    ]


@preflight_rule
def token_is_an_operator_jwt(i):
    if not i.token_error:
        return []
    return [
        'region1_bootstrap_region1_token ("Region One Token") is %s. Set it to the REGION1 operator JWT (the '
        "contents of a REGION1.jwt), or leave it empty to let the role create the operator." % i.token_error
    ]


@preflight_rule
def token_names_its_system_account(i):
    if i.token_claims is None or (i.token_claims.get("nats") or {}).get("system_account"):
        return []
    return [
        'region1_bootstrap_region1_token ("Region One Token") names no system account: the servers and the account '
        "server need SYS. Issue the operator JWT again with its system account set (nsc edit operator "
        "--system-account SYS)."
    ]


@preflight_rule
def new_operator_has_an_account_server_fqdn(i):
    fqdn = i.v.str("region1_bootstrap_primary_acs_fqdn")
    if not i.creates_operator or FQDN_RE.match(fqdn):
        return []
    return [
        'region1_bootstrap_primary_acs_fqdn ("Primary ACS FQDN", now \'%s\') must be the host name the load balancer '
        "serves the account server under, such as acs.example.com, without scheme or path: the new operator's "
        "account_server_url is https://<fqdn>/jwt/v1." % fqdn
    ]


@preflight_rule
def owners_are_system_names(i):
    user, group = i.v.str("region1_bootstrap_account_server_user"), i.v.str("region1_bootstrap_server_group")
    if SYSTEM_NAME_RE.match(user) and SYSTEM_NAME_RE.match(group):
        return []
    return [
        "region1_bootstrap_account_server_user ('%s') and region1_bootstrap_server_group ('%s') must be system user "
        "and group names (lower case letters, digits, '_' or '-')." % (user, group)
    ]


@preflight_rule
def volumes_are_not_system_folders(i):
    return guard_rails.system_folder_problems(i.v, ["region1_bootstrap_ncred_dir", "region1_bootstrap_nsc_dir"])


@preflight_rule
def account_server_user_is_not_root(i):
    return guard_rails.root_user_problems(i.v, ["region1_bootstrap_account_server_user"])


def layout(variables):
    """[ncred] as the stack documents it, and the store's JWTs when the role manages the operator.

    Files are required only on a read-only volume: on a writable one the jwt
    modules create them with these owners and modes, and this layout fixes
    them when they exist. The store's JWTs stay 0600 as the jwt modules write
    them, and are listed so that one call also tells which exist.
    """
    i = variables if isinstance(variables, Inputs) else Inputs(variables)
    readonly = i.v.bool("region1_bootstrap_ncred_readonly")
    user, group = i.v.str("region1_bootstrap_account_server_user"), i.v.str("region1_bootstrap_server_group")
    ncred, paths = i.v.str("region1_bootstrap_ncred_dir"), i.paths()
    entries = [
        {"path": ncred, "state": "directory", "owner": user, "group": "root", "mode": "0750"},
        {"path": ncred + "/creds", "state": "directory", "owner": user, "group": "root", "mode": "0750"},
        # With a token the servers can take the operator from the variable instead.
        {"path": paths["operator_jwt"], "owner": "root", "group": group, "mode": "0640",
         "required": readonly and not i.token},
        {"path": paths["system_account_jwt"], "owner": user, "group": "root", "mode": "0640", "required": readonly},
        {"path": paths["sys_creds"], "owner": user, "group": "root", "mode": "0600", "required": readonly},
    ]
    if i.creates_operator:
        entries += [{"path": paths[name], "mode": "0600", "required": False}
                    for name in ("store_operator_jwt", "store_system_account_jwt", "store_sys_user_jwt")]
    return entries


def orphans(variables, layout_entries):
    """Files in [ncred] whose entity is missing from the store: a new key's JWT
    would replace them, orphaning the operator and everything it signed."""
    i = variables if isinstance(variables, Inputs) else Inputs(variables)
    exists = {entry.get("path") for entry in layout_entries or [] if entry.get("exists")}
    paths = i.paths()
    pairs = (("operator_jwt", "store_operator_jwt"), ("system_account_jwt", "store_system_account_jwt"),
             ("sys_creds", "store_sys_user_jwt"))
    return [paths[ncred] for ncred, store in pairs if paths[ncred] in exists and paths[store] not in exists]


def plan(variables, layout_entries=None):
    """Everything the role's tasks ask, from one reading of the variables."""
    i = Inputs(variables)
    return {
        "problems": preflight_problems(i),
        "token_given": bool(i.token),
        "readonly": i.v.bool("region1_bootstrap_ncred_readonly"),
        "export_sys_creds": i.v.bool("region1_bootstrap_export_sys_creds"),
        "creates_operator": i.creates_operator,
        "layout": layout(i),
        "orphans": orphans(i, layout_entries),
    }
