# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nats_message_check against real nats-servers on loopback: two routed servers and one alone."""

from __future__ import annotations

import asyncio
import base64
import glob
import json
import os
import re
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.request

import nats
import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.modules import nats_message_check
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import NatsServer, Pki, free_port

try:  # ansible-core 2.19 and later return a failure's traceback only when asked to
    from ansible.module_utils._internal import _traceback
except ImportError:
    _traceback = None

pytestmark = needs_nats_server

CHECK_NAME = "cmsgs.nats message check"


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
    """a and b routed into one cluster; lone shares nothing with them. a_monitor is a's HTTP monitoring."""
    ports = {name: free_port() for name in ("a", "b", "lone", "route_a", "route_b", "a_monitor")}
    processes = []
    commands = {
        "a": ["-p", str(ports["a"]), "--cluster_name", "c", "--cluster", "nats://127.0.0.1:%d" % ports["route_a"],
              "--routes", "nats://127.0.0.1:%d" % ports["route_b"], "-m", str(ports["a_monitor"])],
        "b": ["-p", str(ports["b"]), "--cluster_name", "c", "--cluster", "nats://127.0.0.1:%d" % ports["route_b"],
              "--routes", "nats://127.0.0.1:%d" % ports["route_a"]],
        "lone": ["-p", str(ports["lone"])],
    }
    try:
        for name, args in commands.items():
            processes.append(subprocess.Popen([nats_server_binary(), "-a", "127.0.0.1", "-n", name] + args,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for name in list(commands) + ["a_monitor"]:
            _wait_port(ports[name])
        urls = {name: "nats://127.0.0.1:%d" % ports[name] for name in commands}
        urls["a_monitor"] = "http://127.0.0.1:%d" % ports["a_monitor"]
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def check(capsys, monkeypatch, **args):
    return run_module(nats_message_check.main, capsys, monkeypatch, **args)


class Watcher:
    """A client of our own, in a thread, that records every message on a subject prefix.

    With forward_to, the second message seen is also published on that server, after
    calling on_forward: a subscriber there gets the check's message only from its second publish.
    """

    def __init__(self, url, prefix, forward_to=None, on_forward=None):
        self.url, self.prefix, self.forward_to, self.on_forward = url, prefix, forward_to, on_forward
        self.messages = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        watching = await nats.connect(self.url)
        forwarding = await nats.connect(self.forward_to) if self.forward_to else None

        async def seen(message):
            self.messages.append((message.subject, message.data))
            if forwarding is not None and len(self.messages) == 2:
                self.on_forward()
                await forwarding.publish(message.subject, message.data)
                await forwarding.flush()

        await watching.subscribe(self.prefix + ".>", cb=seen)
        await watching.flush()
        self._ready.set()
        await self._done.wait()
        for connection in (watching, forwarding):
            if connection is not None:
                await connection.close()

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10), "the watcher did not connect"
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._done.set)
        self._thread.join(10)


class FrozenClock:
    """Stands in for the module's clock: time stands still until a test moves it.

    After 20 s of real time it jumps to infinity, so a check that never ends fails instead of hanging.
    """

    def __init__(self):
        self.start = self.now = time.monotonic()

    def monotonic(self):
        return self.now if time.monotonic() < self.start + 20 else float("inf")


def check_connections(servers):
    """The check's connections that server a still has open."""
    with urllib.request.urlopen(servers["a_monitor"] + "/connz", timeout=5) as answer:
        connections = json.loads(answer.read())["connections"] or []
    return [c for c in connections if c.get("name") == CHECK_NAME]


