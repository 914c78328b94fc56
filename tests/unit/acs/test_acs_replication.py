# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A secondary pulls the primary's pack: it takes what is newer and valid, never
loses or rolls back an account, and serves what it has while the primary is away."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now

from cmsgs_acs.replication import PrimaryPuller, pack_url  # noqa: E402  (client puts the source tree first)


@pytest.mark.parametrize(("primary_url", "expected"), [
    ("http://acs-1:9090", "http://acs-1:9090/jwt/v1/pack?max=50"),
    ("http://acs-1:9090/", "http://acs-1:9090/jwt/v1/pack?max=50"),
    ("https://acs.example/jwt/v1", "https://acs.example/jwt/v1/pack?max=50"),
    ("https://acs.example/jwt/v1/", "https://acs.example/jwt/v1/pack?max=50"),
])
def test_the_pack_url_is_built_from_the_primary_url(primary_url, expected):
    assert pack_url(primary_url, 50) == expected


def _secondary(region, tmp_path, url, name="secondary"):
    return make_service(region, tmp_path / name, primary_url=url)


async def _post(client, pub, token):
    response = await client.post("/jwt/v1/accounts/%s" % pub, data=token)
    assert response.status in (200, 201), await response.text()


def test_a_pull_takes_the_primarys_accounts_and_a_second_pull_takes_nothing(region, tmp_path):
    primary = make_service(region, tmp_path / "primary")
    first, second = new_account(), new_account()

    async def scenario():
        async with running(primary) as client:
            await _post(client, first.public_key, region.mint(first, issued_at=now() + 1))
            await _post(client, second.public_key, region.mint(second, issued_at=now() + 1))
            secondary = _secondary(region, tmp_path, str(client.make_url("/")))
            puller = PrimaryPuller(secondary)
            taken = await puller.pull()
            again = await puller.pull()
            return secondary, taken, again

    secondary, taken, again = run(scenario())
    assert taken == {"stored": 2}
    assert again == {"unchanged": 2}
    assert secondary.store.entries[first.public_key].data == primary.store.entries[first.public_key].data
    assert secondary.store.entries[second.public_key].data == primary.store.entries[second.public_key].data


def test_a_pull_never_rolls_back_a_newer_account(region, tmp_path):
    primary = make_service(region, tmp_path / "primary")
    account = new_account()
    older = region.mint(account, limits={"conn": 5}, issued_at=now() + 1)
    newer = region.mint(account, limits={"conn": 9}, issued_at=now() + 60)

    async def scenario():
        async with running(primary) as client:
            await _post(client, account.public_key, older)
            secondary = _secondary(region, tmp_path, str(client.make_url("/")))
            async with running(secondary) as secondary_client:
                # Only the store's owner takes pushes: save the newer one directly.
                assert await secondary.merge(account.public_key, newer.encode(), "test") == "stored"
                counts = await PrimaryPuller(secondary).pull()
                response = await secondary_client.get("/jwt/v1/accounts/%s" % account.public_key)
                return counts, await response.text()

    counts, served = run(scenario())
    assert counts == {"unchanged": 1}
    assert served == newer


def test_a_pack_line_that_is_not_valid_is_refused_and_the_others_are_taken(region, foreign_region, tmp_path):
    good, foreign = new_account(), new_account()
    lines = [
        ("%s|%s" % (good.public_key, region.mint(good, issued_at=now() + 1))).encode(),
        ("%s|%s" % (foreign.public_key, foreign_region.mint(foreign, issued_at=now() + 1))).encode(),
        b"no separator here",
    ]

    async def pack(request):
        assert request.query["max"] == "10000"
        return web.Response(body=b"\n".join(lines) + b"\n")

    async def scenario():
        app = web.Application()
        app.router.add_get("/jwt/v1/pack", pack)
        server = TestServer(app)
        await server.start_server()
        try:
            secondary = _secondary(region, tmp_path, str(server.make_url("/")))
            return secondary, await PrimaryPuller(secondary).pull()
        finally:
            await server.close()

    secondary, counts = run(scenario())
    assert counts == {"stored": 1, "refused": 2}
    assert good.public_key in secondary.store.entries
    assert foreign.public_key not in secondary.store.entries


@pytest.mark.parametrize("failure", ["status 500", "unreachable"])
def test_without_the_primary_a_pull_keeps_every_account_and_says_so_once(region, tmp_path, caplog, failure):
    account = new_account()

    async def broken(request):
        return web.Response(status=500, text="store on fire")

    async def scenario():
        app = web.Application()
        app.router.add_get("/jwt/v1/pack", broken)
        server = TestServer(app)
        await server.start_server()
        url = str(server.make_url("/"))
        if failure == "unreachable":
            await server.close()
        try:
            secondary = _secondary(region, tmp_path, url)
            assert await secondary.merge(account.public_key, region.mint(account, issued_at=now() + 1).encode(),
                                         "test") == "stored"
            puller = PrimaryPuller(secondary)
            with caplog.at_level(logging.INFO, logger="cmsgs_acs.replication"):
                results = [await puller.pull(), await puller.pull()]
            return secondary, results
        finally:
            await server.close()

    secondary, results = run(scenario())
    assert results == [None, None]
    assert account.public_key in secondary.store.entries
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "not reachable" in warnings[0] and "serving the 1 accounts held here" in warnings[0]
    if failure == "status 500":
        assert "status 500: store on fire" in warnings[0]


def test_the_primary_coming_back_is_logged_and_its_accounts_are_taken(region, tmp_path, caplog):
    primary = make_service(region, tmp_path / "primary")
    account = new_account()

    async def scenario():
        async with running(primary) as client:
            url = str(client.make_url("/"))
            secondary = _secondary(region, tmp_path, url)
            puller = PrimaryPuller(secondary)
            # The primary away first: the puller points at a closed port.
            puller.url = pack_url("http://127.0.0.1:9", 10000)
            with caplog.at_level(logging.INFO, logger="cmsgs_acs.replication"):
                away = await puller.pull()
                await _post(client, account.public_key, region.mint(account, issued_at=now() + 1))
                puller.url = pack_url(url, 10000)
                back = await puller.pull()
            return secondary, away, back

    secondary, away, back = run(scenario())
    assert away is None
    assert back == {"stored": 1}
    assert account.public_key in secondary.store.entries
    messages = [record.getMessage() for record in caplog.records]
    assert any("not reachable" in message for message in messages)
    assert any(message.endswith("reachable") and "not" not in message for message in messages)
    assert any("pull from the primary: stored 1" in message for message in messages)
