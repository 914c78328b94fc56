# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_probe's main() against a real nats-server on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.plugins.modules import tls_probe
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    FakePort, file_lines, free_port, needs_openssl, spec_server,
)

try:  # ansible-core 2.19 and later include a traceback only when the run asks for one.
    from ansible.module_utils._internal import _traceback
except ImportError:
    _traceback = None

pytestmark = [needs_nats_server, needs_openssl]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    setup = spec_server(tmp_path_factory.mktemp("probe-module"))
    yield setup
    setup["server"].stop()


def run(capsys, monkeypatch, **args):
    args.setdefault("host", "127.0.0.1")
    return run_module(tls_probe.main, capsys, monkeypatch, **args)


@pytest.mark.parametrize("check_mode, diff", [(False, False), (True, True)])
@pytest.mark.parametrize("expect", ["accepted", "any"])
def test_expected_acceptance(spec, capsys, monkeypatch, check_mode, diff, expect):
    result = run(capsys, monkeypatch, check_mode=check_mode, diff=diff, port=spec["route_port"], tls_first=True,
                 groups=["X25519"], client_cert_path=spec["client_cert"], client_key_path=spec["client_key"],
                 ca_path=spec["ca_path"], server_name="localhost", expect=expect)
    assert result.get("failed") is not True, result
    assert result["changed"] is False and "diff" not in result
    assert (result["accepted"], result["tls_version"], result["group"]) == (True, "1.3", "X25519")
    # The certificate was checked against ca_path: without it openssl cannot verify it.
    assert (result["verify_code"], result["verify_message"]) == (0, "ok")
    assert result["info"]["cluster"] == "c1"
    output = json.dumps(result)
    assert "PRIVATE KEY" not in output and "Master-Key" not in output and "PSK" not in output
    for line in file_lines(spec["client_key"]):
        assert line not in output


def test_refusal_that_was_expected(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["client_port"], groups=["P-256"], expect="refused")
    assert result.get("failed") is not True
    assert result["accepted"] is False and result["refused_by"] == "server" and "handshake failure" in result["error"]


def test_unexpected_acceptance_fails_with_what_was_negotiated(spec, capsys, monkeypatch):
    # The server has an ECDSA certificate: of the two suites offered it can only take the first.
    result = run(capsys, monkeypatch, port=spec["client_port"], tls_version="1.2", groups=["X25519", "P-256"],
                 ciphers=["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
                 expect="refused")
    assert result["failed"] is True and result["accepted"] is True and result["changed"] is False
    assert result["msg"] == (
        "TLS probe of 127.0.0.1:%d (TLS 1.2, groups X25519:P-256, "
        "ciphers TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305:TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) "
        "was expected to be refused, but the server accepted it "
        "(TLS 1.2, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, X25519)" % spec["client_port"]
    )


def test_unexpected_refusal_fails_with_the_reason(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["route_port"], tls_first=True, groups=["X25519"], expect="accepted")
    assert result["failed"] is True and result["accepted"] is False and result["changed"] is False
    assert "was expected to be accepted, but it was refused by the server: " in result["msg"]
    assert "certificate required" in result["msg"]


def test_any_only_reports(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["client_port"], groups=["P-384"])
    assert result.get("failed") is not True and result["accepted"] is False


def test_plaintext_mode(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["client_port"], plaintext=True, expect="refused")
    assert result.get("failed") is not True, result
    assert result["accepted"] is False and result["info"]["tls_required"] is True
    wrong = run(capsys, monkeypatch, port=spec["client_port"], plaintext=True, expect="accepted")
    assert wrong["failed"] is True
    assert wrong["msg"].startswith("plain-text probe of 127.0.0.1:%d was expected to be accepted" % spec["client_port"])


def test_probe_errors_fail_with_the_attempt_described(spec, capsys, monkeypatch):
    closed = free_port()
    result = run(capsys, monkeypatch, port=closed, timeout=2)
    assert result["failed"] is True and result["msg"].startswith("TLS probe of 127.0.0.1:%d (TLS 1.3): cannot connect" % closed)
    result = run(capsys, monkeypatch, port=spec["client_port"], ciphers=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])
    assert result["failed"] is True and "tls_version=1.2" in result["msg"]


@pytest.mark.parametrize("options, message", [
    ({"plaintext": True, "groups": ["X25519"]}, "parameters are mutually exclusive: plaintext|groups"),
    ({"plaintext": True, "ciphers": ["TLS_AES_128_GCM_SHA256"]}, "parameters are mutually exclusive: plaintext|ciphers"),
    ({"plaintext": True, "client_cert_path": "/c.pem", "client_key_path": "/k.pem"},
     "parameters are mutually exclusive: plaintext|client_cert_path"),
    ({"plaintext": True, "ca_path": "/ca.pem"}, "parameters are mutually exclusive: plaintext|ca_path"),
    ({"plaintext": True, "server_name": "localhost"}, "parameters are mutually exclusive: plaintext|server_name"),
    ({"client_cert_path": "/c.pem"}, "parameters are required together: client_cert_path, client_key_path"),
    ({"client_key_path": "/k.pem"}, "parameters are required together: client_cert_path, client_key_path"),
    ({"timeout": 0}, "option timeout must be more than 0 seconds, not 0.0"),
    ({"timeout": -1}, "option timeout must be more than 0 seconds, not -1.0"),
])
def test_option_combinations_that_mean_nothing_are_refused_before_connecting(capsys, monkeypatch, options, message):
    # A TLS option has no meaning on a plain-text probe, and a certificate is no use without its key.
    # Nothing listens on the port: the options are refused before any connection is tried.
    result = run(capsys, monkeypatch, port=free_port(), **options)
    assert result["failed"] is True and result["msg"] == message


