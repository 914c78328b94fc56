#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nats_message_check
short_description: Send one real message through NATS servers and check that subscribers elsewhere receive it
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Connects a subscriber to each of O(subscribe_urls), then a publisher to O(publish_url), publishes one
    message on a fresh subject and waits until every subscriber has it. A message that reaches a
    subscriber on another server has crossed a route (same cluster) or a gateway (another cluster),
    so this shows that the servers of a topology carry traffic with the given credentials.
  - Uses the nats-py client library, so it runs where that library is installed, usually on the
    controller (delegated to C(localhost) with the controller's Python).
requirements:
  - nats-py >= 2.6 on the host that runs the module.
attributes:
  check_mode:
    support: full
    description: Sending a message changes no state, so the check runs in check mode too.
  diff_mode:
    support: N/A
    description: Nothing changes, so there is no diff.
options:
  publish_url:
    description: The server the message is published on, such as V(tls://nats-1.example.com:4222).
    type: str
    required: true
  subscribe_urls:
    description: Servers that must each deliver the message to a subscriber connected to them.
    type: list
    elements: str
    required: true
  creds:
    description:
      - A user's C(.creds) file content (user JWT and seed), for servers in operator mode. Never returned or logged.
      - Left out, the clients connect without credentials.
    type: str
  ca:
    description: CA certificate (PEM text) that the servers' client certificates chain to, for TLS URLs.
    type: str
  subject:
    description: Subject prefix; a random suffix makes each check's subject unique.
    type: str
    default: _CMSGS.check
  timeout:
    description: Seconds to wait for connections and for the message.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: Send a message from this server to a subscriber on another, with the sys user's creds
  cmsgs.nats.nats_message_check:
    publish_url: "tls://{{ inventory_hostname }}:4222"
    subscribe_urls: ["tls://nats-2.example.com:4222"]
    creds: "{{ sys_creds }}"
    ca: "{{ lookup('ansible.builtin.file', 'pki/client/ca.pem') }}"
  delegate_to: localhost
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
subject:
  description: The subject the message went out on.
  returned: always
  type: str
  sample: _CMSGS.check.6f1c2a
received:
  description: For each subscribe URL, the milliseconds from publish to delivery.
  returned: success
  type: dict
  sample: {"tls://nats-2.example.com:4222": 3.1}
"""

import asyncio
import os
import ssl
import tempfile
import time
import traceback
import uuid

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import nats

    HAS_NATS = True
    NATS_IMPORT_ERROR = None
except ImportError:
    HAS_NATS = False
    NATS_IMPORT_ERROR = traceback.format_exc()


class CheckError(Exception):
    pass


async def _connect(url, options, timeout, role):
    # wait_for bounds the whole attempt: nats-py retries a refused first connection on its own.
    try:
        return await asyncio.wait_for(
            nats.connect(url, connect_timeout=timeout, allow_reconnect=False, max_reconnect_attempts=1,
                         name="cmsgs.nats message check", **options), timeout)
    except asyncio.TimeoutError:
        raise CheckError("the %s could not connect to %s within %.0f s" % (role, url, timeout))
    except Exception as exc:  # nats-py raises many kinds; the message says which server and why
        raise CheckError("the %s could not connect to %s: %s" % (role, url, str(exc) or type(exc).__name__))


async def _check(publish_url, subscribe_urls, subject, payload, options, timeout):
    subscribers = []
    try:
        for url in subscribe_urls:
            connection = await _connect(url, options, timeout, "subscriber")
            subscription = await connection.subscribe(subject)
            await connection.flush(timeout=timeout)
            subscribers.append((url, connection, subscription))
        publisher = await _connect(publish_url, options, timeout, "publisher")
        subscribers.append((None, publisher, None))
        # Interest travels over routes and gateways asynchronously: publish
        # until every subscriber has the message, within the deadline.
        deadline = time.monotonic() + timeout
        received = {}
        started = time.monotonic()
        while True:
            await publisher.publish(subject, payload)
            await publisher.flush(timeout=timeout)
            for url, _connection, subscription in subscribers:
                if subscription is None or url in received:
                    continue
                try:
                    message = await subscription.next_msg(timeout=0.25)
                except Exception:  # nats.errors.TimeoutError; retried until the deadline
                    continue
                if message.data == payload:
                    received[url] = round((time.monotonic() - started) * 1000, 1)
            missing = [url for url in subscribe_urls if url not in received]
            if not missing:
                return received
            if time.monotonic() > deadline:
                raise CheckError("a message published on %s did not reach the subscriber on %s within %.0f s"
                                 % (publish_url, ", ".join(missing), timeout))
    finally:
        for _url, connection, _subscription in subscribers:
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:  # closing a broken connection may fail; nothing to report
                pass


def run_check(publish_url, subscribe_urls, creds, ca, subject, timeout):
    """Publish once, wait for every subscriber; returns (subject, {url: ms}) or raises CheckError."""
    subject = "%s.%s" % (subject, uuid.uuid4().hex[:12])
    payload = ("cmsgs.nats check %s" % subject).encode()
    options = {}
    scratch = tempfile.mkdtemp(prefix="cmsgs-check-")
    try:
        if creds:
            path = os.path.join(scratch, "user.creds")
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(creds)
            options["user_credentials"] = path
        if ca:
            options["tls"] = ssl.create_default_context(cadata=ca)
        received = asyncio.run(_check(publish_url, list(subscribe_urls), subject, payload, options, timeout))
        return subject, received
    finally:
        for name in os.listdir(scratch):
            os.unlink(os.path.join(scratch, name))
        os.rmdir(scratch)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            publish_url=dict(type="str", required=True),
            subscribe_urls=dict(type="list", elements="str", required=True),
            creds=dict(type="str", no_log=True),
            ca=dict(type="str"),
            subject=dict(type="str", default="_CMSGS.check"),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    if not HAS_NATS:
        module.fail_json(msg=missing_required_lib("nats-py"), exception=NATS_IMPORT_ERROR)
    params = module.params
    if not params["subscribe_urls"]:
        module.fail_json(msg="subscribe_urls is empty: name at least one server that must deliver the message")
    try:
        subject, received = run_check(params["publish_url"], params["subscribe_urls"], params["creds"], params["ca"],
                                      params["subject"], params["timeout"])
    except (CheckError, ssl.SSLError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, subject=subject, received=received)


if __name__ == "__main__":
    main()
