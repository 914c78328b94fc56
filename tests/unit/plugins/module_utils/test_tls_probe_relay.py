# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay between a NATS port and the local s_client, each end played by a socket.

The probe's verdicts rest on what the relay records: whether the server closed
first, how many bytes it sent, whether the deadline or the probe ended the link.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import sys
import threading
import time

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_probe
from ansible_collections.cmsgs.nats.plugins.module_utils.tls_probe import ProbeError
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import FakePort, reset_on_close


def listening():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


class Link(object):
    """A relay wired as probe_tls wires it: upstream to a server the test plays,
    and a listener the test's client (standing in for s_client) connects to."""

    def __init__(self, initial=b"", timeout=30.0, connect=True):
        accepting = listening()
        self.upstream = socket.create_connection(accepting.getsockname(), timeout=5)
        self.server = accepting.accept()[0]
        accepting.close()
        self.server.settimeout(5)
        self.listener = listening()
        self.relay = tls_probe._Relay(self.listener, self.upstream, initial, time.monotonic() + timeout)
        self.client = None
        self.relay.start()
        if connect:
            self.client = socket.create_connection(self.listener.getsockname(), timeout=5)
            assert self.relay.connected.wait(5)

    def client_reads(self, size):
        data = bytearray()
        while len(data) < size:
            chunk = self.client.recv(1024 * 1024)
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def ended_within(self, seconds):
        """Seconds from now until the relay finished, or None after ``seconds``."""
        started = time.monotonic()
        if not self.relay.finished.wait(seconds):
            return None
        return time.monotonic() - started

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.relay.stop()
        self.relay.join(5)
        for sock in (self.client, self.server, self.upstream, self.listener):
            if sock is not None:
                sock.close()


def test_the_relay_thread_never_keeps_the_module_process_alive():
    with Link(connect=False) as link:
        assert link.relay.daemon is True


def test_bytes_read_before_the_relay_started_reach_the_client_first():
    # The rest of the segment that carried the plain INFO line: the first TLS bytes.
    with Link(initial=b"start of TLS") as link:
        link.server.sendall(b", then the rest")
        assert link.client_reads(len(b"start of TLS, then the rest")) == b"start of TLS, then the rest"


def test_bytes_flow_both_ways_and_only_the_servers_are_counted():
    with Link() as link:
        assert link.relay.server_bytes == 0
        link.client.sendall(b"ClientHello")
        assert link.server.recv(64) == b"ClientHello"
        assert link.relay.server_bytes == 0
        quiet_since = link.relay.last_activity
        link.server.sendall(b"abc")
        assert link.client_reads(3) == b"abc"
        link.server.sendall(b"defgh")
        assert link.client_reads(5) == b"defgh"
        assert link.relay.server_bytes == 8
        assert link.relay.last_activity > quiet_since


def test_the_server_closing_first_is_recorded_and_reaches_the_client_as_an_end():
    with Link() as link:
        link.client.settimeout(2)
        before = time.monotonic()
        link.server.close()
        assert link.client.recv(64) == b""
        assert link.ended_within(2) is not None
        assert before <= link.relay.server_closed_at <= time.monotonic()
        assert link.relay.deadline_reached is False


def test_the_client_closing_first_is_not_taken_for_the_server():
    with Link() as link:
        link.client.close()
        assert link.ended_within(2) is not None
        assert link.relay.server_closed_at is None


def test_a_reset_from_the_server_ends_the_link_like_a_close_and_relays_nothing():
    with Link() as link:
        link.client.settimeout(2)
        reset_on_close(link.server)
        link.server.close()
        assert link.client.recv(64) == b""
        assert link.ended_within(2) is not None
        assert link.relay.server_closed_at is not None
        assert link.relay.server_bytes == 0


