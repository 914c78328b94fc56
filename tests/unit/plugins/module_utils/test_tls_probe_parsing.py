# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_probe's parsing, command lines and plain NATS talk, each result spelled out.

The live handshakes are in test_tls_probe_utils.py; here the inputs are the texts
openssl prints and the lines a NATS port sends, played by a socket on 127.0.0.1.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import socket
import stat
import threading
import time

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_probe
from ansible_collections.cmsgs.nats.plugins.module_utils.tls_probe import ProbeError
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import FakePort, needs_openssl


def parsed(**fields):
    base = {
        "protocol": None, "cipher": None, "group": None, "peer_cert_pem": None,
        "verify_code": None, "verify_message": None, "errors": [], "info": None,
    }
    base.update(fields)
    return base


# ------------------------------------------------------------ s_client output


def test_a_full_tls13_report_is_parsed_whole():
    text = (
        "CONNECTED(00000003)\n"
        "Server certificate\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        "subject=CN = server\n"
        "Server Temp Key: X25519, 253 bits\n"
        "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n"
        "Verify return code: 21 (unable to verify the first certificate)\n"
    )
    assert tls_probe.parse_s_client(text) == parsed(
        protocol="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", group="X25519",
        peer_cert_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        verify_code=21, verify_message="unable to verify the first certificate")


@pytest.mark.parametrize("line, group", [
    ("Server Temp Key: ECDH, P-384, 384 bits", "P-384"),
    ("Peer Temp Key: ECDH, prime256v1, 256 bits", "P-256"),
    ("Server Temp Key: ECDH, secp521r1", "P-521"),
    ("Server Temp Key: X448, 448 bits", "X448"),
    ("Server Temp Key: ECDH", "ECDH"),
])
def test_temp_key_lines_give_the_group(line, group):
    assert tls_probe.parse_s_client("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256\n" + line + "\n") == \
        parsed(protocol="TLSv1.2", cipher="ECDHE-ECDSA-AES128-GCM-SHA256", group=group)


def test_the_negotiated_group_line_wins_over_the_temp_key():
    text = "Negotiated TLS1.3 group: secp384r1\nPeer Temp Key: X25519, 253 bits\nNew, TLSv1.3, Cipher is X\n"
    assert tls_probe.parse_s_client(text)["group"] == "P-384"


@pytest.mark.parametrize("new_line", [
    "New, (NONE), Cipher is (NONE)",
    "New, TLSv1.3, Cipher is (NONE)",
    "New, (NONE), Cipher is TLS_AES_128_GCM_SHA256",
])
def test_no_cipher_means_no_protocol_either(new_line):
    text = new_line + "\nSSL-Session:\n    Protocol  : TLSv1.3\n"
    assert tls_probe.parse_s_client(text) == parsed()


def test_without_a_new_line_the_session_protocol_is_read():
    assert tls_probe.parse_s_client("SSL-Session:\n    Protocol  : TLSv1.2\n") == parsed(protocol="TLSv1.2")
    assert tls_probe.parse_s_client("CONNECTED(00000003)\n") == parsed()


def test_nats_lines_inside_the_report_give_the_first_info_and_are_removed():
    text = (
        'INFO {"server_id":"first"}\r\n'
        "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
        'INFO {"server_id":"second"}\r\n'
        "PONG\r\n"
        "Verify return code: 0 (ok)\n"
    )
    assert tls_probe.parse_s_client(text) == parsed(
        protocol="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", verify_code=0, verify_message="ok",
        info={"server_id": "first"})


def test_a_broken_info_inside_the_report_leaves_info_empty():
    text = "INFO {nope}\r\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
    assert tls_probe.parse_s_client(text)["info"] is None


def test_a_nats_line_inside_an_error_line_is_taken_out_before_the_errors_are_read():
    text = ("40E7:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert PONG\r\nhandshake failure:"
            "../ssl/record/rec_layer_s3.c:1601:SSL alert number 40\n")
    assert tls_probe.parse_s_client(text)["errors"] == ["sslv3 alert handshake failure (SSL alert number 40)"]


