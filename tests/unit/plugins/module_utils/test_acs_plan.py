# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acs role's decisions: every preflight rule with a good and a bad case, the pinned
operator among them, and what the tasks take from the plan."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from ansible_collections.cmsgs.nats.plugins.filter.acs import acs_plan as acs_plan_filter
from ansible_collections.cmsgs.nats.plugins.module_utils import acs_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import collect_problems

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "acs"


def _sign(kind, name, subject, issuer, nats=None):
    return nats_jwt.sign_claims(nats_jwt.build_claims(kind, name, subject.public_key, issuer.public_key, nats or {}),
                                issuer)


def _region(with_system_account=True):
    operator, signing = KeyPair(nats_jwt.new_seed("operator")), KeyPair(nats_jwt.new_seed("operator"))
    sys_account = KeyPair(nats_jwt.new_seed("account"))
    nats = {"signing_keys": [signing.public_key]}
    if with_system_account:
        nats["system_account"] = sys_account.public_key
    return {
        "key": operator.public_key, "operator_pair": operator, "signing_pair": signing, "sys_pair": sys_account,
        "operator": _sign("operator", "REGION1", operator, operator, nats),
        "sys": _sign("account", "SYS", sys_account, operator),
        "sys_by_signing_key": _sign("account", "SYS", sys_account, signing),
    }


@pytest.fixture(scope="module")
def jwts():
    genuine, impostor = _region(), _region()
    return {
        "genuine": genuine, "impostor": impostor,
        # The genuine SYS key, vouched for by someone else: what a writer of [ncred] can make.
        "sys_by_impostor": _sign("account", "SYS", genuine["sys_pair"], impostor["operator_pair"]),
        "app_account": _sign("account", "APP", KeyPair(nats_jwt.new_seed("account")), genuine["operator_pair"]),
        "no_sys_operator": _region(with_system_account=False),
    }


def role_defaults(**overrides):
    """The role's defaults as a play templates them (no acs_primary group, no stack options)."""
    values = {
        "acs_mode": "primary", "acs_primary_fqdn": "", "acs_primary_url": "", "acs_managed_nodes": [],
        "acs_listen_host": "0.0.0.0", "acs_listen_port": 9090, "acs_ncred_dir": "/srv/ncred", "acs_nsc_dir": "/srv/nsc",
        "acs_store_dir": "/srv/nsc/acs", "acs_operator_jwt": "", "acs_system_account_jwt": "", "acs_sys_creds": "",
        "acs_operator_public_key": "", "acs_venv_dir": "/opt/cmsgs-nats/acs", "acs_user": "cmaccount",
        "acs_config_dir": "/etc/cmsgs-acs", "acs_wheel_dir": "", "acs_wheel_cache_dir": "/root/.cache/cmsgs.nats/acs",
        "acs_max_body_bytes": 65536, "acs_request_timeout_seconds": 5, "acs_pack_max": 10000,
        "acs_delete_expired": False, "acs_log_level": "info", "acs_start_timeout": 60,
    }
    values.update(overrides)
    return values


def inputs(jwts, overrides=None, operator_jwt=None, system_account_jwt=None):
    """The genuine [ncred] files as preflight reads them, under the genuine pin, unless overridden."""
    genuine = jwts["genuine"]
    values = role_defaults(**dict({"acs_operator_public_key": genuine["key"]}, **(overrides or {})))
    return plan.Inputs(values, genuine["operator"] if operator_jwt is None else operator_jwt,
                       genuine["sys"] if system_account_jwt is None else system_account_jwt)


