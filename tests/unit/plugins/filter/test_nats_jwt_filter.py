# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_jwt_claims and nats_jwt_error filters, on Go-issued and tampered tokens."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import nats_jwt as nats_jwt_filter
from ansible_collections.cmsgs.nats.plugins.filter.nats_jwt import FilterModule, nats_jwt_claims, nats_jwt_error
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "jwt"
FILTER_DIR = pathlib.Path(nats_jwt_filter.__file__).resolve().parent
SEEDS = json.loads((FIXTURES / "seeds.json").read_text())
GO_TOKENS = json.loads((FIXTURES / "go_issued.json").read_text())
PUB = {name: KeyPair(seed).public_key for name, seed in SEEDS.items()}


def tampered(token):
    """The token with its name changed but the old signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["name"] = "EVIL"
    forged = base64.urlsafe_b64encode(nats_jwt.go_json(claims)).decode().rstrip("=")
    return ".".join((header, forged, signature))


def operator_token(**extra):
    """An operator JWT signed with the fixture seed, with extra standard claims."""
    pair = KeyPair(SEEDS["operator"])
    claims = nats_jwt.build_claims("operator", "REGION1", pair.public_key, pair.public_key, {})
    claims.update(extra)
    return nats_jwt.sign_claims(claims, pair, issued_at=1700000000)


def test_operator_claims_name_the_system_account():
    claims = nats_jwt_claims(GO_TOKENS["operator"], kind="operator")
    assert claims["sub"] == PUB["operator"]
    assert claims["name"] == "REGION1"
    assert claims["nats"]["system_account"] == PUB["sys_account"]
    assert claims["nats"]["type"] == "operator"


@pytest.mark.parametrize("name, kind", [("sys_account", "account"), ("app_user", "user"), ("operator", None)])
def test_each_kind_decodes_to_its_subject(name, kind):
    claims = nats_jwt_claims(GO_TOKENS[name], kind=kind)
    assert claims["sub"] == PUB[name]
    assert nats_jwt_error(GO_TOKENS[name], kind=kind) == ""


def test_file_contents_with_a_trailing_newline_and_bytes_are_accepted():
    text = GO_TOKENS["operator"] + "\n"
    assert nats_jwt_claims(text)["sub"] == PUB["operator"]
    assert nats_jwt_claims(text.encode("ascii"))["sub"] == PUB["operator"]


def test_a_token_of_another_kind_is_refused_without_repeating_it():
    token = GO_TOKENS["sys_account"]
    with pytest.raises(AnsibleFilterError) as failure:
        nats_jwt_claims(token, kind="operator")
    message = str(failure.value)
    assert "not a valid NATS operator JWT: expected an operator JWT, found an account JWT" in message
    assert token not in message
    assert token.split(".")[1] not in message
    assert nats_jwt_error(token, kind="operator") == (
        "not a valid NATS operator JWT: expected an operator JWT, found an account JWT")


def test_a_forged_payload_fails_the_signature_check():
    forged = tampered(GO_TOKENS["operator"])
    reason = nats_jwt_error(forged, kind="operator")
    assert "signature does not verify" in reason
    assert forged.split(".")[1] not in reason
    with pytest.raises(AnsibleFilterError, match="signature does not verify"):
        nats_jwt_claims(forged)


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "the value is empty"),
        ("   \n", "the value is empty"),
        (None, "expected a JWT as text, got NoneType"),
        (["a.b.c"], "expected a JWT as text, got list"),
        ("not-a-jwt", "three dot-separated segments"),
        ("e30.e30.AA", "unsupported JWT type"),
    ],
    ids=["empty", "blank", "none", "list", "one-segment", "not-nats-header"],
)
def test_values_that_are_no_token_are_reported(value, reason):
    assert reason in nats_jwt_error(value)
    with pytest.raises(AnsibleFilterError, match="nats_jwt_claims: not a valid NATS JWT"):
        nats_jwt_claims(value)


def test_times_are_checked_unless_turned_off():
    expired = operator_token(exp=1700000100)
    assert "expired" in nats_jwt_error(expired, kind="operator")
    assert nats_jwt_error(expired, kind="operator", check_times=False) == ""
    assert nats_jwt_claims(expired, check_times=False)["exp"] == 1700000100
    not_yet = operator_token(nbf=4102444800)
    assert "not valid before" in nats_jwt_error(not_yet)


def test_an_unknown_kind_is_a_usage_error_for_both_filters():
    with pytest.raises(AnsibleFilterError, match="kind must be one of operator, account, user"):
        nats_jwt_claims(GO_TOKENS["operator"], kind="server")
    with pytest.raises(AnsibleFilterError, match="kind must be one of"):
        nats_jwt_error(GO_TOKENS["operator"], kind="server")


def test_missing_libraries_are_named(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(AnsibleFilterError, match="nkeys and PyNaCl"):
        nats_jwt_error(GO_TOKENS["operator"])


def test_every_filter_has_documentation_under_its_own_name():
    filters = FilterModule().filters()
    assert set(filters) == {"nats_jwt_claims", "nats_jwt_error"}
    for name in filters:
        doc = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert set(doc["DOCUMENTATION"]["options"]) == {"_input", "kind", "check_times"}
        assert "cmsgs.nats." + name in doc["EXAMPLES"]


def test_an_expired_token_is_refused_naming_its_expiry():
    expired = operator_token(exp=1000)
    with pytest.raises(AnsibleFilterError, match="^nats_jwt_claims: not a valid NATS JWT: the JWT expired at 1000$"):
        nats_jwt_claims(expired)
    assert nats_jwt_claims(expired, check_times=False)["exp"] == 1000


@pytest.mark.parametrize("value, reason", [(42, "expected a JWT as text, got int"), ("  \n", "the value is empty")])
def test_values_that_are_no_token_are_named(value, reason):
    with pytest.raises(AnsibleFilterError) as failure:
        nats_jwt_claims(value)
    assert str(failure.value) == "nats_jwt_claims: not a valid NATS JWT: " + reason


def test_bytes_that_are_no_text_are_named_not_raised():
    # A file read as bytes (a lookup, a slurp) may hold anything; the reason comes back, not a decode error.
    reason = nats_jwt_error(b"\xff\xfe.e30.AA")
    assert reason.startswith("not a valid NATS JWT: a JWT segment is not base64url"), reason


def test_usage_errors_say_what_to_give():
    with pytest.raises(AnsibleFilterError) as failure:
        nats_jwt_claims(GO_TOKENS["operator"], kind="server")
    assert str(failure.value) == "kind must be one of operator, account, user, not 'server'"


def test_missing_libraries_are_named_in_full(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(AnsibleFilterError) as failure:
        nats_jwt_claims(GO_TOKENS["operator"])
    assert str(failure.value) == "the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs"
