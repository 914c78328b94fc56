# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import tls_renewal
from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.tests.unit.secret_forms import leaked_forms, pem_file_key_forms
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    CLIENT_AUTH, DAY, NOW, SERVER_AUTH, Pki, cert_pem, file_lines, key_pem, make_cert, make_key,
)

reasons = tls_renewal.FilterModule().filters()["tls_renewal_reasons"]
NAMES = ["nats-1", "nats-1.example.com", "10.0.0.11"]


@pytest.fixture()
def pki(tmp_path):
    return Pki(tmp_path)


def leaf(pki, **kwargs):
    kwargs.setdefault("sans", NAMES)
    cert, key, _cert, _key = pki.leaf("nats-1", **kwargs)
    return cert, key


def test_only_tls_renewal_reasons_is_registered():
    assert list(tls_renewal.FilterModule().filters()) == ["tls_renewal_reasons"]


def test_a_fitting_certificate_has_no_reason(pki):
    cert, key = leaf(pki)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == []


def test_a_missing_certificate_or_key_is_a_reason(pki, tmp_path):
    cert, key = leaf(pki)
    assert reasons(str(tmp_path / "absent.pem"), purpose="cluster", ca_path=pki.ca_path) == ["there is no certificate yet"]
    assert reasons(cert, purpose="cluster", key_path=str(tmp_path / "absent-key.pem"), ca_path=pki.ca_path) == [
        "there is no private key yet"]


def test_a_key_that_does_not_match_is_a_reason(pki):
    cert, _key = leaf(pki)
    other = pki.write("other-key.pem", key_pem(make_key()))
    assert reasons(cert, purpose="cluster", key_path=other, ca_path=pki.ca_path, names=NAMES) == [
        "it does not belong to the private key"]


def test_a_certificate_of_another_ca_is_a_reason(pki, tmp_path):
    cert, key = leaf(pki)
    other_ca = Pki(tmp_path, name="Other CA")
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=other_ca.ca_path, names=NAMES) == [
        "it is not signed by the current CA"]


def test_expired_and_expiring_certificates_are_reasons(pki):
    expired, key = leaf(pki, not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    assert reasons(expired, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == ["it has expired"]
    soon, key = leaf(pki, not_after=NOW + 10 * DAY + DAY / 2)
    assert reasons(soon, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES, renew_days=30) == [
        "it expires in 10 days"]
    assert reasons(soon, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES, renew_days=5) == []


def test_a_name_no_longer_covered_is_a_reason(pki):
    cert, key = leaf(pki)
    wanted = NAMES + ["10.0.0.12", "nats-1.internal"]
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=wanted) == [
        "its subjectAltNames lack 10.0.0.12, nats-1.internal"]


def test_names_no_longer_wanted_count_only_with_exact_names(pki):
    cert, key = leaf(pki)
    fewer = ["NATS-1.example.com.", "10.0.0.11"]
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=fewer) == [
        "its subjectAltNames still hold nats-1"]
    assert reasons(cert, purpose="gateway", key_path=key, ca_path=pki.ca_path, names=fewer, exact_names=False) == []


def test_usages_must_fit_the_purpose(pki):
    cert, key = leaf(pki, ekus=(SERVER_AUTH,))
    assert reasons(cert, purpose="client", key_path=key, ca_path=pki.ca_path, names=NAMES) == []
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == [
        "its extended key usage does not fit the purpose"]
    no_signature, key = leaf(pki, ekus=(SERVER_AUTH, CLIENT_AUTH), digital_signature=False)
    assert reasons(no_signature, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == [
        "its key usage lacks digitalSignature"]


def test_a_ca_is_checked_against_itself_without_usages_or_names(tmp_path):
    key = make_key()
    ca_key = str(tmp_path / "ca.key")
    ca_path = str(tmp_path / "ca.pem")
    with open(ca_key, "wb") as handle:
        handle.write(key_pem(key))
    with open(ca_path, "wb") as handle:
        handle.write(cert_pem(make_cert("Test CA", key, ca=True, digital_signature=False)))
    assert reasons(ca_path, key_path=ca_key, ca_path=ca_path) == []
    with open(ca_path, "wb") as handle:
        handle.write(cert_pem(make_cert("Test CA", key, ca=True, not_after=NOW + 3 * DAY + DAY / 2)))
    assert reasons(ca_path, key_path=ca_key, ca_path=ca_path, renew_days=30) == ["it expires in 3 days"]


def test_a_problem_of_the_ca_file_names_it(pki, tmp_path):
    cert, key = leaf(pki)
    missing_ca = str(tmp_path / "no-ca.pem")
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=missing_ca, names=NAMES) == [
        "its CA file %s fails the unreadable check" % missing_ca]


