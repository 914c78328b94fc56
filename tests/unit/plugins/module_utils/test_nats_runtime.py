# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nats_runtime reads from a nats-server binary, a configuration file and a
running server's /varz, and how it compares them: with the real nats-server."""

from __future__ import annotations

import datetime
import http.server
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_runtime
from ansible_collections.cmsgs.nats.tests.unit.http_standin import StandIn
from ansible_collections.cmsgs.nats.tests.unit.module_runner import HostCommands, script
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import Pki
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server

UTC = datetime.timezone.utc
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- _parse_time: the load time a server before 2.10 reports ------------------

@pytest.mark.parametrize("text, wanted", [
    # Go prints up to nanoseconds; the fraction is cut to microseconds.
    ("2026-12-01T10:00:00.123456789Z", datetime.datetime(2026, 12, 1, 10, 0, 0, 123456, UTC)),
    ("2026-12-01T10:00:00.5Z", datetime.datetime(2026, 12, 1, 10, 0, 0, 500000, UTC)),
    ("2026-12-01T10:00:00Z", datetime.datetime(2026, 12, 1, 10, 0, 0, 0, UTC)),
    ("2026-12-01T10:00:00.25+02:00",
     datetime.datetime(2026, 12, 1, 10, 0, 0, 250000, datetime.timezone(datetime.timedelta(hours=2)))),
    ("2026-12-01T10:00:00-01:30",
     datetime.datetime(2026, 12, 1, 10, 0, 0, 0, datetime.timezone(-datetime.timedelta(hours=1, minutes=30)))),
])
def test_load_times_are_read_with_their_fraction_and_zone(text, wanted):
    parsed = nats_runtime._parse_time(text)
    assert (parsed, parsed.utcoffset()) == (wanted, wanted.utcoffset())


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-12-01 10:00:00Z", "2026-12-01T10:00:00"])
def test_a_missing_or_unreadable_load_time_is_none(text):
    assert nats_runtime._parse_time(text) is None


# --- compare: the running server against the disk -----------------------------

def test_a_server_that_does_not_answer_runs_nothing():
    assert nats_runtime.compare(None, DIGEST_A, 0, "2.15.1") == {
        "running": False, "server_name": None, "running_version": None, "running_digest": None, "method": "none",
        "version_matches": False, "config_matches": False,
        "differences": ["the server does not answer on its monitoring port"]}


def test_the_same_digest_and_version_is_no_difference():
    varz = {"server_name": "n1", "version": "2.15.1", "config_digest": DIGEST_A}
    assert nats_runtime.compare(varz, DIGEST_A, 0, "2.15.1") == {
        "running": True, "server_name": "n1", "running_version": "2.15.1", "running_digest": DIGEST_A,
        "method": "digest", "version_matches": True, "config_matches": True, "differences": []}


def test_another_digest_and_version_are_both_named():
    varz = {"server_name": "n1", "version": "2.14.6", "config_digest": DIGEST_B}
    assert nats_runtime.compare(varz, DIGEST_A, 0, "2.15.1") == {
        "running": True, "server_name": "n1", "running_version": "2.14.6", "running_digest": DIGEST_B,
        "method": "digest", "version_matches": False, "config_matches": False,
        "differences": ["it runs version 2.14.6, the binary on disk is 2.15.1",
                        "it runs the configuration %s, the file on disk is %s" % (DIGEST_B, DIGEST_A)]}


def test_a_binary_of_unknown_version_matches_any_running_version():
    varz = {"server_name": "n1", "version": "2.14.6", "config_digest": DIGEST_A}
    state = nats_runtime.compare(varz, DIGEST_A, 0, None)
    assert (state["version_matches"], state["differences"]) == (True, [])


WRITTEN = datetime.datetime(2026, 12, 1, 10, 0, 0, 500000, UTC)


