# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a secondary's puller tells the operator (whole log lines for an unreachable,
slow or failing primary, for it coming back, for what a pull took) and its
periodic pulling, which start() begins and stop() ends."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now

from cmsgs_acs import replication  # noqa: E402  (client puts the source tree first)
from cmsgs_acs.replication import PrimaryPuller, pack_url  # noqa: E402


def test_a_primary_url_ending_in_a_capital_x_keeps_its_last_letter():
    assert pack_url("http://ACS-BOX", 50) == "http://ACS-BOX/jwt/v1/pack?max=50"


def _messages(caplog):
    return [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name.startswith("cmsgs_acs")]


async def _fake_primary(handler):
    app = web.Application()
    app.router.add_get("/jwt/v1/pack", handler)
    server = TestServer(app)
    await server.start_server()
    return server


def test_a_primary_answering_an_error_is_logged_with_its_status_and_at_most_200_bytes_of_body(
        region, tmp_path, caplog):
    body = "caf\u00e9 ".encode() + b"x" * 300

    async def broken(request):
        return web.Response(status=503, body=body)

    async def scenario():
        server = await _fake_primary(broken)
        try:
            puller = PrimaryPuller(make_service(region, tmp_path / "secondary", primary_url=str(server.make_url("/"))))
            with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
                return puller.url, await puller.pull()
        finally:
            await server.close()

    url, result = run(scenario())
    assert result is None
    assert _messages(caplog) == [
        ("WARNING", "primary %s not reachable (RuntimeError: status 503: caf\ufffd\ufffd %s); "
                    "serving the 0 accounts held here" % (url, "x" * 194)),
    ]


def test_a_primary_slower_than_the_pull_timeout_is_logged_as_not_reachable(region, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(replication, "PULL_TIMEOUT_SECONDS", 0.2)

    async def scenario():
        answer = asyncio.Event()

        async def slow(request):
            await answer.wait()
            return web.Response(body=b"")

        server = await _fake_primary(slow)
        try:
            puller = PrimaryPuller(make_service(region, tmp_path / "secondary", primary_url=str(server.make_url("/"))))
            with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
                result = await asyncio.wait_for(puller.pull(), 2)
            return puller.url, result
        finally:
            answer.set()
            await server.close()

    url, result = run(scenario())
    assert result is None
    assert _messages(caplog) == [
        ("WARNING", "primary %s not reachable (TimeoutError); serving the 0 accounts held here" % url),
    ]


def test_reachable_and_not_reachable_are_each_logged_once_per_change(region, tmp_path, caplog):
    up = {"answer": True}

    async def pack(request):
        return web.Response(body=b"") if up["answer"] else web.Response(status=500, text="down")

    async def scenario():
        server = await _fake_primary(pack)
        try:
            puller = PrimaryPuller(make_service(region, tmp_path / "secondary", primary_url=str(server.make_url("/"))))
            results = []
            with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
                for answer in (True, True, False, False, True, True):
                    up["answer"] = answer
                    results.append(await puller.pull())
            return puller.url, results
        finally:
            await server.close()

    url, results = run(scenario())
    assert results == [{}, {}, None, None, {}, {}]
    assert _messages(caplog) == [
        ("INFO", "primary %s reachable" % url),
        ("WARNING", "primary %s not reachable (RuntimeError: status 500: down); serving the 0 accounts held here"
         % url),
        ("INFO", "primary %s reachable" % url),
    ]


@pytest.mark.parametrize(("kinds", "counts", "summary"), [
    (["malformed", "foreign"], {"refused": 2}, "pull from the primary: refused 2"),
    (["good", "foreign"], {"stored": 1, "refused": 1}, "pull from the primary: refused 1, stored 1"),
])
def test_what_a_pull_took_or_refused_is_logged_naming_the_primary(region, foreign_region, tmp_path, caplog,
                                                                  kinds, counts, summary):
    good, foreign = new_account(), new_account()
    lines = {
        "good": ("%s|%s" % (good.public_key, region.mint(good, issued_at=now() + 1))).encode(),
        "foreign": ("%s|%s" % (foreign.public_key, foreign_region.mint(foreign, issued_at=now() + 1))).encode(),
        "malformed": b"no separator here",
    }

    async def pack(request):
        return web.Response(body=b"\n".join(lines[kind] for kind in kinds) + b"\n")

    async def scenario():
        server = await _fake_primary(pack)
        try:
            puller = PrimaryPuller(make_service(region, tmp_path / "secondary", primary_url=str(server.make_url("/"))))
            with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
                return await puller.pull()
        finally:
            await server.close()

    assert run(scenario()) == counts
    messages = _messages(caplog)
    assert messages[-1] == ("INFO", summary)
    refusals = [message for level, message in messages if level == "WARNING"]
    if "malformed" in kinds:
        assert "ignoring a malformed pack line from primary" in refusals
    assert any(message.startswith("not taking the JWT of %s from primary: " % foreign.public_key)
               for message in refusals), refusals


def test_started_pulls_take_new_accounts_until_stopped(region, tmp_path):
    primary = make_service(region, tmp_path / "primary")
    first, later = new_account(), new_account()

    async def until_held(service, pub):
        for _attempt in range(200):
            if pub in service.store.entries:
                return True
            await asyncio.sleep(0.01)
        return False

    async def scenario():
        async with running(primary) as client:
            secondary = make_service(region, tmp_path / "secondary", primary_url=str(client.make_url("/")))
            puller = PrimaryPuller(secondary)
            puller.start(0.02)
            for account in (first,):
                response = await client.post("/jwt/v1/accounts/%s" % account.public_key,
                                             data=region.mint(account, issued_at=now() + 1))
                assert response.status in (200, 201)
            took_first = await until_held(secondary, first.public_key)
            await puller.stop()
            response = await client.post("/jwt/v1/accounts/%s" % later.public_key,
                                         data=region.mint(later, issued_at=now() + 1))
            assert response.status in (200, 201)
            await asyncio.sleep(0.2)
            return took_first, sorted(secondary.store.entries)

    took_first, held = run(scenario())
    assert took_first
    assert held == [first.public_key]


def test_stopping_a_puller_that_never_started_does_nothing(region, tmp_path):
    puller = PrimaryPuller(make_service(region, tmp_path / "secondary", primary_url="http://127.0.0.1:9"))
    assert run(puller.stop()) is None
