# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmsgs-acs --config FILE run in-process: its arguments, its refusals (message on
stderr, exit status), and a real server on a free port that serves, logs its
start-up line and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.error
import urllib.request

import nats
import pytest
import uvloop

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import NatsServer, Pki
from ansible_collections.cmsgs.nats.tests.unit.acs.region import acs_config, new_account, now, write_config

from cmsgs_acs import __version__, cli  # noqa: E402  (client puts the source tree first)

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) (cmsgs_acs[.a-z_]*): (.*)$")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def process_state():
    """main() sets up logging, the loop policy and the collector for a whole
    process: put them back afterwards."""
    level = logging.getLogger().level
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        logging.getLogger().setLevel(level)
        signal.signal(signal.SIGTERM, sigterm)
        asyncio.set_event_loop_policy(None)
        gc.unfreeze()


def _main(argv):
    """cli.main(argv) with a bare root logger, so its logging set-up applies."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers[:] = []
    try:
        cli.main(argv)
    finally:
        root.handlers[:] = handlers


def _serve(argv, port, probe):
    """cli.main(argv) in this thread; once the port answers, probe() runs in another
    thread and then SIGTERM stops the server. Returns probe()'s result."""
    done = threading.Event()
    result = {}

    def client():
        while not done.is_set():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        else:
            return
        try:
            result["probe"] = probe()
        except BaseException as exc:  # handed to the test below
            result["error"] = exc
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        _main(argv)
    finally:
        done.set()
        thread.join(10)
    if "error" in result:
        raise result["error"]
    return result["probe"]


def _get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _get_once_gone(port, pub):
    """GET the account until it is no longer served (3 s at most): the last answer."""
    for _attempt in range(300):
        answer = _get(port, "/jwt/v1/accounts/%s" % pub)
        if answer[0] != 200:
            return answer
        time.sleep(0.01)
    return answer


def _listens_on(host, port) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return False
    return True


def _log(stderr):
    """The log lines main() wrote to stderr as (level, logger, message), but the store's."""
    lines = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        assert match, "not a log line in the configured format: %r" % line
        if match.group(2) != "cmsgs_acs.store":
            lines.append(match.groups())
    return lines


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == "cmsgs-acs %s\n" % __version__


def test_help_names_the_program_and_the_config_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cmsgs-acs [-h] --config CONFIG [--version]\n")
    assert "\nAccount server for NATS operator mode.\n" in out
    assert re.search(r"\n  --config CONFIG +JSON configuration file\n", out)
    assert re.search(r"\n  --version +show program's version number and exit\n", out)


def test_without_config_the_usage_error_names_the_missing_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("usage: cmsgs-acs [-h] --config CONFIG [--version]\n"
                                       "cmsgs-acs: error: the following arguments are required: --config\n")