@pytest.mark.parametrize("varz, file_digest", [
    ({"version": "2.9.10", "config_load_time": "2026-12-01T10:00:00.5Z"}, DIGEST_A),   # no digest on the server
    ({"version": "2.9.10", "config_load_time": "2026-12-01T10:00:00.5Z", "config_digest": ""}, DIGEST_A),
    ({"version": "2.9.10", "config_load_time": "2026-12-01T10:00:00.5Z", "config_digest": DIGEST_B}, None),
])
def test_without_a_digest_on_either_side_a_load_at_the_writing_time_matches(varz, file_digest):
    assert nats_runtime.compare(varz, file_digest, WRITTEN.timestamp(), "2.9.10") == {
        "running": True, "server_name": None, "running_version": "2.9.10",
        "running_digest": varz.get("config_digest") or None,
        "method": "load_time", "version_matches": True, "config_matches": True, "differences": []}


@pytest.mark.parametrize("varz, mtime, when", [
    ({"config_load_time": "2026-12-01T10:00:00.499999Z"}, WRITTEN.timestamp(), WRITTEN.isoformat()),
    ({}, WRITTEN.timestamp(), WRITTEN.isoformat()),
    ({"config_load_time": "2026-12-01T10:00:00.5Z"}, None, "unknown"),
])
def test_a_load_before_the_writing_time_or_an_unknown_time_is_a_difference(varz, mtime, when):
    state = nats_runtime.compare(dict(varz, version="2.9.10"), None, mtime, "2.9.10")
    assert (state["method"], state["config_matches"]) == ("load_time", False)
    assert state["differences"] == [
        "this nats-server reports no configuration digest, and it loaded its configuration (%s) "
        "before the file on disk was written (%s)" % (varz.get("config_load_time"), when)]


# --- the binary: version and configuration check --------------------------------

@needs_nats_server
def test_the_version_of_the_real_binary():
    assert nats_runtime.binary_version(HostCommands(), nats_server_binary()) == "2.15.1"


@pytest.mark.parametrize("body, version", [
    ('echo "nats-server: v2.10.0-beta.1"', "2.10.0-beta.1"),
    ('echo "nats-server version 2.9.10" >&2', "2.9.10"),
    ('echo "nats-server: v2.15.1"; exit 1', None),
    ('echo "no version here"', None),
])
def test_the_version_is_read_from_either_stream_of_a_binary_that_succeeds(tmp_path, body, version):
    runner = HostCommands()
    binary = script(tmp_path, "nats-server", body)
    assert nats_runtime.binary_version(runner, binary) == version
    assert runner.commands == [[binary, "--version"]]


@needs_nats_server
def test_a_valid_file_gives_its_digest_and_a_broken_one_gives_the_parse_error(tmp_path):
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    good.write_text('listen: "127.0.0.1:%d"\n' % free_port())
    bad.write_text("listen: [\n")
    runner = HostCommands()
    rc, message, digest = nats_runtime.check_file(runner, nats_server_binary(), str(good))
    assert rc == 0 and digest.startswith("sha256:") and len(digest) == 71
    assert message == "nats-server: configuration file %s is valid (%s)" % (good, digest)
    assert runner.commands == [[nats_server_binary(), "-t", "-c", str(good)]]
    rc, message, digest = nats_runtime.check_file(runner, nats_server_binary(), str(bad))
    assert (rc, digest) == (1, None)
    assert message.startswith("nats-server: Parse error on line 2: ")


@pytest.mark.parametrize("body, wanted", [
    # A digest printed by a failing check is not the digest of a loadable file.
    ('echo "x (sha256:%s)" >&2; exit 1' % ("c" * 64), (1, "x (sha256:%s)" % ("c" * 64), None)),
    # Older servers print their verdict on stdout; the digest is optional.
    ('echo "  configuration is valid  "', (0, "configuration is valid", None)),
    ('echo "ok (sha256:%s)"; echo "  warning: x  " >&2' % ("d" * 64), (0, "warning: x", None)),
    ('echo "ok (sha256:%s)"' % ("d" * 64), (0, "ok (sha256:%s)" % ("d" * 64), "sha256:" + "d" * 64)),
])
def test_the_check_message_is_stderr_or_else_stdout(tmp_path, body, wanted):
    assert nats_runtime.check_file(HostCommands(), script(tmp_path, "nats-server", body), "/x.conf") == wanted


