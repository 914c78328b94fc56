# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_server role's decisions: every preflight and operator rule with a good and a bad case,
the TLS sets, the gateway remotes, the configuration blocks and the folders."""

from __future__ import annotations

import base64
import subprocess

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_server_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults

PEERS = [{"name": "east", "urls": ["nats://east-1:7222"]}, {"name": "west", "urls": ["nats://west-1.example.com:7222", "nats://west-2:7222"]}]
GATEWAY = {"nats_server_cluster_name": "east", "nats_server_gateway_name": "east", "nats_server_gateway_peers": PEERS}

# rule name -> (overrides that pass, overrides that fail, words the problem must contain)
PREFLIGHT_CASES = {
    "config_extra_keeps_transport_tls": (
        {"nats_server_config_extra": {"gateway": {"tls": {"timeout": 3}}}, "nats_server_gateway_name": "east"},
        {"nats_server_config_extra": {"gateway": {"tls": None}}, "nats_server_gateway_name": "east"},
        "nats_server_config_extra of nats-1 turns gateway TLS off (gateway.tls)",
    ),
    "client_and_monitor_ports_are_ports": (
        {"nats_server_port": "4222", "nats_server_monitor_port": 8222},
        {"nats_server_port": 70000},
        "nats_server_port (70000) and nats_server_monitor_port (8222) must be port numbers",
    ),
    "client_and_monitor_ports_differ": ({}, {"nats_server_monitor_port": "4222"}, "must differ (both are 4222)"),
    "local_binary_exists": (
        {"nats_server_install_method": "local", "nats_server_local_binary": __file__},
        {"nats_server_install_method": "local", "nats_server_local_binary": "/nonexistent/nats-server"},
        "nats_server_local_binary ('/nonexistent/nats-server') is not a file on the controller",
    ),
    "release_version_is_a_version": ({"nats_server_version": "2.15.1-beta.1"}, {"nats_server_version": "v2.15.1"},
                                     "nats_server_version ('v2.15.1') must be a release version"),
    "folders_are_absolute": ({}, {"nats_server_log_dir": "var/log/nats"}, "must be absolute paths"),
    "log_file_is_in_log_dir": (
        {"nats_server_log_file": "/var/log/nats-server/nats.log"},
        {"nats_server_log_file": "/var/log/nats-server/sub/nats.log"},
        "must be a file directly in nats_server_log_dir ('/var/log/nats-server')",
    ),
    "lame_duck_spans_are_durations": ({"nats_server_lame_duck_duration": "1m30s"},
                                      {"nats_server_lame_duck_grace_period": "10 seconds"},
                                      "('10 seconds') must be durations"),
    "lame_duck_duration_is_long_enough": (
        {"nats_server_lame_duck_duration": "30000ms", "nats_server_lame_duck_grace_period": "0s"},
        {"nats_server_lame_duck_duration": "29.9s", "nats_server_lame_duck_grace_period": "5s"},
        "nats_server_lame_duck_duration ('29.9s') must be at least 30s",
    ),
    "lame_duck_grace_period_is_shorter": (
        {"nats_server_lame_duck_duration": "1m", "nats_server_lame_duck_grace_period": "59s"},
        {"nats_server_lame_duck_duration": "1m", "nats_server_lame_duck_grace_period": "60s"},
        "nats_server_lame_duck_grace_period ('60s') must be shorter than nats_server_lame_duck_duration ('1m')",
    ),
    "server_name_is_a_name": ({"nats_server_name": "nats-1.example_com"}, {"nats_server_name": "nats 1"},
                              "nats_server_name ('nats 1') must be letters"),
    "operator_jwt_files_are_absolute": ({"nats_server_operator_jwt_file": "/srv/ncred/REGION1.jwt"},
                                        {"nats_server_operator_system_account_jwt_file": "SYS.jwt"},
                                        "('SYS.jwt') must be absolute paths on the host, or empty"),
    "url_resolver_has_an_accounts_url": (
        {"nats_server_operator_enabled": "true", "nats_server_resolver_url": "http://acs-1:9090/jwt/v1/accounts/"},
        {"nats_server_operator_enabled": "true", "nats_server_resolver_url": "http://acs-1:9090/jwt/v1/accounts"},
        "nats_server_resolver_url ('http://acs-1:9090/jwt/v1/accounts') must be the account server's accounts URL",
    ),
    "url_resolver_has_no_preload": (
        {"nats_server_operator_enabled": True, "nats_server_resolver_type": "full", "nats_server_resolver_preload": ["x"]},
        {"nats_server_operator_enabled": True, "nats_server_resolver_preload": ["x"]},
        "nats_server_resolver_preload is only possible with nats_server_resolver_type 'full'",
    ),
    "resolver_dir_is_below_data_dir": ({}, {"nats_server_resolver_dir": "/var/lib/nats-server-resolver"},
                                       "nats_server_resolver_dir ('/var/lib/nats-server-resolver') must be below"),
    "resolver_interval_is_a_duration": ({"nats_server_resolver_interval": "500ms"}, {"nats_server_resolver_interval": "2"},
                                        "nats_server_resolver_interval ('2') must be a duration"),
    "gateways_use_tls": (GATEWAY, dict(GATEWAY, nats_server_gateway_tls="false"), "nats_server_gateway_tls is false"),
    "route_and_gateway_ports_are_free_ports": ({"nats_server_cluster_port": "6222"}, {"nats_server_gateway_port": 8222},
                                               "nats_server_cluster_port (6222) and nats_server_gateway_port (8222)"),
    "cluster_and_gateway_names_are_names": ({"nats_server_cluster_name": "east-1"}, {"nats_server_cluster_name": "east/1"},
                                            "nats_server_cluster_name ('east/1')"),
    "gateway_name_is_cluster_name": (GATEWAY, dict(GATEWAY, nats_server_gateway_name="west"),
                                     "nats_server_gateway_name ('west') must equal nats_server_cluster_name ('east')"),
    "routes_are_route_urls": ({"nats_server_cluster_routes": ["nats-route://nats-2.example.com:6222/"]},
                              {"nats_server_cluster_routes": ["nats://nats-2:6222"]},
                              "must be URLs such as nats-route://"),
    "gateway_peers_have_names_and_urls": (GATEWAY, {"nats_server_gateway_peers": [{"name": "west", "urls": []}]},
                                          "Each entry of nats_server_gateway_peers needs a name"),
    "certs_dir_is_absolute": ({"nats_server_client_tls": True}, {"nats_server_client_tls": "yes", "nats_server_certs_dir": "certs"},
                              "nats_server_certs_dir ('certs') must be an absolute path"),
    "folders_are_not_system_folders": (
        {"nats_server_data_dir": "/var/lib/nats", "nats_server_resolver_dir": "/var/lib/nats/resolver",
         "nats_server_jetstream_store_dir": "/var/lib/nats/js", "nats_server_log_dir": "/var/log"},
        {"nats_server_config_dir": "/etc/"},
        "nats_server_config_dir ('/etc/') is a system folder",
    ),
    "service_user_is_not_root": ({"nats_server_user": "nats"}, {"nats_server_user": "root"},
                                 "nats_server_user is 'root': a service never runs as root"),
    "max_payload_fits_max_pending": (
        {"nats_server_max_payload": "8388608", "nats_server_config_extra": {"max_pending": 8388608}},
        {"nats_server_max_payload": 2097152, "nats_server_config_extra": {"max_pending": 1048576}},
        "max_payload (2097152) is larger than max_pending (1048576)",
    ),
}


def rule_named(rules, name):
    return next(rule for rule in rules if rule.__name__ == name)


def test_every_preflight_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in plan.PREFLIGHT_RULES) == sorted(PREFLIGHT_CASES)


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_passes_its_good_case(name):
    good, _bad, _words = PREFLIGHT_CASES[name]
    assert collect_problems([rule_named(plan.PREFLIGHT_RULES, name)], RoleVars(role_defaults(**good))) == []


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_reports_its_bad_case_naming_the_variable(name):
    _good, bad, words = PREFLIGHT_CASES[name]
    problems = collect_problems([rule_named(plan.PREFLIGHT_RULES, name)], RoleVars(role_defaults(**bad)))
    assert len(problems) == 1 and words in problems[0], problems


@pytest.mark.parametrize("port, monitor, good", [
    (1, "65535", True), ("65535", 1, True), (0, 8222, False), ("4222", "0", False), (-1, 8222, False),
    (65536, 8222, False), (4222, "65536", False),
])
def test_ports_run_from_1_to_65535(port, monitor, good):
    problems = collect_problems([plan.client_and_monitor_ports_are_ports],
                                RoleVars(role_defaults(nats_server_port=port, nats_server_monitor_port=monitor)))
    assert problems == ([] if good else [
        "nats_server_port (%s) and nats_server_monitor_port (%s) must be port numbers between 1 and 65535." % (port, monitor)])


@pytest.mark.parametrize("cluster_port, good", [(0, False), ("-6222", False), (1, True), (65535, True), ("65536", False)])
def test_route_and_gateway_ports_run_from_1_to_65535(cluster_port, good):
    problems = collect_problems([plan.route_and_gateway_ports_are_free_ports],
                                RoleVars(role_defaults(nats_server_cluster_port=cluster_port)))
    assert problems == ([] if good else [
        "nats_server_cluster_port (%s) and nats_server_gateway_port (7222) must be port numbers between 1 and 65535, "
        "different from each other, nats_server_port and nats_server_monitor_port." % cluster_port])


@pytest.mark.parametrize("peer", [
    "west",
    {"urls": ["nats://west-1:7222"]},
    {"name": "", "urls": ["nats://west-1:7222"]},
    {"name": "west gateway", "urls": ["nats://west-1:7222"]},
    {"name": "west", "urls": ["west-1:7222"]},
    {"name": "west", "urls": "nats://west-1:7222"},
    {"name": "west"},
])
def test_a_gateway_peer_without_a_name_or_gateway_urls_is_refused(peer):
    peers = [PEERS[0], peer]
    values = dict(GATEWAY)
    values["nats_server_gateway_peers"] = peers
    problems = collect_problems([plan.gateway_peers_have_names_and_urls], RoleVars(role_defaults(**values)))
    assert problems == [
        "Each entry of nats_server_gateway_peers needs a name (letters, digits, '.', '_', '-') and a non-empty "
        "list of urls such as nats://west-1.example.com:7222; got %s." % peers
    ]


def _nats_server_starts(tmp_path, duration, grace):
    """Whether the real nats-server runs with these lame-duck spans: -t first, then a start,
    since -t passes a grace period the starting server refuses."""
    conf = tmp_path / "nats-server.conf"
    conf.write_text('listen: "127.0.0.1:-1"\nlame_duck_duration: "%s"\nlame_duck_grace_period: "%s"\n' % (duration, grace))
    checked = subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        return False
    server = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server.wait(timeout=1.5)
        return False
    except subprocess.TimeoutExpired:
        return True
    finally:
        server.kill()
        server.wait()


@needs_nats_server
@pytest.mark.parametrize("duration, grace", [("30s", "29s"), ("29s", "10s"), ("30000ms", "0s"), ("1m", "1m"), ("2m", "3m")])
def test_lame_duck_rules_agree_with_nats_server(tmp_path, duration, grace):
    overrides = {"nats_server_lame_duck_duration": duration, "nats_server_lame_duck_grace_period": grace}
    problems = plan.preflight_problems(role_defaults(**overrides))
    assert (problems == []) == _nats_server_starts(tmp_path, duration, grace), problems


def test_lame_duck_spans_set_in_config_extra_are_judged_and_named():
    problems = plan.preflight_problems(role_defaults(nats_server_config_extra={"lame_duck_duration": "10s", "lame_duck_grace_period": "5s"}))
    assert problems == ["nats_server_config_extra.lame_duck_duration ('10s') must be at least 30s: nats-server "
                        "refuses a shorter lame-duck duration."]


def test_the_defaults_pass_every_rule():
    assert plan.preflight_problems(role_defaults()) == []


def test_every_failing_rule_is_reported_at_once():
    problems = plan.preflight_problems(role_defaults(nats_server_name="a b", nats_server_resolver_interval="soon"))
    assert [p.split(" ")[0] for p in problems] == ["nats_server_name", "nats_server_resolver_interval"]


def test_a_garbage_switch_is_a_problem_naming_it_not_a_crash():
    problems = plan.preflight_problems(role_defaults(nats_server_client_tls="maybe"))
    assert problems == ["nats_server_client_tls must be true or false (or the strings 'true'/'false'), got 'maybe'."]


# ------------------------------------------------------------ operator mode

def _sign(kind, name, subject, issuer_pair, nats=None):
    claims = nats_jwt.build_claims(kind, name, subject.public_key, issuer_pair.public_key, nats or {})
    return nats_jwt.sign_claims(claims, issuer_pair)


@pytest.fixture(scope="module")
def jwts():
    operator = KeyPair(nats_jwt.new_seed("operator"))
    signing = KeyPair(nats_jwt.new_seed("operator"))
    other = KeyPair(nats_jwt.new_seed("operator"))
    sys_account = KeyPair(nats_jwt.new_seed("account"))
    app = KeyPair(nats_jwt.new_seed("account"))
    stray = KeyPair(nats_jwt.new_seed("account"))
    return {
        "operator": _sign("operator", "REGION1", operator, operator,
                          {"system_account": sys_account.public_key, "signing_keys": [signing.public_key]}),
        "operator_without_sys": _sign("operator", "REGION1", operator, operator),
        "sys": _sign("account", "SYS", sys_account, operator),
        "sys_of_other": _sign("account", "SYS", sys_account, other),
        "app": _sign("account", "APP", app, signing),
        "stray": _sign("account", "STRAY", stray, other),
        "sys_id": sys_account.public_key,
        "app_id": app.public_key,
    }


def operator_vars(jwts, **overrides):
    values = {"nats_server_operator_enabled": "true", "nats_server_operator_jwt": jwts["operator"],
              "nats_server_resolver_type": "full", "nats_server_operator_system_account_jwt": jwts["sys"]}
    values.update(overrides)
    return role_defaults(**values)


def slurped(text):
    """What ansible.builtin.slurp returns for a file holding text (str) or raw bytes."""
    data = text if isinstance(text, bytes) else text.encode()
    return {"content": base64.b64encode(data).decode(), "encoding": "base64"}


def operator_from_file(jwts, **overrides):
    """Operator mode with the operator JWT read from the host's /srv/ncred/REGION1.jwt, not given as a variable."""
    return operator_vars(jwts, nats_server_operator_jwt="", nats_server_operator_jwt_file="/srv/ncred/REGION1.jwt",
                         **overrides)


