# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pushes over NATS: `$SYS.REQ.CLAIMS.UPDATE`, what `nsc push` sends when the
account server URL is nats://, against the real service and nats-server.

The request is sent as nsc sends it: one publish with a reply inbox, by a
short-lived user of the system account allowed to publish only the claim
subjects and to subscribe only to _INBOX.>, collecting every answer for a
second.

Run: python -m pytest tests/integration_local/test_acs_claims_update.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import USER, KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import load_key
from ansible_collections.cmsgs.nats.tests.integration_local import test_acs_service as service_tests
from ansible_collections.cmsgs.nats.tests.integration_local.acs_processes import Acs, wait_on_nats, wait_until
from ansible_collections.cmsgs.nats.tests.unit.acs.region import Region, new_account, now

nats = pytest.importorskip("nats")
pytestmark = service_tests.pytestmark
# The service tests' fixtures and helpers, shared rather than copied.
lib, region, processes = service_tests.lib, service_tests.region, service_tests.processes
start, admitted, _connect = service_tests.start, service_tests.admitted, service_tests._connect
_acs_with_server, CLIENT_TIMEOUT = service_tests._acs_with_server, service_tests.CLIENT_TIMEOUT

PUSH_SUBJECT = "$SYS.REQ.CLAIMS.UPDATE"
# nsc collects answers for --timeout, 1 s unless told otherwise.
NSC_TIMEOUT = 1.0


def nsc_push_user_creds(region: Region, directory) -> str:
    """The user nsc makes for a push: in SYS, claim subjects and inboxes only, two minutes."""
    sys_key = load_key(region.paths, region.sys_pub)
    user = KeyPair(nats_jwt.new_seed(USER))
    permissions = {"pub": {"allow": ["$SYS.REQ.CLAIMS.LIST", "$SYS.REQ.CLAIMS.UPDATE", "$SYS.REQ.CLAIMS.DELETE"]},
                   "sub": {"allow": ["_INBOX.>"]}}
    claims = nats_jwt.build_claims(USER, "nsc temporary push user", user.public_key, sys_key.public_key,
                                   dict(permissions, **nats_jwt.DEFAULT_USER_LIMITS))
    claims["exp"] = now() + 120
    path = os.path.join(str(directory), "nsc-push-%s.creds" % user.public_key[:8])
    with open(path, "w") as handle:
        handle.write(nats_jwt.render_creds(nats_jwt.sign_claims(claims, sys_key), user.seed))
    os.chmod(path, 0o600)
    return path


def push_over_nats(url: str, creds: str, token: str) -> list:
    """Every answer to one $SYS.REQ.CLAIMS.UPDATE within nsc's timeout, decoded."""
    async def scenario():
        client = await _connect(url, creds)
        try:
            inbox = client.new_inbox()
            subscription = await client.subscribe(inbox)
            await client.publish(PUSH_SUBJECT, token.encode("ascii"), reply=inbox)
            answers = []
            deadline = time.monotonic() + NSC_TIMEOUT
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return answers
                try:
                    message = await subscription.next_msg(timeout=remaining)
                except nats.errors.TimeoutError:
                    return answers
                if not message.data and (message.headers or {}).get("Status") == "503":
                    continue  # the server saying nobody subscribes: no answer (nsc fails on it too)
                answers.append(json.loads(message.data))
        finally:
            await client.close()
    return asyncio.run(asyncio.wait_for(scenario(), 4 * CLIENT_TIMEOUT))


def nsc_verdict(answers: list) -> str:
    """What nsc makes of the answers: ok only with at least one, each named and holding data, none an error."""
    if not answers:
        return "failed: no answer"
    for answer in answers:
        if not (answer.get("server") or {}).get("name") or "error" in answer or "data" not in answer:
            return "failed: %s" % json.dumps(answer)
    return "ok"


def _clock(reason: str) -> str:
    """A reason without the current time it quotes (the POST comes a moment later)."""
    return re.sub(r"now \d+", "now <t>", reason)


def store_snapshot(store_dir: str) -> dict:
    return {name: open(os.path.join(store_dir, name), "rb").read() for name in sorted(os.listdir(store_dir))}


