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
from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter.acs import acs_plan as acs_plan_filter
from ansible_collections.cmsgs.nats.plugins.module_utils import acs_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

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


def inputs(jwts, overrides=None, operator_jwt=None, system_account_jwt=None, **reads):
    """The genuine [ncred] files as preflight reads them, under the genuine pin, unless overridden."""
    genuine = jwts["genuine"]
    values = role_defaults(**dict({"acs_operator_public_key": genuine["key"]}, **(overrides or {})))
    return plan.Inputs(values, genuine["operator"] if operator_jwt is None else operator_jwt,
                       genuine["sys"] if system_account_jwt is None else system_account_jwt, **reads)


def stats(**exists):
    """stat results as tasks/preflight.yml registers them, path -> exists."""
    return [{"item": path, "stat": {"exists": found}} for path, found in exists.items()]


CREDS = ("-----BEGIN NATS USER JWT-----\neyJ0eXAi\n------END NATS USER JWT------\n\n"
         "-----BEGIN USER NKEY SEED-----\nSU...\n------END USER NKEY SEED------\n")

# rule -> (good case, bad case, words the one problem must contain); a case is a
# function of the JWTs giving the variables to change and, optionally, the reads
# (operator_jwt, system_account_jwt, recorded_config, ncred_files, check_mode).
PREFLIGHT_CASES = {
    "mode_is_known": (
        lambda j: {"vars": {"acs_mode": " Secondary ", "acs_primary_url": "http://acs-1:9090/"}},
        lambda j: {"vars": {"acs_mode": "primaryy"}},
        "acs_mode (\"Enable ACS\", from nats_stack_enable_acs or the host's group) is 'primaryy'",
    ),
    "listen_port_is_a_port": (
        lambda j: {"vars": {"acs_listen_port": "9091"}},
        lambda j: {"vars": {"acs_listen_port": "65536"}},
        "acs_listen_port ('65536') must be a port number between 1 and 65535.",
    ),
    "folders_are_absolute": (
        lambda j: {"vars": {"acs_config_dir": "/etc/cmsgs-acs-2"}},
        lambda j: {"vars": {"acs_venv_dir": "opt/acs"}},
        "acs_venv_dir ('opt/acs') and acs_config_dir ('/etc/cmsgs-acs') must be absolute paths.",
    ),
    "folders_are_not_system_folders": (
        lambda j: {"vars": {"acs_nsc_dir": "/srv/nsc", "acs_store_dir": "/var/lib/cmsgs-acs"}},
        lambda j: {"vars": {"acs_nsc_dir": "/srv/", "acs_store_dir": "/srv/acs"}},
        "acs_nsc_dir ('/srv/') is a system folder",
    ),
    "store_is_a_folder_of_its_own": (
        lambda j: {"vars": {"acs_store_dir": "/srv/nsc/acs/"}},
        lambda j: {"vars": {"acs_store_dir": "/srv/nsc/"}},
        "acs_store_dir ('/srv/nsc/') must be a folder of its own, not [ncred] or the [nsc] volume itself, "
        "for example /srv/nsc/acs.",
    ),
    "secondary_has_a_primary_url": (
        lambda j: {"vars": {"acs_mode": "secondary", "acs_primary_url": " https://acs.example.com/ "}},
        lambda j: {"vars": {"acs_mode": "secondary", "acs_primary_url": "acs-1:9090"}},
        "acs_primary_url ('acs-1:9090') must be the primary account server's address",
    ),
    "managed_nodes_are_nats_urls": (
        lambda j: {"vars": {"acs_managed_nodes": "nats-1, nats-2:4223,tls://nats-3:4222"}},
        lambda j: {"vars": {"acs_managed_nodes": ["nats-1", "http://nats-2:8222/"]}},
        "these are not: http://nats-2:8222/.",
    ),
    "operator_jwt_is_valid": (
        lambda j: {"vars": {"acs_operator_jwt": j["genuine"]["operator"] + "\n"}, "operator_jwt": "ignored"},
        lambda j: {"vars": {"acs_operator_jwt": j["genuine"]["sys"]}},
        'acs_operator_jwt (the "Region One Token") is not a valid NATS operator JWT: expected an operator JWT, '
        "found an account JWT. Set it to the REGION1 operator JWT, or leave it empty to read /srv/ncred/REGION1.jwt.",
    ),
    "system_account_jwt_is_valid": (
        lambda j: {"system_account_jwt": j["genuine"]["sys_by_signing_key"]},
        lambda j: {"system_account_jwt": "not.a.jwt"},
        "/srv/ncred/SYS.jwt is not a valid NATS account JWT",
    ),
    "sys_creds_are_creds": (
        lambda j: {"vars": {"acs_sys_creds": CREDS}},
        lambda j: {"vars": {"acs_sys_creds": "SUAPY7KLEK2XYYT7PGQZLU2KDBDE43ZPE4JBGTRLR462NVOI2ZM7VKYFKE"}},
        "acs_sys_creds does not hold a NATS credentials file (no user seed in it).",
    ),
    "ncred_files_exist": (
        # Missing in a check-mode run before the bootstrap: nothing to name yet.
        lambda j: {"ncred_files": stats(**{"/srv/ncred/SYS.jwt": False}), "check_mode": True},
        lambda j: {"ncred_files": stats(**{"/srv/ncred/REGION1.jwt": True, "/srv/ncred/creds/sys.creds": False})},
        "The account server needs /srv/ncred/creds/sys.creds, which this host does not have.",
    ),
    "operator_pin_is_an_operator": (
        lambda j: {"vars": {"acs_operator_public_key": j["genuine"]["operator"]}},  # the Region One Token
        lambda j: {"vars": {"acs_operator_public_key": "ADDQ" + j["genuine"]["key"][4:]}},
        "acs_operator_public_key must be the operator's public key",
    ),
    "operator_is_the_pinned_one": (
        lambda j: {"vars": {"acs_operator_public_key": " %s\n" % j["genuine"]["key"]}},
        lambda j: {"operator_jwt": j["impostor"]["operator"]},
        "/srv/ncred/REGION1.jwt holds operator",
    ),
    "system_account_is_the_operators": (
        lambda j: {"system_account_jwt": j["genuine"]["sys_by_signing_key"]},
        lambda j: {"system_account_jwt": j["sys_by_impostor"]},
        "/srv/ncred/SYS.jwt is account",
    ),
    "user_is_a_system_name": (
        lambda j: {"vars": {"acs_user": "cm_account-2"}},
        lambda j: {"vars": {"acs_user": "CmAccount"}},
        "acs_user ('CmAccount') must be a system user name",
    ),
    "user_is_not_root": (
        lambda j: {"vars": {"acs_user": "rooter"}},
        lambda j: {"vars": {"acs_user": "root"}},
        "acs_user is 'root'",
    ),
    "delete_expired_is_a_boolean": (
        lambda j: {"vars": {"acs_delete_expired": "False"}},
        lambda j: {"vars": {"acs_delete_expired": "maybe"}},
        "acs_delete_expired must be true or false",
    ),
    "log_level_is_known": (
        lambda j: {"vars": {"acs_log_level": "WARNING"}},
        lambda j: {"vars": {"acs_log_level": "loud"}},
        "acs_log_level ('loud') must be debug, info, warning or error.",
    ),
    "max_body_bytes_in_range": (
        lambda j: {"vars": {"acs_max_body_bytes": "1049600"}},
        lambda j: {"vars": {"acs_max_body_bytes": 1023}},
        "acs_max_body_bytes ('1023') must be a number of bytes between 1024 and 1049600.",
    ),
    "request_timeout_in_range": (
        lambda j: {"vars": {"acs_request_timeout_seconds": "2.5"}},
        lambda j: {"vars": {"acs_request_timeout_seconds": "0"}},
        "acs_request_timeout_seconds ('0') must be a number of seconds above 0, at most 3600.",
    ),
    "pack_max_in_range": (
        lambda j: {"vars": {"acs_pack_max": "0"}},
        lambda j: {"vars": {"acs_pack_max": -1}},
        "acs_pack_max ('-1') must be a number of accounts between 0 and 1000000.",
    ),
    "wheel_dir_is_absolute": (
        lambda j: {"vars": {"acs_wheel_dir": "/srv/wheels"}},
        lambda j: {"vars": {"acs_wheel_dir": "wheels"}},
        "acs_wheel_dir ('wheels') must be an absolute path on the controller",
    ),
}


