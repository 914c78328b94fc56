# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The region1_bootstrap role's decisions: every preflight rule with a good and a bad case, the
[ncred] and store layout, and orphaned [ncred] files."""

from __future__ import annotations

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils import region1_bootstrap_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError, collect_problems


def role_defaults(**overrides):
    values = {
        "region1_bootstrap_ncred_dir": "/srv/ncred", "region1_bootstrap_nsc_dir": "/srv/nsc",
        "region1_bootstrap_ncred_readonly": False, "region1_bootstrap_region1_token": "",
        "region1_bootstrap_primary_acs_fqdn": "acs.example.com", "region1_bootstrap_account_server_user": "cmaccount",
        "region1_bootstrap_server_group": "cmsgs",
    }
    values.update(overrides)
    return values


def _operator_jwt(with_sys=True):
    operator = KeyPair(nats_jwt.new_seed("operator"))
    nats = {"system_account": KeyPair(nats_jwt.new_seed("account")).public_key} if with_sys else {}
    return nats_jwt.sign_claims(nats_jwt.build_claims("operator", "REGION1", operator.public_key, operator.public_key, nats), operator)


def _account_jwt():
    operator = KeyPair(nats_jwt.new_seed("operator"))
    account = KeyPair(nats_jwt.new_seed("account"))
    return nats_jwt.sign_claims(nats_jwt.build_claims("account", "APP", account.public_key, operator.public_key, {}), operator)


PREFLIGHT_CASES = {
    "volumes_are_absolute": ({}, {"region1_bootstrap_nsc_dir": "nsc"}, "('nsc') must be absolute paths"),
    "volumes_are_separate": ({"region1_bootstrap_nsc_dir": "/srv/ncred/nsc"}, {"region1_bootstrap_nsc_dir": "/srv/ncred/"},
                             "are both '/srv/ncred'"),
    "token_is_an_operator_jwt": (lambda: {"region1_bootstrap_region1_token": _operator_jwt() + "\n"},
                                 lambda: {"region1_bootstrap_region1_token": _account_jwt()},
                                 'region1_bootstrap_region1_token ("Region One Token") is not a valid NATS operator JWT: '
                                 "expected an operator JWT, found an account JWT"),
    "token_names_its_system_account": (lambda: {"region1_bootstrap_region1_token": _operator_jwt()},
                                       lambda: {"region1_bootstrap_region1_token": _operator_jwt(with_sys=False)},
                                       "names no system account"),
    "new_operator_has_an_account_server_fqdn": (
        {"region1_bootstrap_primary_acs_fqdn": "", "region1_bootstrap_ncred_readonly": "true"},
        {"region1_bootstrap_primary_acs_fqdn": "https://acs.example.com/"},
        "region1_bootstrap_primary_acs_fqdn (\"Primary ACS FQDN\", now 'https://acs.example.com/')",
    ),
    "owners_are_system_names": ({"region1_bootstrap_server_group": "nats_1"}, {"region1_bootstrap_account_server_user": "CmAccount"},
                                "region1_bootstrap_account_server_user ('CmAccount')"),
    "volumes_are_not_system_folders": ({"region1_bootstrap_nsc_dir": "/var/lib/nsc"}, {"region1_bootstrap_nsc_dir": "/var/lib"},
                                       "region1_bootstrap_nsc_dir ('/var/lib') is a system folder"),
    "account_server_user_is_not_root": ({}, {"region1_bootstrap_account_server_user": "root"},
                                        "region1_bootstrap_account_server_user is 'root'"),
}


def rule_named(name):
    return next(rule for rule in plan.PREFLIGHT_RULES if rule.__name__ == name)


def _overrides(case):
    return case() if callable(case) else dict(case)


def test_every_preflight_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in plan.PREFLIGHT_RULES) == sorted(PREFLIGHT_CASES)


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_passes_its_good_case(name):
    inputs = plan.Inputs(role_defaults(**_overrides(PREFLIGHT_CASES[name][0])))
    assert collect_problems([rule_named(name)], inputs) == []


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_reports_its_bad_case(name):
    _good, bad, words = PREFLIGHT_CASES[name]
    problems = collect_problems([rule_named(name)], plan.Inputs(role_defaults(**_overrides(bad))))
    assert len(problems) == 1 and words in problems[0], problems


def test_the_token_never_shows_in_a_problem():
    token = _account_jwt()
    assert token not in " ".join(plan.preflight_problems(role_defaults(region1_bootstrap_region1_token=token)))


def test_a_writable_volume_without_a_token_creates_the_operator_and_lists_the_store():
    result = plan.plan(role_defaults(region1_bootstrap_ncred_readonly="false"))
    assert result["creates_operator"] is True and result["token_given"] is False
    assert [e["path"] for e in result["layout"]] == [
        "/srv/ncred", "/srv/ncred/creds", "/srv/ncred/REGION1.jwt", "/srv/ncred/SYS.jwt", "/srv/ncred/creds/sys.creds",
        "/srv/nsc/stores/REGION1/REGION1.jwt", "/srv/nsc/stores/REGION1/accounts/SYS/SYS.jwt",
        "/srv/nsc/stores/REGION1/accounts/SYS/users/sys.jwt",
    ]
    assert not any(entry.get("required") for entry in result["layout"])


def test_a_readonly_volume_requires_its_files_and_a_token_spares_the_operator_jwt():
    readonly = plan.layout(role_defaults(region1_bootstrap_ncred_readonly="yes"))
    assert [e["path"] for e in readonly if e.get("required")] == [
        "/srv/ncred/REGION1.jwt", "/srv/ncred/SYS.jwt", "/srv/ncred/creds/sys.creds"]
    with_token = plan.plan(role_defaults(region1_bootstrap_ncred_readonly=True, region1_bootstrap_region1_token=_operator_jwt()))
    assert with_token["creates_operator"] is False and with_token["token_given"] is True
    assert [e["path"] for e in with_token["layout"] if e.get("required")] == ["/srv/ncred/SYS.jwt", "/srv/ncred/creds/sys.creds"]
    assert len(with_token["layout"]) == 5


def test_ncred_files_without_their_store_entity_are_orphans():
    entries = [{"path": "/srv/ncred/REGION1.jwt", "exists": True}, {"path": "/srv/ncred/SYS.jwt", "exists": True},
               {"path": "/srv/nsc/stores/REGION1/accounts/SYS/SYS.jwt", "exists": True},
               {"path": "/srv/nsc/stores/REGION1/REGION1.jwt", "exists": False}]
    assert plan.orphans(role_defaults(), entries) == ["/srv/ncred/REGION1.jwt"]
    assert plan.orphans(role_defaults(), []) == []


def test_switches_read_survey_strings():
    result = plan.plan(role_defaults(region1_bootstrap_ncred_readonly="true", region1_bootstrap_export_sys_creds="false"))
    assert result["readonly"] is True and result["export_sys_creds"] is False and result["creates_operator"] is False
    with pytest.raises(RoleValueError, match="region1_bootstrap_ncred_readonly must be true or false"):
        plan.plan(role_defaults(region1_bootstrap_ncred_readonly="sometimes"))


def test_ncred_owners_and_modes_keep_the_system_credentials_to_the_account_server():
    # The servers' group reads the operator JWT; only the account server's user reads the system
    # account's JWT and its user's credentials (the seed of the system user: 0600).
    assert plan.layout(role_defaults(region1_bootstrap_account_server_user="acs", region1_bootstrap_server_group="natsgrp")) == [
        {"path": "/srv/ncred", "state": "directory", "owner": "acs", "group": "root", "mode": "0750"},
        {"path": "/srv/ncred/creds", "state": "directory", "owner": "acs", "group": "root", "mode": "0750"},
        {"path": "/srv/ncred/REGION1.jwt", "owner": "root", "group": "natsgrp", "mode": "0640", "required": False},
        {"path": "/srv/ncred/SYS.jwt", "owner": "acs", "group": "root", "mode": "0640", "required": False},
        {"path": "/srv/ncred/creds/sys.creds", "owner": "acs", "group": "root", "mode": "0600", "required": False},
        {"path": "/srv/nsc/stores/REGION1/REGION1.jwt", "mode": "0600", "required": False},
        {"path": "/srv/nsc/stores/REGION1/accounts/SYS/SYS.jwt", "mode": "0600", "required": False},
        {"path": "/srv/nsc/stores/REGION1/accounts/SYS/users/sys.jwt", "mode": "0600", "required": False},
    ]


def test_sys_creds_without_the_system_user_in_the_store_are_an_orphan_and_the_export_switch_is_read():
    entries = [{"path": "/srv/ncred/creds/sys.creds", "exists": True},
               {"path": "/srv/nsc/stores/REGION1/accounts/SYS/users/sys.jwt", "exists": False}]
    assert plan.orphans(role_defaults(), entries) == ["/srv/ncred/creds/sys.creds"]
    assert plan.plan(role_defaults(region1_bootstrap_export_sys_creds="true"))["export_sys_creds"] is True
    assert len(plan.PREFLIGHT_RULES) == len(PREFLIGHT_CASES) and all(callable(rule) for rule in plan.PREFLIGHT_RULES)


def test_preflight_reads_the_variables_it_is_given_as_a_mapping_or_role_vars():
    from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars

    bad = role_defaults(region1_bootstrap_nsc_dir="nsc")
    assert [p for p in plan.preflight_problems(bad) if "('nsc') must be absolute paths" in p]
    assert plan.preflight_problems(RoleVars(bad)) == plan.preflight_problems(bad)
    assert plan.plan(RoleVars(role_defaults()))["layout"] == plan.plan(role_defaults())["layout"]
