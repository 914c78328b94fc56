# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send one message through NATS servers and print what came back.

usage: roundtrip.py URL [MESSAGE] [--to URL] [--creds FILE] [--ca FILE] [--push-account JWT_FILE --sys-creds FILE]
Publishes on URL and receives on --to (default: URL). --push-account first
hands an account JWT to the servers over the system account, as `nsc push`
does for servers with the full resolver.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys

import nats

# nats-py's protocol answers eof_received() with True, and asyncio warns on
# every TLS connection that this has no effect: noise in the demo's output.
logging.getLogger("asyncio").setLevel(logging.ERROR)


async def _report_at_the_end(_error):
    """nats-py logs every failed attempt with a traceback; main() reports the outcome once."""


# Few attempts per server, no reconnects: a demo check, not a long-lived client.
CONNECT = {"connect_timeout": 5, "allow_reconnect": False, "max_reconnect_attempts": 1,
           "error_cb": _report_at_the_end}


async def push_account(url, options, sys_creds, jwt_path):
    connection = await nats.connect(url, user_credentials=sys_creds, **CONNECT, **options)
    try:
        with open(jwt_path, encoding="utf-8") as handle:
            await connection.request("$SYS.REQ.CLAIMS.UPDATE", handle.read().strip().encode(), timeout=5)
    finally:
        await connection.close()


async def roundtrip(publish_url, subscribe_url, payload, options):
    subscriber = await nats.connect(subscribe_url, **CONNECT, **options)
    publisher = await nats.connect(publish_url, **CONNECT, **options)
    try:
        subscription = await subscriber.subscribe("cmsgs.demo")
        await subscriber.flush()
        for _attempt in range(50):
            await publisher.publish("cmsgs.demo", payload)
            try:
                return (await subscription.next_msg(timeout=0.2)).data
            except nats.errors.TimeoutError:
                continue
        raise SystemExit("no message came back through %s -> %s" % (publish_url, subscribe_url))
    finally:
        await publisher.close()
        await subscriber.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("message", nargs="?", default="hello from cmsgs.nats")
    parser.add_argument("--to")
    parser.add_argument("--creds")
    parser.add_argument("--ca")
    parser.add_argument("--push-account")
    parser.add_argument("--sys-creds")
    args = parser.parse_args()
    options = {}
    if args.ca:
        options["tls"] = ssl.create_default_context(cafile=args.ca)
    if args.push_account:
        asyncio.run(push_account(args.url, options, args.sys_creds, args.push_account))
    if args.creds:
        options["user_credentials"] = args.creds
    payload = args.message.encode()
    target = args.to or args.url
    try:
        received = asyncio.run(roundtrip(args.url, target, payload, options))
    except (nats.errors.Error, OSError) as exc:
        # A refusal (no creds, wrong creds, an untrusted CA) is an answer, not a crash.
        print("refused: %s -> %s: %s" % (args.url, target, exc or exc.__class__.__name__), file=sys.stderr)
        return 2
    print("published %r to %s on subject cmsgs.demo and received %r from %s" % (
        payload.decode(), args.url, received.decode(), target))
    return 0 if received == payload else 1


if __name__ == "__main__":
    sys.exit(main())
