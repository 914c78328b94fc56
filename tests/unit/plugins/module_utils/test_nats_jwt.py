# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NATS JWT encoding, checked against tokens issued by the Go library."""

from __future__ import annotations

import base64
import json
import pathlib
import re

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import JwtError, KeyPair
from ansible_collections.cmsgs.nats.tests.unit.secret_forms import leaked_forms, seed_forms

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "jwt"
SEEDS = json.loads((FIXTURES / "seeds.json").read_text())
GO_TOKENS = json.loads((FIXTURES / "go_issued.json").read_text())
PAIRS = {name: KeyPair(seed) for name, seed in SEEDS.items()}
PUB = {name: pair.public_key for name, pair in PAIRS.items()}


def payload_bytes(token):
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def resign(token, issued_at=None):
    """Rebuild a token's claims from scratch and sign them with our code."""
    decoded = nats_jwt.decode(token)
    nats = {k: v for k, v in decoded.nats.items() if k not in ("type", "version")}
    claims = nats_jwt.build_claims(decoded.kind, decoded.name, decoded.subject, decoded.issuer, nats)
    signer = next(pair for pair in PAIRS.values() if pair.public_key == decoded.issuer)
    return nats_jwt.sign_claims(claims, signer, issued_at=decoded.claims["iat"] if issued_at is None else issued_at)


def tamper(token, mutate):
    """Return the token with its payload changed but the old signature."""
    header, _payload, signature = token.split(".")
    claims = json.loads(payload_bytes(token))
    mutate(claims)
    payload = base64.urlsafe_b64encode(nats_jwt.go_json(claims)).decode().rstrip("=")
    return ".".join((header, payload, signature))


# --- Go-issued fixtures ----------------------------------------------------

def test_go_operator_decodes_with_its_claims():
    op = nats_jwt.decode(GO_TOKENS["operator"], expected_kind="operator")
    assert op.subject == op.issuer == PUB["operator"]
    assert op.name == "REGION1"
    assert op.nats == {
        "signing_keys": [PUB["operator_signing"]],
        "account_server_url": "https://acs.example.com/jwt/v1",
        "operator_service_urls": ["nats://nats1.example.com:4222", "tls://nats2.example.com:4222"],
        "system_account": PUB["sys_account"],
        "type": "operator",
        "version": 2,
    }


def test_go_accounts_decode_with_their_limits():
    sys_account = nats_jwt.decode(GO_TOKENS["sys_account"], expected_kind="account")
    assert sys_account.issuer == PUB["operator"]
    assert sys_account.nats["limits"] == {
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": True, "conn": -1, "leaf": -1,
    }
    app = nats_jwt.decode(GO_TOKENS["app_account"], expected_kind="account")
    assert app.issuer == PUB["operator_signing"]
    assert app.nats["limits"]["conn"] == 100
    assert "wildcards" not in app.nats["limits"]
    assert app.nats["limits"]["mem_storage"] == 1073741824
    assert app.nats["limits"]["max_ack_pending"] == 1000
    assert app.nats["signing_keys"] == [PUB["app_signing"]]
    assert app.nats["default_permissions"] == {"pub": {}, "sub": {}}


def test_go_users_decode_with_permissions_and_issuer_account():
    user = nats_jwt.decode(GO_TOKENS["app_user"], expected_kind="user")
    assert user.name == "app <ops&dev>"
    assert user.issuer == PUB["app_signing"]
    assert user.nats["issuer_account"] == PUB["app_account"]
    assert user.nats["pub"] == {"allow": ["orders.>", "_INBOX.>"], "deny": ["orders.admin.>"]}
    assert user.nats["sub"] == {"allow": ["orders.*", "_INBOX.>"]}
    assert "bearer_token" not in user.nats


@pytest.mark.parametrize("name", sorted(GO_TOKENS))
def test_reissuing_go_claims_gives_the_same_bytes(name):
    assert resign(GO_TOKENS[name]) == GO_TOKENS[name]