def test_error_reasons_are_listed_once_each_with_their_verify_errors():
    text = (
        "verify error:num=20:unable to get local issuer certificate\n"
        "verify error:num=20:unable to get local issuer certificate\n"
        "4047:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:"
        "../ssl/statem/statem_clnt.c:1889:\n"
        "4047:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:"
        "../ssl/statem/statem_clnt.c:1889:\n"
        "4047:error:0A000126:SSL routines::unexpected eof while reading:../ssl/record/rec_layer_s3.c:317:\n"
    )
    assert tls_probe.parse_s_client(text)["errors"] == [
        "certificate verify failed", "unexpected eof while reading",
        "verify error: unable to get local issuer certificate"]


# ------------------------------------------------------------ names and verdicts


@pytest.mark.parametrize("given, canonical", [
    (" x25519 ", "X25519"), ("SECP384R1", "P-384"), ("p-256", "P-256"), (" Bogus ", "Bogus"), (448, "448"),
])
def test_group_spellings(given, canonical):
    assert tls_probe.canonical_group(given) == canonical


@pytest.mark.parametrize("errors, side", [
    (["sslv3 alert handshake failure (SSL alert number 40)"], "server"),
    (["unexpected eof while reading"], "server"),
    (["wrong curve", "tlsv13 alert certificate required (SSL alert number 116)"], "server"),
    (["wrong curve"], "client"),
    ([], "server"),
])
def test_who_refused_a_handshake(errors, side):
    assert tls_probe._refused_by(errors) == side


@pytest.mark.parametrize("protocol, label", [("TLSv1.3", "1.3"), ("TLSv1.2", "1.2"), ("SSLv3", "SSLv3"),
                                             (None, None), ("", "")])
def test_version_labels(protocol, label):
    assert tls_probe._version_label(protocol) == label


@pytest.mark.parametrize("name, is_ip", [
    ("10.0.0.1", True), ("::1", True), ("fe80::1", True), ("nats1.example.com", False), ("10.0.0.256", False),
    ("1::2::3", False),
])
def test_addresses_and_host_names(name, is_ip):
    assert tls_probe._is_ip(name) is is_ip


# ------------------------------------------------------------ s_client command lines


def test_s_client_argv_for_tls12_with_everything():
    assert tls_probe.s_client_argv(
        "/usr/bin/openssl", 4001, "1.2", groups=["x25519", "CurveP256"],
        ciphers=["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"],
        client_cert="/c.pem", client_key="/c.key", ca_file="/ca.pem", server_name="nats1.example.com",
    ) == [
        "/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:4001", "-tls1_2",
        "-groups", "X25519:P-256",
        "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:@SECLEVEL=0",
        "-cert", "/c.pem", "-key", "/c.key",
        "-CAfile", "/ca.pem", "-verify_return_error",
        "-servername", "nats1.example.com", "-verify_hostname", "nats1.example.com",
    ]


def test_s_client_argv_for_tls13_by_address():
    assert tls_probe.s_client_argv(
        "openssl", 4002, "1.3", ciphers=["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"],
        ca_file="/ca.pem", server_name="::1",
    ) == [
        "openssl", "s_client", "-connect", "127.0.0.1:4002", "-tls1_3",
        "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
        "-CAfile", "/ca.pem", "-verify_return_error",
        "-noservername", "-verify_ip", "::1",
    ]


def test_s_client_argv_without_a_ca_verifies_no_name():
    assert tls_probe.s_client_argv("openssl", 4003, "1.3", server_name="10.0.0.1") == [
        "openssl", "s_client", "-connect", "127.0.0.1:4003", "-tls1_3", "-noservername"]
    assert tls_probe.s_client_argv("openssl", 4003, "1.3", server_name="nats1") == [
        "openssl", "s_client", "-connect", "127.0.0.1:4003", "-tls1_3", "-servername", "nats1"]
    assert tls_probe.s_client_argv("openssl", 4003, "1.2") == [
        "openssl", "s_client", "-connect", "127.0.0.1:4003", "-tls1_2", "-noservername"]


def test_an_unknown_tls_version_names_the_choices():
    with pytest.raises(ProbeError) as caught:
        tls_probe.s_client_argv("openssl", 4000, "1.1")
    assert str(caught.value) == "option tls_version must be one of 1.2, 1.3, not '1.1'"


# ------------------------------------------------------------ cipher names


TABLE = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}


def test_tls12_suites_are_given_in_openssl_spelling():
    assert tls_probe.openssl_cipher_list(
        ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
         "ECDHE-ECDSA-CHACHA20-POLY1305"], "1.2", TABLE,
    ) == ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"]


