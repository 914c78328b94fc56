# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NATS side: claim update notifications, lookups and the pack protocol.

The connection uses a user of the system account (sys_creds_path), because
nats-server listens for claim updates in the system account only. It is
made in the background: HTTP serves from the first second whether or not
NATS is reachable, and nats-py reconnects by itself after a loss.

Subjects, as nats-server's full resolver (DirAccResolver) and
nats-account-server v1 use them:
- publish $SYS.ACCOUNT.<pub>.CLAIMS.UPDATE with a reply inbox after every
  stored change; each server that has the account loaded answers.
- answer $SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP with the JWT (silent when
  unknown, so that another instance may answer).
- answer $SYS.REQ.CLAIMS.PACK (queue group "responder") with one message
  per JWT and an empty message at the end, or only the empty message when
  the requester's 32-byte store hash equals ours; ask the same of the
  peers every sync interval and merge what comes back.
- take $SYS.ACCOUNT.*.CLAIMS.UPDATE from peers into the store.
- on the primary only, take $SYS.REQ.CLAIMS.UPDATE (what `nsc push` sends
  to a nats:// account server URL) as a push: the same checks and store as
  an HTTP POST, answered as a full resolver answers (JSON with "data" or
  "error"). Every subscriber answers such a request and nsc fails on any
  "error" answer, so a secondary does not subscribe at all: with the
  primary up its answer is the only one, with it down nsc times out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import time

import nats
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout

from cmsgs_acs import nats_jwt

LOG = logging.getLogger("cmsgs_acs.nats")
UPDATE_SUBJECT = "$SYS.ACCOUNT.%s.CLAIMS.UPDATE"
UPDATE_WILDCARD = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
LOOKUP_SUBJECT = "$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP"
LOOKUP_WILDCARD = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
PACK_SUBJECT = "$SYS.REQ.CLAIMS.PACK"
PACK_QUEUE = "responder"
PUSH_SUBJECT = "$SYS.REQ.CLAIMS.UPDATE"
# The account of an update whose JWT does not decode, as nats-server names it.
NO_ACCOUNT = "n/a"
SERVER_NAME = "cmsgs-acs"
# How long replies to a notification are collected before they are counted.
ACK_WINDOW_SECONDS = 1.0
LOOKUP_TIMEOUT_SECONDS = 1.0
PACK_MESSAGE_TIMEOUT_SECONDS = 1.0
RETRY_MAX_SECONDS = 10.0
ERROR_REPEAT_SECONDS = 60.0


def _account_of(subject: str) -> str:
    """The token after ACCOUNT: $SYS.ACCOUNT.<pub>.… and $SYS.REQ.ACCOUNT.<pub>.…"""
    parts = subject.split(".")
    try:
        return parts[parts.index("ACCOUNT") + 1]
    except (ValueError, IndexError):
        return ""


class NatsLink:
    def __init__(self, service, urls: list, creds_path: str, sync_interval: float, ca_path: str = ""):
        self.service = service
        self.tls = ssl.create_default_context(cafile=ca_path) if ca_path else None
        self.urls = urls
        self.creds_path = creds_path
        self.sync_interval = sync_interval
        self.client = None
        self.pending = set()  # accounts changed while disconnected
        self._tasks = set()
        self._runner = None
        # True once the server has confirmed the subscriptions (a flush
        # round-trip): before that a lookup or pack request would go
        # unanswered although the socket is up. nats-py resubscribes by
        # itself after a reconnect.
        self._subscribed = False
        # Set by stop(): the connection it closes is not a loss to warn about.
        self._stopping = False
        self._seq = 0
        self._last_error, self._last_error_at = None, 0.0
        self._id = "%s-%s-%d" % (SERVER_NAME, socket.gethostname(), os.getpid())

    @property
    def connected(self) -> bool:
        """Connected and answering: the subscriptions are in place on the server."""
        return self._subscribed and self.client is not None and self.client.is_connected

    def start(self):
        self._runner = asyncio.ensure_future(self._run())

    async def stop(self):
        self._stopping = True
        if self._runner is not None:
            self._runner.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.client is not None and not self.client.is_closed:
            try:
                await asyncio.wait_for(self.client.close(), 2)
            except Exception:  # closing a broken connection: nothing to report
                pass

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- connection --------------------------------------------------------

    async def _until_done(self, attempt, failure: str, *failure_args):
        """Await attempt() until it returns without raising, doubling the wait up to RETRY_MAX_SECONDS.

        failure is the warning for a failed attempt: failure_args, then the error and the wait fill it in.
        """
        delay = 1.0
        while True:
            try:
                return await attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                LOG.warning(failure, *failure_args, exc.__class__.__name__ + (": %s" % exc if str(exc) else ""), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _connect(self):
        return nats.connect(
            servers=self.urls, user_credentials=self.creds_path, name=SERVER_NAME, no_echo=True, tls=self.tls,
            allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=1, connect_timeout=2,
            error_cb=self._on_error, disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected)

    async def _run(self):
        self.client = await self._until_done(
            self._connect, "NATS at %s not reachable (%s); retrying in %.0f s, HTTP keeps serving", ", ".join(self.urls))
        LOG.info("connected to NATS at %s", self.client.connected_url.netloc if self.client.connected_url else "?")
        await self.client.subscribe(LOOKUP_WILDCARD, cb=self._on_lookup)
        await self.client.subscribe(PACK_SUBJECT, queue=PACK_QUEUE, cb=self._on_pack_request)
        await self.client.subscribe(UPDATE_WILDCARD, cb=self._on_peer_update)
        if not self.service.config.is_secondary:
            await self.client.subscribe(PUSH_SUBJECT, cb=self._on_push)
        await self._confirm_subscriptions()
        await self._flush_pending()
        while True:
            await asyncio.sleep(self.sync_interval)
            if self.connected:
                try:
                    await self.request_pack()
                except Exception as exc:
                    LOG.warning("pack request over NATS failed: %s", exc)

    async def _confirm_subscriptions(self):
        """Wait until the server has processed the subscriptions (PING/PONG after them)."""
        await self._until_done(self._round_trip_after_subscriptions,
                               "NATS did not confirm the subscriptions (%s); retrying in %.0f s")
        self._subscribed = True

    async def _round_trip_after_subscriptions(self):
        # nats-py writes a flush's PING straight to the socket, ahead of the
        # SUBs still in its buffer, and sends the buffer after it: the first
        # PONG proves nothing about them. The second PING follows them.
        await self.client.flush(timeout=2)
        await self.client.flush(timeout=2)

    async def _on_error(self, exc):
        # nats-py reports every failed attempt (one a second while the
        # servers are down): repeat the same message at most once a minute.
        message = exc.__class__.__name__ + (": %s" % exc if str(exc) else "")
        moment = time.monotonic()
        if message == self._last_error and moment - self._last_error_at < ERROR_REPEAT_SECONDS:
            LOG.debug("NATS: %s", message)
            return
        self._last_error, self._last_error_at = message, moment
        LOG.warning("NATS: %s (HTTP keeps serving; retrying every second)", message)

    async def _on_disconnected(self):
        if self._stopping:
            return
        LOG.warning("disconnected from NATS; reconnecting, HTTP keeps serving")

    async def _on_reconnected(self):
        LOG.info("reconnected to NATS at %s", self.client.connected_url.netloc if self.client.connected_url else "?")
        self._spawn(self._flush_pending())

    async def _flush_pending(self):
        pending, self.pending = self.pending, set()
        for pub in sorted(pending):
            entry = self.service.store.get(pub)
            if entry is not None:
                LOG.info("account %s changed while NATS was away; notifying now", pub)
                self.notify(entry)

    # --- notifications -----------------------------------------------------

    def notify(self, entry):
        """Tell the servers about a stored change, in the background."""
        if not self.connected:
            self.pending.add(entry.pub)
            self.service.metrics.notifications["deferred"] += 1
            LOG.warning("account %s: not notified, NATS is not connected; will notify on reconnect", entry.pub)
            return None
        return self._spawn(self._notify(entry))

    async def _notify(self, entry):
        client = self.client
        inbox = client.new_inbox()
        replies = []

        async def collect(msg):
            replies.append(msg.data)

        subscription = await client.subscribe(inbox, cb=collect)
        try:
            await client.publish(UPDATE_SUBJECT % entry.pub, entry.data, reply=inbox)
            await client.flush(timeout=2)
            self.service.metrics.notifications["sent"] += 1
            await asyncio.sleep(ACK_WINDOW_SECONDS)
        except Exception as exc:
            self.pending.add(entry.pub)
            self.service.metrics.notifications["failed"] += 1
            LOG.warning("account %s: notification failed (%s); will retry on reconnect", entry.pub, exc)
            return
        finally:
            try:
                await subscription.unsubscribe()
            except Exception:  # the connection went away; nothing left to unsubscribe
                pass
        counts = {"applied": [], "skipped": [], "failed": [], "peer": []}
        for data in replies:
            outcome, name = _reply_outcome(data)
            counts[outcome].append(name)
            self.service.metrics.acknowledgements[outcome] += 1
        LOG.info("account %s: update applied by %d servers%s, skipped by %d (account not loaded), failed on %d%s; "
                 "taken by %d account server peers",
                 entry.pub, len(counts["applied"]),
                 " (%s)" % ", ".join(counts["applied"]) if counts["applied"] else "",
                 len(counts["skipped"]), len(counts["failed"]),
                 " (%s)" % ", ".join(counts["failed"]) if counts["failed"] else "", len(counts["peer"]))

    # --- answering ---------------------------------------------------------

    async def _on_lookup(self, msg):
        if not msg.reply:
            return
        _entry, data = self.service.lookup(_account_of(msg.subject))
        if data is not None:
            await self.client.publish(msg.reply, data)

    async def _on_pack_request(self, msg):
        if not msg.reply:
            return
        store = self.service.store
        if msg.data and msg.data == store.pack_hash():
            await self.client.publish(msg.reply, b"")
            return
        for line in store.pack_lines():
            await self.client.publish(msg.reply, line)
        await self.client.publish(msg.reply, b"")

    async def _on_peer_update(self, msg):
        pub = _account_of(msg.subject)
        result = await self.service.merge(pub, msg.data, "peer")
        if msg.reply:
            if result in ("stored", "unchanged"):
                await self._answer(msg.reply, pub, 200, "Updated jwt")
            else:
                await self._answer(msg.reply, pub, 500, "jwt not taken: %s" % result)

    async def _on_push(self, msg):
        """A push over NATS: Service.push, as for an HTTP POST, keyed by the JWT's subject."""
        pub = _claimed_account(msg.data)
        status, message = await self.service.push(pub, msg.data)
        if not msg.reply:
            return
        if status == 200:
            await self._answer(msg.reply, pub, 200, "jwt updated (%s)" % message)
        else:
            await self._answer(msg.reply, pub, status, "jwt update refused - %s" % message)

    async def _answer(self, reply: str, pub: str, code: int, text: str):
        """Answer a claim update as nats-server does: "data" on success, "error" otherwise.

        nsc needs server.name and takes any answer holding "error" as a
        failure. A refused push carries the HTTP status the same JWT gets
        from a POST (400, 409, 413, 500) as its code.
        """
        self._seq += 1
        server = {"name": SERVER_NAME, "host": socket.gethostname(), "id": self._id,
                  "ver": self.service.version, "seq": self._seq,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if code == 200:
            body = {"server": server, "data": {"code": code, "account": pub, "message": text}}
        else:
            body = {"server": server, "error": {"code": code, "account": pub, "description": text}}
        await self.client.publish(reply, json.dumps(body).encode("utf-8"))

    # --- asking ------------------------------------------------------------

    async def lookup(self, pub: str):
        """Ask the other servers for an account this store lacks (not stored)."""
        try:
            reply = await self.client.request(LOOKUP_SUBJECT % pub, b"", timeout=LOOKUP_TIMEOUT_SECONDS)
        except (NatsTimeout, NoRespondersError, asyncio.TimeoutError):
            return None
        except Exception as exc:
            LOG.debug("lookup of %s over NATS failed: %s", pub, exc)
            return None
        if not reply.data:
            return None  # a full-resolver server that does not know it either
        from cmsgs_acs.trust import Refused, check_account
        try:
            check_account(self.service.operator, pub, reply.data)
        except Refused:
            return None
        return reply.data.strip()

    async def request_pack(self) -> dict:
        """Ask one peer (queue group) for what differs from our hash; merge it."""
        client = self.client
        inbox = client.new_inbox()
        queue = asyncio.Queue()

        async def collect(msg):
            await queue.put(msg.data)

        subscription = await client.subscribe(inbox, cb=collect)
        lines = []
        try:
            await client.publish(PACK_SUBJECT, self.service.store.pack_hash(), reply=inbox)
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), PACK_MESSAGE_TIMEOUT_SECONDS)
                except asyncio.TimeoutError:
                    break  # no responder, or it stopped sending
                if not data:
                    break
                lines.extend(data.split(b"\n"))
        finally:
            try:
                await subscription.unsubscribe()
            except Exception:  # the connection went away
                pass
        if not lines:
            return {}
        counts = await self.service.merge_pack(lines, "nats-pack")
        if counts.get("stored"):
            LOG.info("pack over NATS: %s", ", ".join("%s %d" % item for item in sorted(counts.items())))
        return counts


def _claimed_account(body: bytes) -> str:
    """The subject of the JWT in body, to key the push by; n/a when it does not decode.

    Not a check: Service.push decodes the same text again and refuses it
    with the reason when it does not decode.
    """
    try:
        return nats_jwt.decode(body.decode("ascii").strip(), check_times=False).subject
    except (UnicodeError, nats_jwt.JwtError):
        return NO_ACCOUNT


def _reply_outcome(data: bytes):
    """Classify an answer to a claim update: applied, skipped, failed, or peer (another cmsgs-acs)."""
    try:
        reply = json.loads(data)
    except ValueError:
        return "failed", "?"
    if not isinstance(reply, dict):
        return "failed", "?"
    name = (reply.get("server") or {}).get("name", "?")
    if reply.get("error"):
        return "failed", name
    if name == SERVER_NAME:
        return "peer", name
    message = (reply.get("data") or {}).get("message", "")
    if "skipped" in message:
        return "skipped", name
    return "applied", name
