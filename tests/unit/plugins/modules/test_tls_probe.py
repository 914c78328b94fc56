# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_probe's main() against a real nats-server on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.cmsgs.nats.plugins.modules import tls_probe
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    file_lines, free_port, needs_openssl, spec_server,
)

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
def test_expected_acceptance(spec, capsys, monkeypatch, check_mode, diff):
    result = run(capsys, monkeypatch, check_mode=check_mode, diff=diff, port=spec["route_port"], tls_first=True,
                 groups=["X25519"], client_cert_path=spec["client_cert"], client_key_path=spec["client_key"],
                 ca_path=spec["ca_path"], server_name="localhost", expect="accepted")
    assert result.get("failed") is not True, result
    assert result["changed"] is False and "diff" not in result
    assert (result["accepted"], result["tls_version"], result["group"]) == (True, "1.3", "X25519")
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
    result = run(capsys, monkeypatch, port=spec["client_port"], tls_version="1.2", groups=["X25519", "P-256"],
                 ciphers=["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"], expect="refused")
    assert result["failed"] is True and result["accepted"] is True
    assert result["msg"] == (
        "TLS probe of 127.0.0.1:%d (TLS 1.2, groups X25519:P-256, ciphers TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305) "
        "was expected to be refused, but the server accepted it "
        "(TLS 1.2, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, X25519)" % spec["client_port"]
    )


def test_unexpected_refusal_fails_with_the_reason(spec, capsys, monkeypatch):
    result = run(capsys, monkeypatch, port=spec["route_port"], tls_first=True, groups=["X25519"], expect="accepted")
    assert result["failed"] is True and result["accepted"] is False
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


def test_option_combinations_are_checked(spec, capsys, monkeypatch):
    both = run(capsys, monkeypatch, port=spec["client_port"], plaintext=True, groups=["X25519"])
    assert both["failed"] is True and "mutually exclusive" in both["msg"]
    half = run(capsys, monkeypatch, port=spec["client_port"], client_cert_path=spec["client_cert"])
    assert half["failed"] is True and "client_key_path" in half["msg"]
    zero = run(capsys, monkeypatch, port=spec["client_port"], timeout=0)
    assert zero["failed"] is True and "timeout" in zero["msg"]