async def _refused_while(url, creds, first):
    """Connect again until the server refuses (the new limit applied); the first connection must still work."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            extra = await _connect(url, creds)
        except Exception as exc:
            await first.publish("orders.created", b"still here")
            await first.flush(timeout=CLIENT_TIMEOUT)
            return str(exc) or exc.__class__.__name__
        await extra.close()
        await asyncio.sleep(0.1)
    return None


def test_a_jwt_pushed_over_nats_is_stored_served_and_applied(lib, region, tmp_path, processes):
    acs, server = _acs_with_server(lib, region, tmp_path, processes)
    pusher = nsc_push_user_creds(region, tmp_path)
    account = new_account()
    first = region.mint(account, name="OVERNATS", issued_at=now() - 10)

    answers = push_over_nats(server.url, pusher, first)
    assert nsc_verdict(answers) == "ok", answers
    assert len(answers) == 1, "one account server, one answer: %s" % answers
    (answer,) = answers
    assert answer["server"]["name"] == "cmsgs-acs"
    assert answer["data"]["code"] == 200 and answer["data"]["account"] == account.public_key
    assert answer["data"]["message"].startswith("jwt updated")
    status, body, headers = acs.get(account.public_key)
    assert (status, body.decode()) == (200, first)
    assert open(os.path.join(acs.store_dir, account.public_key + ".jwt")).read() == first
    # The same log line as a POST.
    assert "push account=%s result=stored status=200" % account.public_key in acs.log()

    creds = region.user_creds(account, "worker", tmp_path)
    assert admitted(server.url, creds) == b"order 42"

    async def scenario():
        held = await _connect(server.url, creds)
        second = await _connect(server.url, creds)
        await second.close()
        limited = region.mint(account, name="OVERNATS", limits={"conn": 1})
        answers = await asyncio.to_thread(push_over_nats, server.url, pusher, limited)
        assert nsc_verdict(answers) == "ok", answers
        reason = await _refused_while(server.url, creds, held)
        await held.close()
        return limited, reason

    limited, reason = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert reason is not None, "a second connection was still admitted 10 s after the push over NATS"
    assert "maximum account active connections exceeded" in server.log()
    assert acs.get(account.public_key)[1].decode() == limited
    # Notified as a POST is: the server that had the account loaded applied it.
    wait_until(lambda: "update applied by 1 servers (nats)" in acs.log(), 5, what="the applied count in the log")

    # The same JWT again is a success that changes nothing.
    again = push_over_nats(server.url, pusher, limited)
    assert nsc_verdict(again) == "ok" and "same JWT" in again[0]["data"]["message"], again


def test_a_jwt_refused_over_nats_gets_the_reason_of_a_post_and_changes_nothing(lib, region, tmp_path, processes):
    acs, server = _acs_with_server(lib, region, tmp_path, processes)
    pusher = nsc_push_user_creds(region, tmp_path)
    account = new_account()
    stored = region.mint(account, name="KEPT", issued_at=now() - 5)
    assert acs.post(account.public_key, stored)[0] == 200
    foreign = Region(tmp_path / "foreign")
    with open(region.sys_creds) as handle:
        user_jwt = nats_jwt.parse_creds(handle.read())[0]
    refused = {
        "garbage": (400, "not a JWT at all"),
        "a user JWT": (400, user_jwt),
        "another operator's account JWT": (400, foreign.mint(account, name="KEPT")),
        "an expired JWT": (400, region.mint(account, name="KEPT", expires=now() - 60)),
        "an older JWT": (409, region.mint(account, name="KEPT", limits={"conn": 0}, issued_at=now() - 3600)),
        "a bad signature": (400, stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")),
        "a body above max_body_bytes": (413, stored + " " * 65536),
    }
    notified = "account %s: update" % account.public_key
    wait_until(lambda: acs.log().count(notified) == 1, 5, what="the POST's notification")
    before = store_snapshot(acs.store_dir)
    for what, (status, token) in refused.items():
        answers = push_over_nats(server.url, pusher, token)
        assert len(answers) == 1, (what, answers)
        error = answers[0].get("error")
        assert error and "data" not in answers[0], (what, answers)
        assert nsc_verdict(answers).startswith("failed"), what
        # One code path: the code and the reason are what a POST of the same bytes gets.
        post_status, post_body, _headers = acs.post(account.public_key, token)
        assert (error["code"], post_status) == (status, status), (what, error)
        assert (_clock(error["description"]) == "jwt update refused - " + _clock(post_body.decode().rstrip("\n"))), what
        assert store_snapshot(acs.store_dir) == before, "%s changed the store" % what
        assert acs.get(account.public_key)[1].decode() == stored
    assert "older" in json.dumps(push_over_nats(server.url, pusher, refused["an older JWT"][1]))
    assert acs.log().count("push account=%s result=stored" % account.public_key) == 1
    time.sleep(1)  # a notification would be logged after its one-second answer window
    assert acs.log().count(notified) == 1, "a refused push was notified"


def test_a_secondary_does_not_take_pushes_over_nats(lib, region, tmp_path, processes):
    primary, server = _acs_with_server(lib, region, tmp_path, processes)
    secondary = start(processes, Acs(lib, tmp_path, region, name="secondary", primary_url=primary.url,
                                     nats_urls=[server.url], sync_interval_seconds=3600))
    wait_on_nats(secondary, "secondary on NATS")
    pusher = nsc_push_user_creds(region, tmp_path)

    # With the primary up, only the primary answers: nsc sees one success.
    account = new_account()
    token = region.mint(account, name="VIAPRIMARY")
    answers = push_over_nats(server.url, pusher, token)
    assert nsc_verdict(answers) == "ok", answers
    assert len(answers) == 1, answers
    # The secondary takes it from the primary's notification, not from the push.
    wait_until(lambda: secondary.get(account.public_key)[1] == token.encode(), 5, what="the push on the secondary")
    assert "push account=%s" % account.public_key not in secondary.log()

    # With the primary down nobody answers (nsc: no responders or a timeout),
    # and the secondary stores nothing.
    primary.stop()
    before = store_snapshot(secondary.store_dir)
    orphan = new_account()
    answers = push_over_nats(server.url, pusher, region.mint(orphan, name="NOWHERE"))
    assert nsc_verdict(answers) == "failed: no answer", answers
    time.sleep(0.5)
    assert store_snapshot(secondary.store_dir) == before
    assert secondary.get(orphan.public_key)[0] == 404
    assert "push account=" not in secondary.log()