@pytest.mark.parametrize("name", sorted(GO_TOKENS))
def test_jti_is_the_hash_go_computes(name):
    claims = json.loads(payload_bytes(GO_TOKENS[name]))
    assert nats_jwt.claim_hash(claims) == claims["jti"]


def test_parent_vouches_for_children_as_nats_server_does():
    op, sys_account, app, sys_user, app_user = (
        nats_jwt.decode(GO_TOKENS[name])
        for name in ("operator", "sys_account", "app_account", "sys_user", "app_user"))
    assert nats_jwt.signed_by(sys_account, op)
    assert nats_jwt.signed_by(app, op)
    assert nats_jwt.signed_by(sys_user, sys_account)
    assert nats_jwt.signed_by(app_user, app)
    assert not nats_jwt.signed_by(app_user, sys_account)
    assert not nats_jwt.signed_by(sys_user, app)


def _issued(kind, name, subject, signer, **nats):
    claims = nats_jwt.build_claims(kind, name, PUB[subject], PUB[signer], nats)
    return nats_jwt.decode(nats_jwt.sign_claims(claims, PAIRS[signer], issued_at=1700000000))


def test_an_account_signing_key_vouches_for_a_user_only_when_the_user_names_the_account():
    # nats-server takes a user signed by an account signing key only with issuer_account set to
    # that account, and only when the key is one of that account's signing keys.
    app = _issued("account", "APP", "app_account", "operator", signing_keys=[PUB["app_signing"]])
    named = _issued("user", "app", "app_user", "app_signing", issuer_account=PUB["app_account"])
    unnamed = _issued("user", "app", "app_user", "app_signing")
    other_key = _issued("user", "app", "app_user", "sys_account", issuer_account=PUB["app_account"])
    assert [nats_jwt.signed_by(user, app) for user in (named, unnamed, other_key)] == [True, False, False]


def test_a_strict_operator_vouches_only_for_accounts_its_signing_keys_signed():
    strict = _issued("operator", "STRICT", "operator", "operator",
                     signing_keys=[PUB["operator_signing"]], strict_signing_key_usage=True)
    lax = _issued("operator", "LAX", "operator", "operator", signing_keys=[PUB["operator_signing"]])
    by_own_key = _issued("account", "SYS", "sys_account", "operator")
    by_signing_key = _issued("account", "APP", "app_account", "operator_signing")
    assert [nats_jwt.signed_by(by_own_key, strict), nats_jwt.signed_by(by_signing_key, strict)] == [False, True]
    assert [nats_jwt.signed_by(by_own_key, lax), nats_jwt.signed_by(by_signing_key, lax)] == [True, True]


def test_only_operators_vouch_for_accounts_and_only_accounts_for_users():
    op, sys_account, app, app_user = (
        nats_jwt.decode(GO_TOKENS[name]) for name in ("operator", "sys_account", "app_account", "app_user"))
    assert not nats_jwt.signed_by(op, op)
    assert not nats_jwt.signed_by(app_user, op)
    assert not nats_jwt.signed_by(op, sys_account)
    assert not nats_jwt.signed_by(app_user, app_user)
    # An account that lists the operator's signing key still vouches for no account.
    lists_operator_key = _issued("account", "ODD", "sys_account", "operator", signing_keys=[PUB["operator_signing"]])
    assert not nats_jwt.signed_by(app, lists_operator_key)
    # An operator that lists an account's key vouches for no user, even one naming the operator.
    lists_account_key = _issued("operator", "ODD", "operator", "operator", signing_keys=[PUB["app_signing"]])
    user = _issued("user", "u", "app_user", "app_signing", issuer_account=PUB["operator"])
    assert not nats_jwt.signed_by(user, lists_account_key)


# --- encoding --------------------------------------------------------------

def test_go_json_escapes_like_encoding_json():
    assert nats_jwt.go_json({"n": "a<b>&c\u2028é"}) == b'{"n":"a\\u003cb\\u003e\\u0026c\\u2028\xc3\xa9"}'