def test_an_unknown_tls12_suite_names_itself_and_the_spelling_to_use():
    with pytest.raises(ProbeError) as caught:
        tls_probe.openssl_cipher_list(["TLS_NOPE"], "1.2", TABLE)
    assert str(caught.value) == (
        "option ciphers: 'TLS_NOPE' is not a TLS suite the installed openssl knows; "
        "use IANA names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")


def test_tls13_suites_pass_as_given_and_tls12_ones_are_refused_by_name():
    assert tls_probe.openssl_cipher_list(["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"], "1.3", {}) == [
        "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]
    with pytest.raises(ProbeError) as caught:
        tls_probe.openssl_cipher_list(
            ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"],
            "1.3", TABLE)
    assert str(caught.value) == (
        "option ciphers: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256 cannot be offered "
        "in TLS 1.3, whose suites are TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
        "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256; the TLS 1.2 suites that "
        "nats-server's cipher_suites restricts are probed with tls_version=1.2")


def _fake_openssl(tmp_path, output, status=0):
    """An executable that prints output (bytes) for `ciphers` and records its arguments."""
    data = tmp_path / "ciphers-output"
    data.write_bytes(output)
    script = tmp_path / "openssl"
    script.write_text('#!/bin/sh\nprintf "%%s\\n" "$@" > "%s/argv"\necho "some warning" >&2\ncat "%s"\nexit %d\n'
                      % (tmp_path, data, status))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_the_cipher_table_reads_openssl_stdnames(tmp_path):
    openssl = _fake_openssl(tmp_path, (
        b"TLS_AES_128_GCM_SHA256 - TLS_AES_128_GCM_SHA256 TLSv1.3 Kx=any Au=any Enc=AESGCM(128) Mac=AEAD\n"
        b"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 - ECDHE-ECDSA-AES128-GCM-SHA256\n"
        b"header line\n"
        b"A B C D\n"
        b"  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 - ECDHE-ECDSA-CHACHA20-POLY1305 TLSv1.2 \xe2\x80\x94\n"
    ), status=1)
    assert tls_probe.cipher_table(openssl) == {
        "TLS_AES_128_GCM_SHA256": "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    }
    assert (tmp_path / "argv").read_text().splitlines() == ["ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]


def test_a_cipher_table_without_suites_asks_for_a_newer_openssl(tmp_path):
    openssl = _fake_openssl(tmp_path, b"usage: ciphers [options]\n")
    with pytest.raises(ProbeError) as caught:
        tls_probe.cipher_table(openssl)
    assert str(caught.value) == "%s ciphers -stdname listed no suites; is it OpenSSL 1.1.1 or newer?" % openssl


def test_a_missing_openssl_is_named(tmp_path):
    missing = str(tmp_path / "no-openssl")
    with pytest.raises(ProbeError) as caught:
        tls_probe.cipher_table(missing)
    assert str(caught.value) == "cannot run %s ciphers: [Errno 2] No such file or directory: '%s'" % (missing, missing)


# ------------------------------------------------------------ INFO


def test_info_lines_parse_and_bad_ones_are_named():
    assert tls_probe.parse_info(b'INFO {"server_id":"x\xff"} \r') == {"server_id": "x\ufffd"}
    long_line = b"HTTP/1.1 400 Bad Request " + b"x" * 100
    with pytest.raises(ProbeError) as not_info:
        tls_probe.parse_info(long_line)
    assert str(not_info.value) == "the server's first line is not a NATS INFO line: %r" % long_line.decode()[:80]
    with pytest.raises(ProbeError) as lower:
        tls_probe.parse_info(b'info {"a":1}')
    assert "not a NATS INFO line" in str(lower.value)
    with pytest.raises(ProbeError) as bad_json:
        tls_probe.parse_info(b"INFO {nope")
    assert str(bad_json.value) == (
        "the server's INFO line is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)")


@contextlib.contextmanager
def connected(script):
    """(port, socket): a connection to a scripted port, closed when the block ends."""
    port = FakePort(script, wait_for_client=True)
    sock = socket.create_connection(("127.0.0.1", port.port), timeout=5)
    port.client_connected.set()
    try:
        yield port, sock
    finally:
        sock.close()


def test_read_info_returns_the_info_and_what_followed():
    with connected([b'INFO {"a":1}', 0.05, b'\r\nPING\r\nPO', 0.05, b"NG\r\n"]) as (port, sock):
        assert tls_probe.read_info(sock, time.monotonic() + 5) == ({"a": 1}, b"PING\r\nPO")


@pytest.mark.parametrize("script, message", [
    ([1.0], "no INFO line from the server within the timeout; route and gateway ports (and client ports with "
            "handshake_first) start with TLS: set tls_first=true"),
    ([], "the server closed the connection before sending INFO; route and gateway ports (and client ports with "
         "handshake_first) start with TLS: set tls_first=true"),
])
def test_read_info_without_info_suggests_tls_first(script, message):
    with connected(script) as (port, sock):
        with pytest.raises(ProbeError) as caught:
            tls_probe.read_info(sock, time.monotonic() + 0.3)
        assert str(caught.value) == message


def test_read_info_stops_after_a_mebibyte_without_a_line_break():
    with connected([b"x" * (1024 * 1024), 0.2, b"x", 1.0]) as (port, sock):
        with pytest.raises(ProbeError) as caught:
            tls_probe.read_info(sock, time.monotonic() + 5)
        assert str(caught.value) == "the server sent more than 1 MiB without a line break; is this a NATS port?"


def test_read_info_takes_an_info_of_exactly_a_mebibyte():
    line = b'INFO {"pad":"' + b"p" * (1024 * 1024 - len(b'INFO {"pad":""}') - 1) + b'"}\n'
    assert len(line) == 1024 * 1024
    with connected([line]) as (port, sock):
        info, rest = tls_probe.read_info(sock, time.monotonic() + 5)
        assert (len(info["pad"]), rest) == (1024 * 1024 - 16, b"")


def test_read_info_reports_a_reset_connection():
    with connected(["reset"]) as (port, sock):
        port.thread.join(5)
        with pytest.raises(ProbeError) as caught:
            tls_probe.read_info(sock, time.monotonic() + 5)
        assert str(caught.value) == "reading INFO failed: [Errno 104] Connection reset by peer"


def test_waiting_for_bytes_ends_at_the_deadline():
    with connected([2.0]) as (port, sock):
        outcome = []
        started = time.monotonic()
        waiter = threading.Thread(target=lambda: outcome.append(tls_probe._recv_before(sock, started + 0.3)),
                                  daemon=True)
        waiter.start()
        waiter.join(3)
        assert outcome == [None]
        assert 0.25 < time.monotonic() - started < 1.5


def test_bytes_already_there_are_returned_even_close_to_the_deadline():
    with connected([b"INFO {}\r\n", 1.0]) as (port, sock):
        time.sleep(0.1)
        assert tls_probe._recv_before(sock, time.monotonic() + 0.5) == b"INFO {}\r\n"
        assert tls_probe._recv_before(sock, time.monotonic() - 1) is None


# ------------------------------------------------------------ plain NATS


def plain(script, **kwargs):
    port = FakePort(script)
    kwargs.setdefault("timeout", 5)
    result = tls_probe.probe_plain("127.0.0.1", port.port, **kwargs)
    port.thread.join(5)
    return result, port.received


def test_a_plain_port_that_answers_pong_accepts():
    result, received = plain([b'INFO {"server_id":"s"}\r\n', "read", b"PO", 0.05, b"NG\r\n"])
    assert result == {"accepted": True, "refused_by": None, "info": {"server_id": "s"}, "reply": "PONG",
                      "error": None}
    assert received.startswith(b'CONNECT {"verbose":false') and received.endswith(b"\r\nPING\r\n")


def test_a_plain_port_that_answers_ok_accepts():
    result, _received = plain([b"INFO {}\r\n+OK\r\n", "read"])
    assert (result["accepted"], result["reply"]) == (True, "+OK")


def test_an_err_reply_is_a_refusal_with_its_reason():
    result, _received = plain([b"INFO {}\r\n", "read", b"-ERR 'Authorization Violation'\r\n"])
    assert result == {"accepted": False, "refused_by": "server", "info": {}, "reply": "-ERR 'Authorization Violation'",
                      "error": "Authorization Violation"}


def test_only_the_quotes_around_an_err_reason_are_taken_off():
    result, _received = plain([b"INFO {}\r\n", "read", b"-ERR 'X509 client certificate required X'\r\n"])
    assert result["error"] == "X509 client certificate required X"


def test_tls_first_sends_connect_without_waiting_for_info():
    result, received = plain(["read", b"PONG\r\n"], tls_first=True)
    assert result == {"accepted": True, "refused_by": None, "info": None, "reply": "PONG", "error": None}
    assert received.endswith(b"PING\r\n")


def test_a_closed_connection_and_silence_are_refusals_by_the_server():
    closed, _r = plain([b"INFO {}\r\n", "read"])
    assert closed == {"accepted": False, "refused_by": "server", "info": {}, "reply": None,
                      "error": "the server closed the connection without a reply"}
    silent, _r2 = plain([b"INFO {}\r\n", "read", 1.5], timeout=0.5)
    assert silent == {"accepted": False, "refused_by": "server", "info": {}, "reply": None,
                      "error": "no reply to CONNECT and PING within 0.5 seconds"}


def test_a_reset_connection_is_named():
    result, _r = plain([b"INFO {}\r\n", "read", "reset"])
    assert result == {"accepted": False, "refused_by": "server", "info": {}, "reply": None,
                      "error": "the server reset the connection: [Errno 104] Connection reset by peer"}


def test_lines_before_the_reply_are_skipped():
    result, _r = plain([b"INFO {}\r\n", "read", b"PING\r\n\r\n+OK\r\n"])
    assert (result["accepted"], result["reply"]) == (True, "+OK")


def test_connecting_to_a_closed_port_is_a_probe_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ProbeError) as caught:
        tls_probe.probe_plain("127.0.0.1", port, timeout=2)
    assert str(caught.value) == "cannot connect to 127.0.0.1:%d: [Errno 111] Connection refused" % port


def test_a_connect_that_hangs_ends_at_the_timeout():
    # A listener whose accept queue is full drops new SYNs: the connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=2)
    outcome = []

    def attempt():
        try:
            tls_probe.probe_plain("127.0.0.1", port, timeout=0.5)
        except ProbeError as exc:
            outcome.append(str(exc))

    started = time.monotonic()
    waiter = threading.Thread(target=attempt, daemon=True)
    waiter.start()
    waiter.join(3)
    elapsed = time.monotonic() - started
    queued.close()
    listener.close()
    assert outcome == ["cannot connect to 127.0.0.1:%d: timed out" % port]
    assert 0.4 < elapsed < 0.9


@needs_openssl
def test_a_port_that_never_answers_the_handshake_times_out_as_a_refusal():
    port = FakePort(["read", 3.0])
    # openssl left out: the probe runs the one on PATH, the one needs_openssl found.
    result = tls_probe.probe_tls("127.0.0.1", port.port, tls_first=True, timeout=1)
    # Whether s_client printed its verify line before it was stopped depends on timing.
    verify = {key: result.pop(key) for key in ("verify_code", "verify_message")}
    assert verify in ({"verify_code": None, "verify_message": None}, {"verify_code": 0, "verify_message": "ok"})
    assert result == {
        "accepted": False, "refused_by": "server", "error": "the handshake did not finish within 1 seconds",
        "tls_version": None, "cipher": None, "cipher_openssl": None, "group": None, "server_cert": None,
        "info": None,
    }


def test_an_openssl_that_hangs_is_given_up_after_ten_seconds(tmp_path):
    script = tmp_path / "openssl"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    started = time.monotonic()
    with pytest.raises(ProbeError) as caught:
        tls_probe.cipher_table(str(script))
    assert 9.5 < time.monotonic() - started < 15
    assert str(caught.value) == "cannot run %s ciphers: Command '%r' timed out after 10 seconds" % (
        script, [str(script), "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])


def test_plain_probes_wait_ten_seconds_by_default():
    port = FakePort([b"INFO {}\r\n", "read", 11.0])
    started = time.monotonic()
    result = tls_probe.probe_plain("127.0.0.1", port.port)
    assert 9.5 < time.monotonic() - started < 10.9
    assert result["error"] == "no reply to CONNECT and PING within 10.0 seconds"


def test_a_reply_that_is_not_utf8_is_still_read():
    result, _r = plain([b"INFO {}\r\n", "read", b"-ERR 'caf\xe9'\r\n"])
    assert (result["refused_by"], result["reply"], result["error"]) == ("server", "-ERR 'caf\ufffd'", "caf\ufffd")
