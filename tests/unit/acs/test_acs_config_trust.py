# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trusted operator and the checks of a pushed account JWT: each refusal, its status and whole text."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree

use_source_tree()

from cmsgs_acs import nats_jwt  # noqa: E402
from cmsgs_acs.trust import VALIDATION_HEADER, Operator, Refused, check_account  # noqa: E402

NOW = 1_800_000_000


def _signed(region, account, nats_extra, exp=None, nbf=None):
    """An account JWT with extra nats claims, signed by the operator's signing key."""
    nats = {"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS), "default_permissions": {"pub": {}, "sub": {}}}
    nats.update(nats_extra)
    nats.update(type="account", version=2)
    claims = {"iss": region.signing_key.public_key, "name": "ACC", "sub": account.public_key, "nats": nats,
              "iat": NOW - 10, "jti": "J"}
    if exp is not None:
        claims["exp"] = exp
    if nbf is not None:
        claims["nbf"] = nbf
    # Signed as given, not rearranged: a pusher's own tool may write what nats_jwt would not.
    signing_input = "%s.%s" % (_b64(nats_jwt.HEADER), _b64(claims))
    return signing_input + "." + base64.urlsafe_b64encode(
        region.signing_key.sign(signing_input.encode())).decode().rstrip("=")


def _b64(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _refusal(operator, pub, body, now_=NOW):
    with pytest.raises(Refused) as raised:
        check_account(operator, pub, body, now_)
    assert raised.value.status == 400 and str(raised.value) == raised.value.message
    return raised.value.message


def test_the_operator_names_its_keys_and_system_account(region):
    operator = Operator(region.operator_token, region.operator_key, "operator_jwt_path x")
    assert operator.token == region.operator_token and operator.name == "REGION1"
    assert operator.public_key == region.operator_key and operator.system_account == region.sys_pub
    assert operator.trusted_keys == frozenset([region.operator_key, region.signing_key.public_key])
    assert operator.decoded.subject == region.operator_key


@pytest.mark.parametrize("times", [{"exp": NOW - 1}, {"nbf": 4_000_000_000}])
def test_an_operator_jwt_outside_its_times_is_still_the_trusted_operator(times):
    key = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.OPERATOR))
    claims = dict(nats_jwt.build_claims(nats_jwt.OPERATOR, "OLD", key.public_key, key.public_key, {}), **times)
    operator = Operator(nats_jwt.sign_claims(claims, key, NOW - 10))
    assert operator.public_key == key.public_key and operator.trusted_keys == frozenset([key.public_key])


def test_an_account_jwt_is_not_an_operator(region):
    with pytest.raises(ValueError) as raised:
        Operator(region.app_token, source="operator_jwt_path /etc/op.jwt")
    assert str(raised.value).startswith("the operator JWT (operator_jwt_path /etc/op.jwt) is not usable: ")
    with pytest.raises(ValueError) as raised:
        Operator(region.app_token)
    assert str(raised.value).startswith("the operator JWT (operator_jwt) is not usable: ")


def test_a_pinned_key_refuses_another_operator(region, foreign_region):
    with pytest.raises(ValueError) as raised:
        Operator(foreign_region.operator_token, region.operator_key)
    assert str(raised.value) == (
        "operator_jwt holds operator %s, but operator_public_key pins operator %s; put back the operator JWT of %s, "
        "or, if the operator really changed, set operator_public_key to the new key"
        % (foreign_region.operator_key, region.operator_key, region.operator_key))


def test_an_account_signed_by_the_operator_itself_or_its_signing_key_is_accepted(region):
    operator = Operator(region.operator_token)
    assert check_account(operator, region.app_pub, region.app_token.encode() + b"\n").token == region.app_token
    account = new_account()
    token = region.mint(account, expires=now() + 3600)
    assert check_account(operator, account.public_key, token.encode()).subject == account.public_key


@pytest.mark.parametrize("body, message", [
    (b"\xff", "bad JWT in request: the body is not ASCII text"),
    (b" \n", "bad JWT in request: the body is empty; send the account JWT as the body"),
])
def test_a_body_that_is_no_token_is_refused(region, body, message):
    assert _refusal(Operator(region.operator_token), region.app_pub, body) == message


