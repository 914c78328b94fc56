# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nats_message_check against real nats-servers on loopback: two routed servers and one alone."""

from __future__ import annotations

import subprocess
import time
import socket

import pytest

from ansible_collections.cmsgs.nats.plugins.modules import nats_message_check
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import free_port

pytestmark = needs_nats_server


def _wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("port %d never opened" % port)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """a and b routed into one cluster; lone shares nothing with them."""
    ports = {name: free_port() for name in ("a", "b", "lone", "route_a", "route_b")}
    processes = []
    commands = {
        "a": ["-p", str(ports["a"]), "--cluster_name", "c", "--cluster", "nats://127.0.0.1:%d" % ports["route_a"],
              "--routes", "nats://127.0.0.1:%d" % ports["route_b"]],
        "b": ["-p", str(ports["b"]), "--cluster_name", "c", "--cluster", "nats://127.0.0.1:%d" % ports["route_b"],
              "--routes", "nats://127.0.0.1:%d" % ports["route_a"]],
        "lone": ["-p", str(ports["lone"])],
    }
    try:
        for name, args in commands.items():
            processes.append(subprocess.Popen([nats_server_binary(), "-a", "127.0.0.1", "-n", name] + args,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for name in commands:
            _wait_port(ports[name])
        yield {name: "nats://127.0.0.1:%d" % ports[name] for name in commands}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def test_a_message_crosses_the_route(servers, capsys, monkeypatch):
    result = run_module(nats_message_check.main, capsys, monkeypatch, publish_url=servers["a"],
                        subscribe_urls=[servers["b"], servers["a"]], timeout=10)
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert set(result["received"]) == {servers["a"], servers["b"]}
    assert result["subject"].startswith("_CMSGS.check.")


def test_a_server_that_carries_no_traffic_is_named(servers, capsys, monkeypatch):
    result = run_module(nats_message_check.main, capsys, monkeypatch, publish_url=servers["a"],
                        subscribe_urls=[servers["lone"]], timeout=1.5)
    assert result["failed"] is True
    assert result["msg"] == ("a message published on %s did not reach the subscriber on %s within 2 s"
                             % (servers["a"], servers["lone"]))


def test_an_unreachable_server_is_named(capsys, monkeypatch):
    url = "nats://127.0.0.1:%d" % free_port()
    result = run_module(nats_message_check.main, capsys, monkeypatch, publish_url=url, subscribe_urls=[url], timeout=1)
    assert result["failed"] is True
    assert result["msg"].startswith("the subscriber could not connect to %s" % url)


def test_credentials_never_come_back(servers, capsys, monkeypatch):
    result = run_module(nats_message_check.main, capsys, monkeypatch, publish_url=servers["a"],
                        subscribe_urls=[servers["b"]], creds="SUAXSECRETSEED", timeout=2)
    # The server runs without auth and ignores bad creds, or the client refuses them: either way no echo.
    assert "SUAXSECRETSEED" not in repr(result)


def test_no_subscriber_is_refused(capsys, monkeypatch):
    result = run_module(nats_message_check.main, capsys, monkeypatch, publish_url="nats://127.0.0.1:1", subscribe_urls=[])
    assert result["failed"] is True and "subscribe_urls is empty" in result["msg"]
