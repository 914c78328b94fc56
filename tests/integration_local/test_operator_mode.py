# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real nats-server in operator mode trusts what the collection issues.

The store is built with the same module_utils the jwt_* modules use:
operator REGION1, account SYS as its system account with user sys, and
account APP with user app. nats-server runs on 127.0.0.1 with a memory
resolver preloaded with both accounts. A client connecting with app's
.creds must be able to publish and receive; a user issued under another
operator must be refused; the sys user must reach the system services.

Run: python -m pytest tests/integration_local/test_operator_mode.py
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time

import pytest

from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    NscPaths,
    plan_account,
    plan_operator,
    plan_user,
)

nats = pytest.importorskip("nats")
nats_errors = pytest.importorskip("nats.errors")

START_TIMEOUT = 15
CLIENT_TIMEOUT = 5


NATS_SERVER = nats_server_binary()
pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server binary not found")


def applied(outcome):
    outcome.plan.apply()
    return outcome


def build_region(paths, operator):
    """Operator, SYS, operator pointing at SYS, sys user, APP and its user."""
    applied(plan_operator(paths, operator, signing_keys=1))
    sys_account = applied(plan_account(paths, operator, "SYS"))
    operator_outcome = applied(plan_operator(paths, operator, system_account="SYS"))
    app = applied(plan_account(paths, operator, "APP", use_signing_key=True, limits={"conn": 10}))
    users = {
        "sys": applied(plan_user(paths, operator, "SYS", "sys")),
        "app": applied(plan_user(paths, operator, "APP", "app", permissions={
            "pub": {"allow": ["orders.>", "_INBOX.>"]}, "sub": {"allow": ["orders.>", "_INBOX.>"]}})),
    }
    return {
        "operator_jwt": operator_outcome.entity.jwt_path,
        "system_account": sys_account.entity.public_key,
        "accounts": {o.entity.public_key: o.token for o in (sys_account, app)},
        "creds": {name: o.extra["creds_path"] for name, o in users.items()},
    }


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_config(region, port):
    """nats-server reads JSON as configuration, so the config is plain data."""
    return {
        "listen": "127.0.0.1:%d" % port,
        "operator": region["operator_jwt"],
        "system_account": region["system_account"],
        "resolver": "MEMORY",
        "resolver_preload": region["accounts"],
    }


def wait_for_port(process, port, log_path):
    """Wait until the server accepts connections, at most START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("nats-server exited with %s:\n%s" % (process.returncode, open(log_path).read()))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("nats-server did not listen on 127.0.0.1:%d within %ds" % (port, START_TIMEOUT))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("operator-mode")
    return {
        "trusted": build_region(NscPaths(str(root / "nsc")), "REGION1"),
        "foreign": build_region(NscPaths(str(root / "other-nsc")), "REGION1"),
        "root": root,
    }


@pytest.fixture(scope="module")
def server(stores):
    """A nats-server trusting the REGION1 store; stopped after the tests."""
    root, port = stores["root"], free_port()
    config_path, log_path = root / "nats-server.conf", root / "nats-server.log"
    config_path.write_text(json.dumps(server_config(stores["trusted"], port), indent=2))
    subprocess.run([NATS_SERVER, "-t", "-c", str(config_path)], check=True, timeout=30, capture_output=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen([NATS_SERVER, "-c", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(process, port, log_path)
        yield {"url": "nats://127.0.0.1:%d" % port, "log": log_path}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def connect(url, creds):
    return await nats.connect(url, user_credentials=str(creds), connect_timeout=CLIENT_TIMEOUT,
                              allow_reconnect=False, max_reconnect_attempts=0)


async def round_trip(url, creds):
    client = await connect(url, creds)
    try:
        subscription = await client.subscribe("orders.created")
        await client.publish("orders.created", b"order 42")
        await client.flush(timeout=CLIENT_TIMEOUT)
        message = await subscription.next_msg(timeout=CLIENT_TIMEOUT)
        return message.data
    finally:
        await client.close()


async def system_ping(url, creds):
    client = await connect(url, creds)
    try:
        reply = await client.request("$SYS.REQ.SERVER.PING", b"", timeout=CLIENT_TIMEOUT)
        return json.loads(reply.data)
    finally:
        await client.close()


def run(coroutine):
    """Run a client coroutine with an overall bound."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout=4 * CLIENT_TIMEOUT))


def test_the_user_publishes_and_receives(server, stores):
    assert run(round_trip(server["url"], stores["trusted"]["creds"]["app"])) == b"order 42"


def test_the_sys_user_reaches_the_system_account(server, stores):
    reply = run(system_ping(server["url"], stores["trusted"]["creds"]["sys"]))
    assert reply["server"]["id"]


def test_a_user_of_another_operator_is_refused(server, stores):
    with pytest.raises(nats_errors.Error, match="Authorization Violation"):
        run(round_trip(server["url"], stores["foreign"]["creds"]["app"]))
    assert "authentication error" in open(server["log"]).read()
