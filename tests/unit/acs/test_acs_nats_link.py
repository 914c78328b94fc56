# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When the NATS link calls itself connected: only once the server has confirmed its subscriptions.

The order of a connect, the subscriptions and their confirmation is what
these tests pin down, so the client is a scripted stand-in; the service
against a real nats-server is in tests/integration_local/test_acs_service.py.
"""

from __future__ import annotations

import asyncio
import json
import types

from ansible_collections.cmsgs.nats.tests.unit.acs.client import no_backoff, real_sleep, run, until
from ansible_collections.cmsgs.nats.tests.unit.acs.region import use_source_tree
from ansible_collections.cmsgs.nats.tests.unit.acs.scripted_nats import ScriptedNats

use_source_tree()

from cmsgs_acs import nats_link  # noqa: E402


def _scripted(timeouts):
    """Connected from the start; flush() times out `timeouts` times, then waits for client.flush_gate."""
    return ScriptedNats(None, flush_timeouts=timeouts, flush_gate=asyncio.Event())


def _subjects(client):
    return [subject for subject, _subscription in client.subscriptions]


def _link(monkeypatch, client, is_secondary=False):
    async def connect(**_options):
        return client

    monkeypatch.setattr(nats_link.nats, "connect", connect)
    monkeypatch.setattr(nats_link.asyncio, "sleep", no_backoff)
    service = types.SimpleNamespace(config=types.SimpleNamespace(is_secondary=is_secondary), store=None)
    return nats_link.NatsLink(service, ["nats://127.0.0.1:4222"], "/nonexistent.creds", sync_interval=3600)


def test_connected_only_after_the_server_confirmed_the_subscriptions(monkeypatch):
    client = _scripted(timeouts=0)
    link = _link(monkeypatch, client)

    async def scenario():
        link.start()
        await until(lambda: client.flushes == 1)
        before = (_subjects(client), link.connected)
        client.flush_gate.set()
        await until(lambda: link.connected)
        await link.stop()
        return before

    subjects, connected_before = run(scenario())
    assert subjects == [nats_link.LOOKUP_WILDCARD, nats_link.PACK_SUBJECT, nats_link.UPDATE_WILDCARD,
                        nats_link.PUSH_SUBJECT]
    assert connected_before is False


def test_an_unconfirmed_flush_is_retried_and_a_secondary_takes_no_pushes(monkeypatch):
    client = _scripted(timeouts=2)
    link = _link(monkeypatch, client, is_secondary=True)

    async def scenario():
        link.start()
        await until(lambda: client.flushes == 3)
        before = link.connected
        client.flush_gate.set()
        await until(lambda: link.connected)
        await link.stop()
        return before

    assert run(scenario()) is False
    assert nats_link.PUSH_SUBJECT not in _subjects(client)
    assert client.flushes == 4  # two failed round trips, then the two that confirm


def test_a_lost_connection_is_not_connected_even_with_subscriptions_confirmed(monkeypatch):
    client = _scripted(timeouts=0)
    client.flush_gate.set()
    link = _link(monkeypatch, client)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        client.is_connected = False
        lost = link.connected
        await link.stop()
        return lost

    assert run(scenario()) is False


def test_a_failed_connect_is_retried_with_a_growing_wait_and_http_keeps_serving(monkeypatch, caplog):
    async def refused(**_options):
        raise OSError("refused")

    link = _link(monkeypatch, None)
    monkeypatch.setattr(nats_link.nats, "connect", refused)
    link.urls = ["nats://a:4222", "nats://b:4222"]

    async def scenario():
        link.start()
        await until(lambda: len(caplog.messages) >= 2)
        await link.stop()

    run(scenario())
    assert caplog.messages[:2] == [
        "NATS at nats://a:4222, nats://b:4222 not reachable (OSError: refused); retrying in %d s, HTTP keeps serving"
        % wait for wait in (1, 2)]
    assert link.connected is False


class SlowSubscriptionServer:
    """Enough of the NATS protocol for nats-py, over a real socket, in the order a server works.

    It reads the stream line by line and answers a PING at once, but takes a
    moment over each SUB: a PONG then proves only that the commands before
    the PING were processed, as on a real server under load.
    """

    def __init__(self):
        self.subjects = []
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return "nats://127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        info = {"server_id": "slow-subs", "version": "2.10.0", "proto": 1, "max_payload": 1048576,
                "headers": True, "nonce": "bm9uY2U"}
        writer.write(b"INFO " + json.dumps(info).encode() + b"\r\n")
        while line := await reader.readline():
            if line.startswith(b"PING"):
                writer.write(b"PONG\r\n")
            elif line.startswith(b"SUB "):
                await real_sleep(0.05)
                self.subjects.append(line.split()[1].decode())
            await writer.drain()
        writer.close()

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()


def test_connected_means_a_real_server_has_processed_every_subscription(region):
    # nats-py writes a flush's PING straight to the socket, ahead of the SUBs
    # still in its buffer: a single flush would make the link "connected"
    # before the server knows the subscriptions that answer lookups.
    fake = SlowSubscriptionServer()
    service = types.SimpleNamespace(config=types.SimpleNamespace(is_secondary=False), store=None)

    async def scenario():
        url = await fake.start()
        link = nats_link.NatsLink(service, [url], region.sys_creds, sync_interval=3600)
        link.start()
        for _turn in range(500):
            if link.connected:
                break
            await real_sleep(0.01)
        known_when_connected = list(fake.subjects)
        await link.stop()
        await fake.stop()
        return link.connected, known_when_connected

    _connected, known = run(scenario())
    assert known == [nats_link.LOOKUP_WILDCARD, nats_link.PACK_SUBJECT, nats_link.UPDATE_WILDCARD,
                     nats_link.PUSH_SUBJECT]