def test_claims_follow_struct_order_and_drop_zero_values():
    claims = nats_jwt.build_claims("user", "u", PUB["sys_user"], PUB["sys_account"], {
        "issuer_account": "", "bearer_token": False, "payload": -1, "subs": 5,
        "sub": {"deny": ["x"], "allow": []}, "pub": {},
    })
    assert list(claims) == ["iss", "name", "sub", "nats"]
    assert json.dumps(claims["nats"]) == json.dumps({
        "pub": {}, "sub": {"deny": ["x"]}, "subs": 5, "payload": -1, "type": "user", "version": 2})


def test_unknown_claims_from_newer_libraries_are_kept_last():
    claims = nats_jwt.build_claims("account", "A", PUB["app_account"], PUB["operator"], {
        "future_field": {"x": 1}, "limits": {"conn": 1}})
    assert list(claims["nats"]) == ["limits", "default_permissions", "type", "version", "future_field"]


def test_signing_sets_iat_and_jti():
    claims = nats_jwt.build_claims("operator", "OP", PUB["operator"], PUB["operator"], {})
    token = nats_jwt.sign_claims(claims, PAIRS["operator"], issued_at=1700000000)
    decoded = nats_jwt.decode(token)
    assert decoded.claims["iat"] == 1700000000
    assert decoded.claims["jti"] == nats_jwt.claim_hash(decoded.claims)
    assert nats_jwt.same_claims(decoded.claims, claims)


def test_same_claims_ignores_only_iat_and_jti():
    token = GO_TOKENS["app_account"]
    decoded = nats_jwt.decode(token)
    later = nats_jwt.decode(resign(token, issued_at=decoded.claims["iat"] + 60))
    assert later.token != token
    assert nats_jwt.same_claims(decoded.claims, later.claims)
    changed = json.loads(json.dumps(decoded.claims))
    changed["nats"]["limits"]["conn"] = 101
    assert not nats_jwt.same_claims(decoded.claims, changed)


def test_an_empty_authorization_object_is_not_a_difference():
    decoded = nats_jwt.decode(GO_TOKENS["sys_account"])
    newer = json.loads(json.dumps(decoded.claims))
    newer["nats"]["authorization"] = {}
    assert nats_jwt.same_claims(decoded.claims, newer)


def test_refuses_to_sign_with_a_key_that_is_not_the_issuer():
    claims = nats_jwt.build_claims("account", "A", PUB["app_account"], PUB["operator"], {})
    with pytest.raises(JwtError, match="signing key"):
        nats_jwt.sign_claims(claims, PAIRS["operator_signing"])


@pytest.mark.parametrize("kind, subject, issuer", [
    ("user", "operator", "app_account"),       # subject of the wrong kind
    ("user", "app_user", "operator"),          # operators cannot sign users
    ("operator", "operator", "app_account"),   # accounts cannot sign operators
])
def test_refuses_keys_of_the_wrong_kind(kind, subject, issuer):
    with pytest.raises(JwtError):
        nats_jwt.build_claims(kind, "x", PUB[subject], PUB[issuer], {})


# --- decoding refusals -----------------------------------------------------

def test_a_changed_payload_fails_the_signature_check():
    forged = tamper(GO_TOKENS["app_account"], lambda c: c["nats"]["limits"].update(conn=-1))
    with pytest.raises(JwtError, match="signature"):
        nats_jwt.decode(forged)


def test_a_token_claiming_another_issuer_fails_the_signature_check():
    forged = tamper(GO_TOKENS["sys_user"], lambda c: c.update(iss=PUB["app_account"]))
    with pytest.raises(JwtError, match="signature"):
        nats_jwt.decode(forged)


@pytest.mark.parametrize("token, message", [
    ("abc.def", "three"),
    ("!!!." + GO_TOKENS["operator"].split(".", 1)[1], "base64"),
    (GO_TOKENS["operator"] + "=", "padding"),
])
def test_malformed_tokens_are_refused(token, message):
    with pytest.raises(JwtError, match=message):
        nats_jwt.decode(token)


def test_the_expected_kind_is_enforced():
    with pytest.raises(JwtError, match="expected an account JWT, found an operator"):
        nats_jwt.decode(GO_TOKENS["operator"], expected_kind="account")