# --- as_user: the check runs as the service user ---------------------------------

def test_no_user_or_the_current_user_runs_the_command_as_it_is():
    argv = ["nats-server", "-t"]
    assert nats_runtime.as_user(HostCommands(), "", argv) is argv
    assert nats_runtime.as_user(HostCommands(), None, argv) is argv
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert nats_runtime.as_user(HostCommands(), me, argv) is argv


@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv not installed")
def test_another_user_runs_the_command_through_setpriv_with_its_groups():
    nobody = pwd.getpwnam("nobody")
    if nobody.pw_uid == os.geteuid():
        pytest.skip("the tests run as nobody")
    assert nats_runtime.as_user(HostCommands(), "nobody", ("nats-server", "-t")) == [
        shutil.which("setpriv"), "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid, "--init-groups", "--",
        "nats-server", "-t"]


def test_another_user_without_setpriv_fails_instead_of_running_as_root(tmp_path, monkeypatch):
    if pwd.getpwnam("nobody").pw_uid == os.geteuid():
        pytest.skip("the tests run as nobody")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LookupError, match="Failed to find required executable setpriv"):
        nats_runtime.as_user(HostCommands(), "nobody", ["nats-server", "-t"])


def test_a_user_that_does_not_exist_is_named():
    with pytest.raises(nats_runtime.RuntimeCheckError) as err:
        nats_runtime.as_user(HostCommands(), "cmsgs-no-such-user", ["nats-server"])
    assert str(err.value) == ("user cmsgs-no-such-user does not exist; "
                              "it is needed to check the configuration as the server would read it")
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --- read_varz and inspect against a real server -------------------------------------

