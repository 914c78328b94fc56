# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the NATS link says and hears: the claim update it publishes and how it
counts the servers' replies, its answers to lookups and pack requests (with
the store hash), its own lookups and the pack it asks the peers for.

As in test_acs_link_life_nats.py the NATS client is a scripted stand-in that
delivers replies to the inbox the link subscribed; the service, its store and
the JWTs are real.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
import os
import re
import socket
import time
import types

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, until
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree
from ansible_collections.cmsgs.nats.tests.unit.acs.scripted_nats import URL, ScriptedNats

use_source_tree()

from cmsgs_acs import nats_link  # noqa: E402
from nats.errors import ConnectionClosedError, NoRespondersError, TimeoutError as NatsTimeout  # noqa: E402


def _scripted_nats(replies=None, unsubscribe_fails=False):
    """The scripted client as these tests use it: no server URL."""
    return ScriptedNats(None, replies, unsubscribe_fails=unsubscribe_fails)


def _link(monkeypatch, region, tmp_path, client):
    async def connect(**_options):
        return client

    monkeypatch.setattr(nats_link.nats, "connect", connect)
    monkeypatch.setattr(nats_link, "ACK_WINDOW_SECONDS", 0.001)
    monkeypatch.setattr(nats_link, "PACK_MESSAGE_TIMEOUT_SECONDS", 0.05)
    service = make_service(region, tmp_path / "store", nats_urls=[URL])
    service.nats = nats_link.NatsLink(service, [URL], service.config.sys_creds_path, 3600)
    return service, service.nats


def _records(caplog):
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "cmsgs_acs.nats"]


def _metric_lines(service, family):
    text = service.metrics.render(service.store, service.nats_connected, service.version)
    return [line for line in text.splitlines() if line.startswith(family + "{")]


def _msg(subject, data, reply=""):
    return types.SimpleNamespace(subject=subject, data=data, reply=reply)


APPLIED = b'{"server": {"name": "n1"}, "data": {"code": 200, "message": "jwt updated"}}'
SKIPPED = b'{"server": {"name": "n2"}, "data": {"code": 200, "message": "jwt update skipped"}}'
FAILED = b'{"server": {"name": "n3"}, "error": {"code": 500, "description": "jwt update resulted in error"}}'
PEER = b'{"server": {"name": "cmsgs-acs"}, "data": {"code": 200, "message": "Updated jwt"}}'
NAMELESS = b'{"data": {"code": 200}}'
NOT_JSON = b"not json"
A_LIST = b"[1, 2]"
NULL_PARTS = b'{"server": null, "data": null}'


@pytest.mark.parametrize("replies, summary, acknowledgements", [
    ([], "applied by 0 servers, skipped by 0 (account not loaded), failed on 0; taken by 0 account server peers", []),
    ([APPLIED, SKIPPED, FAILED, PEER, NAMELESS, NOT_JSON, A_LIST, NULL_PARTS],
     "applied by 3 servers (n1, ?, ?), skipped by 1 (account not loaded), failed on 3 (n3, ?, ?); "
     "taken by 1 account server peers",
     ['cmsgs_acs_notification_acks_total{outcome="applied"} 3',
      'cmsgs_acs_notification_acks_total{outcome="failed"} 3',
      'cmsgs_acs_notification_acks_total{outcome="peer"} 1',
      'cmsgs_acs_notification_acks_total{outcome="skipped"} 1']),
])
@pytest.mark.parametrize("unsubscribe_fails", [False, True])
def test_a_claim_update_is_published_with_an_inbox_and_the_replies_are_counted_in_the_log(
        monkeypatch, caplog, region, tmp_path, replies, summary, acknowledgements, unsubscribe_fails):
    caplog.set_level(logging.INFO, "cmsgs_acs.nats")
    account = new_account()
    token = region.mint(account).encode("ascii")
    subject = nats_link.UPDATE_SUBJECT % account.public_key
    client = _scripted_nats({subject: replies}, unsubscribe_fails=unsubscribe_fails)
    service, link = _link(monkeypatch, region, tmp_path, client)
    line = ("INFO", "account %s: update %s" % (account.public_key, summary))

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await service.push(account.public_key, token)
        await until(lambda: line in _records(caplog))
        await link.stop()

    run(scenario())
    assert client.published[0] == (subject, token, "_INBOX.test.1")
    assert client.subscriptions[4][0] == "_INBOX.test.1"
    assert client.subscriptions[4][1].unsubscribed
    assert _records(caplog)[1:] == [line]
    assert _metric_lines(service, "cmsgs_acs_notifications_total") == ['cmsgs_acs_notifications_total{outcome="sent"} 1']
    assert _metric_lines(service, "cmsgs_acs_notification_acks_total") == acknowledgements