# rule name -> (overrides that pass, overrides that fail, words the problem must contain)
OPERATOR_CASES = {
    "operator_jwt_given": (
        lambda j: {"nats_server_operator_jwt": "  " + j["operator"] + "\n"},
        lambda j: {"nats_server_operator_jwt": "", "nats_server_operator_jwt_file": "/srv/ncred/REGION1.jwt"},
        "there is no operator JWT: set nats_server_operator_jwt",
    ),
    "operator_jwt_valid": ({}, lambda j: {"nats_server_operator_jwt": j["sys"]},
                           "nats_server_operator_jwt is not a valid NATS operator JWT"),
    "operator_names_its_system_account": ({}, lambda j: {"nats_server_operator_jwt": j["operator_without_sys"]},
                                          "names no system account"),
    "full_resolver_has_the_system_account_jwt": (
        lambda j: {"nats_server_resolver_type": "url", "nats_server_operator_system_account_jwt": ""},
        lambda j: {"nats_server_operator_system_account_jwt": ""},
        "The full resolver needs the system account's JWT",
    ),
    "system_account_jwt_valid": ({}, lambda j: {"nats_server_operator_system_account_jwt": j["operator"]},
                                 "nats_server_operator_system_account_jwt is not a valid NATS account JWT"),
    "system_account_jwt_belongs_to_the_operator": (
        {}, lambda j: {"nats_server_operator_system_account_jwt": j["sys_of_other"]},
        "is not the JWT of the operator's system account",
    ),
    "preloaded_jwts_are_account_jwts": (lambda j: {"nats_server_resolver_preload": [j["app"]]},
                                        lambda j: {"nats_server_resolver_preload": [j["app"], "garbage"]},
                                        "nats_server_resolver_preload must hold account JWTs"),
    "preloaded_accounts_belong_to_the_operator": (
        lambda j: {"nats_server_resolver_preload": [j["app"]]},
        lambda j: {"nats_server_resolver_preload": [j["app"], j["stray"]]},
        "this operator did not sign: STRAY",
    ),
}


