# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the account server's aiohttp application in-process for a test."""

from __future__ import annotations

import asyncio
import contextlib
import os

from aiohttp.test_utils import TestClient, TestServer

from ansible_collections.cmsgs.nats.tests.unit.acs.region import acs_config, use_source_tree

use_source_tree()

from cmsgs_acs import config as acs_config_module  # noqa: E402
from cmsgs_acs.cli import RUNNER_OPTIONS  # noqa: E402
from cmsgs_acs.http_api import HttpApi  # noqa: E402
from cmsgs_acs.service import Service  # noqa: E402


def make_service(region, store_dir, **extra) -> Service:
    data = acs_config(region, store_dir, **extra)
    service = Service(acs_config_module.parse(data))
    service.open()
    return service


@contextlib.asynccontextmanager
async def running(service: Service):
    server = TestServer(HttpApi(service).application())
    # The server runs with the options the real one uses (no access log).
    await server.start_server(**{k: v for k, v in RUNNER_OPTIONS.items() if k != "handler_cancellation"})
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


def snapshot(directory) -> dict:
    """Every entry of the store folder: name -> (bytes, mode, mtime_ns)."""
    result = {}
    for name in sorted(os.listdir(str(directory))):
        path = os.path.join(str(directory), name)
        info = os.stat(path)
        with open(path, "rb") as handle:
            result[name] = (handle.read(), info.st_mode, info.st_mtime_ns)
    return result


# Kept before any test replaces asyncio.sleep (the NATS link tests skip its back-off).
real_sleep = asyncio.sleep


async def no_backoff(seconds, *args):
    """A stand-in for asyncio.sleep in the NATS link: its retry back-off passes at once, while a wait of a
    minute or more (the hour-long sync interval) still waits, so the link does not spin."""
    await real_sleep(seconds if seconds >= 60 else 0)


async def until(condition, seconds: float = 5.0):
    """Wait, polling every millisecond, until condition() is true; fail after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await real_sleep(0.001)