def test_a_message_crosses_the_route(servers, capsys, monkeypatch):
    result = check(capsys, monkeypatch, publish_url=servers["a"], subscribe_urls=[servers["b"], servers["a"]], timeout=10)
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert set(result["received"]) == {servers["a"], servers["b"]}
    # Delays are milliseconds with a tenth of a millisecond, as the documentation shows them.
    assert all(isinstance(ms, float) and 0 <= ms < 10000 for ms in result["received"].values())
    assert re.fullmatch(r"_CMSGS\.check\.[0-9a-f]{12}", result["subject"])
    # Every connection of the check is closed when it ends (the server drops it once it sees the close).
    deadline = time.monotonic() + 5
    while check_connections(servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert check_connections(servers) == []


@pytest.mark.parametrize("order", ["late subscriber first", "late subscriber last"])
def test_each_delay_runs_from_the_first_publish_to_that_subscribers_first_delivery(servers, capsys, monkeypatch, order):
    # lone gets the message only when the watcher forwards the second publish, and the clock has
    # moved 123.45678 ms by then; the subscriber on a got the first publish, with no time passed.
    clock = FrozenClock()
    monkeypatch.setattr(nats_message_check, "time", clock)

    def second_publish():
        clock.now = clock.start + 0.12345678

    urls = [servers["lone"], servers["a"]] if order == "late subscriber first" else [servers["a"], servers["lone"]]
    with Watcher(servers["a"], "latency", forward_to=servers["lone"], on_forward=second_publish) as watcher:
        result = check(capsys, monkeypatch, publish_url=servers["a"], subscribe_urls=urls, subject="latency", timeout=10)
    assert result.get("failed") is not True, result
    assert result["received"] == {servers["lone"]: 123.5, servers["a"]: 0.0}
    assert re.fullmatch(r"latency\.[0-9a-f]{12}", result["subject"])
    # What went over the wire: the same message on the check's subject, published again each round.
    assert len(watcher.messages) >= 2
    assert set(watcher.messages) == {(result["subject"], ("cmsgs.nats check %s" % result["subject"]).encode())}


def test_a_server_that_carries_no_traffic_is_named(servers, capsys, monkeypatch):
    with Watcher(servers["a"], "unrouted") as watcher:
        result = check(capsys, monkeypatch, publish_url=servers["a"], subscribe_urls=[servers["lone"]],
                       subject="unrouted", timeout=1.5)
    assert result["failed"] is True
    assert result["msg"] == ("a message published on %s did not reach the subscriber on %s within 2 s"
                             % (servers["a"], servers["lone"]))
    # The message is published again four times a second until the deadline (here at least 3 times,
    # leaving room for a slow machine), so interest that arrives late is still met.
    assert len(watcher.messages) >= 3


def test_every_subscriber_missed_is_named(servers, capsys, monkeypatch):
    second_lone = servers["lone"].replace("127.0.0.1", "localhost")
    result = check(capsys, monkeypatch, publish_url=servers["a"], subscribe_urls=[servers["lone"], servers["a"], second_lone],
                   timeout=1)
    assert result["failed"] is True
    assert result["msg"] == ("a message published on %s did not reach the subscriber on %s, %s within 1 s"
                             % (servers["a"], servers["lone"], second_lone))


@pytest.mark.parametrize("role, timeout, reason", [
    ("subscriber", 1, " within 1 s"),
    ("publisher", 1, " within 1 s"),
    # nats-py tries a refused server twice, 2 s apart, then gives up: that is said, not a timeout.
    ("subscriber", 3, ": nats: no servers available for connection"),
])
def test_an_unreachable_server_is_named(servers, capsys, monkeypatch, role, timeout, reason):
    url = "nats://127.0.0.1:%d" % free_port()
    subscribe = url if role == "subscriber" else servers["a"]
    result = check(capsys, monkeypatch, publish_url=url, subscribe_urls=[subscribe], timeout=timeout)
    assert result["failed"] is True
    assert result["msg"] == "the %s could not connect to %s%s" % (role, url, reason)


def test_a_connection_error_without_a_message_is_named_by_its_kind(capsys, monkeypatch):
    async def refuse(*_args, **_kwargs):
        raise ConnectionResetError()
    monkeypatch.setattr(nats_message_check.nats, "connect", refuse)
    url = "nats://127.0.0.1:%d" % free_port()
    result = check(capsys, monkeypatch, publish_url=url, subscribe_urls=[url], timeout=1)
    assert result["msg"] == "the subscriber could not connect to %s: ConnectionResetError" % url


def test_credentials_never_come_back(servers, capsys, monkeypatch):
    result = check(capsys, monkeypatch, publish_url=servers["a"], subscribe_urls=[servers["b"]], creds="SUAXSECRETSEED",
                   timeout=2)
    # The server runs without auth and ignores bad creds, or the client refuses them: either way no echo.
    assert "SUAXSECRETSEED" not in repr(result)


def test_no_subscriber_is_refused(capsys, monkeypatch):
    result = check(capsys, monkeypatch, publish_url="nats://127.0.0.1:1", subscribe_urls=[])
    assert result["failed"] is True
    assert result["msg"] == "subscribe_urls is empty: name at least one server that must deliver the message"


def test_missing_nats_py_is_reported_with_the_import_error(capsys, monkeypatch):
    if _traceback is not None:  # as with ANSIBLE_DISPLAY_TRACEBACK=error
        monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: event is _traceback.TracebackEvent.ERROR)
    monkeypatch.setattr(nats_message_check, "HAS_NATS", False)
    monkeypatch.setattr(nats_message_check, "NATS_IMPORT_ERROR", "Traceback: No module named 'nats'")
    result = check(capsys, monkeypatch, publish_url="nats://127.0.0.1:1", subscribe_urls=["nats://127.0.0.1:1"])
    assert result["failed"] is True and result["msg"] == missing_required_lib("nats-py")
    assert result["exception"] == "Traceback: No module named 'nats'"