@pytest.fixture
def served(tmp_path):
    """A running nats-server on a file of its own; yields (config path, monitor url)."""
    monitor = free_port()
    config = tmp_path / "nats-server.conf"
    config.write_text('server_name: "rt-1"\nlisten: "127.0.0.1:%d"\nhttp: "127.0.0.1:%d"\n' % (free_port(), monitor))
    url = "http://127.0.0.1:%d" % monitor
    process = subprocess.Popen([nats_server_binary(), "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield str(config), url
    finally:
        process.kill()
        process.wait()


@needs_nats_server
def test_varz_is_read_with_or_without_a_trailing_slash(served):
    _config, url = served
    for given in (url, url + "/"):
        varz = nats_runtime.read_varz(given)
        assert (varz["server_name"], varz["version"]) == ("rt-1", "2.15.1")


@pytest.fixture
def monitor():
    """An HTTP server that answers /varz with ``body`` after ``delay`` seconds and 404 elsewhere.

    It stands for a server version or a failure the real binary cannot show.
    """
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(server.delay)
            body = server.body.encode("utf-8")
            # The target as sent: http.server turns a leading "//" into "/" in self.path.
            self.send_response(200 if self.requestline.split()[1] == server.varz_path else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.body, server.delay, server.varz_path = "<html>not json</html>", 0, "/varz"
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@needs_nats_server
def test_a_real_server_that_is_up_has_no_health_problem_and_inspect_says_healthy(served):
    config, url = served
    assert nats_runtime.health_problem(url) is None
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), config, url, healthy=True)
    assert (state["healthy"], state["differences"]) == (True, [])
    assert "healthy" not in nats_runtime.inspect(HostCommands(), nats_server_binary(), config, url)


@pytest.mark.parametrize("body, wanted", [
    ('{"status": "unavailable", "error": "JetStream stream is not current"}', "its /healthz answers 404: JetStream stream is not current"),
    ('{"status": "unavailable"}', "its /healthz answers 404: Not Found"),
    ("<html>not json</html>", "its /healthz answers 404: Not Found"),
])
def test_a_healthz_error_names_the_status_and_the_server_s_reason(monitor, body, wanted):
    # The stand-in answers 404 off /varz: any error status reads the same way as nats-server's 503.
    monitor.body = body
    assert nats_runtime.health_problem(monitor.url) == wanted


def test_no_healthz_answer_is_a_health_problem_that_says_so():
    problem = nats_runtime.health_problem("http://127.0.0.1:%d" % free_port(), timeout=1)
    assert problem.startswith("its /healthz does not answer: ") and "refused" in problem.lower()


@needs_nats_server
def test_inspect_healthy_adds_the_health_problem_and_asks_again_until_the_deadline(tmp_path, monitor, monkeypatch):
    config = tmp_path / "nats-server.conf"
    config.write_text('listen: "127.0.0.1:%d"\n' % free_port())
    _rc, _message, digest = nats_runtime.check_file(HostCommands(), nats_server_binary(), str(config))
    version = nats_runtime.binary_version(HostCommands(), nats_server_binary())
    monitor.body = '{"server_name": "h1", "version": "%s", "config_digest": "%s"}' % (version, digest)
    slept = []
    monkeypatch.setattr(nats_runtime.time, "sleep", slept.append)
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), monitor.url, wait_seconds=1,
                                 clock=iter([0.0, 0.5, 1.0]).__next__, healthy=True)
    # /varz matches; /healthz (404 from the stand-in) does not, so it was asked twice (the
    # stand-in's own sleeps of no delay are left out).
    assert (state["healthy"], state["config_matches"], [s for s in slept if s]) == (False, True, [0.25])
    assert state["differences"] == ["its /healthz answers 404: Not Found"]
    # A server that does not answer at all is not asked for its health.
    asked = []
    monkeypatch.setattr(nats_runtime, "health_problem", asked.append)
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), "http://127.0.0.1:%d" % free_port(),
                                 healthy=True)
    assert (state["healthy"], asked) == (False, [])


def test_no_answer_an_error_page_or_no_json_is_no_varz(monitor):
    assert nats_runtime.read_varz("http://127.0.0.1:%d" % free_port()) is None
    assert nats_runtime.read_varz(monitor.url) is None
    monitor.body = '{"server_name": "n1"}'
    assert nats_runtime.read_varz(monitor.url + "/sub") is None
    # The monitor URL may end in a slash: /varz is asked for, not //varz.
    assert nats_runtime.read_varz(monitor.url + "/") == {"server_name": "n1"}


def test_a_monitor_behind_a_proxy_path_is_read_below_that_path(monitor):
    monitor.body, monitor.varz_path = '{"server_name": "n1"}', "/proxy/NATS-BOX/varz"
    for given in ("/proxy/NATS-BOX", "/proxy/NATS-BOX/"):
        assert nats_runtime.read_varz(monitor.url + given) == {"server_name": "n1"}


def test_an_answer_later_than_the_timeout_is_no_answer(monitor):
    monitor.body, monitor.delay = '{"server_name": "n1"}', 1.5
    assert nats_runtime.read_varz(monitor.url, timeout=0.3) is None
    assert nats_runtime.read_varz(monitor.url, timeout=10) == {"server_name": "n1"}


