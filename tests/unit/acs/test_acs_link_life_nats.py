# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NATS link's life: how it connects, what it logs on errors, a loss and a
reconnect, the notifications it defers and sends later, the sync loop, the
answers to peer updates and to pushes over NATS, and stop.

As in test_acs_nats_link.py the NATS client is a scripted stand-in (the
callbacks are the ones the link hands to nats.connect, called as nats-py
calls them); the service, its store and the JWTs are real.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import types

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, no_backoff, run, until
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree
from ansible_collections.cmsgs.nats.tests.unit.acs.scripted_nats import URL, ScriptedNats

use_source_tree()

from cmsgs_acs import __version__, nats_link  # noqa: E402


def _connect_with(monkeypatch, *results):
    """nats.connect answers with results in turn (an exception is raised); returns the options it got."""
    options = {}
    queue = list(results)

    async def connect(**given):
        options.update(given)
        result = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(nats_link.nats, "connect", connect)
    return options


def _service_and_link(region, tmp_path, sync_interval=3600, ca_path=""):
    service = make_service(region, tmp_path / "store", nats_urls=[URL])
    service.nats = nats_link.NatsLink(service, service.config.nats_urls, service.config.sys_creds_path,
                                      sync_interval, ca_path)
    return service, service.nats


def _client_link_and_token(monkeypatch, region, tmp_path):
    """A scripted client for nats.connect, the service and its link, and a new account with a JWT of its own."""
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account = new_account()
    return client, service, link, account, region.mint(account).encode("ascii")


def _msg(subject, data, reply=""):
    return types.SimpleNamespace(subject=subject, data=data, reply=reply)


def _answers(client):
    """The answers published to reply inboxes (not the claim update notifications)."""
    return [(subject, json.loads(payload)) for subject, payload, _reply in client.published
            if subject.startswith("_INBOX.")]


def _records(caplog):
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "cmsgs_acs.nats"]


def _metric_lines(service, family):
    text = service.metrics.render(service.store, service.nats_connected, service.version)
    return [line for line in text.splitlines() if line.startswith(family + "{")]


@pytest.mark.parametrize("url, shown", [(URL, "127.0.0.1:4222"), (None, "?")])
def test_connects_as_cmsgs_acs_with_the_sys_user_reconnecting_every_second_forever(
        monkeypatch, caplog, region, tmp_path, url, shown):
    caplog.set_level(logging.INFO, "cmsgs_acs.nats")
    client = ScriptedNats(url)
    options = _connect_with(monkeypatch, client)
    _service, link = _service_and_link(region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await link.stop()

    run(scenario())
    callbacks = {name: options.pop(name) for name in ("error_cb", "disconnected_cb", "reconnected_cb")}
    assert options == {"servers": [URL], "user_credentials": region.sys_creds, "name": "cmsgs-acs", "no_echo": True,
                       "tls": None, "allow_reconnect": True, "max_reconnect_attempts": -1,
                       "reconnect_time_wait": 1, "connect_timeout": 2}
    assert all(callable(callback) for callback in callbacks.values())  # each is exercised below
    assert _records(caplog) == [("INFO", "connected to NATS at %s" % shown)]
    assert client.queues[nats_link.PACK_SUBJECT] == "responder"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="makes its test CA with the openssl command")
def test_a_ca_bundle_is_the_one_trust_anchor_of_the_tls_connection(monkeypatch, region, tmp_path):
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=cmsgs test nats ca", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    options = _connect_with(monkeypatch, ScriptedNats())
    _service, link = _service_and_link(region, tmp_path, ca_path=str(cert))

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await link.stop()

    run(scenario())
    tls = options["tls"]
    assert isinstance(tls, ssl.SSLContext)
    assert tls.verify_mode == ssl.CERT_REQUIRED and tls.check_hostname
    assert [dict(item[0] for item in ca["subject"]) for ca in tls.get_ca_certs()] == [
        {"commonName": "cmsgs test nats ca"}]