# rule -> (good case, bad case, words the one problem must contain); a case is
# a function of the JWTs giving (variables, operator_jwt read, system_account_jwt read).
PREFLIGHT_CASES = {
    "operator_pin_is_an_operator": (
        lambda j: ({"acs_operator_public_key": j["genuine"]["operator"]}, None, None),  # the Region One Token
        lambda j: ({"acs_operator_public_key": "ADDQ" + j["genuine"]["key"][4:]}, None, None),
        "acs_operator_public_key must be the operator's public key",
    ),
    "operator_jwt_read_is_valid": (
        # A broken acs_operator_jwt is the variable's own rule; the file is not read then.
        lambda j: ({"acs_operator_jwt": j["genuine"]["operator"]}, "", None),
        lambda j: ({}, j["genuine"]["sys"], None),
        "/srv/ncred/REGION1.jwt is not a valid NATS operator JWT",
    ),
    "system_account_jwt_read_is_valid": (
        lambda j: ({"acs_ncred_dir": "/srv/other"}, None, j["genuine"]["sys_by_signing_key"]),
        lambda j: ({}, None, "not.a.jwt"),
        "/srv/ncred/SYS.jwt is not a valid NATS account JWT",
    ),
    "operator_is_the_pinned_one": (
        lambda j: ({"acs_operator_public_key": " %s\n" % j["genuine"]["key"]}, None, None),
        lambda j: ({}, j["impostor"]["operator"], None),
        "/srv/ncred/REGION1.jwt holds operator",
    ),
    "system_account_is_the_operators": (
        lambda j: ({}, None, j["genuine"]["sys_by_signing_key"]),
        lambda j: ({}, None, j["sys_by_impostor"]),
        "/srv/ncred/SYS.jwt is account",
    ),
}


def rule_named(name):
    return next(rule for rule in plan.PREFLIGHT_RULES if rule.__name__ == name)


def _inputs_for(case, jwts):
    overrides, operator_jwt, system_account_jwt = case(jwts)
    return inputs(jwts, overrides, operator_jwt, system_account_jwt)


def test_every_preflight_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in plan.PREFLIGHT_RULES) == sorted(PREFLIGHT_CASES)


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_passes_its_good_case(name, jwts):
    assert collect_problems([rule_named(name)], _inputs_for(PREFLIGHT_CASES[name][0], jwts)) == []


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_reports_its_bad_case(name, jwts):
    _good, bad, words = PREFLIGHT_CASES[name]
    problems = collect_problems([rule_named(name)], _inputs_for(bad, jwts))
    assert len(problems) == 1 and words in problems[0], problems


def test_the_genuine_files_under_the_pin_pass_every_rule(jwts):
    assert plan.preflight_problems(inputs(jwts)) == []


# --- the pinned operator ---------------------------------------------------------


def test_a_swapped_sys_jwt_under_the_pin_is_refused_naming_the_file_the_key_and_the_fix(jwts):
    problems = plan.preflight_problems(inputs(jwts, system_account_jwt=jwts["sys_by_impostor"]))
    key = jwts["genuine"]["key"]
    assert len(problems) == 1, problems
    assert problems[0].startswith("/srv/ncred/SYS.jwt is account %s signed by %s"
                                  % (jwts["genuine"]["sys_pair"].public_key, jwts["impostor"]["key"]))
    assert "the pinned operator %s" % key in problems[0] and "put back the SYS.jwt of operator %s" % key in problems[0]


def test_a_swapped_region1_jwt_with_its_own_sys_is_one_problem_naming_both_keys(jwts):
    impostor = jwts["impostor"]
    problems = plan.preflight_problems(inputs(jwts, operator_jwt=impostor["operator"],
                                              system_account_jwt=impostor["sys"]))
    assert len(problems) == 1, problems
    assert "holds operator %s, but the servers trust operator %s (acs_operator_public_key)" % (
        impostor["key"], jwts["genuine"]["key"]) in problems[0]


def test_the_variables_given_as_text_are_named_as_variables(jwts):
    impostor = jwts["impostor"]
    problems = plan.preflight_problems(inputs(jwts, {"acs_operator_jwt": impostor["operator"]}))
    assert problems and problems[0].startswith("acs_operator_jwt holds operator %s" % impostor["key"])
    problems = plan.preflight_problems(inputs(jwts, {"acs_system_account_jwt": jwts["sys_by_impostor"]}, system_account_jwt=""))
    assert problems and problems[0].startswith("acs_system_account_jwt is account")


