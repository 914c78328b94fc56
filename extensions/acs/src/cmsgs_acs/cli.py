# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmsgs-acs --config FILE: run the account server until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys

from aiohttp import web

from cmsgs_acs import __version__
from cmsgs_acs.config import ConfigError, load
from cmsgs_acs.http_api import HttpApi
from cmsgs_acs.nats_link import NatsLink
from cmsgs_acs.replication import PrimaryPuller
from cmsgs_acs.service import Service

LOG = logging.getLogger("cmsgs_acs")
EXPIRY_SWEEP_SECONDS = 60
# No access log: a request line would be one log line per GET (nats-server
# fetches often) and could carry whatever a client put in the path.
RUNNER_OPTIONS = {"access_log": None, "keepalive_timeout": 75, "handler_cancellation": True}


async def serve(service: Service):
    config = service.config
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    puller = None
    if config.is_secondary:
        puller = PrimaryPuller(service)
        await puller.pull()

    runner = web.AppRunner(HttpApi(service).application(), **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, config.listen_host, config.listen_port, backlog=1024)
    await site.start()
    LOG.info("cmsgs-acs %s serving %d accounts of operator %s on http://%s:%d/jwt/v1 (%s, event loop %s)",
             __version__, len(service.store), service.operator.name, config.listen_host, config.listen_port,
             "secondary of %s" % config.primary_url if config.is_secondary else "primary", loop_name(loop))

    if config.nats_urls:
        service.nats = NatsLink(service, config.nats_urls, config.sys_creds_path, config.sync_interval_seconds,
                                config.nats_tls_ca_path)
        service.nats.start()
    else:
        LOG.info("nats_urls is empty: no claim update notifications, no NATS sync")
    if puller is not None:
        puller.start(config.sync_interval_seconds)
    sweeper = asyncio.ensure_future(_sweep(service)) if config.delete_expired else None
    # What start-up made lives as long as the process: keep it out of the
    # collector's passes, which would otherwise pause requests.
    gc.collect()
    gc.freeze()
    await stop.wait()
    LOG.info("stopping")
    if sweeper is not None:
        sweeper.cancel()
    if puller is not None:
        await puller.stop()
    if service.nats is not None:
        await service.nats.stop()
    await runner.cleanup()


async def _sweep(service: Service):
    while True:
        await service.expire()
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)


def loop_name(loop) -> str:
    """"uvloop" or "asyncio": which loop serves, for the start-up line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _event_loop_policy():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.EventLoopPolicy()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cmsgs-acs", description="Account server for NATS operator mode.")
    parser.add_argument("--config", required=True, help="JSON configuration file")
    parser.add_argument("--version", action="version", version="cmsgs-acs %s" % __version__)
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print("cmsgs-acs: %s" % exc, file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        service = Service(config)
    except (ValueError, OSError) as exc:
        print("cmsgs-acs: %s" % exc, file=sys.stderr)
        sys.exit(2)
    try:
        service.open()
    except OSError as exc:
        print("cmsgs-acs: store_dir %s cannot be used: %s (it must be a folder this user can write)"
              % (config.store_dir, exc), file=sys.stderr)
        sys.exit(2)
    policy = _event_loop_policy()
    if policy is not None:
        asyncio.set_event_loop_policy(policy)
    try:
        asyncio.run(serve(service))
    except OSError as exc:
        print("cmsgs-acs: cannot serve on %s:%d: %s" % (config.listen_host, config.listen_port, exc), file=sys.stderr)
        sys.exit(1)
