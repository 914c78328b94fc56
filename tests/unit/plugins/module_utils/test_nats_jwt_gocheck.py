# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JWTs written by the collection, judged by the reference Go library.

Needs Debian's golang-go and golang-github-nats-io-jwt-dev; skipped without.
"""

from __future__ import annotations

import base64
import json
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    NscPaths,
    plan_account,
    plan_operator,
    plan_user,
)

REPO = pathlib.Path(__file__).resolve().parents[4]
BUILD_SCRIPT = REPO / "tests" / "go" / "jwtcheck" / "build.sh"
GO_JWT_SOURCES = pathlib.Path("/usr/share/gocode/src/github.com/nats-io/jwt/v2")

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or not GO_JWT_SOURCES.is_dir(),
    reason="needs the go compiler and Debian's golang-github-nats-io-jwt-dev",
)


@pytest.fixture(scope="module")
def jwtcheck(tmp_path_factory):
    binary = tmp_path_factory.mktemp("jwtcheck") / "jwtcheck"
    subprocess.run([str(BUILD_SCRIPT), str(binary)], check=True, timeout=300)
    return binary


def verify(jwtcheck, tokens):
    """Ask the Go library about tokens given parents first."""
    done = subprocess.run([str(jwtcheck), "verify"], input="\n".join(tokens), capture_output=True,
                          text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def applied(outcome):
    outcome.plan.apply()
    return outcome


@pytest.fixture
def chain(tmp_path):
    """A store like the one a role builds, with every feature in use."""
    paths = NscPaths(str(tmp_path / "nsc"))
    applied(plan_operator(paths, "REGION1", account_server_url="https://acs.example.com/jwt/v1",
                          operator_service_urls=["tls://nats.example.com:4222"], signing_keys=1))
    sys_account = applied(plan_account(paths, "REGION1", "SYS"))
    operator = applied(plan_operator(paths, "REGION1", system_account="SYS"))
    app = applied(plan_account(paths, "REGION1", "APP", use_signing_key=True, signing_keys=1,
                               limits={"conn": 50, "wildcards": False, "disallow_bearer": True},
                               jetstream={"mem_storage": -1, "disk_storage": 1 << 30, "streams": 5,
                                          "max_ack_pending": 100, "max_bytes_required": True}))
    sys_user = applied(plan_user(paths, "REGION1", "SYS", "sys"))
    app_user = applied(plan_user(paths, "REGION1", "APP", "worker <1>", use_signing_key=True, permissions={
        "pub": {"allow": ["jobs.>"], "deny": ["jobs.admin"]}, "sub": {"allow": ["jobs.* workers"]}}))
    return [o.token for o in (operator, sys_account, app, sys_user, app_user)]


def test_go_accepts_the_go_fixtures(jwtcheck):
    fixtures = json.loads((REPO / "tests" / "unit" / "fixtures" / "jwt" / "go_issued.json").read_text())
    order = ("operator", "sys_account", "app_account", "sys_user", "app_user")
    verdict = verify(jwtcheck, [fixtures[name] for name in order])
    assert verdict["ok"] is True
    assert all(token["same_layout"] for token in verdict["tokens"])


def test_go_accepts_our_chain_with_valid_signatures(jwtcheck, chain):
    verdict = verify(jwtcheck, chain)
    assert verdict["ok"] is True, verdict
    tokens = verdict["tokens"]
    assert [t["type"] for t in tokens] == ["operator", "account", "account", "user", "user"]
    assert all(t["decoded"] and t["valid"] and t["issues"] == [] for t in tokens)
    assert [t.get("signed_by_parent") for t in tokens] == [None, True, True, True, True]


def test_go_marshals_our_claims_to_the_same_bytes(jwtcheck, chain):
    verdict = verify(jwtcheck, chain)
    assert [t["same_layout"] for t in verdict["tokens"]] == [True] * 5
    for token, judged in zip(chain, verdict["tokens"]):
        assert judged["claims"] == nats_jwt.decode(token).claims


def test_go_rejects_a_token_we_would_reject(jwtcheck, chain):
    header, payload, signature = chain[2].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["nats"]["limits"]["conn"] = -1
    forged_payload = base64.urlsafe_b64encode(nats_jwt.go_json(claims)).decode().rstrip("=")
    forged = ".".join((header, forged_payload, signature))
    with pytest.raises(nats_jwt.JwtError):
        nats_jwt.decode(forged)
    verdict = verify(jwtcheck, [forged])
    assert verdict["ok"] is False
    assert "signature" in verdict["tokens"][0]["error"]


def test_go_and_we_agree_on_a_user_signed_by_a_stranger(jwtcheck, chain):
    operator, _sys_account, app, _sys_user, app_user = chain
    user = nats_jwt.decode(app_user)
    stranger = nats_jwt.KeyPair(nats_jwt.new_seed("account"))
    nats = {k: v for k, v in user.nats.items() if k not in ("type", "version")}
    claims = nats_jwt.build_claims("user", user.name, user.subject, stranger.public_key, nats)
    forged = nats_jwt.decode(nats_jwt.sign_claims(claims, stranger))
    assert forged.nats["issuer_account"] == nats_jwt.decode(app).subject
    assert not nats_jwt.signed_by(forged, nats_jwt.decode(app))
    verdict = verify(jwtcheck, [operator, app, forged.token])
    assert verdict["ok"] is False
    assert verdict["tokens"][2]["signed_by_parent"] is False