def test_failed_claim_updates_are_warned_counted_and_sent_again_on_reconnect(monkeypatch, caplog, region, tmp_path):
    accounts = [new_account(), new_account()]
    tokens = [region.mint(account).encode("ascii") for account in accounts]
    client = _scripted_nats()
    client.flush_error = ConnectionClosedError()
    service, link = _link(monkeypatch, region, tmp_path, client)
    warned = [("WARNING", "account %s: notification failed (nats: connection closed); will retry on reconnect"
               % account.public_key) for account in accounts]

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        for account, token in zip(accounts, tokens):
            await service.push(account.public_key, token)
        await until(lambda: all(line in _records(caplog) for line in warned))
        client.flush_error = None
        await link._on_reconnected()
        await until(lambda: len(client.published) == 4)
        await link.stop()

    run(scenario())
    assert sorted(_records(caplog)[-2:]) == sorted(warned)
    assert sorted(published[:2] for published in client.published) == sorted(
        [(nats_link.UPDATE_SUBJECT % account.public_key, token) for account, token in zip(accounts, tokens)] * 2)
    # Each notification is counted once, as it failed and as it was sent again.
    assert _metric_lines(service, "cmsgs_acs_notifications_total") == [
        'cmsgs_acs_notifications_total{outcome="failed"} 2', 'cmsgs_acs_notifications_total{outcome="sent"} 2']
    assert client.subscriptions[4][1].unsubscribed


def _stored(service, region, count):
    accounts = [new_account() for _turn in range(count)]
    tokens = [region.mint(account).encode("ascii") for account in accounts]

    async def store():
        for account, token in zip(accounts, tokens):
            assert await service.merge(account.public_key, token, "test") == "stored"

    run(store())
    return accounts, tokens


def test_a_pack_request_is_answered_by_the_store_hash_unless_it_matches_and_never_without_inbox(
        monkeypatch, region, tmp_path):
    client = _scripted_nats()
    service, link = _link(monkeypatch, region, tmp_path, client)
    accounts, tokens = _stored(service, region, 2)
    lines = sorted(account.public_key.encode("ascii") + b"|" + token for account, token in zip(accounts, tokens))
    link.client = client

    async def scenario():
        on_pack = link._on_pack_request
        await on_pack(_msg(nats_link.PACK_SUBJECT, service.store.pack_hash(), "_INBOX.same"))
        await on_pack(_msg(nats_link.PACK_SUBJECT, bytes(32), "_INBOX.other"))
        await on_pack(_msg(nats_link.PACK_SUBJECT, b""))
        await on_pack(_msg(nats_link.PACK_SUBJECT, service.store.pack_hash()))

    run(scenario())
    assert client.published == [("_INBOX.same", b"", "")] + [("_INBOX.other", line, "") for line in lines] + [
        ("_INBOX.other", b"", "")]