def test_no_key_material_in_the_reasons(pki):
    cert, _key = leaf(pki)
    other = pki.write("other-key.pem", key_pem(make_key()))
    text = " ".join(reasons(cert, purpose="cluster", key_path=other, ca_path=pki.ca_path, names=["elsewhere"]))
    assert "does not belong" in text
    assert not [line for line in file_lines(other) if line in text]
    assert leaked_forms(pem_file_key_forms(other) + pem_file_key_forms(_key), text) == 0


def test_an_unknown_purpose_is_a_filter_error(pki):
    cert, _key = leaf(pki)
    with pytest.raises(AnsibleFilterError, match="tls_renewal_reasons: purpose 'routes' is not one of"):
        reasons(cert, purpose="routes")


def test_renewal_is_due_within_30_days_by_default(pki):
    cert, key = leaf(pki, not_after=NOW + 30 * DAY + DAY // 2)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == []
    due = reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES, renew_days=31)
    assert len(due) == 1 and "expires" in due[0]


def test_names_beyond_the_wanted_ones_are_a_reason_by_default(pki):
    cert, key = leaf(pki, sans=NAMES + ["old.example.com", "10.0.0.99"])
    found = reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES)
    assert found == ["its subjectAltNames still hold old.example.com, 10.0.0.99"]
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES, exact_names=False) == []


def test_wanted_names_match_without_case_trailing_dot_or_brackets(pki):
    cert, key = leaf(pki, sans=["nats-1.example.com", "10.0.0.11", "::1"])
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path,
                   names=["NATS-1.example.com.", "[::1]", "10.0.0.11"]) == []


def test_blank_names_are_no_names_the_certificate_must_hold(pki):
    # An empty survey answer or a trailing comma in a list gives "" or " ": nothing to cover.
    cert, key = leaf(pki)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES + ["", "  "]) == []


def test_an_unknown_purpose_names_every_purpose(pki):
    cert, _key = leaf(pki)
    with pytest.raises(AnsibleFilterError) as failure:
        reasons(cert, purpose="routes")
    assert str(failure.value) == "tls_renewal_reasons: purpose 'routes' is not one of %s" % ", ".join(
        sorted(tls_spec.PURPOSES))


def test_names_match_whatever_their_case_or_trailing_dot(pki):
    cert, key, _cert, _key = pki.leaf("upper", sans=["NATS-BOX", "nats-1.example.com."])
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path,
                   names=["NATS-BOX", "nats-1.example.com"]) == []
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path,
                   names=["nats-box.", "NATS-1.EXAMPLE.COM"]) == []


def test_an_rsa_certificate_of_the_private_pki_is_not_reissued_for_its_type(pki):
    # The ECDSA requirement is the server's TLS check; only a weak RSA key is a reason to issue again.
    cert, key, _cert, _key = pki.leaf("rsa", kind="rsa2048", sans=NAMES)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == []
    cert, key, _cert, _key = pki.leaf("weak", kind="rsa1024", sans=NAMES)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == [
        "it fails the key_size check"]


def test_a_ca_is_not_checked_for_host_names_or_usages_but_for_its_validity(pki, tmp_path):
    assert reasons(pki.ca_path, ca_path=pki.ca_path, names=NAMES) == []
    old_key = make_key()
    expired = pki.write("expired-ca.pem", cert_pem(make_cert("Old CA", old_key, ca=True, not_before=NOW - 10 * DAY,
                                                             not_after=NOW - DAY)))
    assert reasons(expired, ca_path=expired, names=NAMES) == ["it has expired"]


def test_a_readable_key_is_fixed_by_its_mode_not_by_issuing_again(pki, tmp_path):
    cert, key = leaf(pki)
    os.chmod(key, 0o644)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=pki.ca_path, names=NAMES) == []
    other_ca = Pki(tmp_path, name="Other CA")
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=other_ca.ca_path, names=NAMES) == [
        "it is not signed by the current CA"]


def test_only_the_certificate_expiring_counts_not_its_ca(pki):
    soon_key = make_key()
    soon_ca = make_cert("Soon CA", soon_key, ca=True, not_after=NOW + 10 * DAY)
    soon_path = pki.write("soon-ca.pem", cert_pem(soon_ca))
    cert, key, _cert, _key = pki.leaf("under-soon", sans=NAMES, issuer=soon_ca, issuer_key=soon_key)
    assert reasons(cert, purpose="cluster", key_path=key, ca_path=soon_path, names=NAMES) == []


def test_missing_cryptography_is_named(monkeypatch, pki):
    monkeypatch.setattr(tls_spec, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(AnsibleFilterError) as failure:
        reasons(pki.ca_path)
    assert str(failure.value) == "tls_renewal_reasons needs the Python library cryptography on the controller"


def test_a_ca_without_digital_signature_is_still_checked_for_its_validity(pki):
    old_key = make_key()
    expired = pki.write("expired-ca.pem", cert_pem(make_cert("Old CA", old_key, ca=True, digital_signature=False,
                                                             not_before=NOW - 10 * DAY, not_after=NOW - DAY)))
    assert reasons(expired, ca_path=expired) == ["it has expired"]