@needs_nats_server
def test_varz_over_https_with_a_self_signed_certificate(tmp_path):
    # The monitoring port is loopback-only; its certificate is not checked.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=rt-1", "-days", "2"],
                   check=True, capture_output=True)
    port = free_port()
    config = tmp_path / "nats-server.conf"
    config.write_text('server_name: "rt-tls"\nlisten: "127.0.0.1:%d"\nhttps: "127.0.0.1:%d"\n'
                      'tls { cert_file: "%s", key_file: "%s" }\n' % (free_port(), port, cert, key))
    process = subprocess.Popen([nats_server_binary(), "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        varz = None
        while varz is None and time.monotonic() < deadline:
            varz = nats_runtime.read_varz("https://127.0.0.1:%d" % port)
            time.sleep(0.05)
        assert varz is not None and varz["server_name"] == "rt-tls"
    finally:
        process.kill()
        process.wait()


@needs_nats_server
def test_inspect_of_a_server_running_its_file(served):
    config, url = served
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), config, url)
    _rc, _message, digest = nats_runtime.check_file(HostCommands(), nats_server_binary(), config)
    assert state == {"running": True, "server_name": "rt-1", "running_version": "2.15.1", "running_digest": digest,
                     "method": "digest", "version_matches": True, "config_matches": True, "differences": [],
                     "file_digest": digest}


@needs_nats_server
def test_inspect_refuses_a_file_the_binary_rejects(tmp_path):
    config = tmp_path / "bad.conf"
    config.write_text("listen: [\n")
    with pytest.raises(nats_runtime.RuntimeCheckError) as err:
        nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), "http://127.0.0.1:1")
    assert str(err.value).startswith("%s -t rejects %s: nats-server: Parse error on line 2: " % (
        nats_server_binary(), config))


@needs_nats_server
@pytest.mark.parametrize("wait, clock_values, reads", [
    (None, [0.0, 0.5], 1),       # by default no wait: one look
    (0, [0.0, 0.0], 1),
    (0.5, [0.0, 0.5], 1),        # the deadline reached on the first look
    (0.5, [0.0, 0.2, 0.5], 2),   # asked again, a quarter second later, until the deadline
])
def test_inspect_asks_a_server_that_differs_again_until_the_deadline(tmp_path, monkeypatch, wait, clock_values, reads):
    config = tmp_path / "nats-server.conf"
    config.write_text('listen: "127.0.0.1:%d"\n' % free_port())
    url = "http://127.0.0.1:%d" % free_port()  # nothing answers there
    asked, slept = [], []
    real_read_varz = nats_runtime.read_varz
    monkeypatch.setattr(nats_runtime, "read_varz", lambda given: asked.append(given) or real_read_varz(given))
    monkeypatch.setattr(nats_runtime.time, "sleep", slept.append)
    extra = {} if wait is None else {"wait_seconds": wait}
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), url,
                                 clock=iter(clock_values).__next__, **extra)
    assert asked == [url] * reads and slept == [0.25] * (reads - 1)
    assert state["differences"] == ["the server does not answer on its monitoring port"]
    assert state["file_digest"].startswith("sha256:")


@needs_nats_server
def test_inspect_of_a_server_without_digest_compares_the_load_time_and_the_version(tmp_path, monitor):
    # A server before 2.10 reports no digest: its load time must follow the file's mtime.
    config = tmp_path / "nats-server.conf"
    config.write_text('listen: "127.0.0.1:%d"\n' % free_port())
    written = datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    os.utime(str(config), (written.timestamp(), written.timestamp()))
    monitor.body = '{"server_name": "old-1", "version": "2.9.10", "config_load_time": "2026-12-01T10:00:01.5Z"}'
    state = nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), monitor.url)
    assert state == {"running": True, "server_name": "old-1", "running_version": "2.9.10", "running_digest": None,
                     "method": "load_time", "version_matches": False, "config_matches": True,
                     "differences": ["it runs version 2.9.10, the binary on disk is 2.15.1"],
                     "file_digest": state["file_digest"]}
    assert state["file_digest"].startswith("sha256:")


@needs_nats_server
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="switching users needs root and setpriv")
def test_inspect_checks_the_file_as_the_service_user(tmp_path):
    # pytest's tmp_path is root's alone: root reads the file, nobody cannot.
    config = tmp_path / "nats-server.conf"
    config.write_text('listen: "127.0.0.1:%d"\n' % free_port())
    config.chmod(0o600)
    url = "http://127.0.0.1:%d" % free_port()
    assert nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), url)["file_digest"]
    with pytest.raises(nats_runtime.RuntimeCheckError) as err:
        nats_runtime.inspect(HostCommands(), nats_server_binary(), str(config), url, user="nobody")
    assert str(err.value).startswith("%s -t rejects %s: " % (nats_server_binary(), config))
    assert "permission denied" in str(err.value)


