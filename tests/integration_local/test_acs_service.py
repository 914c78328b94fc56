# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account server with real processes: nats-server resolving accounts
through it, pushes as nsc sends them, live limits, crashes, secondaries.

Run: python -m pytest tests/integration_local/test_acs_service.py
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.tests.integration_local.acs_processes import (
    Acs,
    NatsServer,
    build_wheel_lib,
    nsc_push,
    url_resolver,
    wait_on_nats,
    wait_until,
)
from ansible_collections.cmsgs.nats.tests.unit.acs.region import Region, new_account, now, write_config
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary

nats = pytest.importorskip("nats")
pytest.importorskip("aiohttp")

NATS_SERVER = nats_server_binary()
pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server binary not found")
CLIENT_TIMEOUT = 5


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return build_wheel_lib(tmp_path_factory.mktemp("acs-wheel"))


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    return Region(tmp_path_factory.mktemp("acs-region"))


@pytest.fixture
def processes():
    started = []
    yield started
    for process in reversed(started):
        process.stop()


def start(processes, process, **kwargs):
    processes.append(process)
    return process.start(**kwargs)


async def _connect(url, creds):
    return await nats.connect(url, user_credentials=str(creds), connect_timeout=CLIENT_TIMEOUT,
                              allow_reconnect=False, max_reconnect_attempts=0)


async def _round_trip(client):
    subscription = await client.subscribe("orders.created")
    await client.publish("orders.created", b"order 42")
    await client.flush(timeout=CLIENT_TIMEOUT)
    return (await subscription.next_msg(timeout=CLIENT_TIMEOUT)).data


def admitted(url, creds) -> bytes:
    async def scenario():
        client = await _connect(url, creds)
        try:
            return await _round_trip(client)
        finally:
            await client.close()
    return asyncio.run(asyncio.wait_for(scenario(), 4 * CLIENT_TIMEOUT))


def test_a_user_of_an_account_pushed_as_nsc_does_is_admitted(lib, region, tmp_path, processes):
    server_port = NatsServer(NATS_SERVER, tmp_path, region).port  # reserve a port for the server
    acs = start(processes, Acs(lib, tmp_path, region, nats_urls=["nats://127.0.0.1:%d" % server_port]))
    # HTTP serves while NATS is not there yet.
    status, body, _headers = nsc_push(acs.url + "/jwt/v1", region.app_pub, region.app.entity.jwt_path)
    assert (status, body) == (200, b"")
    server = start(processes, NatsServer(NATS_SERVER, tmp_path, region, port=server_port,
                                         resolver=url_resolver(acs)))
    assert admitted(server.url, region.app_creds) == b"order 42"
    # The service connects to NATS by itself once the server is up.
    wait_on_nats(acs, "ACS connected to NATS")


def test_a_pushed_connection_limit_applies_without_a_restart(lib, region, tmp_path, processes):
    account = new_account()
    acs = Acs(lib, tmp_path, region)
    server = NatsServer(NATS_SERVER, tmp_path, region, resolver=url_resolver(acs))
    acs.config["nats_urls"] = [server.url]
    write_config(acs.config_path, acs.config)
    start(processes, acs)
    assert acs.post(account.public_key, region.mint(account, issued_at=now() - 10))[0] == 200
    start(processes, server)
    creds = region.user_creds(account, "worker", tmp_path)
    wait_on_nats(acs, "ACS connected to NATS")

    async def scenario():
        first = await _connect(server.url, creds)
        second = await _connect(server.url, creds)
        await second.close()
        assert acs.post(account.public_key, region.mint(account, limits={"conn": 1}))[0] == 200

        async def refused():
            try:
                extra = await _connect(server.url, creds)
            except Exception as exc:
                return str(exc) or exc.__class__.__name__
            await extra.close()
            return None
        deadline = time.monotonic() + 10
        reason = None
        while reason is None and time.monotonic() < deadline:
            reason = await refused()
            if reason is None:
                await asyncio.sleep(0.1)
        assert reason is not None, "a second connection was still admitted 10 s after the push"
        assert await _round_trip(first) == b"order 42"
        await first.close()
        return reason

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert "maximum account active connections exceeded" in server.log()
    wait_until(lambda: "update applied by 1 servers (nats)" in acs.log(), 5, what="the applied count in the log")
    # The real server's reply is counted where a user looks for it.
    assert acs.metric('cmsgs_acs_notification_acks_total{outcome="applied"}') == 1
    assert acs.metric('cmsgs_acs_pushes_total{result="stored"}') == 2