def rule_named(name):
    return next(rule for rule in plan.PREFLIGHT_RULES if rule.__name__ == name)


def _inputs_for(case, jwts):
    reads = dict(case(jwts))
    return inputs(jwts, reads.pop("vars", {}), **reads)


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
    result = plan.plan(role_defaults(acs_operator_public_key=genuine["operator"]), genuine["operator"], genuine["sys"])
    assert (result["problems"], result["operator_public_key"], result["config"]["operator_public_key"]) == (
        [], genuine["key"], genuine["key"])
    assert plan.plan(role_defaults(), genuine["operator"], genuine["sys"])["operator_public_key"] == ""


def test_an_empty_pin_keeps_the_key_the_configuration_records(jwts):
    genuine, impostor = jwts["genuine"], jwts["impostor"]
    recorded = json.dumps({"operator_jwt": genuine["operator"], "operator_public_key": genuine["key"]})
    unpinned = role_defaults(acs_operator_public_key="")
    kept = plan.plan(unpinned, genuine["operator"], genuine["sys"], recorded)
    assert (kept["problems"], kept["operator_public_key"]) == ([], genuine["key"])
    # The recorded pin refuses a swapped file as the variable would.
    refused = plan.plan(unpinned, impostor["operator"], impostor["sys"], recorded)
    assert len(refused["problems"]) == 1 and "holds operator %s" % impostor["key"] in refused["problems"][0]
    # A key set on purpose replaces the recorded one.
    moved = plan.plan(role_defaults(acs_operator_public_key=impostor["key"]), impostor["operator"], impostor["sys"],
                      recorded)
    assert (moved["problems"], moved["operator_public_key"]) == ([], impostor["key"])