def test_a_lookup_is_answered_only_with_a_reply_inbox_and_only_for_a_known_account(monkeypatch, region, tmp_path):
    client = _scripted_nats()
    service, link = _link(monkeypatch, region, tmp_path, client)
    accounts, tokens = _stored(service, region, 1)
    link.client = client

    async def scenario():
        known = nats_link.LOOKUP_SUBJECT % accounts[0].public_key
        await link._on_lookup(_msg(known, b""))
        await link._on_lookup(_msg(nats_link.LOOKUP_SUBJECT % new_account().public_key, b"", "_INBOX.unknown"))
        await link._on_lookup(_msg(known, b"", "_INBOX.known"))

    run(scenario())
    assert client.published == [("_INBOX.known", tokens[0], "")]


@pytest.mark.parametrize("answer, found, logged", [
    (NatsTimeout(), False, []),
    (NoRespondersError(), False, []),
    (asyncio.TimeoutError(), False, []),
    (ConnectionClosedError(), False, [("DEBUG", "lookup of {pub} over NATS failed: nats: connection closed")]),
    (b"", False, []),
    ("foreign", False, []),
    ("other account", False, []),
    ("good", True, []),
])
def test_a_lookup_over_nats_gives_a_checked_jwt_of_that_account_or_nothing(
        monkeypatch, caplog, region, foreign_region, tmp_path, answer, found, logged):
    caplog.set_level(logging.DEBUG, "cmsgs_acs.nats")
    account = new_account()
    token = region.mint(account).encode("ascii")
    client = _scripted_nats()
    client.request_answer = {"good": token + b"\n", "foreign": foreign_region.mint(account).encode("ascii"),
                             "other account": region.mint(new_account()).encode("ascii")}.get(answer, answer)
    _service, link = _link(monkeypatch, region, tmp_path, client)
    link.client = client

    result = run(link.lookup(account.public_key))
    assert result == (token if found else None)
    assert client.requests == [(nats_link.LOOKUP_SUBJECT % account.public_key, b"", 1.0)]
    assert _records(caplog) == [(level, text.format(pub=account.public_key)) for level, text in logged]


def test_a_pack_from_a_peer_is_asked_with_our_hash_merged_and_logged(monkeypatch, caplog, region, tmp_path):
    caplog.set_level(logging.INFO, "cmsgs_acs.nats")
    client = _scripted_nats()
    service, link = _link(monkeypatch, region, tmp_path, client)
    (mine,), (my_token,) = _stored(service, region, 1)
    ours = service.store.pack_hash()
    theirs = [new_account() for _turn in range(3)]
    lines = [account.public_key.encode("ascii") + b"|" + region.mint(account).encode("ascii") for account in theirs]
    mine_line = mine.public_key.encode("ascii") + b"|" + my_token
    late = new_account()
    client.replies[nats_link.PACK_SUBJECT] = [lines[0], lines[1] + b"\n" + lines[2] + b"\n" + mine_line, b"",
                                              late.public_key.encode("ascii") + b"|" + region.mint(late).encode()]
    link.client = client

    counts = run(link.request_pack())
    assert counts == {"stored": 3, "unchanged": 1}
    assert client.published[0] == (nats_link.PACK_SUBJECT, ours, "_INBOX.test.1")
    assert client.subscriptions[0][1].unsubscribed
    assert sorted(pub for pub in service.store.entries) == sorted(a.public_key for a in theirs + [mine])
    assert _records(caplog) == [("INFO", "pack over NATS: stored 3, unchanged 1")]
    # /metrics names where the JWTs came from.
    assert _metric_lines(service, "cmsgs_acs_merges_total") == [
        'cmsgs_acs_merges_total{source="nats-pack",result="stored"} 3',
        'cmsgs_acs_merges_total{source="nats-pack",result="unchanged"} 1',
        'cmsgs_acs_merges_total{source="test",result="stored"} 1']  # the account stored first, by the test