def test_the_service_serves_on_uvloop_and_on_the_standard_loop_without_it(lib, region, tmp_path, processes):
    """uvloop (a dependency on Linux) is the loop that serves; without it the service still runs."""
    account = new_account()
    token = region.mint(account)
    for name, uvloop, loop in (("fast", True, "uvloop"), ("plain", False, "asyncio")):
        acs = start(processes, Acs(lib, tmp_path, region, name=name, uvloop=uvloop))
        assert "event loop %s)" % loop in acs.log(), acs.log()
        assert acs.post(account.public_key, token)[0] == 200
        assert acs.get(account.public_key)[1] == token.encode()


def test_kill_9_during_a_burst_of_pushes_loses_no_acknowledged_push(lib, region, tmp_path, processes):
    accounts = [new_account() for _index in range(6)]
    base = now()
    acknowledged = {}  # pub -> last token that got 200
    stop = threading.Event()
    acs = start(processes, Acs(lib, tmp_path, region))

    def pusher(index):
        account = accounts[index]
        sequence = 0
        while not stop.is_set():
            sequence += 1
            token = region.mint(account, limits={"conn": sequence}, issued_at=base + sequence)
            try:
                status = acs.post(account.public_key, token)[0]
            except OSError:
                return  # the server was killed mid-request
            if status == 200:
                acknowledged[account.public_key] = token

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(len(accounts))]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) == len(accounts) and
               len(os.listdir(acs.store_dir)) >= len(accounts), 20, what="pushes under way")
    time.sleep(0.5)
    acs.kill9()
    stop.set()
    for thread in threads:
        thread.join(10)

    for name in os.listdir(acs.store_dir):
        path = os.path.join(acs.store_dir, name)
        if name.startswith(".tmp-"):
            continue  # an interrupted write; never read as an account
        decoded = nats_jwt.decode(open(path).read(), expected_kind=nats_jwt.ACCOUNT, check_times=False)
        assert name == decoded.subject + ".jwt"
    restarted = Acs(lib, tmp_path, region, listen_port=acs.port)
    start(processes, restarted)
    for pub, token in acknowledged.items():
        status, body, _headers = restarted.get(pub)
        assert status == 200
        served = nats_jwt.decode(body.decode(), check_times=False)
        promised = nats_jwt.decode(token, check_times=False)
        # Every acknowledged push is there (or a later one of the same pusher,
        # sent before the kill and written but not yet answered).
        assert served.claims["iat"] >= promised.claims["iat"]
    assert not [n for n in os.listdir(restarted.store_dir) if n.startswith(".tmp-")]


def test_a_secondary_serves_the_primary_accounts_and_keeps_servers_going_without_it(lib, region, tmp_path,
                                                                                    processes):
    accounts = {a.public_key: region.mint(a, name="A%d" % i) for i, a in enumerate(new_account() for _index in range(12))}
    primary = start(processes, Acs(lib, tmp_path, region, name="primary"))
    assert primary.post(region.app_pub, region.app_token)[0] == 200
    for pub, token in accounts.items():
        assert primary.post(pub, token)[0] == 200
    secondary = start(processes, Acs(lib, tmp_path, region, name="secondary", primary_url=primary.url,
                                     sync_interval_seconds=0.5))
    for pub, token in list(accounts.items()) + [(region.app_pub, region.app_token)]:
        status, body, _headers = secondary.get(pub)
        assert (status, body.decode()) == (200, token)
    assert secondary.post(region.app_pub, region.app_token)[0] == 405

    late = new_account()
    late_token = region.mint(late, name="LATE")
    assert primary.post(late.public_key, late_token)[0] == 200
    wait_until(lambda: secondary.get(late.public_key)[0] == 200, 10, what="the late account on the secondary")
    primary.stop()

    assert secondary.get(late.public_key)[1].decode() == late_token
    server = start(processes, NatsServer(NATS_SERVER, tmp_path, region, resolver=url_resolver(secondary)))
    assert admitted(server.url, region.app_creds) == b"order 42"
    assert admitted(server.url, region.user_creds(late, "late-user", tmp_path)) == b"order 42"
    wait_until(lambda: "not reachable" in secondary.log(), 10, what="the secondary noticing the primary is down")