def _overrides(case, jwts):
    return case(jwts) if callable(case) else dict(case)


def test_every_operator_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in plan.OPERATOR_RULES) == sorted(OPERATOR_CASES)


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_rule_passes_its_good_case(name, jwts):
    facts = plan.OperatorFacts(RoleVars(operator_vars(jwts, **_overrides(OPERATOR_CASES[name][0], jwts))))
    assert collect_problems([rule_named(plan.OPERATOR_RULES, name)], facts) == []


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_rule_reports_its_bad_case(name, jwts):
    _good, bad, words = OPERATOR_CASES[name]
    facts = plan.OperatorFacts(RoleVars(operator_vars(jwts, **_overrides(bad, jwts))))
    problems = collect_problems([rule_named(plan.OPERATOR_RULES, name)], facts)
    assert len(problems) == 1 and words in problems[0], problems


def test_a_missing_jwt_file_is_named_with_the_reason(jwts):
    result = plan.operator_plan(
        operator_from_file(jwts),
        operator_jwt_read={"failed": True, "msg": "file not found: /srv/ncred/REGION1.jwt"},
    )
    assert result["problems"] == [
        "nats_server_operator_enabled is true but there is no operator JWT: set nats_server_operator_jwt (the Region "
        "One Token, or region1_bootstrap_operator_jwt of the primary ACS) or nats_server_operator_jwt_file "
        "('/srv/ncred/REGION1.jwt': file not found: /srv/ncred/REGION1.jwt)."
    ]
    assert result["settings"] == {}


