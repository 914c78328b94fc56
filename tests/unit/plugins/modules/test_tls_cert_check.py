# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd

import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.plugins.modules import tls_cert_check
from ansible_collections.cmsgs.nats.tests.unit.module_runner import enable_tracebacks, run_module, warning_texts
from ansible_collections.cmsgs.nats.tests.unit.secret_forms import leaked_forms, pem_file_key_forms
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    DAY, NOW, SERVER_AUTH, Pki, file_lines,
)


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


def run(capsys, monkeypatch, **args):
    return run_module(tls_cert_check.main, capsys, monkeypatch, **args)


@pytest.mark.parametrize("check_mode, diff", [(False, False), (True, False), (False, True), (True, True)])
def test_good_certificate_passes_in_every_mode(pki, capsys, monkeypatch, check_mode, diff):
    cert_path, key_path, cert, _key = pki.leaf("route", sans=("nats1.example.com",))
    result = run(capsys, monkeypatch, check_mode=check_mode, diff=diff, cert_path=cert_path, key_path=key_path,
                 ca_path=pki.ca_path, purpose="cluster", names=["nats1.example.com"])
    assert result.get("failed") is not True, result
    assert result["changed"] is False and result["valid"] is True and result["problems"] == []
    assert "diff" not in result
    assert result["spki_sha256"] == tls_spec.spki_sha256(cert)
    assert (result["key_type"], result["curve"], result["subject"]) == ("ECDSA", "P-256", "CN=route")
    assert result["chain"] == ["CN=route", "CN=Test NATS CA"] and result["trust_source"] == pki.ca_path
    for key in tls_spec.CERTIFICATE_FACTS:
        assert key in result


def test_failure_names_each_file_and_rule_and_never_prints_pem(pki, capsys, monkeypatch, tmp_path):
    other = Pki(tmp_path, name="Other CA")
    cert_path, _key_path, _cert, _key = pki.leaf("route", kind="rsa2048", ekus=(SERVER_AUTH,))
    _c, other_key, _oc, _ok = pki.leaf("other")
    result = run(capsys, monkeypatch, cert_path=cert_path, key_path=other_key, ca_path=other.ca_path,
                 purpose="gateway", names=["gw.example.com"])
    assert result["failed"] is True and result["valid"] is False
    for path, rule in [(cert_path, "key_type"), (other_key, "key_mismatch"), (cert_path, "chain"),
                       (cert_path, "extended_key_usage"), (cert_path, "san")]:
        assert "%s [%s]" % (path, rule) in result["msg"]
        assert {"file": path, "rule": rule} in [{"file": p["file"], "rule": p["rule"]} for p in result["problems"]]
    assert result["msg"].startswith("gateway certificate check failed: ")
    output = json.dumps(result)
    assert "BEGIN" not in output
    for line in file_lines(cert_path, other_key, other.ca_path):
        assert line not in output
    # The key in any printable form: PEM, its base64 lines, DER, base64 of the PEM, the private number.
    assert leaked_forms(pem_file_key_forms(other_key), output) == 0
    assert leaked_forms(pem_file_key_forms(_key_path), output) == 0


def test_report_only_returns_problems_without_failing(pki, capsys, monkeypatch):
    cert_path, key_path, _cert, _key = pki.leaf("old", not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    result = run(capsys, monkeypatch, cert_path=cert_path, key_path=key_path, ca_path=pki.ca_path,
                 purpose="client", report_only=True)
    assert result.get("failed") is not True
    assert result["valid"] is False and [p["rule"] for p in result["problems"]] == ["expired"]
    assert result["days_left"] < 0


def test_expiry_is_a_warning(pki, capsys, monkeypatch):
    # Half a day past 5 days, so the whole days left stay 5 while the test runs.
    cert_path, key_path, cert, _key = pki.leaf("soon", not_after=NOW + 5 * DAY + DAY / 2)
    result = run(capsys, monkeypatch, cert_path=cert_path, key_path=key_path, ca_path=pki.ca_path,
                 purpose="cluster", expiry_warning_days=14)
    assert result.get("failed") is not True and result["valid"] is True
    expires = tls_spec.not_after(cert).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert warning_texts(result) == [
        "%s [expiring]: the certificate 'CN=soon' expires on %s, in 5 days; renew it soon" % (cert_path, expires)]


@pytest.mark.parametrize("owners, problems", [
    (["cmsgs-nobody"], ["the private key is owned by {me}; only cmsgs-nobody may own it (chown it to the service user)"]),
    (["cmsgs-nobody", "{me}"], []),
])
def test_key_owners_limits_who_may_own_the_key(pki, capsys, monkeypatch, owners, problems):
    me = pwd.getpwuid(os.getuid()).pw_name
    cert_path, key_path, _cert, _key = pki.leaf("route")
    result = run(capsys, monkeypatch, cert_path=cert_path, key_path=key_path, ca_path=pki.ca_path, purpose="cluster",
                 key_owners=[owner.format(me=me) for owner in owners], report_only=True)
    assert [p["message"] for p in result["problems"] if p["file"] == key_path] == [p.format(me=me) for p in problems]


def test_unreadable_certificate_still_returns_every_key(capsys, monkeypatch, tmp_path):
    missing = str(tmp_path / "cert.pem")
    result = run(capsys, monkeypatch, cert_path=missing, purpose="gateway_peer", report_only=True)
    assert result["problems"][0]["rule"] == "unreadable" and result["subject"] is None
    assert set(tls_spec.CERTIFICATE_FACTS) <= set(result)


def test_purpose_is_validated_and_bad_threshold_fails(pki, capsys, monkeypatch):
    cert_path, _k, _c, _key = pki.leaf("x")
    bad_purpose = run(capsys, monkeypatch, cert_path=cert_path, purpose="routes")
    assert bad_purpose["failed"] is True and "purpose" in bad_purpose["msg"]
    bad_days = run(capsys, monkeypatch, cert_path=cert_path, purpose="client", expiry_warning_days=-3)
    assert bad_days["failed"] is True and "expiry_warning_days" in bad_days["msg"]


def test_require_ecdsa_for_the_client_listener(pki, capsys, monkeypatch):
    cert_path, key_path, _cert, _key = pki.leaf("rsa", kind="rsa2048")
    relaxed = run(capsys, monkeypatch, cert_path=cert_path, key_path=key_path, ca_path=pki.ca_path, purpose="client")
    assert relaxed["valid"] is True
    strict = run(capsys, monkeypatch, cert_path=cert_path, key_path=key_path, ca_path=pki.ca_path,
                 purpose="client", require_ecdsa=True)
    assert strict["failed"] is True and "[key_type]" in strict["msg"]


def test_missing_cryptography_is_reported(pki, capsys, monkeypatch):
    cert_path, _k, _c, _key = pki.leaf("x")
    monkeypatch.setattr(tls_spec, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(tls_spec, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: No module named 'cryptography'")
    enable_tracebacks(monkeypatch)
    result = run(capsys, monkeypatch, cert_path=cert_path, purpose="client")
    assert result["failed"] is True and result["msg"] == missing_required_lib("cryptography")
    # With -vvv the user sees why the import failed.
    assert "No module named 'cryptography'" in json.dumps(result.get("exception"))