def test_stopping_ends_a_quiet_link_at_once_and_is_not_the_deadline():
    with Link(timeout=30) as link:
        # One byte through first: the relay is past its start and waiting on the link.
        link.server.sendall(b"x")
        assert link.client_reads(1) == b"x"
        time.sleep(0.1)
        link.relay.stop()
        assert link.ended_within(0.6) is not None
        assert link.relay.deadline_reached is False
        assert link.relay.server_closed_at is None


def test_the_deadline_ends_a_quiet_link_and_says_so():
    with Link(timeout=0.3) as link:
        link.client.settimeout(3)
        assert link.client.recv(64) == b""
        assert link.ended_within(2) is not None
        assert link.relay.deadline_reached is True
        assert link.relay.server_closed_at is None


def test_a_relay_no_client_reaches_gives_up_as_soon_as_it_is_stopped():
    with Link(timeout=30, connect=False) as link:
        time.sleep(0.1)
        link.relay.stop()
        assert link.ended_within(0.6) is not None
        assert not link.relay.connected.is_set()
        assert link.relay.error == "openssl s_client did not connect to the relay"


def test_a_relay_no_client_reaches_gives_up_at_the_deadline():
    with Link(timeout=0.3, connect=False) as link:
        assert link.ended_within(3) is not None
        assert link.relay.error == "openssl s_client did not connect to the relay"


def test_a_long_reply_reaches_a_client_that_reads_late_whole():
    # More than the loopback socket buffers hold: the relay's sends must wait.
    size = 16 * 1024 * 1024
    with Link() as link:
        sender = threading.Thread(target=link.server.sendall, args=(b"r" * size,), daemon=True)
        sender.start()
        time.sleep(0.3)
        assert link.client_reads(size) == b"r" * size
        assert link.relay.server_bytes == size
        sender.join(5)


def test_a_client_that_stops_reading_does_not_hold_the_relay_past_the_deadline():
    size = 64 * 1024 * 1024
    started = time.monotonic()
    with Link(timeout=2.0) as link:
        # The server side writes until the buffers are full, then waits: never ended here.
        threading.Thread(target=lambda: _send_ignoring_errors(link.server, b"w" * size), daemon=True).start()
        while link.relay.server_bytes == 0 and time.monotonic() - started < 1.5:
            time.sleep(0.01)
        assert link.relay.server_bytes > 0
        assert link.ended_within(5) is not None
        assert time.monotonic() - started < 3.5
        assert link.relay.server_bytes < size


def _send_ignoring_errors(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass


# ------------------------------------------------ the probe around a scripted s_client

# Stands in for `openssl`: `s_client -connect 127.0.0.1:PORT ...` connects to the
# relay and plays FAKE_S_CLIENT; `ciphers` is logged to FAKE_S_CLIENT_LOG and fails.
FAKE_OPENSSL = r'''
import os, socket, sys, time
log = os.environ.get("FAKE_S_CLIENT_LOG")
if log:
    with open(log, "a") as handle:
        handle.write(" ".join(sys.argv[1:2]) + "\n")
if sys.argv[1] == "ciphers":
    sys.exit(1)
mode = os.environ["FAKE_S_CLIENT"]
out = sys.stdout.buffer
if mode == "exit":
    sys.exit(0)
host, port = sys.argv[sys.argv.index("-connect") + 1].rsplit(":", 1)
sock = socket.create_connection((host, int(port)), timeout=5)
if mode == "report":
    # What s_client prints when its handshake ends.
    out.write(open(os.environ["FAKE_S_CLIENT_REPORT"], "rb").read())
elif mode == "expect":
    # A handshake is reported only when the expected bytes arrive first.
    expected = os.environ["FAKE_S_CLIENT_EXPECT"].encode()
    got = b""
    while len(got) < len(expected):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    if got == expected:
        out.write(b"New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n")
elif mode == "quiet":
    # How long the link was quiet before the probe closed stdin.
    sock.recv(65536)
    quiet_from = time.monotonic()
    sys.stdin.buffer.read()
    out.write(b"New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n")
    out.write(b"Verify return code: 0 (%.3f)\n" % (time.monotonic() - quiet_from))
elif mode == "last":
    # Tells the server once stdin is closed, then waits for the relay to end.
    sys.stdin.buffer.read()
    sock.sendall(b"E")
    while sock.recv(65536):
        pass
    out.write(b"New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n")
out.flush()
'''


@pytest.fixture
def fake_openssl(tmp_path, monkeypatch):
    path = tmp_path / "openssl"
    path.write_text("#!%s\n%s" % (sys.executable, FAKE_OPENSSL))
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_S_CLIENT_LOG", str(tmp_path / "calls"))

    def play(mode, report=None, expect=None):
        monkeypatch.setenv("FAKE_S_CLIENT", mode)
        if report is not None:
            (tmp_path / "report").write_bytes(report)
            monkeypatch.setenv("FAKE_S_CLIENT_REPORT", str(tmp_path / "report"))
        if expect is not None:
            monkeypatch.setenv("FAKE_S_CLIENT_EXPECT", expect)
        return str(path)

    play.calls = lambda: (tmp_path / "calls").read_text().split() if (tmp_path / "calls").exists() else []
    return play


def test_an_openssl_that_cannot_be_run_is_named(tmp_path):
    port = FakePort(["read", 2.0])
    missing = str(tmp_path / "no-such-openssl")
    with pytest.raises(ProbeError) as caught:
        tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=2, openssl=missing)
    assert str(caught.value) == "cannot run %s: [Errno 2] No such file or directory: %r" % (missing, missing)