def test_jwts_read_from_the_host_give_the_full_resolver_settings(jwts):
    result = plan.operator_plan(
        operator_from_file(jwts, nats_server_operator_system_account_jwt="",
                           nats_server_operator_system_account_jwt_file="/x/SYS.jwt",
                           nats_server_resolver_preload=[jwts["app"], jwts["sys"]]),
        operator_jwt_read=slurped(jwts["operator"] + "\n"),
        system_account_jwt_read=slurped(jwts["sys"]),
    )
    assert result == {"enabled": True, "problems": [], "jwt": jwts["operator"], "settings": {
        "operator": jwts["operator"],
        "system_account": jwts["sys_id"],
        "resolver": {"type": "full", "dir": "/var/lib/nats-server/resolver", "allow_delete": False, "interval": "2m"},
        "resolver_preload": {jwts["sys_id"]: jwts["sys"], jwts["app_id"]: jwts["app"]},
    }}


def test_the_url_resolver_points_at_the_account_server(jwts):
    url = "http://acs-1:9090/jwt/v1/accounts/"
    result = plan.operator_plan(operator_vars(jwts, nats_server_resolver_type="url", nats_server_resolver_url=url,
                                              nats_server_operator_system_account_jwt=""))
    assert result == {"enabled": True, "problems": [], "jwt": jwts["operator"], "settings": {
        "operator": jwts["operator"], "system_account": jwts["sys_id"], "resolver": "URL(%s)" % url}}


@pytest.mark.parametrize("preload", [["app"], ["app", "sys"]])
def test_each_jwt_is_decoded_once(jwts, monkeypatch, preload):
    calls = []
    real = nats_jwt.decode
    monkeypatch.setattr(nats_jwt, "decode", lambda token, **kw: calls.append(token) or real(token, **kw))
    # A survey or a YAML block scalar hands a token on with blanks around it: still the same token.
    result = plan.operator_plan(operator_vars(jwts, nats_server_resolver_preload=[" %s\n" % jwts[name] for name in preload]))
    assert sorted(calls) == sorted([jwts["operator"], jwts["sys"], jwts["app"]])
    assert result["settings"]["resolver_preload"] == {jwts["sys_id"]: jwts["sys"], jwts["app_id"]: jwts["app"]}


def test_operator_mode_off_has_nothing_to_check():
    assert plan.operator_plan(role_defaults(nats_server_operator_enabled="false")) == {
        "enabled": False, "problems": [], "jwt": "", "settings": {}}


def test_a_jwt_file_read_without_a_reason_is_named_alone(jwts):
    values = operator_from_file(jwts)
    for skipped in (None, {"skipped": True}, {"failed": True, "msg": ""}):
        assert plan.operator_plan(values, operator_jwt_read=skipped)["problems"] == [
            "nats_server_operator_enabled is true but there is no operator JWT: set nats_server_operator_jwt (the "
            "Region One Token, or region1_bootstrap_operator_jwt of the primary ACS) or nats_server_operator_jwt_file "
            "('/srv/ncred/REGION1.jwt')."
        ]


def test_a_missing_system_account_file_is_named_with_the_reason(jwts):
    result = plan.operator_plan(
        operator_vars(jwts, nats_server_operator_system_account_jwt="", nats_server_operator_system_account_jwt_file="/x/SYS.jwt"),
        operator_jwt_read={"failed": True, "msg": "not this one"},
        system_account_jwt_read={"failed": True, "msg": "file not found: /x/SYS.jwt"},
    )
    assert result["problems"] == [
        "The full resolver needs the system account's JWT: set nats_server_operator_system_account_jwt "
        "(region1_bootstrap_system_account_jwt of the primary ACS) or nats_server_operator_system_account_jwt_file "
        "('/x/SYS.jwt': file not found: /x/SYS.jwt)."
    ]


def test_a_jwt_file_that_is_not_text_is_a_problem_not_a_crash(jwts):
    result = plan.operator_plan(operator_from_file(jwts),
                                operator_jwt_read=slurped(b"\xff\xfe" + jwts["operator"].encode()))
    assert result["problems"] == [
        "nats_server_operator_jwt_file ('/srv/ncred/REGION1.jwt') is not a valid NATS operator JWT: a JWT segment is "
        "not base64url: string argument should contain only ASCII characters."
    ]


def test_a_preload_entry_that_is_not_a_string_is_a_problem_not_a_crash(jwts):
    result = plan.operator_plan(operator_vars(jwts, nats_server_resolver_preload=[jwts["app"], 42, None]))
    assert result["problems"] == [
        "nats_server_resolver_preload must hold account JWTs: not a valid NATS account JWT: 'int' object has no "
        "attribute 'strip'; not a valid NATS account JWT: 'NoneType' object has no attribute 'strip'."
    ]
    assert result["settings"] == {}


