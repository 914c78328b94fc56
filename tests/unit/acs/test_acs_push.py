# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""POST /jwt/v1/accounts/<pub>: what is stored, what is refused, and that a
refusal leaves the store byte for byte as it was."""

from __future__ import annotations

import logging

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running, snapshot
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now


@pytest.fixture(scope="module")
def account():
    return new_account()


def _bad_requests(region, foreign_region, account):
    """name -> (path account, body, status, words the reason must hold)."""
    user = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.USER))
    user_claims = nats_jwt.build_claims(nats_jwt.USER, "u", user.public_key, account.public_key,
                                        {"pub": {}, "sub": {}})
    user_token = nats_jwt.sign_claims(user_claims, account)
    other = new_account()
    self_signed = nats_jwt.sign_claims(
        nats_jwt.build_claims(nats_jwt.ACCOUNT, "S", account.public_key, account.public_key, {}), account)
    tampered = region.mint(account, limits={"conn": 5}, issued_at=now() + 5)
    head, payload, signature = tampered.split(".")
    forged = region.mint(account, limits={"conn": 999}, issued_at=now() + 5).split(".")[1]
    return {
        "another operator's JWT": (account.public_key, foreign_region.mint(account, issued_at=now() + 5), 400,
                                   "untrusted issuer"),
        "a user JWT": (account.public_key, user_token, 400, "expected an account JWT, found a user JWT"),
        "subject differs from path": (other.public_key, region.mint(account, issued_at=now() + 5), 400,
                                      "pub keys don't match"),
        "older iat": (account.public_key, region.mint(account, issued_at=now() - 3600), 409,
                      "is older"),
        "expired": (account.public_key, region.mint(account, issued_at=now() + 5, expires=now() - 1), 400,
                    "expired"),
        "not yet valid": (account.public_key, region.mint(account, issued_at=now() + 5, not_before=now() + 3600),
                          400, "not yet valid"),
        "self-signed account": (account.public_key, self_signed, 400, "Bad JWT Issuer"),
        "bad signature": (account.public_key, ".".join((head, forged, signature)), 400, "signature"),
        "oversized body": (account.public_key, "x" * 70000, 413, "max_body_bytes"),
        "garbage": (account.public_key, "not a jwt at all", 400, "bad JWT in request"),
        "empty body": (account.public_key, "", 400, "empty"),
        "binary body": (account.public_key, b"\xff\xfe\x00", 400, "bad JWT in request"),
    }


@pytest.mark.parametrize("case", [
    "another operator's JWT", "a user JWT", "subject differs from path", "older iat", "expired",
    "not yet valid", "self-signed account", "bad signature", "oversized body", "garbage", "empty body",
    "binary body",
])
def test_a_bad_push_is_refused_and_changes_nothing(region, foreign_region, account, tmp_path, case, caplog):
    store_dir = tmp_path / "store"
    stored = region.mint(account, name="ACC", issued_at=now() - 60)
    path_pub, body, status, words = _bad_requests(region, foreign_region, account)[case]
    service = make_service(region, store_dir, max_body_bytes=65536)

    async def scenario():
        async with running(service) as client:
            assert (await client.post("/jwt/v1/accounts/" + account.public_key, data=stored)).status == 200
            before = snapshot(store_dir)
            data = body.encode() if isinstance(body, str) else body
            response = await client.post("/jwt/v1/accounts/" + path_pub, data=data)
            text = await response.text()
            assert response.status == status, text
            assert response.content_type == "text/plain"
            assert words in text
            assert snapshot(store_dir) == before
            served = await client.get("/jwt/v1/accounts/" + account.public_key)
            assert (await served.text()) == stored
            return text

    with caplog.at_level(logging.INFO, logger="cmsgs_acs.push"):
        run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "cmsgs_acs.push"]
    assert lines[-1].startswith("push account=%s result=refused status=%d reason=" % (path_pub, status))


def test_the_same_jwt_again_is_200_and_changes_nothing(region, account, tmp_path):
    store_dir = tmp_path / "store"
    token = region.mint(account, issued_at=now() - 10)
    service = make_service(region, store_dir)

    async def scenario():
        async with running(service) as client:
            assert (await client.post("/jwt/v1/accounts/" + account.public_key, data=token)).status == 200
            before = snapshot(store_dir)
            again = await client.post("/jwt/v1/accounts/" + account.public_key, data=token + "\n")
            assert again.status == 200
            assert snapshot(store_dir) == before
    run(scenario())
    assert service.metrics.pushes == {"stored": 1, "unchanged": 1}


def test_a_newer_jwt_replaces_the_stored_one_and_the_same_second_counts_as_newer(region, account, tmp_path):
    store_dir = tmp_path / "store"
    issued = now() - 100
    first = region.mint(account, issued_at=issued)
    same_second = region.mint(account, limits={"conn": 3}, issued_at=issued)
    newer = region.mint(account, limits={"conn": 1}, issued_at=issued + 1)
    service = make_service(region, store_dir)

    async def scenario():
        async with running(service) as client:
            for token in (first, same_second, newer):
                response = await client.post("/jwt/v1/accounts/" + account.public_key, data=token)
                assert response.status == 200, await response.text()
                assert (store_dir / (account.public_key + ".jwt")).read_text() == token
            older = await client.post("/jwt/v1/accounts/" + account.public_key, data=first)
            assert older.status == 409
            assert "issued at %d" % (issued + 1) in await older.text()
    run(scenario())


def test_a_push_signed_by_the_operator_identity_key_is_accepted(region, tmp_path):
    from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import load_key
    identity = load_key(region.paths, region.operator_key)
    account = new_account()
    token = region.mint(account, signer=identity)
    service = make_service(region, tmp_path / "store")

    async def scenario():
        async with running(service) as client:
            assert (await client.post("/jwt/v1/accounts/" + account.public_key, data=token)).status == 200
    run(scenario())


def test_no_log_line_holds_a_seed(region, account, tmp_path, caplog):
    service = make_service(region, tmp_path / "store")
    creds = open(region.sys_creds).read()
    seed = nats_jwt.parse_creds(creds)[1]

    async def scenario():
        async with running(service) as client:
            await client.post("/jwt/v1/accounts/" + account.public_key, data=creds)
            await client.post("/jwt/v1/accounts/" + account.public_key, data=seed)
            await client.post("/jwt/v1/accounts/" + seed, data=region.mint(account))
            await client.post("/jwt/v1/accounts/" + account.public_key, data=region.mint(account))

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "push account=" in text
    assert seed not in text and "SU" + seed[2:10] not in text


def test_an_oversized_chunked_body_is_413_too(region, account, tmp_path):
    service = make_service(region, tmp_path / "store", max_body_bytes=4096)

    async def body():
        for _index in range(10):
            yield b"x" * 1024

    async def scenario():
        async with running(service) as client:
            response = await client.post("/jwt/v1/accounts/" + account.public_key, data=body())
            assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert response.status == 413
            assert "max_body_bytes (4096 bytes)" in await response.text()
    run(scenario())
    assert service.store.get(account.public_key) is None
