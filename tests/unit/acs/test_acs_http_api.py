# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every route of the HTTP API, its statuses, headers and bodies."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


def test_the_probe_answers_200_empty_on_both_paths(region, store_dir):
    async def scenario(client):
        for path in ("/jwt/v1/accounts/", "/jwt/v1/accounts"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 200
            assert await response.read() == b""
            assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
            assert response.headers["Pragma"] == "no-cache"
            assert response.headers["Expires"] == "0"
    run(_with(region, store_dir, scenario))


async def _with(region, store_dir, scenario, **extra):
    service = make_service(region, store_dir, **extra)
    async with running(service) as client:
        return await scenario(client)


def test_a_pushed_account_is_served_with_its_etag(region, store_dir):
    async def scenario(client):
        path = "/jwt/v1/accounts/" + region.app_pub
        assert (await client.get(path)).status == 404
        response = await client.post(path, data=region.app_token.encode(), headers={"Content-Type": "application/jwt"})
        assert response.status == 200, await response.text()
        assert await response.read() == b""
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "application/jwt"
        assert (await response.read()).decode() == region.app_token
        jti = json.loads(_payload(region.app_token))["jti"]
        assert response.headers["ETag"] == '"%s"' % jti
        cached = await client.get(path, headers={"If-None-Match": 'W/"x", "%s"' % jti})
        assert cached.status == 304
        assert "ETag" not in cached.headers
        assert (await client.get(path, headers={"If-None-Match": '"other"'})).status == 200
        text = await client.get(path + "?text=true")
        assert text.content_type == "text/plain"
        assert (await text.text()) == region.app_token
        decoded = await (await client.get(path + "?decode=true")).text()
        assert '"alg": "ed25519-nkey"' in decoded and '"sub": "%s"' % region.app_pub in decoded
        assert (await client.get(path + "?check=true")).status == 200
        no_nats = await client.get(path + "?notify=true")
        assert no_nats.status == 500 and "nats_urls is empty" in await no_nats.text()
        jti_lookup = await client.get(path + "?jti=" + jti)
        assert jti_lookup.status == 501
        assert "no longer supported" in await jti_lookup.text()
    run(_with(region, store_dir, scenario))
    assert (store_dir / (region.app_pub + ".jwt")).read_text() == region.app_token


def _payload(token):
    import base64
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_an_unknown_account_is_404_with_a_reason(region, store_dir):
    async def scenario(client):
        unknown = new_account().public_key
        response = await client.get("/jwt/v1/accounts/" + unknown)
        assert response.status == 404
        assert response.content_type == "text/plain"
        assert "no matching account JWT for %s" % unknown in await response.text()
        assert (await client.get("/jwt/v1/accounts/not-a-key")).status == 404
    run(_with(region, store_dir, scenario))


def test_check_true_is_404_for_an_expired_account_that_is_still_served(region, store_dir):
    account = new_account()
    token = region.mint(account, issued_at=now() - 100, expires=now() - 10)
    os.makedirs(store_dir)
    (store_dir / (account.public_key + ".jwt")).write_text(token)

    async def scenario(client):
        path = "/jwt/v1/accounts/" + account.public_key
        assert (await client.get(path)).status == 200
        expired = await client.get(path + "?check=true")
        assert expired.status == 404
        assert await expired.read() == b""
        pack = await (await client.get("/jwt/v1/pack")).read()
        assert account.public_key.encode() not in pack
    run(_with(region, store_dir, scenario))


def test_the_system_account_is_served_from_its_file_until_pushed(region, store_dir):
    async def scenario(client):
        response = await client.get("/jwt/v1/accounts/" + region.sys_pub)
        assert response.status == 200
        assert (await response.text()) == open(region.sys_jwt_path).read().strip()
    run(_with(region, store_dir, scenario))


def test_the_operator_is_served_on_v1_and_nothing_on_v2(region, store_dir):
    async def scenario(client):
        response = await client.get("/jwt/v1/operator")
        assert response.status == 200
        assert response.content_type == "application/jwt"
        assert (await response.text()) == region.operator_token
        assert (await client.get("/jwt/v1/operator?text=true")).content_type == "text/plain"
        assert '"type": "operator"' in await (await client.get("/jwt/v1/operator?decode=true")).text()
        v2 = await client.get("/jwt/v2/operator")
        assert v2.status == 404
    run(_with(region, store_dir, scenario))


def test_pack_lists_accounts_and_checks_max(region, store_dir):
    accounts = [new_account() for _index in range(3)]
    tokens = {a.public_key: region.mint(a, name="A%d" % i) for i, a in enumerate(accounts)}

    async def scenario(client):
        for pub, token in tokens.items():
            assert (await client.post("/jwt/v1/accounts/" + pub, data=token)).status == 200
        body = await (await client.get("/jwt/v1/pack")).text()
        assert not body.endswith("\n")
        lines = dict(line.split("|", 1) for line in body.split("\n"))
        assert lines == tokens
        assert len((await (await client.get("/jwt/v1/pack?max=2")).text()).split("\n")) == 2
        assert (await (await client.get("/jwt/v1/pack?max=0")).read()) == b""
        assert len((await (await client.get("/jwt/v1/pack?max=-1")).text()).split("\n")) == 3
        bad = await client.get("/jwt/v1/pack?max=x")
        assert bad.status == 400 and 'bad max parameter "x"' in await bad.text()
        above = await client.get("/jwt/v1/pack?max=11")
        assert above.status == 400 and "no more than 10 are allowed" in await above.text()
    run(_with(region, store_dir, scenario, pack_max=10))


def test_healthz_help_metrics_and_router_defaults(region, store_dir):
    async def scenario(client):
        health = await client.get("/healthz")
        assert health.status == 200 and await health.read() == b""
        help_text = await (await client.get("/jwt/v1/help")).text()
        assert "POST /jwt/v1/accounts/<account>" in help_text and region.operator_key in help_text
        assert (await client.post("/jwt/v1/accounts/" + region.app_pub, data=region.app_token)).status == 200
        await client.get("/jwt/v1/accounts/" + new_account().public_key)
        put = await client.put("/jwt/v1/accounts/" + region.app_pub, data=b"x")
        assert put.status == 405 and "POST" in put.headers["Allow"]
        assert (await client.get("/nowhere")).status == 404
        metrics = await client.get("/metrics")
        assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await metrics.text()
        assert 'cmsgs_acs_http_requests_total{route="healthz",status="200"} 1' in text
        assert 'cmsgs_acs_http_requests_total{route="account",status="404"} 1' in text
        assert 'cmsgs_acs_http_requests_total{route="account_push",status="200"} 1' in text
        assert 'cmsgs_acs_pushes_total{result="stored"} 1' in text
        assert "cmsgs_acs_store_accounts 1" in text
        assert "cmsgs_acs_store_bytes %d" % len(region.app_token) in text
    run(_with(region, store_dir, scenario))


def test_every_answer_is_counted_once_by_route_and_status_and_the_router_keeps_its_own(region, store_dir):
    """/metrics counts each answer under its route; the router's 404 and 405 count as "unknown"."""
    path = "/jwt/v1/accounts/" + region.app_pub
    jti = json.loads(_payload(region.app_token))["jti"]

    async def scenario(client):
        assert (await client.post(path, data=region.app_token)).status == 200
        assert (await client.post(path, data=b"garbage")).status == 400
        for _index in range(3):
            assert (await client.get(path)).status == 200
        head = await client.head(path)
        assert head.status == 200 and head.headers["ETag"] == '"%s"' % jti
        assert (await client.get(path, headers={"If-None-Match": '"%s"' % jti})).status == 304
        assert (await client.get(path + "?text=true")).status == 200
        assert (await client.get("/jwt/v1/accounts/" + new_account().public_key)).status == 404
        assert (await client.get("/jwt/v1/pack?max=x")).status == 400
        # What the router answers by itself: the Allow header names every
        # method the path has, the bodies are aiohttp's.
        for method, where, allow in (("PUT", path, "GET,HEAD,POST"), ("DELETE", path, "GET,HEAD,POST"),
                                     ("POST", "/healthz", "GET,HEAD"), ("PUT", "/jwt/v1/accounts/", "GET,HEAD"),
                                     ("DELETE", "/metrics", "GET,HEAD")):
            refused = await client.request(method, where)
            assert refused.status == 405 and refused.headers["Allow"] == allow, (method, where)
            assert await refused.text() == "405: Method Not Allowed"
        for where in ("/nowhere", path + "/extra", "/jwt/v2/operator", "/jwt/v1/operator/", "/a%0Ab", "/"):
            missing = await client.get(where)
            assert missing.status == 404 and await missing.text() == "404: Not Found", where
        assert (await client.head("/nowhere")).status == 404
        text = await (await client.get("/metrics")).text()
        return sorted(line for line in text.splitlines() if line.startswith("cmsgs_acs_http_requests_total{"))
    counted = run(_with(region, store_dir, scenario))
    assert counted == sorted([
        'cmsgs_acs_http_requests_total{route="account",status="200"} 5',
        'cmsgs_acs_http_requests_total{route="account",status="304"} 1',
        'cmsgs_acs_http_requests_total{route="account",status="404"} 1',
        'cmsgs_acs_http_requests_total{route="account_push",status="200"} 1',
        'cmsgs_acs_http_requests_total{route="account_push",status="400"} 1',
        'cmsgs_acs_http_requests_total{route="pack",status="400"} 1',
        'cmsgs_acs_http_requests_total{route="unknown",status="404"} 7',
        'cmsgs_acs_http_requests_total{route="unknown",status="405"} 5',
    ])


def test_the_store_is_private(region, store_dir):
    async def scenario(client):
        assert (await client.post("/jwt/v1/accounts/" + region.app_pub, data=region.app_token)).status == 200
    run(_with(region, store_dir, scenario))
    assert stat.S_IMODE(os.stat(store_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store_dir / (region.app_pub + ".jwt")).st_mode) == 0o600
    assert sorted(os.listdir(store_dir)) == [region.app_pub + ".jwt"]


def test_a_restart_keeps_every_account(region, store_dir):
    accounts = [new_account() for _index in range(5)]
    tokens = {a.public_key: region.mint(a) for a in accounts}

    async def push(client):
        for pub, token in tokens.items():
            assert (await client.post("/jwt/v1/accounts/" + pub, data=token)).status == 200

    async def read(client):
        for pub, token in tokens.items():
            assert (await (await client.get("/jwt/v1/accounts/" + pub)).text()) == token
    run(_with(region, store_dir, push))
    run(_with(region, store_dir, read))


def test_a_secondary_refuses_pushes_and_names_the_primary(region, store_dir):
    async def scenario(client):
        response = await client.post("/jwt/v1/accounts/" + region.app_pub, data=region.app_token)
        assert response.status == 405
        assert response.headers["Allow"] == "GET"
        assert "push to the primary at http://127.0.0.1:1" in await response.text()
    run(_with(region, store_dir, scenario, primary_url="http://127.0.0.1:1"))
    assert not os.path.exists(store_dir / (region.app_pub + ".jwt"))


def test_leftover_temporary_files_are_removed_and_strangers_ignored(region, store_dir):
    os.makedirs(store_dir)
    (store_dir / ".tmp-abc").write_text("half a JWT")
    stranger = new_account().public_key
    (store_dir / (stranger + ".jwt")).write_text(region.app_token)  # subject is another account
    (store_dir / "notes.txt").write_text("hello")

    async def scenario(client):
        assert (await client.get("/jwt/v1/accounts/" + stranger)).status == 404
    run(_with(region, store_dir, scenario))
    assert not (store_dir / ".tmp-abc").exists()
    assert (store_dir / "notes.txt").exists()


def test_a_body_that_does_not_arrive_in_time_is_408(region, store_dir):
    import asyncio

    async def scenario(client):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(("POST /jwt/v1/accounts/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\neyJ"
                      % region.app_pub).encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        rest = await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        assert b"did not arrive within 0.5 seconds" in rest
    run(_with(region, store_dir, scenario, request_timeout_seconds=0.5))
    assert not os.path.exists(store_dir / (region.app_pub + ".jwt"))