def test_the_config_without_an_operator_jwt_is_refused_outside_check_mode(jwts):
    values = operator_vars(jwts, nats_server_operator_jwt="")
    operator = plan.operator_plan(values)
    assert "operator" not in plan.server_config(values, operator=operator, check_mode=True)
    with pytest.raises(plan.PlanError, match="no operator JWT"):
        plan.server_config(values, operator=operator, check_mode=False)


def test_an_operator_jwt_with_problems_is_refused_in_check_mode_too(jwts):
    values = operator_vars(jwts, nats_server_operator_jwt="eyJ.not.a-jwt", nats_server_resolver_preload=["nope"])
    operator = plan.operator_plan(values)
    assert len(operator["problems"]) == 2
    for check_mode in (True, False):
        with pytest.raises(plan.PlanError) as raised:
            plan.server_config(values, operator=operator, check_mode=check_mode)
        assert str(raised.value) == "operator mode cannot be configured: %s | %s" % tuple(operator["problems"])


def test_an_operator_plan_that_was_not_made_is_refused(jwts):
    with pytest.raises(plan.PlanError) as raised:
        plan.server_config(operator_vars(jwts), operator=None)
    assert str(raised.value) == "operator mode cannot be configured: the operator JWTs were not read"


def test_the_full_resolver_may_delete_accounts_when_asked(jwts):
    result = plan.operator_plan(operator_vars(jwts, nats_server_resolver_allow_delete="true"))
    assert result["settings"]["resolver"] == {"type": "full", "dir": "/var/lib/nats-server/resolver",
                                              "allow_delete": True, "interval": "2m"}


# ---------------------------------------------------------------------- TLS

def test_tls_sets_cover_own_and_peer_certificates_skipping_this_cluster():
    sets = plan.tls_sets(role_defaults(nats_server_client_tls="true", **GATEWAY))
    own_key = {"key_owners": ["cmsgs", "root"]}
    assert sets == [
        dict(own_key, label="cmserver", purpose="client", cert="/srv/certs/cmserver/cert.pem",
             key="/srv/certs/cmserver/privkey.pem", ca=None, require_ecdsa=True),
        dict(own_key, label="cmcluster", purpose="cluster", cert="/srv/certs/cmcluster/cert.pem",
             key="/srv/certs/cmcluster/privkey.pem", ca="/srv/certs/cmcluster/ca.pem", public_ca="refuse"),
        dict(own_key, label="cmgateway", purpose="gateway", cert="/srv/certs/cmgateway/cert.pem",
             key="/srv/certs/cmgateway/privkey.pem", ca="/srv/certs/cmgateway/ca.pem", public_ca="refuse"),
        # A peer's key stays with the peer: only its certificate is checked, once against each CA.
        {"label": "cmgwpeers/west", "purpose": "gateway_peer", "cert": "/srv/certs/cmgwpeers/west/cert.pem",
         "ca": "/srv/certs/cmgwpeers/west/ca.pem", "names": ["west-1.example.com", "west-2"], "public_ca": "refuse"},
        {"label": "cmgwpeers/west trusted by cmgateway", "purpose": "gateway_peer",
         "cert": "/srv/certs/cmgwpeers/west/cert.pem", "ca": "/srv/certs/cmgateway/ca.pem", "public_ca": "refuse"},
    ]


def test_a_peer_without_urls_is_checked_with_no_names():
    # The filter is public; the role's preflight refuses such a peer before it runs.
    peer_without_urls = dict(GATEWAY)
    peer_without_urls["nats_server_gateway_peers"] = [{"name": "west"}]
    sets = plan.tls_sets(role_defaults(**peer_without_urls))
    assert [(s["label"], s.get("names")) for s in sets] == [
        ("cmcluster", None), ("cmgateway", None), ("cmgwpeers/west", []), ("cmgwpeers/west trusted by cmgateway", None)]


def test_no_tls_no_sets_and_a_custom_ca_is_checked():
    assert plan.tls_sets(role_defaults()) == []
    sets = plan.tls_sets(role_defaults(nats_server_client_tls=True, nats_server_client_tls_custom_ca="true"))
    assert sets[0]["ca"] == "/srv/certs/cmserver/ca.pem"


def test_watch_files_list_certificates_keys_then_cas_once():
    sets = plan.tls_sets(role_defaults(**GATEWAY))
    assert plan.watch_files(sets) == [
        "/srv/certs/cmcluster/cert.pem", "/srv/certs/cmgateway/cert.pem", "/srv/certs/cmgwpeers/west/cert.pem",
        "/srv/certs/cmcluster/privkey.pem", "/srv/certs/cmgateway/privkey.pem",
        "/srv/certs/cmcluster/ca.pem", "/srv/certs/cmgateway/ca.pem", "/srv/certs/cmgwpeers/west/ca.pem",
    ]


def test_gateway_pins_come_from_the_peer_checks_only():
    results = [{"item": {"purpose": "gateway_peer"}, "spki_sha256": "bb"}, {"item": {"purpose": "gateway_peer"}, "spki_sha256": "aa"},
               {"item": {"purpose": "gateway_peer"}, "spki_sha256": "bb"}, {"item": {"purpose": "gateway"}, "spki_sha256": "cc"},
               {"item": {"purpose": "gateway_peer"}}]
    assert plan.gateway_pins(results) == ["aa", "bb"]


# ------------------------------------------------------------ configuration

def test_core_settings_read_survey_strings_as_numbers_and_switches():
    config = plan.server_config(role_defaults(nats_server_port="4333", nats_server_debug="false", nats_server_trace="true",
                                              nats_server_max_payload="2097152"))
    assert config == {
        "server_name": "nats-1", "listen": "0.0.0.0:4333", "http": "127.0.0.1:8222", "max_payload": 2097152,
        "max_connections": 65536, "lame_duck_duration": "30s", "lame_duck_grace_period": "10s",
        "debug": False, "trace": True, "logtime": False, "log_file": None,
    }