def test_a_token_that_does_not_decode_is_refused(region):
    assert _refusal(Operator(region.operator_token), region.app_pub, b"a.b.c").startswith("bad JWT in request: ")


def test_an_operator_jwt_pushed_as_account_is_refused(region):
    assert _refusal(Operator(region.operator_token), region.app_pub, region.operator_token.encode()) == (
        "bad JWT in request: expected an account JWT, found an operator JWT")


def test_the_path_and_the_subject_must_match(region):
    account = new_account()
    assert _refusal(Operator(region.operator_token), account.public_key, region.app_token.encode()) == (
        "pub keys don't match: the path names %s, the JWT's subject is %s" % (account.public_key, region.app_pub))


def test_a_self_signed_account_is_refused(region):
    account = new_account()
    claims = nats_jwt.build_claims(nats_jwt.ACCOUNT, "SELF", account.public_key, account.public_key, {})
    token = nats_jwt.sign_claims(claims, account)
    assert _refusal(Operator(region.operator_token), account.public_key, token.encode()) == (
        "Bad JWT Issuer in request: %s is not an operator key (self-signed or account-signed accounts are not "
        "accepted)" % account.public_key)


def test_an_account_of_another_operator_is_refused(region, foreign_region):
    assert _refusal(Operator(region.operator_token), foreign_region.app_pub, foreign_region.app_token.encode()) == (
        "untrusted issuer in request: %s is neither the key of operator REGION1 (%s) nor one of its signing keys"
        % (foreign_region.signing_key.public_key, region.operator_key))


def _issues(*issues):
    return VALIDATION_HEADER + "".join("\n\t - %s" % issue for issue in issues)


def test_the_validation_header_is_the_nats_server_text():
    assert VALIDATION_HEADER == ("The server was unable to update your account JWT. "
                                 "One or more validation issues occurred.")


@pytest.mark.parametrize("extra, times, issues", [
    ({}, {"exp": NOW - 1}, ["claim is expired (exp %d is before now %d)" % (NOW - 1, NOW)]),
    ({}, {"nbf": NOW + 1}, ["claim is not yet valid (nbf %d is after now %d)" % (NOW + 1, NOW)]),
    ({}, {"exp": NOW - 1, "nbf": NOW + 1}, [
        "claim is expired (exp %d is before now %d)" % (NOW - 1, NOW),
        "claim is not yet valid (nbf %d is after now %d)" % (NOW + 1, NOW)]),
    ({"signing_keys": ["OABC", {"key": "UXYZ"}]}, {},
     ["'OABC' is not a valid account signing key", "'UXYZ' is not a valid account signing key"]),
    ({"limits": ["conn"]}, {}, ["limits must be an object"]),
    ({"limits": {"conn": "10", "leaf": 1.5, "subs": -1, "wildcards": True, "tiered_limits": {"R1": {}}}}, {},
     ["limit conn must be a number or a boolean, not '10'", "limit leaf must be a number or a boolean, not 1.5"]),
    ({"imports": {"subject": "a"}, "exports": "b"}, {}, ["imports must be a list", "exports must be a list"]),
    ({"imports": [{"name": "x"}, "y"], "exports": [{"subject": ""}]}, {},
     ["every entry of imports needs a subject", "every entry of imports needs a subject",
      "every entry of exports needs a subject"]),
    ({"revocations": ["UABC"]}, {}, ["revocations must be an object"]),
])
def test_each_validation_issue_is_listed(region, extra, times, issues):
    account = new_account()
    token = _signed(region, account, extra, **times)
    assert _refusal(Operator(region.operator_token), account.public_key, token.encode()) == _issues(*issues)


@pytest.mark.parametrize("extra, times", [
    ({}, {"exp": NOW, "nbf": NOW}),
    ({"signing_keys": [new_account().public_key, {"key": new_account().public_key}]}, {}),
    ({"imports": [{"subject": "a.>", "account": new_account().public_key, "type": "stream"}],
      "exports": [{"subject": "b.>", "type": "service"}], "revocations": {new_account().public_key: NOW}}, {}),
    ({"limits": {}, "imports": [], "exports": [], "revocations": {}}, {}),
])
def test_a_valid_account_passes_at_the_edges(region, extra, times):
    account = new_account()
    token = _signed(region, account, extra, **times)
    assert check_account(Operator(region.operator_token), account.public_key, token.encode(), NOW).token == token