def test_full_resolver_servers_and_the_service_exchange_packs(lib, region, tmp_path, processes):
    """The pack hash protocol both ways: the server's store fills from the
    service, and an account only the server has reaches the service."""
    pushed = new_account()
    only_on_server = new_account()
    only_token = region.mint(only_on_server, name="ONLY")
    acs = Acs(lib, tmp_path, region, sync_interval_seconds=1)
    resolver_dir = tmp_path / "full-resolver"
    server = NatsServer(NATS_SERVER, tmp_path, region, name="full",
                        resolver={"type": "full", "dir": str(resolver_dir), "interval": "1s"},
                        preload={region.sys_pub: open(region.sys_jwt_path).read().strip(),
                                 only_on_server.public_key: only_token})
    acs.config["nats_urls"] = [server.url]
    write_config(acs.config_path, acs.config)
    start(processes, acs)
    assert acs.post(pushed.public_key, region.mint(pushed, name="PUSHED"))[0] == 200
    start(processes, server)
    wait_until((resolver_dir / (pushed.public_key + ".jwt")).exists, 20,
               what="the pushed account in the full resolver's store")
    wait_until(lambda: acs.get(only_on_server.public_key)[0] == 200 and
               os.path.exists(os.path.join(acs.store_dir, only_on_server.public_key + ".jwt")), 20,
               what="the server's account in the service's store")
    assert admitted(server.url, region.user_creds(pushed, "p", tmp_path)) == b"order 42"


def _acs_with_server(lib, region, tmp_path, processes, **config):
    """A service notifying a URL-resolver server that resolves through it."""
    acs = Acs(lib, tmp_path, region, **config)
    server = NatsServer(NATS_SERVER, tmp_path, region, resolver=url_resolver(acs))
    acs.config["nats_urls"] = [server.url]
    write_config(acs.config_path, acs.config)
    start(processes, acs)
    start(processes, server)
    wait_on_nats(acs, "ACS connected to NATS")
    return acs, server


def test_the_service_answers_pack_and_lookup_requests(lib, region, tmp_path, processes):
    import hashlib
    acs, server = _acs_with_server(lib, region, tmp_path, processes)
    accounts = {a.public_key: region.mint(a) for a in (new_account() for _index in range(3))}
    for pub, token in accounts.items():
        assert acs.post(pub, token)[0] == 200

    async def pack(client, payload):
        inbox = client.new_inbox()
        subscription = await client.subscribe(inbox)
        await client.publish("$SYS.REQ.CLAIMS.PACK", payload, reply=inbox)
        messages = []
        while True:
            message = await subscription.next_msg(timeout=2)
            if not message.data:
                return messages
            messages.append(message.data.decode())

    async def scenario():
        client = await _connect(server.url, region.sys_creds)
        try:
            everything = await pack(client, b"")
            assert dict(m.split("|", 1) for m in everything) == accounts
            ours = 0
            for token in accounts.values():
                ours ^= int.from_bytes(hashlib.sha256(token.encode()).digest(), "big")
            assert await pack(client, ours.to_bytes(32, "big")) == []
            assert len(await pack(client, b"\0" * 32)) == 3
            pub, token = next(iter(accounts.items()))
            reply = await client.request("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP" % pub, b"", timeout=2)
            assert reply.data.decode() == token
        finally:
            await client.close()
    asyncio.run(asyncio.wait_for(scenario(), 30))
    # ?notify=true publishes the stored JWT again.
    pub = next(iter(accounts))
    marker = "account %s: update" % pub
    wait_until(lambda: acs.log().count(marker) == 1, 5, what="the push's notification")
    assert acs.get(pub + "?notify=true")[0] == 200
    wait_until(lambda: acs.log().count(marker) == 2, 5, what="the repeated notification")