INFO_LINE = b'INFO {"server_id":"NFAKE","version":"2.15.1"}\r\n'


@pytest.mark.parametrize("expect", ["accepted", "refused"])
def test_plaintext_probe_of_a_port_that_starts_without_info(capsys, monkeypatch, expect):
    # With tls_first the probe does not wait for an INFO line: it sends CONNECT and PING at once.
    port = FakePort(["read", b"PONG\r\n"])
    result = run(capsys, monkeypatch, port=port.port, plaintext=True, tls_first=True, timeout=5, expect=expect)
    assert (result["accepted"], result["reply"], result["info"]) == (True, "PONG", None)
    if expect == "accepted":
        assert result.get("failed") is not True, result
    else:
        assert result["failed"] is True and result["changed"] is False
        assert result["msg"] == ("plain-text probe of 127.0.0.1:%d was expected to be refused, "
                                 "but the server accepted it (PONG)" % port.port)


def test_plaintext_probe_waits_for_the_reply_as_long_as_the_timeout(capsys, monkeypatch):
    # The port holds the connection longer than the timeout without answering PING.
    port = FakePort([INFO_LINE, "read", 3.0])
    result = run(capsys, monkeypatch, port=port.port, plaintext=True, timeout=1)
    assert result.get("failed") is not True, result
    assert (result["accepted"], result["refused_by"]) == (False, "server")
    assert result["error"] == "no reply to CONNECT and PING within 1.0 seconds"


def test_tls_probe_waits_for_the_handshake_as_long_as_the_timeout(capsys, monkeypatch):
    # The port reads the ClientHello and holds the connection longer than the timeout without answering.
    port = FakePort([INFO_LINE, "read", 3.0])
    result = run(capsys, monkeypatch, port=port.port, timeout=1)
    assert result.get("failed") is not True, result
    assert (result["accepted"], result["refused_by"]) == (False, "server")
    assert result["error"] == "the handshake did not finish within 1.0 seconds"


@pytest.mark.parametrize("plaintext", [True, False])
def test_the_probe_connects_to_the_host_it_is_given(capsys, monkeypatch, plaintext):
    # The port listens on 127.0.0.2 only; nothing answers on 127.0.0.1 or ::1.
    port = FakePort([INFO_LINE, "read"], address="127.0.0.2")
    result = run(capsys, monkeypatch, host="127.0.0.2", port=port.port, plaintext=plaintext, timeout=5)
    assert result.get("failed") is not True, result
    assert result["info"] == {"server_id": "NFAKE", "version": "2.15.1"}


def test_a_certificate_that_does_not_name_the_server_is_refused_by_the_probe(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["route_port"], tls_first=True, client_cert_path=spec["client_cert"],
                 client_key_path=spec["client_key"], ca_path=spec["ca_path"], server_name="other.example.com",
                 expect="accepted")
    assert result["failed"] is True and result["accepted"] is False and result["refused_by"] == "client"
    assert result["msg"] == (
        "TLS probe of 127.0.0.1:%d (TLS 1.3, client certificate) was expected to be accepted, "
        "but it was refused by the client: %s" % (spec["route_port"], result["error"])
    )
    assert "hostname mismatch" in result["error"]


def test_tls_probe_without_cryptography_names_the_missing_library(capsys, monkeypatch):
    if _traceback is not None:  # as with ANSIBLE_DISPLAY_TRACEBACK=error
        monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: event is _traceback.TracebackEvent.ERROR)
    monkeypatch.setattr(tls_spec, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(tls_spec, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: No module named 'cryptography'")
    result = run(capsys, monkeypatch, port=free_port())
    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("cryptography")
    # The traceback shown is the one of the failed import, not of the module's own code.
    assert result["exception"] == "Traceback: No module named 'cryptography'"


def test_tls_probe_without_openssl_fails_naming_the_command(tmp_path, capsys, monkeypatch):
    # The sbin folders are in PATH already, so Ansible adds none to the list it names.
    path = os.pathsep.join([str(tmp_path), "/sbin", "/usr/sbin", "/usr/local/sbin"])
    monkeypatch.setenv("PATH", path)
    result = run(capsys, monkeypatch, port=free_port())
    assert result["failed"] is True
    assert result["msg"] == 'Failed to find required executable "openssl" in paths: %s' % path