def test_tls13_probes_do_not_need_the_cipher_table(fake_openssl):
    port = FakePort(["read", 2.0])
    openssl = fake_openssl("report", report=b"New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n")
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=3, openssl=openssl)
    assert result["accepted"] is True
    assert fake_openssl.calls() == ["s_client"]


def test_the_server_is_reached_at_the_host_given():
    # 127.0.0.2 is loopback too, but nothing listens on that port at 127.0.0.1.
    port = FakePort([b'INFO {"server_id":"at-127.0.0.2"}\r\n', 2.0], address="127.0.0.2")
    result = tls_probe.probe_plain("127.0.0.2", port.port, timeout=2)
    assert result["info"] == {"server_id": "at-127.0.0.2"}


def test_a_tls_probe_reaches_the_host_given(fake_openssl):
    port = FakePort([b'INFO {"server_id":"at-127.0.0.2"}\r\n', "read", 2.0], address="127.0.0.2")
    openssl = fake_openssl("report", report=b"New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n")
    result = tls_probe.probe_tls("127.0.0.2", port.port, timeout=3, openssl=openssl)
    assert (result["accepted"], result["info"]) == (True, {"server_id": "at-127.0.0.2"})


def test_bytes_that_came_with_the_info_line_reach_s_client(fake_openssl):
    port = FakePort([b'INFO {}\r\nfirst TLS bytes', "read", 2.0])
    openssl = fake_openssl("expect", expect="first TLS bytes")
    result = tls_probe.probe_tls("127.0.0.1", port.port, timeout=3, openssl=openssl)
    assert result["accepted"] is True


def test_stdin_is_closed_once_the_link_has_been_quiet_for_the_settle_time(fake_openssl):
    port = FakePort([b"server hello", 3.0])
    openssl = fake_openssl("quiet")
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=5, openssl=openssl)
    # On loopback the settle time is its floor, 0.3 s.
    assert result["accepted"] is True
    assert 0.25 < float(result["verify_message"]) < 1.0


def test_the_server_closing_after_the_probe_ended_the_session_is_no_refusal(fake_openssl):
    # The server closes only once s_client's stdin is closed: the probe ended first.
    port = FakePort([b"server hello", "read"])
    openssl = fake_openssl("last")
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=5, openssl=openssl)
    assert (result["accepted"], result["error"]) == (True, None)
    assert port.received == b"E"