def test_jetstream_block_keeps_size_strings_and_reads_numbers():
    config = plan.server_config(role_defaults(nats_server_jetstream_enabled="yes", nats_server_jetstream_max_memory="1G",
                                              nats_server_jetstream_max_file="1073741824"))
    assert config["jetstream"] == {"store_dir": "/var/lib/nats-server/jetstream", "max_memory_store": "1G",
                                   "max_file_store": 1073741824}
    assert "jetstream" not in plan.server_config(role_defaults(nats_server_jetstream_enabled="false"))


@pytest.mark.parametrize("given, limit", [(None, None), ("", None), (0, 0), ("0", 0), (-1, -1), ("-1", -1),
                                          ("512M", "512M"), (" 2048 ", 2048)])
def test_a_jetstream_limit_is_a_count_a_size_string_or_left_out(given, limit):
    config = plan.server_config(role_defaults(nats_server_jetstream_enabled=True,
                                              nats_server_jetstream_max_memory=given))
    assert config["jetstream"] == {"store_dir": "/var/lib/nats-server/jetstream", "max_memory_store": limit,
                                   "max_file_store": None}


@pytest.mark.parametrize("version, min_version", [("2.10.29", None), ("2.11.0", "1.2"), ("2.11.1", "1.2")])
def test_min_version_is_set_from_2_11_on(version, min_version):
    assert plan.server_config(role_defaults(nats_server_client_tls=True), version=version)["tls"]["min_version"] == min_version


def test_tls_blocks_are_spelled_for_the_installed_version():
    new = plan.server_config(role_defaults(nats_server_client_tls=True), version="2.15.1")
    old = plan.server_config(role_defaults(nats_server_client_tls=True), version="2.10.4")
    assert new["tls"]["min_version"] == "1.2" and old["tls"]["min_version"] is None
    assert new["tls"]["curve_preferences"] == ["X25519"]
    loose = plan.server_config(role_defaults(nats_server_client_tls=True, nats_server_client_tls_strict="false"), version="2.15.1")
    assert loose["tls"]["cipher_suites"] is None and loose["tls"]["curve_preferences"] is None
    with pytest.raises(plan.PlanError, match="TLS settings"):
        plan.server_config(role_defaults(nats_server_client_tls=True), version="")


def test_gateway_remotes_repeat_this_clusters_certificate_with_the_peers_ca():
    config = plan.server_config(role_defaults(nats_server_gateway_pinned_certs=True, **GATEWAY), version="2.15.1",
                                tls_checks=[{"item": {"purpose": "gateway_peer"}, "spki_sha256": "aa"}])
    gateway = config["gateway"]
    assert gateway["listen"] == "0.0.0.0:7222" and gateway["tls"]["pinned_certs"] == ["aa"]
    assert [remote["name"] for remote in gateway["gateways"]] == ["west"]
    remote_tls = gateway["gateways"][0]["tls"]
    assert remote_tls == dict(gateway["tls"], ca_file="/srv/certs/cmgwpeers/west/ca.pem", pinned_certs=None)
    assert config["cluster"]["tls"]["verify"] is True and config["cluster"]["routes"] == []


def test_cluster_without_tls_has_no_tls_block():
    config = plan.server_config(role_defaults(nats_server_cluster_name="east", nats_server_cluster_tls="false"))
    assert config["cluster"] == {"name": "east", "listen": "0.0.0.0:6222", "routes": [], "tls": None, "advertise": None}


def test_config_extra_is_merged_last_and_deep():
    config = plan.server_config(role_defaults(nats_server_jetstream_enabled=True,
                                              nats_server_config_extra={"jetstream": {"max_file_store": "5G"}, "debug": True}))
    assert config["jetstream"]["store_dir"] == "/var/lib/nats-server/jetstream"
    assert config["jetstream"]["max_file_store"] == "5G" and config["debug"] is True
    with pytest.raises(plan.PlanError) as raised:
        plan.server_config(role_defaults(nats_server_config_extra=["debug"]))
    assert str(raised.value) == "nats_server_config_extra must be a mapping of nats-server settings, got ['debug']."


def test_a_log_file_debugging_and_stamps_reach_the_core_settings():
    config = plan.server_config(role_defaults(nats_server_log_file="/var/log/nats-server/nats.log", nats_server_debug="true",
                                              nats_server_log_time="no"))
    assert (config["log_file"], config["debug"], config["logtime"]) == ("/var/log/nats-server/nats.log", True, False)
    # The journal stamps lines itself, but a set nats_server_log_time wins.
    assert plan.server_config(role_defaults(nats_server_log_time="true"))["logtime"] is True


def test_tls_without_the_installed_version_is_refused_naming_it():
    with pytest.raises(plan.PlanError) as raised:
        plan.server_config(role_defaults(nats_server_client_tls=True))
    assert str(raised.value) == (
        "cannot spell the TLS settings for this nats-server: nats-server version '' is not of the form "
        "MAJOR.MINOR.PATCH (for example 2.15.1); pass the output of `nats-server --version` or the version string itself")


def test_a_plain_cluster_beside_client_tls_has_its_routes_and_no_tls_block():
    routes = ["nats-route://nats-2.example.com:6222", "nats-route://nats-3.example.com:6222"]
    config = plan.server_config(role_defaults(nats_server_client_tls=True, nats_server_cluster_name="east",
                                              nats_server_cluster_tls="false", nats_server_cluster_port="6333",
                                              nats_server_cluster_routes=routes), version="2.15.1")
    assert config["tls"]["cert_file"] == "/srv/certs/cmserver/cert.pem"
    assert config["cluster"] == {"name": "east", "listen": "0.0.0.0:6333", "routes": routes, "tls": None, "advertise": None}