def test_expired_tokens_are_refused_unless_times_are_not_checked():
    claims = dict(nats_jwt.build_claims("operator", "OP", PUB["operator"], PUB["operator"], {}), exp=1000)
    token = nats_jwt.sign_claims(claims, PAIRS["operator"])
    with pytest.raises(JwtError, match="expired"):
        nats_jwt.decode(token)
    assert nats_jwt.decode(token, check_times=False).claims["exp"] == 1000


def signed(header, claims, pair):
    """A token with a valid ed25519 signature over whatever header and claims are given."""
    def segment(data):
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    signing_input = segment(json.dumps(header).encode()) + "." + segment(nats_jwt.go_json(claims))
    return signing_input + "." + segment(pair.sign(signing_input.encode()))


def operator_claims(version):
    claims = nats_jwt.build_claims("operator", "OP", PUB["operator"], PUB["operator"], {})
    claims["nats"]["version"] = version
    return claims


def test_a_correctly_signed_v2_token_decodes():
    # The control for the refusals below: same key, same signing, version 2.
    assert nats_jwt.decode(signed(nats_jwt.HEADER, operator_claims(2), PAIRS["operator"])).kind == "operator"


@pytest.mark.parametrize("version", [1, 3, None, "2"])
def test_v1_tokens_are_refused(version):
    token = signed(nats_jwt.HEADER, operator_claims(version), PAIRS["operator"])
    with pytest.raises(JwtError, match=r"the JWT has version %s; only NATS JWT v2 is supported" % re.escape(repr(version))):
        nats_jwt.decode(token)


def test_a_v1_header_is_refused_by_its_algorithm():
    # nats-io/jwt v1 wrote alg "ed25519"; the signature itself is valid here.
    token = signed({"typ": "jwt", "alg": "ed25519"}, operator_claims(2), PAIRS["operator"])
    with pytest.raises(JwtError, match=r"unsupported JWT algorithm 'ed25519' \(NATS JWT v2 uses ed25519-nkey\)"):
        nats_jwt.decode(token)


@pytest.mark.parametrize("header, message", [
    ({"typ": "JWS", "alg": "ed25519-nkey"}, "unsupported JWT type 'JWS'"),
    ({"alg": "ed25519-nkey"}, "unsupported JWT type None"),
    ({"typ": "jwt", "alg": "ED25519-NKEY"}, None),  # nats-io/jwt compares both without case
])
def test_the_header_is_checked_as_nats_io_jwt_does(header, message):
    token = signed(header, operator_claims(2), PAIRS["operator"])
    if message is None:
        assert nats_jwt.decode(token).kind == "operator"
    else:
        with pytest.raises(JwtError, match=re.escape(message)):
            nats_jwt.decode(token)


# --- keys ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["operator", "account", "user"])
def test_new_seeds_make_keys_of_their_kind(kind):
    pair = KeyPair(nats_jwt.new_seed(kind))
    assert pair.kind == kind
    assert nats_jwt.is_public_key(pair.public_key, kind)
    assert pair.seed.startswith("S" + pair.public_key[0])


def test_public_keys_with_a_typo_are_not_keys():
    key = PUB["app_account"]
    typo = key[:10] + ("B" if key[10] != "B" else "C") + key[11:]
    assert nats_jwt.key_kind(key) == "account"
    assert nats_jwt.key_kind(typo) is None
    assert nats_jwt.key_kind("APP") is None


def test_a_key_pair_never_shows_its_seed():
    pair = PAIRS["sys_user"]
    assert leaked_forms(seed_forms(SEEDS["sys_user"]), repr(pair) + str(pair)) == 0
    assert repr(pair) == "KeyPair(%s)" % PUB["sys_user"]
    with pytest.raises(JwtError) as caught:
        KeyPair("SUNOTASEED")
    assert "SUNOTASEED" not in str(caught.value)


# --- creds -----------------------------------------------------------------