def test_the_service_reconnects_after_the_server_restarts(lib, region, tmp_path, processes):
    acs, server = _acs_with_server(lib, region, tmp_path, processes)
    account = new_account()
    assert acs.post(account.public_key, region.mint(account, issued_at=now() - 5))[0] == 200
    server.stop()
    wait_until(lambda: acs.metric("cmsgs_acs_nats_connected") == 0, 10, what="ACS noticing the loss")
    # Pushes and reads go on while NATS is away.
    assert acs.post(account.public_key, region.mint(account, limits={"conn": 4}))[0] == 200
    assert acs.get(account.public_key)[0] == 200
    server.start()
    wait_until(lambda: acs.metric("cmsgs_acs_nats_connected") == 1, 20, what="ACS reconnected")
    wait_until(lambda: "changed while NATS was away; notifying now" in acs.log(), 5, what="the deferred notification")


def test_a_secondary_on_nats_takes_a_push_to_the_primary_at_once(lib, region, tmp_path, processes):
    """With NATS, a change reaches the secondary by the primary's notification,
    long before its next pull (the sync interval here is an hour)."""
    primary, server = _acs_with_server(lib, region, tmp_path, processes)
    secondary = Acs(lib, tmp_path, region, name="secondary", primary_url=primary.url,
                    nats_urls=[server.url], sync_interval_seconds=3600)
    start(processes, secondary)
    wait_on_nats(secondary, "secondary on NATS")
    account = new_account()
    token = region.mint(account, name="FRESH")
    assert primary.post(account.public_key, token)[0] == 200
    wait_until(lambda: secondary.get(account.public_key)[1] == token.encode(), 5,
               what="the push on the secondary")
    wait_until(lambda: "taken by 1 account server peers" in primary.log(), 5, what="the peer's answer")


def test_an_account_missing_here_is_looked_up_over_nats_and_not_stored(lib, region, tmp_path, processes):
    acs, server = _acs_with_server(lib, region, tmp_path, processes, sync_interval_seconds=3600)
    account = new_account()
    token = region.mint(account, name="ELSEWHERE")
    other = Acs(lib, tmp_path, region, name="other", nats_urls=[server.url], sync_interval_seconds=3600)
    os.makedirs(other.store_dir)
    with open(os.path.join(other.store_dir, account.public_key + ".jwt"), "w") as handle:
        handle.write(token)
    start(processes, other)
    wait_on_nats(other, "the other instance on NATS")
    status, body, headers = acs.get(account.public_key)
    assert (status, body.decode()) == (200, token)
    assert not os.path.exists(os.path.join(acs.store_dir, account.public_key + ".jwt"))
    started = time.monotonic()
    assert acs.get(new_account().public_key)[0] == 404
    assert time.monotonic() - started < 3


def test_the_service_reaches_tls_servers_with_a_private_ca(lib, region, tmp_path, processes):
    from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import Pki
    pki = Pki(tmp_path)
    cert, key, _cert, _key = pki.leaf("nats", sans=("127.0.0.1",))
    acs = Acs(lib, tmp_path, region, nats_tls_ca_path=pki.ca_path)
    server = NatsServer(NATS_SERVER, tmp_path, region, resolver=url_resolver(acs),
                        extra={"tls": {"cert_file": cert, "key_file": key}})
    acs.config["nats_urls"] = ["tls://127.0.0.1:%d" % server.port]
    write_config(acs.config_path, acs.config)
    start(processes, acs)
    start(processes, server)
    wait_on_nats(acs, "ACS connected over TLS")
    account = new_account()
    assert acs.post(account.public_key, region.mint(account))[0] == 200
    wait_until(lambda: "account %s: update" % account.public_key in acs.log(), 5, what="the notification")
