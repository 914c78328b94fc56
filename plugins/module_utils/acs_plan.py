# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the acs role decides from its variables and the JWTs it reads, as plain functions.

* preflight_problems: every rule in PREFLIGHT_RULES; adding a rule is adding one
  function decorated with @preflight_rule and its good and bad case in
  tests/unit/plugins/module_utils/test_acs_plan.py.
* plan: the problems and what the tasks take from the same reading (the
  pinned operator key the service's configuration carries).

The operator is pinned with the rules nats_server uses (nats_server_trust): the
account server's user can write [ncred], so neither its REGION1.jwt nor its
SYS.jwt may decide on its own which operator the account server serves.
"""

from __future__ import annotations

import json

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt, nats_server_trust
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

PIN_VARIABLE = "acs_operator_public_key"


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


def _decode(token, kind):
    """(decoded, error) of a JWT the role was given or read."""
    try:
        return nats_jwt.decode(token, expected_kind=kind, check_times=False), ""
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

    def __init__(self, variables, operator_jwt="", system_account_jwt="", recorded_config=""):
        self.v = variables if isinstance(variables, RoleVars) else RoleVars(variables)
        ncred = self.v.str("acs_ncred_dir")
        self.pin, self.pin_error = nats_server_trust.operator_pin(self.v.str(PIN_VARIABLE), PIN_VARIABLE)
        if not self.pin and not self.pin_error:
            self.pin = recorded_pin(recorded_config)

        given = self.v.str("acs_operator_jwt").strip()
        self.operator_jwt = given or str(operator_jwt or "").strip()
        self.operator_source = "acs_operator_jwt" if given else "%s/REGION1.jwt" % ncred
        self.operator, self.operator_error = (None, "")
        if self.operator_jwt:
            self.operator, self.operator_error = _decode(self.operator_jwt, nats_jwt.OPERATOR)

        given = self.v.str("acs_system_account_jwt").strip()
        self.system_account_jwt = given or str(system_account_jwt or "").strip()
        self.system_account_source = "acs_system_account_jwt" if given else "%s/SYS.jwt" % ncred
        self.system_account, self.system_account_error = (None, "")
        if self.system_account_jwt:
            self.system_account, self.system_account_error = _decode(self.system_account_jwt, nats_jwt.ACCOUNT)


PREFLIGHT_RULES = []


def preflight_rule(function):
    """Register a preflight rule: function(Inputs) -> list of problem strings."""
    PREFLIGHT_RULES.append(function)
    return function


def preflight_problems(variables, operator_jwt="", system_account_jwt="", recorded_config=""):
    inputs = (variables if isinstance(variables, Inputs)
              else Inputs(variables, operator_jwt, system_account_jwt, recorded_config))
    return collect_problems(PREFLIGHT_RULES, inputs)


# ------------------------------------------------------------ the operator and SYS


@preflight_rule
def operator_pin_is_an_operator(i):
    return [i.pin_error] if i.pin_error else []


@preflight_rule
def operator_jwt_read_is_valid(i):
    """A given acs_operator_jwt is checked with the inputs; a file read from [ncred] here."""
    if i.operator_source == "acs_operator_jwt" or not i.operator_error:
        return []
    return [
        "%s is %s. Put back the REGION1 operator JWT there, or give it as acs_operator_jwt (the Region One Token)."
        % (i.operator_source, i.operator_error)
    ]


@preflight_rule
def system_account_jwt_read_is_valid(i):
    if i.system_account_source == "acs_system_account_jwt" or not i.system_account_error:
        return []
    return [
        "%s is %s. Put back the SYS.jwt of the REGION1 operator there (the bootstrap writes it), or give it as "
        "acs_system_account_jwt." % (i.system_account_source, i.system_account_error)
    ]


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


def plan(variables, operator_jwt="", system_account_jwt="", recorded_config=""):
    """Everything the role's tasks ask, from one reading of the variables and JWTs."""
    i = Inputs(variables, operator_jwt, system_account_jwt, recorded_config)
    return {
        "problems": preflight_problems(i),
        # The service refuses an operator JWT of another key at start too.
        "operator_public_key": i.pin,
    }