def test_creds_render_in_nsc_format_and_parse_back():
    token = GO_TOKENS["sys_user"]
    creds = nats_jwt.render_creds(token, SEEDS["sys_user"])
    lines = creds.splitlines()
    assert lines[:4] == ["-----BEGIN NATS USER JWT-----", token, "------END NATS USER JWT------", ""]
    assert lines[4] == "************************* IMPORTANT *************************"
    assert lines[8:11] == ["-----BEGIN USER NKEY SEED-----", SEEDS["sys_user"], "------END USER NKEY SEED------"]
    assert creds.endswith("\n*************************************************************\n")
    assert nats_jwt.parse_creds(creds) == (token, SEEDS["sys_user"])


def test_creds_need_a_user_seed():
    with pytest.raises(JwtError):
        nats_jwt.render_creds(GO_TOKENS["sys_user"], SEEDS["sys_account"])
    with pytest.raises(JwtError) as caught:
        nats_jwt.parse_creds("no blocks here")
    assert str(caught.value) == "the .creds data does not hold a JWT block and a seed block"


@pytest.mark.parametrize("times, message", [
    ({"nbf": 4102444800}, "the JWT is not valid before 4102444800"),
    ({"exp": 1000, "nbf": 1}, "the JWT expired at 1000"),
])
def test_time_bounds_are_refused_with_the_bound_named(times, message):
    claims = dict(operator_claims(2), **times)
    with pytest.raises(JwtError) as caught:
        nats_jwt.decode(signed(nats_jwt.HEADER, claims, PAIRS["operator"]))
    assert str(caught.value) == message
    assert nats_jwt.decode(signed(nats_jwt.HEADER, claims, PAIRS["operator"]), check_times=False).kind == "operator"


def test_time_bounds_that_hold_now_are_accepted():
    claims = dict(operator_claims(2), nbf=1, exp=4102444800)
    assert nats_jwt.decode(signed(nats_jwt.HEADER, claims, PAIRS["operator"])).claims["exp"] == 4102444800


# --- layout and encoding, spelled out ----------------------------------------

def test_arranged_claims_follow_go_field_order_and_keep_unknown_fields_last():
    claims = {
        "zz_newer_claim": "kept", "nats": {"future": [1], "type": "account", "limits": {"conn": 0, "subs": 1}},
        "sub": "S", "iss": "I", "name": "n", "iat": 0, "empty_unknown": "",
    }
    arranged = nats_jwt.arrange_claims(claims)
    assert arranged == {"iss": "I", "name": "n", "sub": "S",
                        "nats": {"limits": {"subs": 1}, "default_permissions": {"pub": {}, "sub": {}},
                                 "type": "account", "future": [1]},
                        "zz_newer_claim": "kept"}
    assert list(arranged) == ["iss", "name", "sub", "nats", "zz_newer_claim"]
    assert list(arranged["nats"]) == ["limits", "default_permissions", "type", "future"]


def test_claims_of_an_unknown_kind_keep_the_generic_fields_in_order():
    arranged = nats_jwt.arrange_claims({"nats": {"version": 2, "type": "activation", "tags": ["a"], "x": 1}})
    assert list(arranged["nats"].items()) == [("tags", ["a"]), ("type", "activation"), ("version", 2), ("x", 1)]


@pytest.mark.parametrize("value, zero", [
    (None, True), (False, True), (True, False), (0, True), (1, False), (-1, False), (0.0, True), (2.5, False),
    ("", True), ("x", False), ([], True), ([0], False), ({}, True),
])
def test_omitempty_zeros_are_those_of_go(value, zero):
    assert nats_jwt._is_zero(value) is zero


def test_go_json_escapes_both_line_separators_and_refuses_nan():
    assert nats_jwt.go_json(["\u2028", "\u2029"]) == b'["\\u2028","\\u2029"]'
    # Go's json.Marshal refuses NaN and infinities ("unsupported value").
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            nats_jwt.go_json({"n": bad})


def test_segments_are_unpadded_base64url():
    assert nats_jwt._b64encode(b"\x00\x00\x17") == "AAAX"
    assert nats_jwt._b64encode(b"\xfb\xff") == "-_8"
    assert nats_jwt._b64decode("-_8") == b"\xfb\xff"


