# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trust rules of the nats_server role, each with a good and a bad case, and the
settings they give: the pinned operator, route and gateway peers, the resolver."""

from __future__ import annotations

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_server_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_server_trust as trust
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults

PIN = "a" * 64
OTHER_PIN = "b" * 64


def _sign(kind, name, subject, issuer_pair, nats=None):
    claims = nats_jwt.build_claims(kind, name, subject.public_key, issuer_pair.public_key, nats or {})
    return nats_jwt.sign_claims(claims, issuer_pair)


@pytest.fixture(scope="module")
def jwts():
    """REGION1 with SYS, and an impostor operator that reuses the names."""
    operator = KeyPair(nats_jwt.new_seed("operator"))
    signing = KeyPair(nats_jwt.new_seed("operator"))
    impostor = KeyPair(nats_jwt.new_seed("operator"))
    sys_account = KeyPair(nats_jwt.new_seed("account"))
    fake_sys = KeyPair(nats_jwt.new_seed("account"))
    return {
        "key": operator.public_key,
        "sys_id": sys_account.public_key,
        "operator": _sign("operator", "REGION1", operator, operator,
                          {"system_account": sys_account.public_key, "signing_keys": [signing.public_key]}),
        "impostor": _sign("operator", "REGION1", impostor, impostor, {"system_account": fake_sys.public_key}),
        "impostor_key": impostor.public_key,
        "sys": _sign("account", "SYS", sys_account, operator),
        "sys_by_signing_key": _sign("account", "SYS", sys_account, signing),
        "sys_by_impostor": _sign("account", "SYS", sys_account, impostor),
        "other_account": _sign("account", "SYS", fake_sys, operator),
    }


def operator_facts(jwts, **overrides):
    values = {"nats_server_operator_enabled": "true", "nats_server_operator_jwt": jwts["operator"],
              "nats_server_resolver_type": "full", "nats_server_operator_system_account_jwt": jwts["sys"],
              "nats_server_operator_public_key": jwts["key"]}
    values.update(overrides)
    return plan.OperatorFacts(RoleVars(role_defaults(**values)))


def rule_named(rules, name):
    return next(rule for rule in rules if rule.__name__ == name)


# --- the operator ---------------------------------------------------------------

# rule -> (overrides that pass, overrides that fail, the problem of the failing ones)
OPERATOR_CASES = {
    "operator_pin_is_an_operator": (
        lambda j: {"nats_server_operator_public_key": j["operator"]},  # the Region One Token itself
        lambda j: {"nats_server_operator_public_key": "ADDQ" + j["key"][4:]},
        lambda j: "nats_server_operator_public_key must be the operator's public key (56 characters starting with O) or "
                  "an operator JWT such as the Region One Token, but it is neither (a JWT has three dot-separated "
                  "segments, this one has 1).",
    ),
    "operator_is_the_pinned_one": (
        lambda j: {},
        lambda j: {"nats_server_operator_jwt": "", "nats_server_operator_jwt_file": "/srv/ncred/REGION1.jwt",
                   "nats_server_operator_system_account_jwt": ""},
        lambda j: "nats_server_operator_jwt_file ('/srv/ncred/REGION1.jwt') holds operator %s, but the servers trust "
                  "operator %s (nats_server_operator_public_key). Nothing was changed: whoever can write that file could "
                  "otherwise move every server to an operator of their own. Put back the operator JWT of %s, or, if the "
                  "operator really changed, set nats_server_operator_public_key to the new key."
                  % (j["impostor_key"], j["key"], j["key"]),
    ),
    "system_account_is_the_pinned_operators": (
        lambda j: {"nats_server_operator_system_account_jwt": j["sys_by_signing_key"]},
        lambda j: {"nats_server_operator_system_account_jwt": j["sys_by_impostor"]},
        lambda j: "nats_server_operator_system_account_jwt is account %s signed by %s, not the system account %s of "
                  "the pinned operator %s. Nothing was changed; put back the SYS.jwt of operator %s."
                  % (j["sys_id"], j["impostor_key"], j["sys_id"], j["key"], j["key"]),
    ),
}


def _case(case, jwts):
    return case(jwts)


def test_every_operator_trust_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in trust.OPERATOR_RULES) == sorted(OPERATOR_CASES)


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_trust_rule_passes_its_good_case(name, jwts):
    facts = operator_facts(jwts, **_case(OPERATOR_CASES[name][0], jwts))
    assert collect_problems([rule_named(trust.OPERATOR_RULES, name)], facts) == []


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_trust_rule_reports_its_bad_case(name, jwts):
    _good, bad, words = OPERATOR_CASES[name]
    overrides = _case(bad, jwts)
    if name == "operator_is_the_pinned_one":
        # The swapped file as tasks/operator.yml reads it.
        facts = plan.OperatorFacts(RoleVars(role_defaults(**dict(
            {"nats_server_operator_enabled": "true", "nats_server_resolver_type": "url",
             "nats_server_operator_public_key": jwts["key"]}, **overrides))),
            operator_jwt_read=_slurped(jwts["impostor"]))
    else:
        facts = operator_facts(jwts, **overrides)
    assert collect_problems([rule_named(trust.OPERATOR_RULES, name)], facts) == [words(jwts)]


def _slurped(text):
    import base64
    return {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"}


def test_a_swapped_operator_jwt_is_refused_naming_both_keys_and_no_settings_are_made(jwts):
    result = plan.operator_plan(
        role_defaults(nats_server_operator_enabled=True, nats_server_resolver_type="full",
                      nats_server_operator_jwt_file="/srv/ncred/REGION1.jwt",
                      nats_server_operator_system_account_jwt_file="/srv/ncred/SYS.jwt",
                      nats_server_operator_public_key=jwts["key"]),
        operator_jwt_read=_slurped(jwts["impostor"]), system_account_jwt_read=_slurped(jwts["sys"]))
    assert result["settings"] == {}
    text = " ".join(result["problems"])
    assert "/srv/ncred/REGION1.jwt" in text and jwts["impostor_key"] in text and jwts["key"] in text


def test_a_swapped_sys_jwt_file_is_refused_with_the_url_resolver_too(jwts):
    """The url resolver takes SYS from the account server, which serves the same [ncred]/SYS.jwt."""
    variables = role_defaults(nats_server_operator_enabled=True, nats_server_resolver_type="url",
                              nats_server_operator_jwt=jwts["operator"],
                              nats_server_operator_system_account_jwt_file="/srv/ncred/SYS.jwt",
                              nats_server_operator_public_key=jwts["key"])
    refused = plan.operator_plan(variables, system_account_jwt_read=_slurped(jwts["sys_by_impostor"]))
    assert refused["settings"] == {}
    assert len(refused["problems"]) == 1 and refused["problems"][0].startswith(
        "nats_server_operator_system_account_jwt_file ('/srv/ncred/SYS.jwt') is account"), refused["problems"]
    assert "operator %s" % jwts["key"] in refused["problems"][0]
    genuine = plan.operator_plan(variables, system_account_jwt_read=_slurped(jwts["sys"]))
    assert genuine["problems"] == [] and "resolver_preload" not in genuine["settings"]


def test_an_account_of_the_pinned_operator_that_is_not_its_system_account_is_refused(jwts):
    facts = operator_facts(jwts, nats_server_operator_system_account_jwt=jwts["other_account"])
    problems = collect_problems([trust.system_account_is_the_pinned_operators], facts)
    assert len(problems) == 1 and "nats_server_operator_system_account_jwt" in problems[0]


def _expired_operator(pair):
    claims = nats_jwt.build_claims("operator", "REGION1", pair.public_key, pair.public_key, {})
    claims["exp"] = 1700000000
    return nats_jwt.sign_claims(claims, pair, issued_at=1600000000)


def test_a_pin_is_an_operator_key_or_an_operator_jwt_even_an_expired_one(jwts):
    pair = KeyPair(nats_jwt.new_seed("operator"))
    assert trust.operator_pin(None, "acs_operator_public_key") == ("", "")
    assert trust.operator_pin(" %s\n" % pair.public_key, "acs_operator_public_key") == (pair.public_key, "")
    assert trust.operator_pin(_expired_operator(pair), "acs_operator_public_key") == (pair.public_key, "")
    assert trust.operator_pin(jwts["sys"], "acs_operator_public_key") == ("", (
        "acs_operator_public_key must be the operator's public key (56 characters starting with O) or an operator JWT "
        "such as the Region One Token, but it is neither (expected an operator JWT, found an account JWT)."))


def test_the_system_account_is_judged_only_under_the_pinned_operator(jwts):
    impostor = nats_jwt.decode(jwts["impostor"], check_times=False)
    sys_by_impostor = nats_jwt.decode(jwts["sys_by_impostor"], check_times=False)
    # A swapped operator is the operator pin's problem; the SYS check has no operator to compare with.
    assert trust.system_account_pin_problems(jwts["key"], impostor, sys_by_impostor, "SYS.jwt") == []
    pair = KeyPair(nats_jwt.new_seed("operator"))
    without_sys = nats_jwt.decode(_sign("operator", "REGION1", pair, pair), check_times=False)
    assert trust.system_account_pin_problems(pair.public_key, without_sys, sys_by_impostor, "SYS.jwt") == [
        "SYS.jwt is account %s signed by %s, but the pinned operator %s names no system account (its JWT has no "
        "system_account). Nothing was changed; put back the operator JWT of %s that names its SYS account."
        % (jwts["sys_id"], jwts["impostor_key"], pair.public_key, pair.public_key)]


def test_the_region_one_token_pins_its_own_key(jwts):
    assert trust.pinned_operator_key(RoleVars({"nats_server_operator_public_key": jwts["operator"]})) == (jwts["key"], "")
    assert trust.pinned_operator_key(RoleVars({"nats_server_operator_public_key": " "})) == ("", "")


def test_no_pin_is_reported_as_a_weaker_choice(jwts):
    unpinned = RoleVars(role_defaults(nats_server_operator_enabled="true"))
    assert "nats_server_operator_public_key is empty" in " ".join(trust.unpinned_operator(unpinned))
    assert trust.unpinned_operator(RoleVars(role_defaults(nats_server_operator_enabled="true",
                                                          nats_server_operator_public_key=jwts["key"]))) == []


# --- variables ------------------------------------------------------------------

PREFLIGHT_CASES = {
    "resolver_tls_ca_needs_an_https_resolver": (
        {"nats_server_operator_enabled": "true", "nats_server_resolver_url": "https://acs.example.com/jwt/v1/accounts/",
         "nats_server_resolver_tls_ca_file": "/srv/certs/acs-ca.pem"},
        {"nats_server_operator_enabled": "true", "nats_server_resolver_url": "http://acs-1:9090/jwt/v1/accounts/",
         "nats_server_resolver_tls_ca_file": "/srv/certs/acs-ca.pem"},
        "nats_server_resolver_tls_ca_file is set, but nats_server_resolver_url ('http://acs-1:9090/jwt/v1/accounts/') is "
        "not https://: the CA only verifies an HTTPS resolver. Use the load balancer's https:// URL, or leave the CA empty.",
    ),
    "cluster_pins_are_key_digests": (
        {"nats_server_cluster_pinned_certs": [PIN.upper(), OTHER_PIN]},
        {"nats_server_cluster_pinned_certs": [PIN, "AB:CD", "xyz"]},
        "nats_server_cluster_pinned_certs must hold the SHA-256 of each route certificate's public key, 64 hex digits (the "
        "spki_sha256 cmsgs.nats.tls_cert_check returns); these are not: ab:cd, xyz.",
    ),
    "known_urls_need_route_host_names": (
        {"nats_server_cluster_name": "c1", "nats_server_cluster_verify_known_urls": "true",
         "nats_server_cluster_routes": ["nats-route://nats-1.example.com:6222", "nats-route://nats-2:6222"]},
        {"nats_server_cluster_name": "c1", "nats_server_cluster_verify_known_urls": "true",
         "nats_server_cluster_routes": ["nats-route://nats-1.example.com:6222", "nats-route://10.0.0.2:6222",
                                        "nats-route://[fd00::3]:6222"]},
        "nats_server_cluster_verify_known_urls matches the DNS names of a route peer's certificate against the route URLs, "
        "so every route must name its host by DNS name; these are addresses: 10.0.0.2, fd00::3.",
    ),
}


def test_every_trust_preflight_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in trust.PREFLIGHT_RULES) == sorted(PREFLIGHT_CASES)


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_trust_preflight_rule_passes_its_good_case(name):
    good, _bad, _words = PREFLIGHT_CASES[name]
    assert collect_problems([rule_named(trust.PREFLIGHT_RULES, name)], RoleVars(role_defaults(**good))) == []


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_trust_preflight_rule_reports_its_bad_case(name):
    _good, bad, words = PREFLIGHT_CASES[name]
    assert collect_problems([rule_named(trust.PREFLIGHT_RULES, name)], RoleVars(role_defaults(**bad))) == [words]


def test_the_trust_rules_run_in_the_role_preflight():
    problems = plan.preflight_problems(role_defaults(nats_server_cluster_pinned_certs=["nope"]))
    assert any("nats_server_cluster_pinned_certs" in problem for problem in problems)


def test_a_resolver_ca_is_an_absolute_path_and_judged_against_the_url_resolver_only():
    http = {"nats_server_resolver_type": "url", "nats_server_resolver_url": "http://acs-1:9090/jwt/v1/accounts/",
            "nats_server_resolver_tls_ca_file": "acs-ca.pem"}
    assert trust.resolver_tls_ca_needs_an_https_resolver(RoleVars(role_defaults(
        nats_server_operator_enabled="true", **http))) == [
        "nats_server_resolver_tls_ca_file ('acs-ca.pem') must be an absolute path on the host.",
        "nats_server_resolver_tls_ca_file is set, but nats_server_resolver_url ('http://acs-1:9090/jwt/v1/accounts/') is "
        "not https://: the CA only verifies an HTTPS resolver. Use the load balancer's https:// URL, or leave the CA empty."]
    absolute = dict(http, nats_server_resolver_tls_ca_file="/srv/certs/acs-ca.pem")
    for off in ({"nats_server_operator_enabled": "false"},
                {"nats_server_operator_enabled": "true", "nats_server_resolver_type": "full"}):
        assert trust.resolver_tls_ca_needs_an_https_resolver(RoleVars(role_defaults(**dict(absolute, **off)))) == []


def test_known_urls_need_routes_over_tls():
    problems = trust.known_urls_need_route_host_names(RoleVars(role_defaults(
        nats_server_cluster_verify_known_urls=True, nats_server_cluster_name="c1", nats_server_cluster_tls="false")))
    assert problems == ["nats_server_cluster_verify_known_urls needs routes over TLS: set nats_server_cluster_name and "
                        "keep nats_server_cluster_tls true."]


# --- the resolver ---------------------------------------------------------------

@pytest.mark.parametrize(("url", "warned"), [
    ("http://acs-1.example.com:9090/jwt/v1/accounts/", True),
    ("http://10.0.0.5:9090/jwt/v1/accounts/", True),
    ("http://127.0.0.1:9090/jwt/v1/accounts/", False),
    ("http://localhost:9090/jwt/v1/accounts/", False),
    ("http://nats-1:9090/jwt/v1/accounts/", False),  # the server's own host
    ("http://127.0.0.2:9090/jwt/v1/accounts/", False),
    ("http://[::1]:9090/jwt/v1/accounts/", False),
    ("http://:9090/jwt/v1/accounts/", False),
    ("https://acs.example.com/jwt/v1/accounts/", False),
])
def test_plain_http_to_another_host_is_warned_about(url, warned):
    v = RoleVars(role_defaults(nats_server_operator_enabled="true", nats_server_resolver_url=url))
    assert bool(trust.plain_http_resolver_across_hosts(v)) is warned


def test_resolver_tls_is_written_only_for_an_https_url_resolver_with_a_ca(jwts):
    https = {"nats_server_operator_enabled": "true", "nats_server_resolver_type": "url",
             "nats_server_operator_jwt": jwts["operator"],
             "nats_server_resolver_url": "https://acs.example.com/jwt/v1/accounts/"}
    with_ca = role_defaults(nats_server_resolver_tls_ca_file="/srv/certs/acs/ca.pem", **https)
    config = plan.server_config(with_ca, operator=plan.operator_plan(with_ca))
    assert config["resolver"] == "URL(https://acs.example.com/jwt/v1/accounts/)"
    assert config["resolver_tls"] == {"ca_file": "/srv/certs/acs/ca.pem"}
    plain = plan.server_config(role_defaults(**https), operator=plan.operator_plan(role_defaults(**https)))
    assert plain.get("resolver_tls") is None


# --- route and gateway peers ------------------------------------------------------

CLUSTER = {"nats_server_cluster_name": "c1", "nats_server_cluster_routes": ["nats-route://nats-2.example.com:6222"]}


def test_route_pins_and_known_urls_reach_the_cluster_tls_block():
    config = plan.server_config(role_defaults(nats_server_cluster_pinned_certs=[PIN.upper()],
                                              nats_server_cluster_verify_known_urls="true", **CLUSTER),
                                version="2.15.1",
                                tls_checks=[{"item": {"purpose": "cluster"}, "spki_sha256": PIN}])
    tls = config["cluster"]["tls"]
    assert tls["pinned_certs"] == [PIN]
    assert tls["verify_cert_and_check_known_urls"] is True and tls["verify"] is True


def test_without_route_pins_the_cluster_tls_block_has_none():
    tls = plan.server_config(role_defaults(**CLUSTER), version="2.15.1")["cluster"]["tls"]
    assert tls.get("pinned_certs") is None and tls.get("verify_cert_and_check_known_urls") is None


def test_a_route_pin_list_without_this_servers_own_key_is_refused():
    v = RoleVars(role_defaults(nats_server_cluster_pinned_certs=[OTHER_PIN], **CLUSTER))
    checks = [{"item": {"purpose": "cluster"}, "spki_sha256": PIN}, {"item": {"purpose": "cluster"}, "spki_sha256": "c" * 64},
              {"item": {"purpose": "gateway"}, "spki_sha256": "d" * 64}, {"item": {"purpose": "cluster"}}]
    assert trust.own_route_key_is_pinned(v, checks) == [
        "nats_server_cluster_pinned_certs does not hold %s, %s, the key of this server's cmcluster/cert.pem: the other "
        "route peers would refuse it. Add it to the list every cluster member gets." % (PIN, "c" * 64)]
    assert trust.own_route_key_is_pinned(RoleVars(role_defaults(nats_server_cluster_pinned_certs=[PIN, "c" * 64],
                                                                **CLUSTER)), checks) == []
    with pytest.raises(plan.PlanError, match="does not hold"):
        plan.server_config(role_defaults(nats_server_cluster_pinned_certs=[OTHER_PIN], **CLUSTER), version="2.15.1",
                           tls_checks=checks)


@pytest.mark.parametrize(("allow", "expected"), [("false", "refuse"), ("true", "warn")])
def test_peer_sets_refuse_a_public_ca_unless_allowed_and_keys_belong_to_the_service(allow, expected):
    sets = plan.tls_sets(role_defaults(
        nats_server_client_tls="true", nats_server_gateway_name="c1", nats_server_tls_allow_public_peer_ca=allow,
        nats_server_gateway_peers=[{"name": "west", "urls": ["nats://west-1:7222"]}], **CLUSTER))
    by_label = {tls_set["label"]: tls_set for tls_set in sets}
    assert "public_ca" not in by_label["cmserver"]
    assert {by_label[label]["public_ca"] for label in by_label if label != "cmserver"} == {expected}
    assert by_label["cmcluster"]["key_owners"] == ["cmsgs", "root"]
    assert "key_owners" not in by_label["cmgwpeers/west"]


def test_the_warnings_filter_reports_each_weaker_choice():
    from ansible_collections.cmsgs.nats.plugins.filter.nats_server import FilterModule

    warnings = FilterModule().filters()["nats_server_warnings"]
    assert warnings(role_defaults()) == []
    found = warnings(role_defaults(nats_server_operator_enabled="true", nats_server_tls_allow_public_peer_ca="true",
                                   nats_server_resolver_url="http://acs-1.example.com:9090/jwt/v1/accounts/"))
    assert found == [
        "nats_server_resolver_url (http://acs-1.example.com:9090/jwt/v1/accounts/) is plain HTTP to another host: anyone "
        "on the path can withhold or replay account JWTs. Use the load balancer's https:// URL "
        "(nats_server_resolver_tls_ca_file for a private CA) unless that network is yours alone.",
        "nats_server_operator_public_key is empty: the servers trust whatever operator JWT this run reads. Pin the "
        "operator's key (or give the Region One Token as nats_stack_region1_token).",
        "nats_server_tls_allow_public_peer_ca is true: a route or gateway CA from the system trust store is only warned "
        "about, and then any certificate it issued may join unless pinned certificates restrict it."]
