# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send one message through a NATS server and print what came back.

usage: roundtrip.py nats://HOST:PORT [MESSAGE]
"""

from __future__ import annotations

import asyncio
import sys

import nats


async def roundtrip(url: str, payload: bytes) -> bytes:
    connection = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        subscription = await connection.subscribe("cmsgs.demo")
        await connection.publish("cmsgs.demo", payload)
        return (await subscription.next_msg(timeout=5)).data
    finally:
        await connection.close()


def main() -> int:
    url = sys.argv[1]
    payload = (sys.argv[2] if len(sys.argv) > 2 else "hello from cmsgs.nats").encode()
    received = asyncio.run(roundtrip(url, payload))
    print("published %r to %s on subject cmsgs.demo and received %r" % (payload.decode(), url, received.decode()))
    return 0 if received == payload else 1


if __name__ == "__main__":
    sys.exit(main())
