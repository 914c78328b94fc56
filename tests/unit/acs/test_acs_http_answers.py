# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exact answers of the HTTP API: whole bodies, content types and headers
of the account, operator, pack, help and push routes, the query flags, the
?notify=true refusals, the body size limit and the push log line of a body
that came too late; against a real nats-server, the lookup of an account this
store lacks and the notification ?notify=true publishes."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import subprocess
import time

import nats
import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary

from cmsgs_acs.nats_link import LOOKUP_SUBJECT, UPDATE_SUBJECT, NatsLink  # noqa: E402  (client puts the source tree first)


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


async def _with(service, scenario):
    async with running(service) as client:
        return await scenario(client)


def _serve(region, store_dir, scenario, **extra):
    return run(_with(make_service(region, store_dir, **extra), scenario))


def _section(token, index):
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _jti(token):
    return _section(token, 1)["jti"]


async def _push(client, region):
    response = await client.post("/jwt/v1/accounts/" + region.app_pub, data=region.app_token)
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("flag, turned_on", [
    *[pytest.param(flag, True, id="%s-turns-it-on" % flag) for flag in ["true", "1", "yes", "TRUE", "Yes"]],
    *[pytest.param(flag, False, id="%s-leaves-it-off" % (flag or "empty")) for flag in ["false", "0", "no", "", "on"]],
])
def test_every_spelling_of_true_turns_a_query_flag_on_and_any_other_value_leaves_it_off(region, store_dir, flag, turned_on):
    async def scenario(client):
        await _push(client, region)
        response = await client.get("/jwt/v1/accounts/%s?text=%s" % (region.app_pub, flag))
        assert response.status == 200
        assert response.headers["Content-Type"] == ("text/plain" if turned_on else "application/jwt")
        # Only the content type tells the two apart: both bodies are the JWT itself.
        assert await response.text() == region.app_token
    _serve(region, store_dir, scenario)


def test_a_query_answer_carries_the_etag_and_no_cache_and_honours_if_none_match(region, store_dir):
    path = "/jwt/v1/accounts/" + region.app_pub
    etag = '"%s"' % _jti(region.app_token)

    async def scenario(client):
        await _push(client, region)
        response = await client.get(path + "?check=true")
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/jwt"
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == "no-cache"
        assert await response.text() == region.app_token
        cached = await client.get(path + "?text=true", headers={"If-None-Match": etag})
        assert cached.status == 304
        assert await cached.read() == b""
        other = await client.get(path + "?text=true", headers={"If-None-Match": '"another-jti"'})
        assert other.status == 200 and await other.text() == region.app_token
    _serve(region, store_dir, scenario)


def test_decode_shows_the_header_and_the_claims_as_json_indented_by_four(region, store_dir):
    claims = _section(region.app_token, 1)
    expected = ('{\n    "typ": "JWT",\n    "alg": "ed25519-nkey"\n}\n'
                + json.dumps(claims, indent=4) + "\n")

    async def scenario(client):
        await _push(client, region)
        response = await client.get("/jwt/v1/accounts/%s?decode=true" % region.app_pub)
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await response.text() == expected
    _serve(region, store_dir, scenario)


def test_the_operator_decoded_is_its_header_and_claims_as_plain_text(region, store_dir):
    claims = _section(region.operator_token, 1)
    expected = '{\n    "typ": "JWT",\n    "alg": "ed25519-nkey"\n}\n' + json.dumps(claims, indent=4) + "\n"

    async def scenario(client):
        response = await client.get("/jwt/v1/operator?decode=1")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await response.text() == expected
    _serve(region, store_dir, scenario)


def test_refusals_of_an_account_get_are_whole_plain_text_lines(region, store_dir):
    unknown = new_account().public_key

    async def scenario(client):
        missing = await client.get("/jwt/v1/accounts/" + unknown)
        assert missing.status == 404
        assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await missing.text() == "no matching account JWT for %s\n" % unknown
        jti = await client.get("/jwt/v1/accounts/%s?jti=abc" % unknown)
        assert jti.status == 501
        assert await jti.text() == "lookup by jti is no longer supported\n"
        notify = await client.get("/jwt/v1/accounts/%s?notify=true" % region.app_pub)
        assert notify.status == 500
        assert await notify.text() == "error sending notification of change: nats_urls is empty\n"
    run(_with(_pushed_service(region, store_dir), scenario))


