# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scripted stand-in for a connected nats-py client, shared by the NATS link
tests (test_acs_nats_link.py, test_acs_link_life_nats.py,
test_acs_link_answers_nats.py): it records subscriptions (with their
callbacks), publishes, requests and flushes, and answers a publish with a
reply inbox with the replies scripted for its subject."""

from __future__ import annotations

import types
import urllib.parse

from nats.errors import ConnectionClosedError, TimeoutError as NatsTimeout

URL = "nats://127.0.0.1:4222"


class Subscription:
    def __init__(self, fail=False):
        self.fail = fail
        self.unsubscribed = False

    async def unsubscribe(self):
        self.unsubscribed = True
        if self.fail:
            raise ConnectionClosedError()


class ScriptedNats:
    """A connected client: records subscriptions (with their callbacks), publishes and flushes; a publish with a
    reply inbox is answered with replies[subject].

    The first flush_timeouts flushes time out as an unanswered PING does; a later flush waits for flush_gate
    (an asyncio.Event) when there is one, so that a test sees the link before the server has answered.
    """

    def __init__(self, url=URL, replies=None, unsubscribe_fails=False, flush_timeouts=0, flush_gate=None):
        self.is_connected = True
        self.is_closed = False
        self.closes = 0
        self.connected_url = urllib.parse.urlparse(url) if url else None
        self.callbacks = {}
        self.queues = {}
        self.subscriptions = []
        self.published = []
        self.requests = []
        self.replies = replies or {}
        self.request_answer = None
        self.flush_error = None
        self.flushes = 0
        self.flush_timeouts = flush_timeouts
        self.flush_gate = flush_gate
        self.refuse = set()  # subjects whose publish fails as on a closed connection
        self.unsubscribe_fails = unsubscribe_fails  # only the link's reply inbox subscriptions fail to unsubscribe
        # Inboxes are counted as they are made: _INBOX.test.1 is the first one, whatever was subscribed before.
        self._inboxes = 0

    async def subscribe(self, subject, queue="", cb=None):
        self.callbacks[subject], self.queues[subject] = cb, queue
        subscription = Subscription(self.unsubscribe_fails and subject.startswith("_INBOX."))
        self.subscriptions.append((subject, subscription))
        return subscription

    async def publish(self, subject, payload=b"", reply=""):
        if subject in self.refuse:
            raise ConnectionClosedError()
        self.published.append((subject, payload, reply))
        for data in self.replies.get(subject, []):
            await self.callbacks[reply](types.SimpleNamespace(subject=reply, data=data, reply=""))

    async def flush(self, timeout=2):
        self.flushes += 1
        if self.flushes <= self.flush_timeouts:
            raise NatsTimeout()
        if self.flush_error is not None and self.published:
            # The tests set an exception here; pylint only sees the None of __init__.
            raise self.flush_error  # pylint: disable=raising-bad-type
        if self.flush_gate is not None:
            await self.flush_gate.wait()

    async def request(self, subject, payload=b"", timeout=0.5):
        self.requests.append((subject, payload, timeout))
        if isinstance(self.request_answer, Exception):
            raise self.request_answer  # pylint: disable=raising-bad-type
        return types.SimpleNamespace(data=self.request_answer)

    def new_inbox(self):
        self._inboxes += 1
        return "_INBOX.test.%d" % self._inboxes

    async def close(self):
        self.closes += 1
        self.is_closed = True