def test_a_failed_handshake_without_errors_is_a_close_by_the_server(fake_openssl):
    port = FakePort(["read", 2.0])
    openssl = fake_openssl("report", report=b"CONNECTED(00000003)\nNew, (NONE), Cipher is (NONE)\n")
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=3, openssl=openssl)
    assert (result["accepted"], result["refused_by"], result["error"]) == (
        False, "server", "the server closed the connection during the handshake")


def test_every_error_of_a_failed_handshake_is_given(fake_openssl):
    report = (
        b"40E79FA9C17F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:"
        b"../ssl/record/rec_layer_s3.c:1601:SSL alert number 40\n"
        b"40E79FA9C17F0000:error:0A000197:SSL routines:SSL_shutdown:shutdown while in init:"
        b"../ssl/ssl_lib.c:2244:\n"
        b"New, (NONE), Cipher is (NONE)\n"
    )
    port = FakePort(["read", 2.0])
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=3,
                                 openssl=fake_openssl("report", report=report))
    assert (result["refused_by"], result["error"]) == (
        "server", "sslv3 alert handshake failure (SSL alert number 40); shutdown while in init")


def test_a_local_setup_error_is_a_probe_error_with_every_reason(fake_openssl):
    report = (
        b"40E79FA9C17F0000:error:0A0000B9:SSL routines:SSL_CTX_set_cipher_list:No cipher match:"
        b"../ssl/ssl_lib.c:2760:\n"
        b"40E79FA9C17F0000:error:0A000197:SSL routines:SSL_shutdown:shutdown while in init:"
        b"../ssl/ssl_lib.c:2244:\n"
    )
    port = FakePort(["read", 2.0])
    with pytest.raises(ProbeError) as caught:
        tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=3,
                            openssl=fake_openssl("report", report=report))
    assert str(caught.value) == (
        "openssl s_client could not start the handshake (No cipher match; shutdown while in init); check the "
        "options groups, ciphers, client_cert_path, client_key_path and ca_path")


def test_an_s_client_that_never_connected_is_a_probe_error_that_says_so(fake_openssl):
    port = FakePort(["read", 2.0])
    with pytest.raises(ProbeError) as caught:
        tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=3, openssl=fake_openssl("exit"))
    assert str(caught.value) == (
        "openssl s_client could not start the handshake (openssl s_client did not connect to the relay); check "
        "the options groups, ciphers, client_cert_path, client_key_path and ca_path")


def test_a_relay_whose_listener_fails_names_the_error():
    with Link(timeout=30, connect=False) as link:
        time.sleep(0.1)
        link.listener.close()
        assert link.ended_within(2) is not None
        assert link.relay.error == "openssl s_client did not connect to the relay: [Errno 9] Bad file descriptor"


def _relayed(argv, timeout, upstream_script=("read", 5.0)):
    port = FakePort(list(upstream_script))
    upstream = socket.create_connection(("127.0.0.1", port.port), timeout=5)
    try:
        started = time.monotonic()
        handshake = tls_probe._relayed_handshake(upstream, b"", started + timeout, 0.3, argv)
        return handshake, time.monotonic() - started
    finally:
        upstream.close()


def test_an_s_client_that_outlives_the_deadline_is_killed_and_the_handshake_timed_out():
    handshake, elapsed = _relayed(lambda port: ["sleep", "30"], timeout=0.5)
    assert handshake.timed_out is True
    # It never connected, so the relay did not reach its deadline: the run did.
    assert handshake.relay.deadline_reached is False
    assert elapsed < 0.95


def test_the_whole_s_client_output_is_kept_and_bytes_that_are_not_utf8_are_replaced():
    script = "import sys; sys.stdout.buffer.write(b'New, TLSv1.3, Cipher is X\\ncaf\\xe9\\n')"
    handshake, _elapsed = _relayed(lambda port: [sys.executable, "-c", script], timeout=3)
    assert handshake.text == "New, TLSv1.3, Cipher is X\ncaf\ufffd\n"
    assert handshake.timed_out is False