@pytest.mark.parametrize("messages, counts", [
    ([], {}),
    ([b""], {}),
    (["mine"], {"unchanged": 1}),
])
@pytest.mark.parametrize("unsubscribe_fails", [False, True])
def test_a_pack_without_news_merges_nothing_and_logs_nothing(
        monkeypatch, caplog, region, tmp_path, messages, counts, unsubscribe_fails):
    caplog.set_level(logging.INFO, "cmsgs_acs.nats")
    client = _scripted_nats(unsubscribe_fails=unsubscribe_fails)
    service, link = _link(monkeypatch, region, tmp_path, client)
    (mine,), (my_token,) = _stored(service, region, 1)
    mine_line = mine.public_key.encode("ascii") + b"|" + my_token
    client.replies[nats_link.PACK_SUBJECT] = [mine_line if m == "mine" else m for m in messages]
    link.client = client

    assert run(link.request_pack()) == counts
    assert client.subscriptions[0][1].unsubscribed
    assert _records(caplog) == []


@pytest.fixture
def tokyo_clock(monkeypatch):
    """The local time zone is UTC+9, so that a local time cannot pass for UTC."""
    monkeypatch.setenv("TZ", "UTC-09")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_answers_to_claim_updates_carry_the_server_block_nsc_needs_and_data_or_error(
        monkeypatch, region, tmp_path, tokyo_clock):
    client = _scripted_nats()
    service, link = _link(monkeypatch, region, tmp_path, client)
    account = new_account()
    token = region.mint(account).encode("ascii")
    subject = nats_link.UPDATE_SUBJECT % account.public_key
    link.client = client

    async def scenario():
        await link._on_peer_update(_msg(subject, token, "_INBOX.a"))
        await link._on_peer_update(_msg(subject, b"junk", "_INBOX.b"))

    run(scenario())
    answers = [(reply, json.loads(payload.decode("utf-8"))) for reply, payload, _headers in client.published]
    for seq, (_reply, answer) in enumerate(answers, 1):
        server = answer.pop("server")
        moment = server.pop("time")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", moment)
        assert abs(calendar.timegm(time.strptime(moment, "%Y-%m-%dT%H:%M:%SZ")) - time.time()) < 5
        assert server == {"name": "cmsgs-acs", "host": socket.gethostname(),
                          "id": "cmsgs-acs-%s-%d" % (socket.gethostname(), os.getpid()),
                          "ver": service.version, "seq": seq}
    assert answers == [
        ("_INBOX.a", {"data": {"code": 200, "account": account.public_key, "message": "Updated jwt"}}),
        ("_INBOX.b", {"error": {"code": 500, "account": account.public_key, "description": "jwt not taken: refused"}})]


@pytest.mark.parametrize("body, account, code, text", [
    ("expired", "pub", 400, "jwt update refused - The server was unable to update your account JWT. One or more "
                            "validation issues occurred.\n\t - claim is expired (exp "),
    ("padded", "pub", 200, "jwt updated (jti "),
    (b"\xff\xfe not ascii", "n/a", 400, "jwt update refused - bad JWT in request: the body is not ASCII text"),
    (b"not.a.jwt", "n/a", 400, "jwt update refused - bad JWT in request: the JWT header is not JSON: "),
])
def test_a_push_over_nats_is_answered_for_the_account_its_jwt_names_even_when_refused(
        monkeypatch, region, tmp_path, body, account, code, text):
    client = _scripted_nats()
    _service, link = _link(monkeypatch, region, tmp_path, client)
    pushed = new_account()
    body = {"expired": region.mint(pushed, issued_at=now() - 7200, expires=now() - 3600).encode("ascii"),
            "padded": b"  " + region.mint(pushed).encode("ascii") + b"\r\n"}.get(body, body)
    link.client = client

    run(link._on_push(_msg(nats_link.PUSH_SUBJECT, body, "_INBOX.nsc")))
    (reply, payload, _headers), = client.published
    answer = json.loads(payload.decode("utf-8"))
    part = answer["data" if code == 200 else "error"]
    assert (reply, part["code"], part["account"]) == ("_INBOX.nsc", code,
                                                      pushed.public_key if account == "pub" else account)
    assert part["message" if code == 200 else "description"].startswith(text)