def test_another_account_of_the_pinned_operator_is_not_its_system_account(jwts):
    problems = plan.preflight_problems(inputs(jwts, system_account_jwt=jwts["app_account"]))
    assert len(problems) == 1 and "not the system account %s" % jwts["genuine"]["sys_pair"].public_key in problems[0]


def test_without_a_pin_sys_must_still_be_the_operators_own(jwts):
    unpinned = {"acs_operator_public_key": ""}
    assert plan.preflight_problems(inputs(jwts, unpinned)) == []
    impostor = jwts["impostor"]
    # Another operator with its own SYS: nothing to compare it with but itself.
    assert plan.preflight_problems(inputs(jwts, unpinned, impostor["operator"], impostor["sys"])) == []
    problems = plan.preflight_problems(inputs(jwts, unpinned, system_account_jwt=jwts["sys_by_impostor"]))
    assert len(problems) == 1 and "the account server would refuse to start" in problems[0]
    no_sys = jwts["no_sys_operator"]
    problems = plan.preflight_problems(inputs(jwts, unpinned, no_sys["operator"], no_sys["sys"]))
    assert len(problems) == 1 and "(none named)" in problems[0]


def test_nothing_read_yet_is_no_problem(jwts):
    # A check-mode run ahead of the bootstrap: no files, nothing to compare.
    assert plan.preflight_problems(inputs(jwts, operator_jwt="", system_account_jwt="")) == []


def test_the_plan_gives_the_service_the_pinned_key_even_from_the_region_one_token(jwts):
    genuine = jwts["genuine"]
    assert plan.plan(role_defaults(acs_operator_public_key=genuine["operator"]), genuine["operator"],
                     genuine["sys"]) == {"problems": [], "operator_public_key": genuine["key"]}
    assert plan.plan(role_defaults(), genuine["operator"], genuine["sys"])["operator_public_key"] == ""


def test_an_empty_pin_keeps_the_key_the_configuration_records(jwts):
    genuine, impostor = jwts["genuine"], jwts["impostor"]
    recorded = json.dumps({"operator_jwt": genuine["operator"], "operator_public_key": genuine["key"]})
    unpinned = role_defaults(acs_operator_public_key="")
    kept = plan.plan(unpinned, genuine["operator"], genuine["sys"], recorded)
    assert kept == {"problems": [], "operator_public_key": genuine["key"]}
    # The recorded pin refuses a swapped file as the variable would.
    refused = plan.plan(unpinned, impostor["operator"], impostor["sys"], recorded)
    assert len(refused["problems"]) == 1 and "holds operator %s" % impostor["key"] in refused["problems"][0]
    # A key set on purpose replaces the recorded one.
    moved = plan.plan(role_defaults(acs_operator_public_key=impostor["key"]), impostor["operator"], impostor["sys"],
                      recorded)
    assert moved == {"problems": [], "operator_public_key": impostor["key"]}


@pytest.mark.parametrize("recorded", ["", "{not json", "[]", '{"operator_public_key": 3}',
                                      '{"operator_public_key": "AB"}', '{"log_level": "info"}'])
def test_a_configuration_without_a_usable_pin_records_none(recorded):
    assert plan.recorded_pin(recorded) == ""


def test_the_filter_gives_the_plans_problems(jwts):
    genuine = jwts["genuine"]
    result = acs_plan_filter(role_defaults(acs_operator_public_key=genuine["key"]), genuine["operator"],
                             jwts["sys_by_impostor"])
    assert len(result["problems"]) == 1 and "/srv/ncred/SYS.jwt" in result["problems"][0]


# --- the role's files agree with the plan ------------------------------------------


def test_the_role_hands_the_plan_every_public_variable():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    names = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_acs_variable_names"]
    assert sorted(names) == sorted(defaults) == sorted(role_defaults())