def test_the_gateway_block_whole():
    config = plan.server_config(role_defaults(nats_server_gateway_port=7333, **GATEWAY), version="2.15.1")
    gateway_tls = dict(SPEC, cert_file="/srv/certs/cmgateway/cert.pem", key_file="/srv/certs/cmgateway/privkey.pem",
                       ca_file="/srv/certs/cmgateway/ca.pem", verify=True, pinned_certs=None)
    assert config["gateway"] == {
        "name": "east", "listen": "0.0.0.0:7333", "tls": gateway_tls, "advertise": None,
        "gateways": [{"name": "west", "urls": ["nats://west-1.example.com:7222", "nats://west-2:7222"],
                      "tls": dict(gateway_tls, ca_file="/srv/certs/cmgwpeers/west/ca.pem")}],
    }


@pytest.mark.parametrize("address, host", [
    ("203.0.113.7", "203.0.113.7"), (" nats-1.example.com ", "nats-1.example.com"),
    ("2001:db8::7", "[2001:db8::7]"), ("[2001:db8::7]", "[2001:db8::7]"),
])
def test_each_listener_advertises_the_address_an_ipv6_one_in_brackets(address, host):
    config = plan.server_config(role_defaults(nats_server_advertise_address=address, nats_server_port="4333",
                                              nats_server_cluster_port=6333, nats_server_gateway_port="7333", **GATEWAY),
                                version="2.15.1")
    assert (config["client_advertise"], config["cluster"]["advertise"], config["gateway"]["advertise"]) == (
        host + ":4333", host + ":6333", host + ":7333")


# ------------------------------------------------------------------ folders

def test_folders_follow_the_switched_on_concerns():
    plain = plan.folders(role_defaults())
    assert [entry["path"] for entry in plain["entries"]] == ["/etc/nats-server", "/var/lib/nats-server"]
    assert plain["entries"][0]["owner"] == "root" and plain["entries"][1]["owner"] == "cmsgs"
    assert plain["writable_paths"] == ["/var/lib/nats-server"]
    full = plan.folders(role_defaults(nats_server_log_file="/var/log/nats-server/n.log", nats_server_jetstream_enabled="true",
                                      nats_server_operator_enabled="true", nats_server_resolver_type="full"))

    def folder(path, owner, mode="0750"):
        return {"path": path, "state": "directory", "owner": owner, "group": "cmsgs", "mode": mode}

    assert full["entries"] == [
        folder("/etc/nats-server", "root"), folder("/var/lib/nats-server", "cmsgs"),
        folder("/var/log/nats-server", "cmsgs"), folder("/var/lib/nats-server/jetstream", "cmsgs"),
        folder("/var/lib/nats-server/resolver", "cmsgs", "0700")]
    assert full["writable_paths"] == ["/var/lib/nats-server", "/var/log/nats-server", "/var/lib/nats-server/jetstream"]
    # The resolver's folder is the full resolver's, in operator mode only.
    for switches in ({"nats_server_operator_enabled": "false", "nats_server_resolver_type": "full"},
                     {"nats_server_operator_enabled": "true", "nats_server_resolver_type": "url"}):
        assert plan.folders(role_defaults(**switches)) == plain


# ------------------------------------------------ advertise and transport TLS


def test_an_advertised_address_goes_to_clients_routes_and_gateways():
    config = plan.server_config(role_defaults(
        nats_server_advertise_address="203.0.113.7", nats_server_cluster_name="east",
        nats_server_cluster_tls=False, nats_server_cluster_routes=["nats-route://b:6222"]))
    assert config["client_advertise"] == "203.0.113.7:4222"
    assert config["cluster"]["advertise"] == "203.0.113.7:6222"
    assert "client_advertise" not in plan.server_config(role_defaults())


def test_config_extra_with_allow_non_tls_fails_preflight():
    problems = plan.preflight_problems(role_defaults(
        nats_server_config_extra={"gateway": {"gateways": [{"name": "w", "allow_non_tls": True}]}}))
    assert any("sets gateway.gateways[0].allow_non_tls" in problem for problem in problems), problems


@pytest.mark.parametrize("path", ["/", "/etc", "/var/lib/", "/usr", "/var", "//var//log", "/srv", "/home"])
def test_system_folders_themselves_are_refused(path):
    problems = plan.preflight_problems(role_defaults(nats_server_log_file="/x/nats.log", nats_server_log_dir=path))
    assert any(p.startswith("nats_server_log_dir ('%s') is a system folder" % path) for p in problems), problems


@pytest.mark.parametrize("path", ["/var/lib/nats-server", "/etc/nats-server", "/srv/nats", "/var/log/nats-server"])
def test_their_subfolders_are_accepted(path):
    assert plan.preflight_problems(role_defaults(nats_server_config_dir=path)) == []


def test_a_log_dir_that_is_not_used_is_not_judged():
    assert plan.preflight_problems(role_defaults(nats_server_log_dir="/var/log")) == []


def test_unset_log_time_follows_the_log_file_and_a_set_one_wins():
    assert plan.server_config(role_defaults())["logtime"] is False
    assert plan.server_config(role_defaults(nats_server_log_file="/var/log/nats-server/n.log"))["logtime"] is True
    assert plan.server_config(role_defaults(nats_server_log_file="/var/log/nats-server/n.log",
                                            nats_server_log_time="false"))["logtime"] is False


def test_unset_custom_ca_follows_generated_certificates():
    def client_ca(**values):
        return plan.tls_sets(role_defaults(nats_server_client_tls=True, **values))[0]["ca"]

    assert client_ca() is None
    assert client_ca(tls_certs_mode="generate") == "/srv/certs/cmserver/ca.pem"
    assert client_ca(tls_certs_mode="generate", nats_server_client_tls_custom_ca="no") is None
    assert client_ca(nats_server_client_tls_custom_ca=True) == "/srv/certs/cmserver/ca.pem"