def _pushed_service(region, store_dir, **extra):
    service = make_service(region, store_dir, **extra)
    run(_with(service, lambda client: _push(client, region)))
    return service


def test_notify_while_nats_is_down_is_500_and_nothing_is_queued(region, store_dir):
    """nats_urls is set but the link is not connected: the notification is refused, not deferred."""
    service = _pushed_service(region, store_dir)
    service.nats = NatsLink(service, ["nats://127.0.0.1:1"], region.sys_creds, sync_interval=3600)

    async def scenario(client):
        response = await client.get("/jwt/v1/accounts/%s?notify=true" % region.app_pub)
        assert response.status == 500
        assert await response.text() == "error sending notification of change: NATS is not connected\n"
        metrics = await (await client.get("/metrics")).text()
        assert "cmsgs_acs_notifications_total{" not in metrics
        assert "cmsgs_acs_nats_connected 0\n" in metrics
    run(_with(service, scenario))


@pytest.mark.parametrize("query, status, body", [
    ("max=", 200, None),
    ("max=1", 200, 1),
    ("max=2", 200, 2),
    ("max=0", 200, 0),
    ("max=x", 400, 'bad max parameter "x": give a whole number\n'),
    ("max=11", 400, 'bad max parameter "11", no more than 10 are allowed\n'),
])
def test_a_pack_answers_plain_text_lines_or_a_whole_refusal(region, store_dir, query, status, body):
    accounts = sorted((new_account() for _index in range(3)), key=lambda account: account.public_key)
    tokens = [region.mint(account, name="P%d" % index) for index, account in enumerate(accounts)]
    lines = ["%s|%s" % (account.public_key, token) for account, token in zip(accounts, tokens)]

    async def scenario(client):
        for account, token in zip(accounts, tokens):
            assert (await client.post("/jwt/v1/accounts/" + account.public_key, data=token)).status == 200
        response = await client.get("/jwt/v1/pack?" + query)
        assert response.status == status
        assert response.headers["Content-Type"].startswith("text/plain")
        expected = body if isinstance(body, str) else "\n".join(lines if body is None else lines[:body])
        assert await response.text() == expected
    _serve(region, store_dir, scenario, pack_max=10)


HELP_POST = ("POST /jwt/v1/accounts/<account>   store an account JWT (the body), as `nsc push` sends it;\n"
             "                                  400 bad or untrusted JWT, 409 older than the stored one, "
             "413 too large%s\n"
             "GET  /jwt/v1/operator ")


@pytest.mark.parametrize("primary_url, note", [
    ("", ""),
    ("http://acs-1:9090", "\n                                  (405 here: this is a secondary, push to http://acs-1:9090)"),
])
def test_help_names_the_server_and_on_a_secondary_the_primary(region, store_dir, primary_url, note):
    service = make_service(region, store_dir, primary_url=primary_url)

    async def scenario(client):
        response = await client.get("/jwt/v1/help")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        text = await response.text()
        assert text.startswith("cmsgs-acs %s: account server for NATS operator REGION1 (%s)\n\n"
                               % (service.version, region.operator_key))
        assert HELP_POST % note in text
    run(_with(service, scenario))


def test_a_body_of_exactly_max_body_bytes_is_read_and_one_more_byte_is_413(region, store_dir):
    path = "/jwt/v1/accounts/" + region.app_pub

    async def scenario(client):
        at_limit = await client.post(path, data=b"x" * 4096)
        assert at_limit.status == 400
        assert "Allow" not in at_limit.headers
        above = await client.post(path, data=b"x" * 4097)
        assert above.status == 413
        assert await above.text() == ("the body is larger than max_body_bytes (4096 bytes); "
                                      "an account JWT is a few kilobytes\n")
    _serve(region, store_dir, scenario, max_body_bytes=4096)