@pytest.mark.parametrize("recorded", ["", "{not json", "[]", '{"operator_public_key": 3}',
                                      '{"operator_public_key": "AB"}', '{"log_level": "info"}'])
def test_a_configuration_without_a_usable_pin_records_none(recorded):
    assert plan.recorded_pin(recorded) == ""


def test_the_filter_gives_the_plans_problems(jwts):
    genuine = jwts["genuine"]
    result = acs_plan_filter(role_defaults(acs_operator_public_key=genuine["key"]), genuine["operator"],
                             jwts["sys_by_impostor"])
    assert len(result["problems"]) == 1 and "/srv/ncred/SYS.jwt" in result["problems"][0]
    # check_mode as a string: missing files are no problem ahead of the bootstrap.
    missing = stats(**{"/srv/ncred/REGION1.jwt": False})
    assert acs_plan_filter(role_defaults(), ncred_files=missing, check_mode="true")["problems"] == []
    # Without check_mode the run is a real one, where the missing file is a problem.
    assert acs_plan_filter(role_defaults(), ncred_files=missing)["problems"][0].startswith(
        "The account server needs /srv/ncred/REGION1.jwt")
    assert acs_plan_filter(role_defaults(), ncred_files=missing, check_mode=False)["problems"][0].startswith(
        "The account server needs /srv/ncred/REGION1.jwt")
    with pytest.raises(AnsibleFilterError) as err:
        acs_plan_filter(role_defaults(), check_mode="perhaps")
    assert str(err.value) == (
        "acs_plan: check_mode must be true or false (or the strings 'true'/'false'), got 'perhaps'.")


def test_the_filter_hands_the_recorded_configuration_to_the_plan(jwts):
    genuine, impostor = jwts["genuine"], jwts["impostor"]
    recorded = json.dumps({"operator_jwt": genuine["operator"], "operator_public_key": genuine["key"]})
    refused = acs_plan_filter(role_defaults(acs_operator_public_key=""), impostor["operator"], impostor["sys"],
                              recorded)
    assert len(refused["problems"]) == 1 and "holds operator %s" % impostor["key"] in refused["problems"][0]