@pytest.fixture
def stand_in():
    started = []

    def start(**options):
        started.append(StandIn(**options))
        return started[-1]
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def self_signed(tmp_path):
    """A server-side TLS context with a certificate no client trusts."""
    return Pki(tmp_path).server_context("monitor")


def test_healthz_is_asked_at_one_path_with_or_without_a_trailing_slash(stand_in):
    monitor = stand_in(path="")
    for given in (monitor.url, monitor.url + "/"):
        assert nats_runtime.health_problem(given) is None
    assert monitor.targets == ["/healthz", "/healthz"]


def test_a_monitoring_port_on_https_with_the_server_s_own_certificate_is_healthy(stand_in, self_signed):
    # The monitoring port may serve https with the server's certificate, which the host need not trust.
    monitor = stand_in(tls=self_signed, path="")
    assert nats_runtime.health_problem(monitor.url) is None


def test_a_healthz_that_hangs_is_a_problem_within_the_timeout(stand_in):
    monitor = stand_in(delay=5, path="")
    started = time.monotonic()
    problem = nats_runtime.health_problem(monitor.url, timeout=0.5)
    assert time.monotonic() - started < 3
    assert problem.startswith("its /healthz does not answer: ") and "timed out" in problem


@pytest.mark.parametrize("config, url", [
    ({"resolver": "URL(http://acs-1:9090/jwt/v1/accounts/)"}, "http://acs-1:9090/jwt/v1/accounts/"),
    ({"resolver": "  URL( https://lb/jwt/v1/accounts/ ) "}, "https://lb/jwt/v1/accounts/"),
    ({"resolver": "MEMORY"}, None),
    ({"resolver": "URL()"}, None),
    ({"resolver": {"type": "full", "dir": "/var/lib/nats/resolver"}}, None),
    ({"resolver": None}, None),
    ({}, None),
])
def test_the_url_resolver_is_read_from_the_configuration(config, url):
    assert nats_runtime.url_resolver(config) == url


def test_no_url_resolver_is_no_resolver_problem():
    assert nats_runtime.resolver_problem({"resolver": {"type": "full"}}) is None


def test_a_resolver_that_hangs_is_given_nats_server_s_time_and_no_more(stand_in):
    assert nats_runtime.RESOLVER_TIMEOUT == 1.9
    acs = stand_in(delay=5, path="/jwt/v1/accounts/")
    started = time.monotonic()
    problem = nats_runtime.resolver_problem({"resolver": "URL(%s)" % acs.url, "resolver_tls": None})
    assert 1.5 < time.monotonic() - started < 4
    assert problem.startswith("nats-server would not start with this configuration: its url resolver %s, " % acs.url)
    assert "cannot be used from this host, it does not answer: " in problem and "timed out" in problem
    quick = time.monotonic()
    assert "timed out" in nats_runtime.resolver_problem({"resolver": "URL(%s)" % acs.url}, timeout=0.3)
    assert time.monotonic() - quick < 1.5


def test_a_resolver_is_fetched_at_its_url_as_given(stand_in):
    acs = stand_in(path="/jwt/v1/accounts/")
    assert nats_runtime.resolver_problem({"resolver": "URL(%s)" % acs.url}) is None
    assert acs.targets == ["/jwt/v1/accounts/"]


def test_a_resolver_that_refuses_the_connection_is_named_with_the_reason():
    url = "http://127.0.0.1:%d/jwt/v1/accounts/" % free_port()
    problem = nats_runtime.resolver_problem({"resolver": "URL(%s)" % url})
    assert "cannot be used from this host, it does not answer: [Errno 111] Connection refused. Bring " in problem