def test_tls_servers_are_trusted_through_the_given_ca(tmp_path, capsys, monkeypatch):
    pki = Pki(tmp_path)
    cert, key, _cert, _key = pki.leaf("nats")
    port = free_port()
    server = NatsServer(tmp_path, 'listen: "127.0.0.1:%d"\ntls { cert_file: "%s"\n key_file: "%s" }\n' % (port, cert, key),
                        [port]).start()
    try:
        url = "tls://127.0.0.1:%d" % port
        with open(pki.ca_path) as handle:
            ca = handle.read()
        result = check(capsys, monkeypatch, publish_url=url, subscribe_urls=[url], ca=ca, timeout=5)
    finally:
        server.stop()
    assert result.get("failed") is not True, result
    assert list(result["received"]) == [url]


class Greeter:
    """A NATS server that greets one client, reads its CONNECT and refuses it as unauthorized.

    delay holds back the greeting, as a slow server does. on_connect runs once the CONNECT is in.
    """

    def __init__(self, delay=0.0, on_connect=None):
        self.delay, self.on_connect = delay, on_connect
        self.nonce = "pbtlsy0LQ5nZ2dtG"
        self.connect = None
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.url = "nats://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn = self.listener.accept()[0]
        self.listener.close()  # one client only: a second attempt is refused
        conn.settimeout(10)
        try:
            time.sleep(self.delay)
            info = dict(server_id="greeter", version="2.15.1", proto=1, max_payload=1048576, nonce=self.nonce)
            conn.sendall(b"INFO " + json.dumps(info).encode() + b"\r\n")
            received = b""
            while b"PING\r\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received += chunk
            self.connect = json.loads(received.split(b"\r\n")[0].split(b" ", 1)[1])
            if self.on_connect:
                self.on_connect()
            conn.sendall(b"-ERR 'Authorization Violation'\r\n")
        finally:
            conn.close()


@pytest.fixture
def user_creds():
    """A user's .creds content, its JWT and its signing (ed25519 signs the same data the same way)."""
    account = nats_jwt.KeyPair(nats_jwt.new_seed("account"))
    user = nats_jwt.KeyPair(nats_jwt.new_seed("user"))
    token = nats_jwt.sign_claims(nats_jwt.build_claims("user", "checker", user.public_key, account.public_key, {}), account)
    return dict(creds=nats_jwt.render_creds(token, user.seed), jwt=token, sign=user.sign)


def test_the_creds_are_presented_from_a_private_file_that_is_removed(tmp_path, user_creds, capsys, monkeypatch):
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    monkeypatch.chdir(tmp_path)
    files_during_connect = []

    def look_at_the_creds_file():
        files_during_connect.extend((os.path.basename(os.path.dirname(path)).startswith("cmsgs-check-"),
                                     stat.S_IMODE(os.stat(path).st_mode)) for path in glob.glob(str(scratch_root / "*" / "*")))

    greeter = Greeter(on_connect=look_at_the_creds_file)
    result = check(capsys, monkeypatch, publish_url=greeter.url, subscribe_urls=[greeter.url], creds=user_creds["creds"],
                   timeout=5)
    greeter.thread.join(10)
    # The server's refusal is the reason given, and the client did not try again.
    assert result["failed"] is True
    assert result["msg"] == "the subscriber could not connect to %s: nats: 'Authorization Violation'" % greeter.url
    # The CONNECT names the check and carries the user's JWT and the nonce signed with the user's seed.
    assert greeter.connect["name"] == CHECK_NAME and greeter.connect["jwt"] == user_creds["jwt"]
    assert base64.urlsafe_b64decode(greeter.connect["sig"] + "==") == user_creds["sign"](greeter.nonce.encode())
    # While connecting, the creds sat in one file readable by the owner only, in the check's scratch
    # directory; afterwards nothing is left there nor in the working directory.
    assert files_during_connect == [(True, 0o600)]
    assert os.listdir(str(scratch_root)) == [] and sorted(os.listdir(str(tmp_path))) == ["tmp"]


def test_a_server_slow_to_greet_is_given_the_whole_timeout(capsys, monkeypatch):
    # nats-py on its own gives up after 2 s; the check waits for the timeout it was given.
    greeter = Greeter(delay=2.5)
    result = check(capsys, monkeypatch, publish_url=greeter.url, subscribe_urls=[greeter.url], timeout=5)
    greeter.thread.join(10)
    assert result["failed"] is True
    assert result["msg"] == "the subscriber could not connect to %s: nats: 'Authorization Violation'" % greeter.url
    assert greeter.connect["name"] == CHECK_NAME and "jwt" not in greeter.connect