def test_bad_segments_are_refused_with_the_reason():
    with pytest.raises(JwtError) as padded:
        nats_jwt._b64decode("AA==")
    assert str(padded.value) == "unexpected padding in a JWT segment"
    with pytest.raises(JwtError) as not_base64:
        nats_jwt._b64decode("A*B")
    with pytest.raises(Exception) as library:
        base64.b64decode("A*B" + "=", altchars=b"-_", validate=True)
    assert str(not_base64.value) == "a JWT segment is not base64url: %s" % library.value


def test_without_nkeys_the_missing_libraries_are_named(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(JwtError) as caught:
        nats_jwt.key_kind(PUB["operator"])
    assert str(caught.value) == "the Python libraries nkeys and PyNaCl are required"


@pytest.mark.parametrize("value", [None, 42, b"O" * 56, "O" * 55])
def test_what_is_not_a_key_text_has_no_kind(value):
    assert nats_jwt.key_kind(value) is None


def test_wrong_key_kinds_are_refused_with_the_kind_and_the_key():
    with pytest.raises(JwtError) as subject:
        nats_jwt.build_claims("account", "A", PUB["sys_user"], PUB["operator"], {})
    assert str(subject.value) == "the subject of an account JWT must be an account public key"
    with pytest.raises(JwtError) as issuer:
        nats_jwt.build_claims("user", "U", PUB["sys_user"], PUB["operator"], {})
    assert str(issuer.value) == "a user JWT cannot be issued by %r" % PUB["operator"]


def test_signing_with_another_key_than_the_issuer_names_both():
    claims = nats_jwt.build_claims("account", "A", PUB["app_account"], PUB["operator"], {})
    with pytest.raises(JwtError) as caught:
        nats_jwt.sign_claims(claims, PAIRS["operator_signing"])
    assert str(caught.value) == "the claims name issuer %s but the signing key is %s" % (
        PUB["operator"], PUB["operator_signing"])


def test_a_token_naming_no_nkeys_issuer_is_refused_with_the_key():
    with pytest.raises(JwtError) as caught:
        nats_jwt._verify_key("ONOTAKEY")
    assert str(caught.value) == "'ONOTAKEY' is not an nkeys public key"


@pytest.mark.parametrize("seed", ["SUNOTASEED", "S\u00e9ed", ""])
def test_a_bad_seed_is_refused_without_echoing_it(seed):
    with pytest.raises(JwtError) as caught:
        KeyPair(seed)
    assert str(caught.value) == "the data is not a valid nkeys seed"


def _segment(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("header, message", [
    ({"typ": "JWS", "alg": "ed25519-nkey"}, "unsupported JWT type 'JWS'"),
    ({"alg": "ed25519-nkey"}, "unsupported JWT type None"),
    ({"typ": "JWT", "alg": "ed25519"}, "unsupported JWT algorithm 'ed25519' (NATS JWT v2 uses ed25519-nkey)"),
    ({"typ": "JWT"}, "unsupported JWT algorithm None (NATS JWT v2 uses ed25519-nkey)"),
])
def test_header_refusals_are_spelled_out(header, message):
    with pytest.raises(JwtError) as caught:
        nats_jwt.decode(signed(header, operator_claims(2), PAIRS["operator"]))
    assert str(caught.value) == message


@pytest.mark.parametrize("claims, message", [
    ({"iss": PUB["operator"], "sub": PUB["operator"]}, "the JWT is not a NATS v2 operator, account or user token"),
    ({"nats": "operator"}, "the JWT is not a NATS v2 operator, account or user token"),
    ({"nats": {"type": "activation", "version": 2}}, "the JWT is not a NATS v2 operator, account or user token"),
    ({"nats": {"type": "operator", "version": 1}}, "the JWT has version 1; only NATS JWT v2 is supported"),
    ({"nats": {"type": "operator", "version": 2}, "sub": PUB["operator"]}, "the JWT has no 'iss' claim"),
    ({"nats": {"type": "operator", "version": 2}, "iss": PUB["operator"]}, "the JWT has no 'sub' claim"),
])
def test_body_refusals_are_spelled_out(claims, message):
    with pytest.raises(JwtError) as caught:
        nats_jwt.decode(signed(nats_jwt.HEADER, claims, PAIRS["operator"]))
    assert str(caught.value) == message


def test_segments_that_are_not_json_objects_are_named():
    header = _segment(json.dumps(nats_jwt.HEADER).encode())
    with pytest.raises(JwtError) as not_json:
        nats_jwt.decode(header + "." + _segment(b"{nope") + ".sig")
    with pytest.raises(ValueError) as library:
        json.loads("{nope")
    assert str(not_json.value) == "the JWT payload is not JSON: %s" % library.value
    with pytest.raises(JwtError) as not_object:
        nats_jwt.decode(_segment(b"[1]") + "." + _segment(b"{}") + ".sig")
    assert str(not_object.value) == "the JWT header is not a JSON object"
    with pytest.raises(JwtError) as not_utf8:
        nats_jwt.decode(header + "." + _segment(b"\xff") + ".sig")
    assert str(not_utf8.value).startswith("the JWT payload is not JSON: 'utf-8' codec can't decode byte 0xff")


def test_a_decoded_token_keeps_the_token_without_surrounding_space():
    token = GO_TOKENS["operator"]
    decoded = nats_jwt.decode(" %s\n" % token)
    assert (decoded.token, decoded.subject) == (token, PUB["operator"])


def test_token_size_and_segments_are_checked_first():
    limit = nats_jwt.MAX_TOKEN_SIZE
    with pytest.raises(JwtError) as too_large:
        nats_jwt.decode("a" * (limit + 1))
    assert str(too_large.value) == "the JWT is larger than 1048576 bytes"
    with pytest.raises(JwtError) as at_limit:
        nats_jwt.decode("a" * limit)
    assert str(at_limit.value) == "a JWT has three dot-separated segments, this one has 1"
    with pytest.raises(JwtError) as four:
        nats_jwt.decode("a.b.c.d")
    assert str(four.value) == "a JWT has three dot-separated segments, this one has 4"


def test_a_token_of_another_kind_and_a_forged_signature_are_named():
    with pytest.raises(JwtError) as kind:
        nats_jwt.decode(GO_TOKENS["operator"], expected_kind="account")
    assert str(kind.value) == "expected an account JWT, found an operator JWT"
    forged = signed(nats_jwt.HEADER, operator_claims(2), PAIRS["sys_account"])
    with pytest.raises(JwtError) as signature:
        nats_jwt.decode(forged)
    assert str(signature.value) == "the JWT signature does not verify with its issuer %s" % PUB["operator"]


@pytest.mark.parametrize("claims, now, message", [
    ({"exp": 100}, 100, None),
    ({"exp": 100}, 101, "the JWT expired at 100"),
    ({"exp": 1}, 2, "the JWT expired at 1"),
    ({"exp": 0}, 2, None),
    ({"nbf": 100}, 100, None),
    ({"nbf": 100}, 99, "the JWT is not valid before 100"),
    ({"nbf": 1}, 0, "the JWT is not valid before 1"),
])
def test_time_bounds_at_their_edges(claims, now, message):
    # nats-io/jwt: expired when now > exp, not yet valid when nbf > now; 0 means no bound.
    if message is None:
        nats_jwt._check_times(claims, now)
    else:
        with pytest.raises(JwtError) as caught:
            nats_jwt._check_times(claims, now)
        assert str(caught.value) == message


def test_scoped_signing_keys_are_named_by_their_key():
    nats = {"signing_keys": [PUB["app_signing"], {"kind": "user_scope", "key": PUB["sys_account"], "role": "r"}]}
    assert nats_jwt.signing_key_names(nats) == [PUB["app_signing"], PUB["sys_account"]]
    assert nats_jwt.signing_key_names({}) == []


def test_creds_for_a_seed_that_is_not_a_user_seed_are_refused_with_the_reason():
    with pytest.raises(JwtError) as caught:
        nats_jwt.render_creds(GO_TOKENS["sys_user"], SEEDS["sys_account"])
    assert str(caught.value) == "a .creds file needs a user seed"