def test_an_error_without_text_is_named_by_its_class_in_the_retry_warnings(monkeypatch, caplog, region, tmp_path):
    client = ScriptedNats()
    failures = [TimeoutError()]

    async def flush(timeout=2):
        if failures:
            raise failures.pop()

    client.flush = flush
    _connect_with(monkeypatch, TimeoutError(), client)
    monkeypatch.setattr(nats_link.asyncio, "sleep", no_backoff)
    _service, link = _service_and_link(region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await link.stop()

    run(scenario())
    assert [message for level, message in _records(caplog) if level == "WARNING"] == [
        "NATS at %s not reachable (TimeoutError); retrying in 1 s, HTTP keeps serving" % URL,
        "NATS did not confirm the subscriptions (TimeoutError); retrying in 1 s"]


def test_a_repeated_nats_error_is_warned_at_most_once_a_minute(monkeypatch, caplog, region, tmp_path):
    caplog.set_level(logging.DEBUG, "cmsgs_acs.nats")
    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(nats_link, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    options = _connect_with(monkeypatch, ScriptedNats())
    _service, link = _service_and_link(region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        caplog.clear()
        for moment, exc in [(1000.0, OSError("refused")), (1059.5, OSError("refused")), (1060.0, OSError("refused")),
                            (1061.0, TimeoutError()), (1062.0, TimeoutError())]:
            clock.now = moment
            await options["error_cb"](exc)
        await link.stop()

    run(scenario())
    warned = "NATS: %s (HTTP keeps serving; retrying every second)"
    assert _records(caplog) == [
        ("WARNING", warned % "OSError: refused"), ("DEBUG", "NATS: OSError: refused"),
        ("WARNING", warned % "OSError: refused"), ("WARNING", warned % "TimeoutError"),
        ("DEBUG", "NATS: TimeoutError")]


def test_a_lost_connection_is_warned_and_http_keeps_serving(monkeypatch, caplog, region, tmp_path):
    options = _connect_with(monkeypatch, ScriptedNats())
    _service, link = _service_and_link(region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        caplog.clear()
        await options["disconnected_cb"]()
        await link.stop()

    run(scenario())
    assert _records(caplog) == [("WARNING", "disconnected from NATS; reconnecting, HTTP keeps serving")]


@pytest.mark.parametrize("url, shown", [(URL, "127.0.0.1:4222"), (None, "?")])
def test_accounts_pushed_while_nats_was_away_are_notified_on_reconnect(
        monkeypatch, caplog, region, tmp_path, url, shown):
    caplog.set_level(logging.INFO, "cmsgs_acs.nats")
    client = ScriptedNats(url)
    options = _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account, gone = new_account(), new_account()
    token = region.mint(account, issued_at=now())

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        client.is_connected = False
        status = (await service.push(account.public_key, token.encode("ascii")))[0]
        # Changed while away, but no longer in the store when NATS is back.
        link.notify(types.SimpleNamespace(pub=gone.public_key, data=b"-"))
        deferred = _metric_lines(service, "cmsgs_acs_notifications_total")
        caplog.clear()
        client.is_connected = True
        await options["reconnected_cb"]()
        await until(lambda: client.published)
        await link.stop()
        return status, deferred

    status, deferred = run(scenario())
    assert status == 200
    assert deferred == ['cmsgs_acs_notifications_total{outcome="deferred"} 2']
    assert _records(caplog) == [
        ("INFO", "reconnected to NATS at %s" % shown),
        ("INFO", "account %s changed while NATS was away; notifying now" % account.public_key)]
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert client.published == [(nats_link.UPDATE_SUBJECT % account.public_key, token.encode("ascii"),
                                 "_INBOX.test.1")]


def test_a_push_while_disconnected_is_deferred_with_a_warning(monkeypatch, caplog, region, tmp_path):
    service, link = _service_and_link(region, tmp_path)
    account = new_account()

    async def scenario():
        for issued in (now() - 10, now()):
            await service.push(account.public_key, region.mint(account, issued_at=issued).encode("ascii"))

    run(scenario())
    warning = "account %s: not notified, NATS is not connected; will notify on reconnect" % account.public_key
    assert _records(caplog) == [("WARNING", warning), ("WARNING", warning)]
    assert _metric_lines(service, "cmsgs_acs_notifications_total") == [
        'cmsgs_acs_notifications_total{outcome="deferred"} 2']


def test_a_push_while_connected_is_published_as_a_claim_update_at_once(monkeypatch, region, tmp_path):
    client, service, link, account, token = _client_link_and_token(monkeypatch, region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await service.push(account.public_key, token)
        await until(lambda: client.published)
        await link.stop()

    run(scenario())
    assert client.published == [(nats_link.UPDATE_SUBJECT % account.public_key, token, "_INBOX.test.1")]
    assert client.is_closed


def test_a_failed_pack_request_of_the_sync_loop_is_warned_and_the_loop_goes_on(monkeypatch, caplog, region, tmp_path):
    client = ScriptedNats()
    client.refuse.add(nats_link.PACK_SUBJECT)
    _connect_with(monkeypatch, client)
    _service, link = _service_and_link(region, tmp_path, sync_interval=0.01)
    warned = ("WARNING", "pack request over NATS failed: nats: connection closed")

    async def scenario():
        link.start()
        await until(lambda: _records(caplog).count(warned) >= 2)
        await link.stop()

    run(scenario())
    assert set(_records(caplog)) == {warned}


def _server_part(answer, seq):
    server = answer.pop("server")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", server.pop("time"))
    assert server == {"name": "cmsgs-acs", "host": socket.gethostname(),
                      "id": "cmsgs-acs-%s-%d" % (socket.gethostname(), os.getpid()), "ver": __version__, "seq": seq}
    return answer


def test_a_peer_update_is_stored_and_answered_as_nats_server_answers(monkeypatch, region, foreign_region, tmp_path):
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account = new_account()
    token = region.mint(account).encode("ascii")
    subject = nats_link.UPDATE_SUBJECT % account.public_key

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        on_update = client.callbacks[nats_link.UPDATE_WILDCARD]
        await on_update(_msg(subject, token, "_INBOX.peer.1"))
        await on_update(_msg(subject, token, "_INBOX.peer.2"))
        await on_update(_msg(subject, foreign_region.mint(account, issued_at=now() + 5).encode("ascii"),
                             "_INBOX.peer.3"))
        await link.stop()

    run(scenario())
    answers = _answers(client)
    assert [reply for reply, _answer in answers] == ["_INBOX.peer.1", "_INBOX.peer.2", "_INBOX.peer.3"]
    assert [_server_part(answer, seq) for seq, (_reply, answer) in enumerate(answers, 1)] == [
        {"data": {"code": 200, "account": account.public_key, "message": "Updated jwt"}},
        {"data": {"code": 200, "account": account.public_key, "message": "Updated jwt"}},
        {"error": {"code": 500, "account": account.public_key, "description": "jwt not taken: refused"}}]
    assert service.store.get(account.public_key).data == token
    assert _metric_lines(service, "cmsgs_acs_merges_total") == [
        'cmsgs_acs_merges_total{source="peer",result="refused"} 1',
        'cmsgs_acs_merges_total{source="peer",result="stored"} 1',
        'cmsgs_acs_merges_total{source="peer",result="unchanged"} 1']


def test_a_peer_update_without_reply_inbox_is_stored_silently(monkeypatch, region, tmp_path):
    client, service, link, account, token = _client_link_and_token(monkeypatch, region, tmp_path)

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await client.callbacks[nats_link.UPDATE_WILDCARD](_msg(nats_link.UPDATE_SUBJECT % account.public_key, token))
        await link.stop()

    run(scenario())
    assert client.published == []
    assert service.store.get(account.public_key).data == token


def test_a_push_over_nats_is_stored_and_answered_with_the_http_status(monkeypatch, region, tmp_path):
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account = new_account()
    issued = now()
    token = region.mint(account, issued_at=issued).encode("ascii")
    older = region.mint(account, issued_at=issued - 3600).encode("ascii")

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        on_push = client.callbacks[nats_link.PUSH_SUBJECT]
        for number, body in enumerate((token, older, b"not a jwt at all"), 1):
            await on_push(_msg(nats_link.PUSH_SUBJECT, body, "_INBOX.nsc.%d" % number))
        await link.stop()

    run(scenario())
    claims = service.store.get(account.public_key).claims
    answers = [(reply, _server_part(answer, seq)) for seq, (reply, answer) in enumerate(_answers(client), 1)]
    assert answers[0] == ("_INBOX.nsc.1", {"data": {"code": 200, "account": account.public_key,
                                                    "message": "jwt updated (jti %s, iat %d)"
                                                    % (claims["jti"], claims["iat"])}})
    assert answers[1:] == [
        ("_INBOX.nsc.2", {"error": {"code": 409, "account": account.public_key, "description": (
            "jwt update refused - refused: the stored JWT of account %s was issued at %d (jti %s); this one was "
            "issued at %d and is older. Push a JWT issued after the stored one."
            % (account.public_key, issued, claims["jti"], issued - 3600))}}),
        ("_INBOX.nsc.3", {"error": {"code": 400, "account": "n/a", "description": (
            "jwt update refused - bad JWT in request: a JWT has three dot-separated segments, this one has 1")}})]
    assert service.store.get(account.public_key).data == token


def test_a_push_over_nats_without_reply_inbox_is_stored_unanswered(monkeypatch, region, tmp_path):
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account = new_account()
    token = region.mint(account).encode("ascii")

    async def scenario():
        link.start()
        await until(lambda: link.connected)
        await client.callbacks[nats_link.PUSH_SUBJECT](_msg(nats_link.PUSH_SUBJECT, token))
        await link.stop()

    run(scenario())
    assert _answers(client) == []
    assert service.store.get(account.public_key).data == token


def test_stop_before_start_returns_and_a_closed_client_is_not_closed_again(monkeypatch, region, tmp_path):
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    _service, link = _service_and_link(region, tmp_path)

    async def scenario():
        await link.stop()
        link.start()
        await until(lambda: link.connected)
        await link.stop()
        await link.stop()

    run(scenario())
    assert (client.is_closed, client.closes) == (True, 1)


def test_lookups_and_pack_requests_from_the_servers_are_answered_from_the_store(monkeypatch, region, tmp_path):
    client = ScriptedNats()
    _connect_with(monkeypatch, client)
    service, link = _service_and_link(region, tmp_path)
    account = new_account()
    token = region.mint(account).encode("ascii")

    async def scenario():
        assert await service.merge(account.public_key, token, "test") == "stored"
        link.start()
        await until(lambda: link.connected)
        await client.callbacks[nats_link.LOOKUP_WILDCARD](
            _msg(nats_link.LOOKUP_SUBJECT % account.public_key, b"", "_INBOX.server.1"))
        await client.callbacks[nats_link.PACK_SUBJECT](_msg(nats_link.PACK_SUBJECT, b"", "_INBOX.server.2"))
        await link.stop()

    run(scenario())
    assert client.published == [("_INBOX.server.1", token, ""),
                                ("_INBOX.server.2", account.public_key.encode("ascii") + b"|" + token, ""),
                                ("_INBOX.server.2", b"", "")]