def test_a_late_body_is_408_logged_once_and_counted_as_refused(region, store_dir, caplog):
    async def scenario(client):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(("POST /jwt/v1/accounts/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\neyJ"
                      % region.app_pub).encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
        metrics = await (await client.get("/metrics")).text()
        return answer, metrics
    with caplog.at_level(logging.INFO, logger="cmsgs_acs.push"):
        answer, metrics = _serve(region, store_dir, scenario, request_timeout_seconds=0.1)
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.endswith(b"\r\n\r\nthe request body did not arrive within 0.1 seconds\n")
    assert [r.getMessage() for r in caplog.records if r.name == "cmsgs_acs.push"] == [
        "push account=%s result=refused status=408 reason=the body did not arrive in time" % region.app_pub]
    assert 'cmsgs_acs_pushes_total{result="refused"} 1\n' in metrics


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory):
    """A real nats-server (no auth) on a port it picks itself, for the NATS side of GET."""
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server binary not found")
    log_path = tmp_path_factory.mktemp("nats") / "nats.log"
    process = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", "-1", "-l", str(log_path)])
    try:
        listening = None
        for _attempt in range(400):
            text = log_path.read_text() if log_path.exists() else ""
            if "Server is ready" in text:
                listening = re.search(r"Listening for client connections on (127\.0\.0\.1:\d+)", text)
                break
            assert process.poll() is None, text
            time.sleep(0.025)
        assert listening, "nats-server did not start"
        yield "nats://" + listening.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _with_nats(service, nats_url, region, subject, callback, scenario):
    """The service linked to nats_url (connected, subscriptions confirmed); a test client there
    takes subject with callback, in place on the server before the link starts."""
    other = await nats.connect(nats_url)
    ready = asyncio.Event()

    async def handler(msg):
        if msg.data == b"probe" and not msg.reply:
            ready.set()  # the subscription is in place: its own probe came back
        else:
            await callback(other, msg)
    await other.subscribe(subject, cb=handler)
    while not ready.is_set():
        await other.publish(subject, b"probe")
        await asyncio.wait([asyncio.ensure_future(ready.wait())], timeout=0.2)
    service.nats = NatsLink(service, [nats_url], region.sys_creds, sync_interval=3600)
    service.nats.start()
    try:
        for _turn in range(400):
            if service.nats.connected:
                break
            await asyncio.sleep(0.01)
        assert service.nats.connected
        async with running(service) as client:
            return await scenario(client)
    finally:
        await other.close()
        await service.nats.stop()


def test_an_account_not_stored_is_looked_up_over_nats_and_served_without_being_stored(region, store_dir, nats_url):
    account = new_account()
    token = region.mint(account, name="ELSEWHERE")
    asked = []

    async def answer(other, msg):
        asked.append(msg.subject)
        await other.publish(msg.reply, token.encode())

    async def scenario(client):
        response = await client.get("/jwt/v1/accounts/" + account.public_key)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/jwt"
        assert "ETag" not in response.headers
        assert await response.text() == token
    service = make_service(region, store_dir)
    run(_with_nats(service, nats_url, region, LOOKUP_SUBJECT % account.public_key, answer, scenario))
    assert asked == [LOOKUP_SUBJECT % account.public_key]
    assert not (store_dir / (account.public_key + ".jwt")).exists()


def test_notify_true_publishes_the_stored_jwt_again_over_nats(region, store_dir, nats_url):
    service = _pushed_service(region, store_dir)
    updates = []
    arrived = asyncio.Event()

    async def collect(other, msg):
        updates.append((msg.subject, msg.data))
        arrived.set()

    async def scenario(client):
        response = await client.get("/jwt/v1/accounts/%s?notify=true" % region.app_pub)
        assert response.status == 200
        assert await response.text() == region.app_token
        await asyncio.wait_for(arrived.wait(), 10)
    run(_with_nats(service, nats_url, region, UPDATE_SUBJECT % region.app_pub, collect, scenario))
    assert updates == [(UPDATE_SUBJECT % region.app_pub, region.app_token.encode())]


@pytest.mark.parametrize("primary_url", ["", "http://acs-1:9090"])
def test_a_chunked_body_above_max_body_bytes_is_cut_off_with_413(region, store_dir, primary_url):
    """Without a Content-Length the limit is enforced while reading, before any other check."""
    async def chunks():
        for _index in range(3):
            yield b"x" * 2048

    async def scenario(client):
        response = await client.post("/jwt/v1/accounts/" + region.app_pub, data=chunks())
        assert response.status == 413
        assert await response.text() == ("the body is larger than max_body_bytes (4096 bytes); "
                                         "an account JWT is a few kilobytes\n")
    _serve(region, store_dir, scenario, max_body_bytes=4096, primary_url=primary_url)