def _refusal(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        _main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_an_unreadable_config_file_is_refused_with_status_2(capsys, tmp_path, process_state):
    path = str(tmp_path / "absent.json")
    code, out, err = _refusal(capsys, ["--config", path])
    assert (code, out) == (2, "")
    assert err == ("cmsgs-acs: the configuration file %s cannot be read: "
                   "[Errno 2] No such file or directory: '%s'\n" % (path, path))


def test_a_bad_system_account_file_is_refused_with_status_2(region, capsys, tmp_path, process_state):
    bad = tmp_path / "sys.jwt"
    bad.write_text("not a jwt")
    config = acs_config(region, tmp_path / "store", system_account_jwt_path=str(bad))
    code, out, err = _refusal(capsys, ["--config", write_config(tmp_path / "acs.json", config)])
    assert (code, out) == (2, "")
    assert err.startswith("cmsgs-acs: system_account_jwt_path %s is not a readable account JWT: " % bad)
    assert err.count("\n") == 1


def test_a_store_dir_that_is_a_file_is_refused_with_status_2(region, capsys, tmp_path, process_state):
    store = tmp_path / "store"
    store.write_text("")
    config = acs_config(region, store)
    code, out, err = _refusal(capsys, ["--config", write_config(tmp_path / "acs.json", config)])
    assert (code, out) == (2, "")
    assert err.startswith("cmsgs-acs: store_dir %s cannot be used: " % store)
    assert err.endswith(" (it must be a folder this user can write)\n")
    assert err.count("\n") == 1


def test_a_port_in_use_is_refused_with_status_1(region, capsys, tmp_path, process_state):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = acs_config(region, tmp_path / "store", port=port)
        code, out, err = _refusal(capsys, ["--config", write_config(tmp_path / "acs.json", config)])
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == ("cmsgs-acs: cannot serve on 127.0.0.1:%d: [Errno 98] error while attempting "
                                    "to bind on address ('127.0.0.1', %d): address already in use" % (port, port))


def test_a_primary_serves_its_store_logs_its_start_and_stops_on_sigterm(region, capsys, tmp_path, process_state):
    account = new_account()
    token = region.mint(account, issued_at=now() + 1)
    seeded = make_service(region, tmp_path / "store")
    assert asyncio.run(seeded.merge(account.public_key, token.encode(), "test")) == "stored"
    port = _free_port()
    config = acs_config(region, tmp_path / "store", port=port)

    answers = _serve(["--config", write_config(tmp_path / "acs.json", config)], port, lambda: [
        _get(port, "/jwt/v1/accounts/%s" % account.public_key),
        _get(port, "/jwt/v1/accounts/%s" % region.sys_pub),
        _get(port, "/healthz"),
        _listens_on("127.0.0.2", port),
    ])

    with open(region.sys_jwt_path) as handle:
        sys_token = handle.read().strip()
    # listen_host 127.0.0.1: not reachable on another loopback address.
    assert answers == [(200, token), (200, sys_token), (200, ""), False]
    assert _log(capsys.readouterr().err) == [
        ("INFO", "cmsgs_acs", "cmsgs-acs %s serving 1 accounts of operator REGION1 on http://127.0.0.1:%d/jwt/v1 "
                              "(primary, event loop uvloop)" % (__version__, port)),
        ("INFO", "cmsgs_acs", "nats_urls is empty: no claim update notifications, no NATS sync"),
        ("INFO", "cmsgs_acs", "stopping"),
    ]


def test_a_secondary_with_its_primary_away_still_serves_and_says_whose_secondary_it_is(
        region, capsys, tmp_path, process_state):
    port, away, missing = _free_port(), _free_port(), new_account().public_key
    primary_url = "http://127.0.0.1:%d" % away
    config = acs_config(region, tmp_path / "store", port=port, primary_url=primary_url, sync_interval_seconds=3600)

    answers = _serve(["--config", write_config(tmp_path / "acs.json", config)], port,
                     lambda: [_get(port, "/healthz"), _get(port, "/jwt/v1/accounts/%s" % missing)])

    assert answers == [(200, ""), (404, "no matching account JWT for %s\n" % missing)]
    log = _log(capsys.readouterr().err)
    assert log[0][:2] == ("WARNING", "cmsgs_acs.replication")
    assert log[0][2].startswith("primary %s/jwt/v1/pack?max=10000 not reachable (ClientConnectorError: " % primary_url)
    assert log[0][2].endswith("); serving the 0 accounts held here")
    assert log[1:] == [
        ("INFO", "cmsgs_acs", "cmsgs-acs %s serving 0 accounts of operator REGION1 on http://127.0.0.1:%d/jwt/v1 "
                              "(secondary of %s, event loop uvloop)" % (__version__, port, primary_url)),
        ("INFO", "cmsgs_acs", "nats_urls is empty: no claim update notifications, no NATS sync"),
        ("INFO", "cmsgs_acs", "stopping"),
    ]


class _Pack(BaseHTTPRequestHandler):
    """A primary's /jwt/v1/pack answering the lines in server.pack."""

    def do_GET(self):
        body = b"".join(line + b"\n" for line in self.server.pack)
        self.send_response(200 if self.path == "/jwt/v1/pack?max=10000" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_secondary_keeps_pulling_its_primary_every_sync_interval(region, capsys, tmp_path, process_state):
    primary = ThreadingHTTPServer(("127.0.0.1", 0), _Pack)
    primary.pack = []
    threading.Thread(target=primary.serve_forever, daemon=True).start()
    account = new_account()
    token = region.mint(account, issued_at=now() + 1)
    port = _free_port()
    primary_url = "http://127.0.0.1:%d" % primary.server_address[1]
    config = acs_config(region, tmp_path / "store", port=port, primary_url=primary_url, sync_interval_seconds=0.05)

    def probe():
        before = _get(port, "/jwt/v1/accounts/%s" % account.public_key)
        primary.pack = [("%s|%s" % (account.public_key, token)).encode()]
        for _attempt in range(300):
            after = _get(port, "/jwt/v1/accounts/%s" % account.public_key)
            if after[0] == 200:
                break
            time.sleep(0.01)
        return before, after

    try:
        answers = _serve(["--config", write_config(tmp_path / "acs.json", config)], port, probe)
    finally:
        primary.shutdown()
        primary.server_close()

    assert answers == ((404, "no matching account JWT for %s\n" % account.public_key), (200, token))
    messages = [message for _level, _name, message in _log(capsys.readouterr().err)]
    assert messages[:2] == ["primary %s/jwt/v1/pack?max=10000 reachable" % primary_url,
                            "cmsgs-acs %s serving 0 accounts of operator REGION1 on http://127.0.0.1:%d/jwt/v1 "
                            "(secondary of %s, event loop uvloop)" % (__version__, port, primary_url)]
    assert "pull from the primary: stored 1" in messages


def test_with_delete_expired_an_expired_account_is_deleted_at_start(region, capsys, tmp_path, process_state):
    store = tmp_path / "store"
    store.mkdir()
    expired, kept = new_account(), new_account()
    (store / ("%s.jwt" % expired.public_key)).write_text(region.mint(expired, issued_at=now() - 60,
                                                                     expires=now() - 30))
    kept_token = region.mint(kept, issued_at=now() - 60)
    (store / ("%s.jwt" % kept.public_key)).write_text(kept_token)
    port = _free_port()
    config = acs_config(region, store, port=port, delete_expired=True)

    def probe():
        return [_get_once_gone(port, expired.public_key), _get(port, "/jwt/v1/accounts/%s" % kept.public_key)]

    answers = _serve(["--config", write_config(tmp_path / "acs.json", config)], port, probe)

    assert answers == [(404, "no matching account JWT for %s\n" % expired.public_key), (200, kept_token)]
    assert sorted(os.listdir(str(store))) == ["%s.jwt" % kept.public_key]
    messages = [message for _level, _name, message in _log(capsys.readouterr().err)]
    assert "deleted the expired JWT of account %s" % expired.public_key in messages
    assert messages[-1] == "stopping"


def test_with_delete_expired_an_account_expiring_while_served_is_deleted_by_a_later_sweep(
        region, capsys, tmp_path, process_state, monkeypatch):
    monkeypatch.setattr(cli, "EXPIRY_SWEEP_SECONDS", 0.05)
    store = tmp_path / "store"
    account = new_account()
    port = _free_port()
    config = acs_config(region, store, port=port, delete_expired=True)

    def probe():
        request = urllib.request.Request("http://127.0.0.1:%d/jwt/v1/accounts/%s" % (port, account.public_key),
                                         data=region.mint(account, expires=now() + 1).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            pushed = response.status
        return pushed, _get_once_gone(port, account.public_key)

    answers = _serve(["--config", write_config(tmp_path / "acs.json", config)], port, probe)

    assert answers == (200, (404, "no matching account JWT for %s\n" % account.public_key))
    assert os.listdir(str(store)) == []
    messages = [message for _level, _name, message in _log(capsys.readouterr().err)]
    assert "deleted the expired JWT of account %s" % account.public_key in messages


@pytest.mark.parametrize(("new_loop", "expected"), [
    (asyncio.new_event_loop, "asyncio"),
    (uvloop.new_event_loop, "uvloop"),
])
def test_the_start_up_line_names_the_event_loop(new_loop, expected):
    loop = new_loop()
    try:
        assert cli.loop_name(loop) == expected
    finally:
        loop.close()


def test_with_nats_away_http_still_serves_and_the_link_says_it_retries(region, capsys, tmp_path, process_state):
    port, nats_port = _free_port(), _free_port()
    config = acs_config(region, tmp_path / "store", port=port, nats_urls=["nats://127.0.0.1:%d" % nats_port])

    def probe():
        answer = _get(port, "/healthz")
        time.sleep(0.2)  # the first connect attempt, refused at once, and its warning
        return answer

    assert _serve(["--config", write_config(tmp_path / "acs.json", config)], port, probe) == (200, "")
    log = _log(capsys.readouterr().err)
    assert log[0] == ("INFO", "cmsgs_acs", "cmsgs-acs %s serving 0 accounts of operator REGION1 on "
                                           "http://127.0.0.1:%d/jwt/v1 (primary, event loop uvloop)" % (__version__, port))
    warnings = [message for level, _name, message in log if level == "WARNING"]
    assert warnings[0] == ("NATS: ConnectionRefusedError: [Errno 111] Connection refused "
                           "(HTTP keeps serving; retrying every second)")
    assert log[-1] == ("INFO", "cmsgs_acs", "stopping")


def _listen_backlog(port) -> int:
    """The accept queue length the kernel keeps for the listening socket on port
    (ss prints it as Send-Q of a LISTEN socket)."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert len(rows) == 1, out
    return int(rows[0][2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_the_listen_queue_holds_a_burst_of_1024_connections(region, capsys, tmp_path, process_state):
    # Every nats-server of a cluster fetches its accounts at the same moment after a
    # restart: a short accept queue would refuse some of them.
    with open("/proc/sys/net/core/somaxconn") as handle:
        kernel_cap = int(handle.read())
    port = _free_port()
    config = acs_config(region, tmp_path / "store", port=port)
    backlog = _serve(["--config", write_config(tmp_path / "acs.json", config)], port, lambda: _listen_backlog(port))
    assert backlog == min(1024, kernel_cap)


def test_serve_writes_no_access_log_line_whatever_the_logging_set_up(region, tmp_path, process_state):
    # A request line could carry whatever a client put in the path, and nats-server
    # fetches often: serve() itself turns the access log off, not only main()'s levels.
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    access = logging.getLogger("aiohttp.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.DEBUG)
    port = _free_port()
    service = make_service(region, tmp_path / "store", port=port)

    async def scenario():
        served = asyncio.ensure_future(cli.serve(service))
        loop = asyncio.get_running_loop()
        for _attempt in range(500):
            if await loop.run_in_executor(None, _listens_on, "127.0.0.1", port):
                break
            await asyncio.sleep(0.01)
        answer = await loop.run_in_executor(None, _get, port, "/jwt/v1/accounts/secret-in-the-path")
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(served, 10)
        return answer

    try:
        answer = asyncio.run(scenario())
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert answer[0] == 404
    assert [record.getMessage() for record in records] == []


def _tls_operator_server(directory, region, pki):
    """A real nats-server in operator mode that takes TLS clients only, SYS preloaded."""
    cert, key, _cert, _key = pki.leaf("nats")
    with open(region.sys_jwt_path) as handle:
        sys_token = handle.read().strip()
    port = _free_port()
    config = {
        "listen": "127.0.0.1:%d" % port,
        "operator": region.operator_jwt_path,
        "system_account": region.sys_pub,
        "resolver": "MEMORY",
        "resolver_preload": {region.sys_pub: sys_token},
        "tls": {"cert_file": cert, "key_file": key},
    }
    return NatsServer(directory, json.dumps(config), [port]).start(), "tls://127.0.0.1:%d" % port


async def _watch_pack_requests(url, region, pki, acs_port, seconds):
    """Connect as a SYS user, wait until the ACS says it is on NATS, then count its
    pack requests for `seconds`, answering each as a peer in sync does."""
    requests = []

    async def seen(msg):
        requests.append(msg.subject)
        await msg.respond(b"")  # a peer whose store is the same: the request ends at once

    client = await nats.connect(url, user_credentials=region.sys_creds, tls=ssl.create_default_context(cafile=pki.ca_path))
    try:
        await client.subscribe("$SYS.REQ.CLAIMS.PACK", cb=seen)
        await client.flush()
        loop = asyncio.get_running_loop()
        connected = None
        for _attempt in range(300):
            status, metrics = await loop.run_in_executor(None, _get, acs_port, "/metrics")
            connected = re.search(r"^cmsgs_acs_nats_connected (\S+)$", metrics, re.M).group(1)
            if connected == "1":
                break
            await asyncio.sleep(0.1)
        requests.clear()
        await asyncio.sleep(seconds)
        return status, connected, len(requests)
    finally:
        await client.close()


@needs_nats_server
def test_the_link_uses_the_sys_creds_the_ca_and_the_sync_interval_it_is_given(region, capsys, tmp_path, process_state):
    # The server takes TLS clients of REGION1 only: the link connects only with the
    # configured SYS creds and the configured CA, and asks its peers for their packs
    # every sync_interval_seconds (0.25 s here: at least 4 requests in 1.5 s).
    pki = Pki(tmp_path)
    server, url = _tls_operator_server(tmp_path, region, pki)
    try:
        port = _free_port()
        config = acs_config(region, tmp_path / "store", port=port, nats_urls=[url], nats_tls_ca_path=pki.ca_path,
                            sync_interval_seconds=0.25)
        status, connected, pack_requests = _serve(
            ["--config", write_config(tmp_path / "acs.json", config)], port,
            lambda: asyncio.run(_watch_pack_requests(url, region, pki, port, 1.5)))
    finally:
        server.stop()
    assert (status, connected) == (200, "1")
    assert pack_requests >= 4
    # The service's own lines (asyncio's ssl warnings come from the test's client).
    log = [match.groups() for match in map(LINE.match, capsys.readouterr().err.splitlines()) if match]
    assert ("INFO", "cmsgs_acs.nats", "connected to NATS at 127.0.0.1:%s" % url.rsplit(":", 1)[1]) in log
    # A clean stop closes the link without a warning about a lost connection.
    assert [entry for entry in log if entry[0] == "WARNING"] == []
    assert log[-1] == ("INFO", "cmsgs_acs", "stopping")