@pytest.mark.parametrize("address, reached", [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("", "127.0.0.1"),
                                              ("10.0.0.5", "10.0.0.5"), ("::1", "::1")])
def test_the_role_reaches_a_wildcard_listener_on_loopback(address, reached):
    assert plan.local_address(address) == reached


def test_a_changed_binary_or_a_non_reloadable_change_needs_a_restart():
    assert plan.apply_state({"restart_required": True})["restart_needed"] is True
    assert plan.apply_state({}, {"changed": True})["restart_needed"] is True
    # A skipped copy (the binary was current) and a reloadable change: a reload.
    assert plan.apply_state({"restart_required": False, "changed": True}, {"changed": False, "skipped": True}) == {
        "restart_needed": False, "running": False, "unit_pending": False}


def test_the_server_runs_when_it_ran_before_or_this_run_started_it():
    assert plan.apply_state({"unit_active": True})["running"] is True
    assert plan.apply_state({"unit_active": False}, None, {"changed": True})["running"] is True
    assert plan.apply_state({"unit_active": False}, None, {"changed": False, "skipped": True})["running"] is False
    assert plan.apply_state(None)["running"] is False


def test_a_unit_is_pending_only_when_check_mode_did_not_write_it():
    assert plan.apply_state({"unit_changed": True}, check_mode=True)["unit_pending"] is True
    assert plan.apply_state({"unit_changed": True}, check_mode=False)["unit_pending"] is False
    assert plan.apply_state({"unit_changed": False}, check_mode=True)["unit_pending"] is False
    # A run that does not say it is in check mode wrote its unit.
    assert plan.apply_state({"unit_changed": True})["unit_pending"] is False


# The stack's TLS spec, as nats-server 2.11 and later spell it.
SPEC_SUITES = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
               "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
SPEC = {"curve_preferences": ["X25519"], "cipher_suites": SPEC_SUITES, "min_version": "1.2"}


def test_every_tls_block_names_its_folders_files_and_the_spec():
    v = RoleVars(role_defaults(nats_server_client_tls=True, nats_server_gateway_pinned_certs=True, **GATEWAY))
    assert plan.tls_blocks(v, "2.15.1", pins=("aa", "bb")) == {
        "client": dict(SPEC, cert_file="/srv/certs/cmserver/cert.pem", key_file="/srv/certs/cmserver/privkey.pem",
                       ca_file=None),
        "cluster": dict(SPEC, cert_file="/srv/certs/cmcluster/cert.pem", key_file="/srv/certs/cmcluster/privkey.pem",
                        ca_file="/srv/certs/cmcluster/ca.pem", verify=True, pinned_certs=None,
                        verify_cert_and_check_known_urls=None),
        "gateway": dict(SPEC, cert_file="/srv/certs/cmgateway/cert.pem", key_file="/srv/certs/cmgateway/privkey.pem",
                        ca_file="/srv/certs/cmgateway/ca.pem", verify=True, pinned_certs=["aa", "bb"]),
    }


def test_a_private_client_ca_is_named_and_gateway_pins_stay_off_unless_asked():
    v = RoleVars(role_defaults(nats_server_client_tls=True, nats_server_client_tls_custom_ca=True, **GATEWAY))
    blocks = plan.tls_blocks(v, "2.15.1", pins=("aa",))
    assert blocks["client"]["ca_file"] == "/srv/certs/cmserver/ca.pem"
    assert blocks["gateway"]["pinned_certs"] is None


def test_a_gateway_alone_puts_tls_in_use():
    v = RoleVars(role_defaults(nats_server_client_tls="false", nats_server_cluster_tls="false", **GATEWAY))
    assert plan.tls_blocks(v, "2.15.1")["gateway"] == dict(
        SPEC, cert_file="/srv/certs/cmgateway/cert.pem", key_file="/srv/certs/cmgateway/privkey.pem",
        ca_file="/srv/certs/cmgateway/ca.pem", verify=True, pinned_certs=None)


def test_no_tls_block_without_tls_anywhere():
    v = RoleVars(role_defaults(nats_server_client_tls="false", nats_server_cluster_tls="false", nats_server_gateway_name=""))
    assert plan.tls_blocks(v, "2.15.1") == {"client": None, "cluster": None, "gateway": None}


# ----------------------------------------------------------------- run plan

def test_the_run_plan_holds_what_each_rule_and_builder_gives():
    values = role_defaults(nats_server_client_tls=True, nats_server_operator_enabled="true",
                           nats_server_resolver_type="full", **GATEWAY)
    run = plan.run_plan(values)
    sets = plan.tls_sets(values)
    assert run == {"problems": plan.preflight_problems(values), "warnings": plan.preflight_warnings(values),
                   "tls_sets": sets, "watch_files": plan.watch_files(sets), "layout": plan.folders(values),
                   "operator_enabled": True}
    assert run["problems"] == [] and len(sets) == 5 and "/srv/certs/cmserver/cert.pem" in run["watch_files"]
    assert plan.run_plan(role_defaults(nats_server_operator_enabled="false"))["operator_enabled"] is False


def test_a_run_plan_with_preflight_problems_holds_only_them():
    # A string that is no boolean would make the TLS sets raise: the problems come first.
    values = role_defaults(nats_server_port=70000, nats_server_client_tls="maybe")
    run = plan.run_plan(values)
    assert run["problems"] and any("nats_server_port" in problem for problem in run["problems"])
    assert {key: value for key, value in run.items() if key != "problems"} == {
        "warnings": [], "tls_sets": [], "watch_files": [], "layout": {"entries": [], "writable_paths": []},
        "operator_enabled": False}


def test_the_run_plan_holds_no_variable_value():
    # It is kept as a fact, which verbose output shows; the extra settings may hold a password.
    values = role_defaults(nats_server_config_extra={"authorization": {"password": "s3cret-value"}})
    assert "s3cret-value" not in repr(plan.run_plan(values))