def test_the_filter_without_nkeys_says_which_libraries_the_controller_needs(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(AnsibleFilterError) as err:
        acs_plan_filter(role_defaults())
    assert str(err.value) == "the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs"


# --- what the tasks take -------------------------------------------------------------


def _plan(jwts, **overrides):
    genuine = jwts["genuine"]
    return plan.plan(role_defaults(**overrides), genuine["operator"], genuine["sys"])


def test_the_configuration_is_the_service_file_with_survey_strings_read(jwts):
    result = _plan(jwts, acs_listen_port="9091", acs_max_body_bytes="2048", acs_request_timeout_seconds=5,
                   acs_pack_max="7", acs_delete_expired="true", acs_log_level="DEBUG",
                   acs_managed_nodes="nats-1, nats-2:4223")
    assert result["problems"] == []
    assert result["config"] == {
        "listen_host": "0.0.0.0", "listen_port": 9091, "store_dir": "/srv/nsc/acs",
        "operator_jwt": jwts["genuine"]["operator"], "operator_public_key": "",
        "system_account_jwt_path": "/srv/ncred/SYS.jwt", "sys_creds_path": "/srv/ncred/creds/sys.creds",
        "nats_urls": ["nats://nats-1:4222", "nats://nats-2:4223"], "primary_url": "", "max_body_bytes": 2048,
        "request_timeout_seconds": 5.0, "pack_max": 7, "delete_expired": True, "log_level": "debug",
    }
    assert result["local_url"] == "http://127.0.0.1:9091"
    assert result["ncred_files"] == ["/srv/ncred/REGION1.jwt", "/srv/ncred/SYS.jwt", "/srv/ncred/creds/sys.creds"]


def test_the_configuration_the_service_reads_passes_its_own_parser(jwts, tmp_path):
    from ansible_collections.cmsgs.nats.tests.unit.acs.region import use_source_tree
    use_source_tree()
    from cmsgs_acs.config import parse
    config = _plan(jwts, acs_operator_public_key=jwts["genuine"]["key"], acs_managed_nodes=["nats-1"])["config"]
    config = dict(config, store_dir=str(tmp_path), sys_creds_path=str(tmp_path / "sys.creds"))
    parsed = parse(json.loads(json.dumps(config)))
    assert (parsed.operator_public_key, parsed.nats_urls) == (jwts["genuine"]["key"], ["nats://nats-1:4222"])


def test_a_host_without_ncred_gets_its_sys_files_from_text(jwts):
    genuine = jwts["genuine"]
    result = plan.plan(role_defaults(acs_mode="Secondary", acs_primary_url="http://acs-1:9090/",
                                     acs_operator_jwt=genuine["operator"], acs_system_account_jwt=genuine["sys"],
                                     acs_sys_creds=CREDS, acs_listen_host="::1", acs_managed_nodes="nats-1"))
    assert result == {
        "problems": [], "mode": "secondary", "is_secondary": True, "managed_nodes": ["nats://nats-1:4222"],
        "primary_url": "http://acs-1:9090", "ncred_files": [],
        "operator_jwt_given": True, "system_account_jwt_given": True, "sys_creds_given": True,
        "system_account_jwt_path": "/etc/cmsgs-acs/SYS.jwt", "sys_creds_path": "/etc/cmsgs-acs/sys.creds",
        "store_in_nsc": True, "operator_public_key": "", "local_url": "http://[::1]:9090",
        "config": {
            "listen_host": "::1", "listen_port": 9090, "store_dir": "/srv/nsc/acs",
            "operator_jwt": genuine["operator"], "operator_public_key": "",
            "system_account_jwt_path": "/etc/cmsgs-acs/SYS.jwt", "sys_creds_path": "/etc/cmsgs-acs/sys.creds",
            "nats_urls": ["nats://nats-1:4222"], "primary_url": "http://acs-1:9090", "max_body_bytes": 65536,
            "request_timeout_seconds": 5.0, "pack_max": 10000, "delete_expired": False, "log_level": "info",
        },
    }


def test_the_plan_takes_the_variables_read_once_as_they_are():
    assert plan.plan(RoleVars(role_defaults())) == plan.plan(role_defaults())


@pytest.mark.parametrize("given, url", [("http://acs-1:9090/", "http://acs-1:9090"),
                                        (" https://ACS-BOX// ", "https://ACS-BOX")])
def test_the_primary_url_loses_its_trailing_slashes(given, url):
    result = plan.plan(role_defaults(acs_mode="secondary", acs_primary_url=given))
    assert (result["problems"], result["primary_url"], result["config"]["primary_url"]) == ([], url, url)


@pytest.mark.parametrize("value, urls", [
    ("nats-1, ,nats-2:4223,, tls://nats-3:4443 ,nats://nats-4:4222",
     ["nats://nats-1:4222", "nats://nats-2:4223", "tls://nats-3:4443", "nats://nats-4:4222"]),
    (["nats-1", "", "tls://nats-2:4443"], ["nats://nats-1:4222", "tls://nats-2:4443"]),
    ("", []),
    (None, []),
    ("2001:db8::1, [2001:db8::2], [2001:db8::3]:4223, 10.0.0.4, 10.0.0.5:4224, nats://[2001:db8::6]:4222",
     ["nats://[2001:db8::1]:4222", "nats://[2001:db8::2]:4222", "nats://[2001:db8::3]:4223",
      "nats://10.0.0.4:4222", "nats://10.0.0.5:4224", "nats://[2001:db8::6]:4222"]),
    # Neither a host nor an address: kept as typed, so that the preflight names it as the user wrote it.
    (["[nats-1]:4222", "nats-1:42x", "a/b", "x:y:z", "[2001:db8::1]:", "[2001:db8::1]x"],
     ["[nats-1]:4222", "nats-1:42x", "a/b", "x:y:z", "[2001:db8::1]:", "[2001:db8::1]x"]),
])
def test_managed_nodes_from_a_survey_string_or_a_list(value, urls):
    assert plan.managed_node_urls(value) == urls


def _expired(kind, name, subject, issuer):
    claims = nats_jwt.build_claims(kind, name, subject.public_key, issuer.public_key, {})
    claims["exp"] = 1700000000
    return nats_jwt.sign_claims(claims, issuer, issued_at=1600000000)


def test_an_expired_jwt_is_refused_as_a_variable_and_served_as_read_from_ncred(jwts):
    operator = KeyPair(nats_jwt.new_seed("operator"))
    expired_operator = _expired("operator", "REGION1", operator, operator)
    read = plan.plan(role_defaults(), expired_operator, "")
    assert (read["problems"], read["config"]["operator_jwt"]) == ([], expired_operator)
    given = plan.plan(role_defaults(acs_operator_jwt=expired_operator))
    assert given["problems"] == [
        "acs_operator_jwt (the \"Region One Token\") is not a valid NATS operator JWT: the JWT expired at "
        "1700000000. Set it to the REGION1 operator JWT, or leave it empty to read /srv/ncred/REGION1.jwt."]

    expired_sys = _expired("account", "SYS", KeyPair(nats_jwt.new_seed("account")), operator)
    assert plan.plan(role_defaults(), "", expired_sys)["problems"] == []
    assert plan.plan(role_defaults(acs_system_account_jwt=expired_sys))["problems"] == [
        "acs_system_account_jwt is not a valid NATS account JWT: the JWT expired at 1700000000. Set it to the "
        "contents of [ncred]/SYS.jwt, or leave it empty to read /srv/ncred/SYS.jwt."]


@pytest.mark.parametrize("port", ["9090.5", True, "port"])
def test_a_port_must_be_a_whole_number(port):
    assert collect_problems([plan.listen_port_is_a_port], plan.Inputs(role_defaults(acs_listen_port=port))) == [
        "acs_listen_port ('%s') must be a port number between 1 and 65535." % port]


def test_preflight_reads_the_variables_and_the_files_it_is_given():
    assert plan.preflight_problems(role_defaults()) == []
    assert plan.preflight_problems(role_defaults(acs_mode="both"))[0].startswith("acs_mode (\"Enable ACS\"")
    missing = stats(**{"/srv/ncred/SYS.jwt": False})
    assert plan.preflight_problems(role_defaults(), ncred_files=missing)[0].startswith(
        "The account server needs /srv/ncred/SYS.jwt,")


def test_a_primary_takes_no_accounts_from_a_primary_url_and_reads_fractional_seconds(jwts):
    result = _plan(jwts, acs_primary_url="http://acs-1:9090", acs_request_timeout_seconds="2.5")
    assert (result["problems"], result["primary_url"], result["is_secondary"]) == ([], "http://acs-1:9090", False)
    assert (result["config"]["primary_url"], result["config"]["request_timeout_seconds"]) == ("", 2.5)


def test_a_plan_of_the_variables_alone_has_read_no_jwt_and_is_no_check_run():
    result = plan.plan(role_defaults())
    assert (result["problems"], result["config"]["operator_jwt"], result["operator_public_key"]) == ([], "", "")
    missing = stats(**{"/srv/ncred/REGION1.jwt": False})
    assert plan.plan(role_defaults(), ncred_files=missing)["problems"] == [
        "The account server needs /srv/ncred/REGION1.jwt, which this host does not have. Run the REGION1 bootstrap"
        " first (cmsgs.nats.region1 on the acs_primary host, with a writable [ncred]), mount the [ncred] volume here"
        " (acs_ncred_dir, now /srv/ncred), or give their contents as acs_operator_jwt, acs_system_account_jwt and"
        " acs_sys_creds."]


def test_the_store_is_reached_through_nsc_only_when_it_is_inside(jwts):
    assert _plan(jwts)["store_in_nsc"] is True
    assert _plan(jwts, acs_nsc_dir="/mnt/ACS-BOX/", acs_store_dir="/mnt/ACS-BOX/acs")["store_in_nsc"] is True
    # [nsc] at the root holds every folder.
    assert _plan(jwts, acs_nsc_dir="/")["store_in_nsc"] is True
    assert _plan(jwts, acs_store_dir="/var/lib/cmsgs-acs")["store_in_nsc"] is False
    assert _plan(jwts, acs_store_dir="/srv/nsc-other/acs")["store_in_nsc"] is False


def test_with_a_problem_there_is_no_configuration_to_write(jwts):
    result = _plan(jwts, acs_listen_port="port")
    assert result["problems"] and (result["config"], result["local_url"]) == ({}, "")


def test_every_problem_is_reported_at_once(jwts):
    problems = _plan(jwts, acs_mode="both", acs_log_level="loud", acs_pack_max=-5)["problems"]
    assert [p.split(" ")[0] for p in problems] == ["acs_mode", "acs_log_level", "acs_pack_max"]


# --- the role's files agree with the plan ------------------------------------------


def test_the_role_hands_the_plan_every_public_variable():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    names = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_acs_variable_names"]
    assert sorted(names) == sorted(defaults) == sorted(role_defaults())


def test_missing_sys_files_with_the_region1_token_say_no_bootstrap_can_make_them(jwts):
    missing = stats(**{"/srv/ncred/SYS.jwt": False, "/srv/ncred/creds/sys.creds": False})
    token = role_defaults(acs_operator_jwt=jwts["genuine"]["operator"])
    with_token = plan.ncred_files_exist(plan.Inputs(token, ncred_files=missing))
    assert with_token == [
        "The account server needs /srv/ncred/SYS.jwt, /srv/ncred/creds/sys.creds, which this host does not have."
        " The operator is the Region One Token, made elsewhere, so no bootstrap can create SYS: put them on the"
        " volume from where the operator key is kept, mount the [ncred] volume here (acs_ncred_dir, now"
        " /srv/ncred), or give their contents as acs_operator_jwt, acs_system_account_jwt and acs_sys_creds."]
    without = plan.ncred_files_exist(plan.Inputs(role_defaults(), ncred_files=missing))
    assert "Run the REGION1 bootstrap first" in without[0] and "Region One Token" not in without[0]
