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
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time

import nats
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout

LOG = logging.getLogger("cmsgs_acs.nats")
UPDATE_SUBJECT = "$SYS.ACCOUNT.%s.CLAIMS.UPDATE"
UPDATE_WILDCARD = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
LOOKUP_SUBJECT = "$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP"
LOOKUP_WILDCARD = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
PACK_SUBJECT = "$SYS.REQ.CLAIMS.PACK"
PACK_QUEUE = "responder"
SERVER_NAME = "cmsgs-acs"
# How long replies to a notification are collected before they are counted.
ACK_WINDOW_SECONDS = 1.0
LOOKUP_TIMEOUT_SECONDS = 1.0
PACK_MESSAGE_TIMEOUT_SECONDS = 1.0
RETRY_MAX_SECONDS = 10.0


def _account_of(subject: str) -> str:
    parts = subject.split(".")
    return parts[2] if len(parts) > 3 else ""


class NatsLink:
    def __init__(self, service, urls: list, creds_path: str, sync_interval: float):
        self.service = service
        self.urls = urls
        self.creds_path = creds_path
        self.sync_interval = sync_interval
        self.client = None
        self.pending = set()  # accounts changed while disconnected
        self._tasks = set()
        self._runner = None
        self._seq = 0
        self._id = "%s-%s-%d" % (SERVER_NAME, socket.gethostname(), os.getpid())

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def start(self):
        self._runner = asyncio.ensure_future(self._run())

    async def stop(self):
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

    async def _run(self):
        delay = 1.0
        while self.client is None:
            try:
                self.client = await nats.connect(
                    servers=self.urls, user_credentials=self.creds_path, name=SERVER_NAME, no_echo=True,
                    allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=1, connect_timeout=2,
                    error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                LOG.warning("NATS at %s not reachable (%s); retrying in %.0f s, HTTP keeps serving",
                            ", ".join(self.urls), exc.__class__.__name__ + (": %s" % exc if str(exc) else ""), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        LOG.info("connected to NATS at %s", self.client.connected_url.netloc if self.client.connected_url else "?")
        await self.client.subscribe(LOOKUP_WILDCARD, cb=self._on_lookup)
        await self.client.subscribe(PACK_SUBJECT, queue=PACK_QUEUE, cb=self._on_pack_request)
        await self.client.subscribe(UPDATE_WILDCARD, cb=self._on_peer_update)
        await self._flush_pending()
        while True:
            await asyncio.sleep(self.sync_interval)
            if self.connected:
                try:
                    await self.request_pack()
                except Exception as exc:
                    LOG.warning("pack request over NATS failed: %s", exc)

    async def _on_error(self, exc):
        LOG.warning("NATS: %s", exc.__class__.__name__ + (": %s" % exc if str(exc) else ""))

    async def _on_disconnected(self):
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
        counts = {"applied": [], "skipped": [], "failed": []}
        for data in replies:
            outcome, name = _reply_outcome(data)
            counts[outcome].append(name)
            self.service.metrics.acknowledgements[outcome] += 1
        LOG.info("account %s: update applied by %d servers%s, skipped by %d (account not loaded), failed on %d%s",
                 entry.pub, len(counts["applied"]),
                 " (%s)" % ", ".join(counts["applied"]) if counts["applied"] else "",
                 len(counts["skipped"]), len(counts["failed"]),
                 " (%s)" % ", ".join(counts["failed"]) if counts["failed"] else "")

    # --- answering ---------------------------------------------------------

    async def _on_lookup(self, msg):
        if not msg.reply:
            return
        _, data = self.service.lookup(_account_of(msg.subject))
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
            self._seq += 1
            server = {"name": SERVER_NAME, "host": socket.gethostname(), "id": self._id,
                      "ver": self.service.version, "seq": self._seq,
                      "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if result in ("stored", "unchanged"):
                body = {"server": server, "data": {"code": 200, "account": pub, "message": "Updated jwt"}}
            else:
                body = {"server": server, "error": {"code": 500, "account": pub,
                                                    "description": "jwt not taken: %s" % result}}
            await self.client.publish(msg.reply, json.dumps(body).encode("utf-8"))

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


def _reply_outcome(data: bytes):
    """Classify a server's answer to a claim update: applied, skipped or failed."""
    try:
        reply = json.loads(data)
    except ValueError:
        return "failed", "?"
    name = (reply.get("server") or {}).get("name", "?")
    if reply.get("error"):
        return "failed", name
    message = (reply.get("data") or {}).get("message", "")
    if "skipped" in message:
        return "skipped", name
    return "applied", name
