# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import subprocess

import pytest

from cryptography.hazmat.primitives import serialization

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    CLIENT_AUTH, DAY, NOW, SERVER_AUTH, Pki, cert_pem, key_pem, make_cert, make_key, needs_openssl, openssl_binary,
)


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


def rules(report):
    return [(p["rule"], p["file"]) for p in report["problems"]]


def check(cert, purpose="cluster", **kwargs):
    return tls_spec.check_certificate_files(cert, purpose, **kwargs)


# ------------------------------------------------------------ spec as data


@pytest.mark.parametrize("version, chacha", [
    ("2.15.1", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("v2.12.0", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("2.12.0-RC.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("nats-server: v2.15.1\n", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("2.11.9", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"),
    ("2.9.10", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"),
])
def test_cipher_names_follow_the_server_version(version, chacha):
    assert tls_spec.nats_cipher_suites(version) == [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        chacha,
    ]


def test_long_chacha_name_is_shortened_for_old_servers():
    assert tls_spec.nats_cipher_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "2.10.22") == \
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
    assert tls_spec.nats_cipher_name("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "2.12.1") == \
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"


@pytest.mark.parametrize("bad", ["", None, "latest", "2.15"])
def test_unparsable_version_is_refused(bad):
    with pytest.raises(tls_spec.TlsSpecError, match="MAJOR.MINOR.PATCH"):
        tls_spec.nats_cipher_suites(bad)
    with pytest.raises(tls_spec.TlsSpecError):
        tls_spec.nats_curves(bad)


def test_spec_data():
    assert tls_spec.nats_curves("2.15.1") == ["X25519"]
    assert tls_spec.PURPOSES["client"]["eku"] == ("serverAuth",)
    for purpose in ("cluster", "gateway", "gateway_peer"):
        assert tls_spec.PURPOSES[purpose]["eku"] == ("serverAuth", "clientAuth")
        assert tls_spec.PURPOSES[purpose]["ecdsa_required"] is True


# ------------------------------------------------------------ name matching


@pytest.mark.parametrize("pattern, host, expected", [
    ("nats1.example.com", "nats1.example.com", True),
    ("NATS1.example.com.", "nats1.EXAMPLE.com", True),
    ("*.example.com", "nats1.example.com", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "a.b.example.com", False),
    ("*.com", "example.com", False),
    ("n*.example.com", "nats1.example.com", False),
    ("*.*.example.com", "a.b.example.com", False),
    ("other.example.com", "nats1.example.com", False),
])
def test_dns_name_matching(pattern, host, expected):
    assert tls_spec.dns_name_matches(pattern, host) is expected


def test_uncovered_names_use_sans_only(pki):
    cert = make_cert("nats1.example.com", make_key(), pki.ca, pki.ca_key,
                     sans=("*.region1.example.com", "10.0.0.11", "::1"))
    assert tls_spec.uncovered_names(cert, [
        "a.region1.example.com", "10.0.0.11", "[::1]", "::1",
        "nats1.example.com",  # only the CN, which Go ignores
        "10.0.0.12",
        "10.0.0.11.nip.io",
    ]) == ["nats1.example.com", "10.0.0.12", "10.0.0.11.nip.io"]


# ------------------------------------------------------------ certificates


def test_good_cluster_certificate_passes_with_facts(pki):
    cert_path, key_path, cert, _key = pki.leaf("route", sans=("nats1.example.com", "10.0.0.11"))
    report = check(cert_path, key_path=key_path, ca_path=pki.ca_path, names=["nats1.example.com", "10.0.0.11"])
    assert report["problems"] == [] and report["warnings"] == []
    assert report["chain"] == ["CN=route", "CN=Test NATS CA"]
    assert report["trust_source"] == pki.ca_path
    facts = report["facts"]
    assert set(facts) == set(tls_spec.CERTIFICATE_FACTS)
    assert facts["subject"] == "CN=route" and facts["issuer"] == "CN=Test NATS CA"
    assert facts["sans"] == ["DNS:nats1.example.com", "IP:10.0.0.11"]
    assert (facts["key_type"], facts["curve"], facts["key_size"]) == ("ECDSA", "P-256", 256)
    assert facts["extended_key_usage"] == ["serverAuth", "clientAuth"]
    assert facts["days_left"] in (88, 89)
    assert facts["not_after"].endswith("Z")
    der = cert.public_bytes(serialization.Encoding.DER)
    assert facts["fingerprint_sha256"] == hashlib.sha256(der).hexdigest()
    assert facts["serial_number"] == format(cert.serial_number, "x")


@needs_openssl
def test_spki_sha256_matches_openssl(pki):
    """pinned_certs wants sha256 over the DER SubjectPublicKeyInfo; check with an independent tool."""
    cert_path, _key_path, cert, _key = pki.leaf("pin")
    pubkey = subprocess.run([openssl_binary(), "x509", "-in", cert_path, "-noout", "-pubkey"],
                            stdout=subprocess.PIPE, check=True, timeout=30).stdout
    der = subprocess.run([openssl_binary(), "pkey", "-pubin", "-outform", "DER"], input=pubkey,
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    assert tls_spec.spki_sha256(cert) == hashlib.sha256(der).hexdigest()
    assert tls_spec.spki_sha256(cert) != tls_spec.describe_certificate(cert)["fingerprint_sha256"]


def test_rsa_certificate_is_refused_for_routes_with_the_reason(pki):
    cert_path, key_path, _cert, _key = pki.leaf("rsa", kind="rsa2048")
    report = check(cert_path, key_path=key_path, ca_path=pki.ca_path)
    assert rules(report) == [("key_type", cert_path)]
    message = report["problems"][0]["message"]
    assert "RSA" in message and "TLS_ECDHE_ECDSA_WITH_*" in message and "ECDSA P-256 or P-384" in message


def test_rsa_is_fine_for_clients_unless_ecdsa_is_required(pki):
    cert_path, key_path, _cert, _key = pki.leaf("rsaclient", kind="rsa2048")
    assert check(cert_path, "client", key_path=key_path, ca_path=pki.ca_path)["problems"] == []
    forced = check(cert_path, "client", key_path=key_path, ca_path=pki.ca_path, require_ecdsa=True)
    assert rules(forced) == [("key_type", cert_path)]


def test_short_rsa_key_is_refused_for_clients(pki):
    cert_path, _key_path, _cert, _key = pki.leaf("rsa1024", kind="rsa1024")
    report = check(cert_path, "client", ca_path=pki.ca_path)
    assert rules(report) == [("key_size", cert_path)]
    assert "1024 bits" in report["problems"][0]["message"]


@pytest.mark.parametrize("kind, rule", [("p384", None), ("p521", "key_curve"), ("ed25519", "key_type")])
def test_key_curves(pki, kind, rule):
    cert_path, key_path, _cert, _key = pki.leaf("k" + kind, kind=kind)
    report = check(cert_path, key_path=key_path, ca_path=pki.ca_path)
    assert rules(report) == ([] if rule is None else [(rule, cert_path)])


@pytest.mark.parametrize("purpose", ["client", "cluster", "gateway"])
def test_a_p521_certificate_fails_for_every_purpose(pki, purpose):
    # The ECDHE_ECDSA suites only pair with P-256 and P-384 keys, whether or
    # not the purpose insists on ECDSA (clients may bring RSA, never P-521).
    cert_path, key_path, _cert, _key = pki.leaf("p521" + purpose, kind="p521")
    report = check(cert_path, purpose, key_path=key_path, ca_path=pki.ca_path)
    assert rules(report) == [("key_curve", cert_path)]
    assert report["problems"][0]["message"] == (
        "the key is ECDSA on P-521; use P-256 or P-384 (the ECDHE_ECDSA suites need one of them)")
    assert check(cert_path, purpose, key_path=key_path, ca_path=pki.ca_path, require_ecdsa=False)["problems"] == \
        report["problems"]


def test_key_of_another_certificate_is_a_mismatch(pki):
    cert_path, _key_path, _cert, _key = pki.leaf("one")
    _cert2, other_key_path, _c, _k = pki.leaf("two")
    report = check(cert_path, key_path=other_key_path, ca_path=pki.ca_path)
    assert rules(report) == [("key_mismatch", other_key_path)]
    assert cert_path in report["problems"][0]["message"]


def test_encrypted_and_garbage_keys_are_reported_without_their_content(pki):
    cert_path, _key_path, _cert, key = pki.leaf("enc")
    encrypted = pki.write("enc.key", key_pem(key, password=b"hunter22"))
    garbage = pki.write("garbage.key", b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n")
    empty = pki.write("empty.key", b"secret-stuff without PEM")
    assert rules(check(cert_path, key_path=encrypted, ca_path=pki.ca_path)) == [("key_encrypted", encrypted)]
    report = check(cert_path, key_path=garbage, ca_path=pki.ca_path)
    assert rules(report) == [("unparsable", garbage)]
    report_empty = check(cert_path, key_path=empty, ca_path=pki.ca_path)
    assert rules(report_empty) == [("unparsable", empty)]
    text = repr([report, report_empty])
    assert "c2VjcmV0" not in text and "secret-stuff" not in text


def test_key_after_ec_parameters_and_key_in_cert_file_are_skipped_like_go(pki):
    key = make_key()
    cert = make_cert("combo", key, pki.ca, pki.ca_key)
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    key_path = pki.write("combo.key", params + key_pem(key))
    cert_path = pki.write("combo.pem", cert_pem(cert) + key_pem(key))
    report = check(cert_path, key_path=key_path, ca_path=pki.ca_path)
    assert report["problems"] == []
    assert "PRIVATE" not in repr(report)


def test_missing_and_empty_files(pki, tmp_path):
    missing = str(tmp_path / "nope.pem")
    report = check(missing, ca_path=pki.ca_path)
    assert rules(report) == [("unreadable", missing)] and report["facts"] == {}
    blank = pki.write("blank.pem", b"\n")
    assert rules(check(blank)) == [("unparsable", blank)]
    cert_path, _k, _c, _key = pki.leaf("x")
    assert rules(check(cert_path, ca_path=missing)) == [("unreadable", missing)]


def test_wrong_ca_with_another_name(pki, tmp_path):
    other = Pki(tmp_path, name="Other CA")
    cert_path, key_path, _cert, _key = pki.leaf("route")
    report = check(cert_path, key_path=key_path, ca_path=other.ca_path)
    assert rules(report) == [("chain", cert_path)]
    assert "no certificate named 'CN=Test NATS CA'" in report["problems"][0]["message"]
    assert report["chain"] == []


@pytest.mark.parametrize("direct_verify", [True, False])
def test_wrong_ca_with_the_same_name_fails_on_the_signature(pki, tmp_path, monkeypatch, direct_verify):
    """Both signature paths: cryptography >= 40 and the manual one older releases (Debian 12) take."""
    monkeypatch.setattr(tls_spec, "_HAS_DIRECT_VERIFY", direct_verify and tls_spec._HAS_DIRECT_VERIFY)
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    fake = Pki(impostor)  # same subject "Test NATS CA", different key
    cert_path, key_path, _cert, _key = pki.leaf("route")
    report = check(cert_path, key_path=key_path, ca_path=fake.ca_path)
    assert rules(report) == [("chain", cert_path)]
    assert "signature" in report["problems"][0]["message"]
    assert check(cert_path, key_path=key_path, ca_path=pki.ca_path)["problems"] == []


@pytest.mark.parametrize("ca_kind", ["rsa2048", "ed25519", "p384"])
def test_manual_signature_path_handles_each_ca_key_type(tmp_path, monkeypatch, ca_kind):
    monkeypatch.setattr(tls_spec, "_HAS_DIRECT_VERIFY", False)
    pki = Pki(tmp_path, kind=ca_kind)
    cert_path, key_path, _cert, _key = pki.leaf("route")
    assert check(cert_path, key_path=key_path, ca_path=pki.ca_path)["problems"] == []


@pytest.mark.parametrize("direct_verify", [True, False])
@pytest.mark.parametrize("ca_kind, key_type", [("dsa", "DSA"), ("ed448", "Ed448")])
def test_a_ca_key_go_cannot_verify_is_refused_on_both_signature_paths(
        tmp_path, monkeypatch, direct_verify, ca_kind, key_type):
    """Python's cryptography verifies DSA and Ed448 signatures; nats-server (Go) does not."""
    monkeypatch.setattr(tls_spec, "_HAS_DIRECT_VERIFY", direct_verify and tls_spec._HAS_DIRECT_VERIFY)
    pki = Pki(tmp_path, kind=ca_kind)
    cert_path, key_path, _cert, _key = pki.leaf("route")
    report = check(cert_path, key_path=key_path, ca_path=pki.ca_path)
    assert rules(report) == [("chain", cert_path)]
    assert report["problems"][0]["message"].endswith(
        "'CN=route' is signed with the %s key of 'CN=Test NATS CA', and nats-server (Go's crypto/x509) verifies "
        "RSA, ECDSA and Ed25519 signatures only: reissue the CA with an ECDSA P-256 key" % key_type)


def test_intermediate_in_the_bundle_verifies_and_missing_one_does_not(pki):
    int_key = make_key("p384")
    intermediate = make_cert("Test Intermediate", int_key, pki.ca, pki.ca_key, ca=True)
    key = make_key()
    leaf = make_cert("route", key, intermediate, int_key, sans=("localhost",))
    bundle = pki.write("bundle.pem", cert_pem(leaf, intermediate))
    alone = pki.write("alone.pem", cert_pem(leaf))
    key_path = pki.write("leaf.key", key_pem(key))
    report = check(bundle, key_path=key_path, ca_path=pki.ca_path)
    assert report["problems"] == []
    assert report["chain"] == ["CN=route", "CN=Test Intermediate", "CN=Test NATS CA"]
    broken = check(alone, key_path=key_path, ca_path=pki.ca_path)
    assert rules(broken) == [("chain", alone)]
    assert "Test Intermediate" in broken["problems"][0]["message"]


def test_leaf_listed_in_the_ca_file_is_trusted(pki):
    key = make_key()
    self_signed = make_cert("selfsigned", key, sans=("localhost",))
    cert_path = pki.write("self.pem", cert_pem(self_signed))
    assert check(cert_path, "client", ca_path=cert_path)["problems"] == []


def test_intermediate_restricting_usage_is_reported(pki):
    int_key = make_key()
    builder_cert = make_cert("Restricted Intermediate", int_key, pki.ca, pki.ca_key, ca=True)
    # make_cert leaves EKU out of CAs; issue one that carries serverAuth only.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    restricted = (
        x509.CertificateBuilder()
        .subject_name(builder_cert.subject).issuer_name(pki.ca.subject).public_key(int_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([SERVER_AUTH]), critical=False)
        .sign(pki.ca_key, hashes.SHA256())
    )
    leaf = make_cert("route", make_key(), restricted, int_key)
    bundle = pki.write("restricted.pem", cert_pem(leaf, restricted))
    report = check(bundle, ca_path=pki.ca_path)
    assert rules(report) == [("extended_key_usage", bundle)]
    assert "Restricted Intermediate" in report["problems"][0]["message"]
    assert check(bundle, "client", ca_path=pki.ca_path)["problems"] == []


@pytest.mark.parametrize("ekus, purpose, missing", [
    ((SERVER_AUTH,), "cluster", "clientAuth"),
    ((SERVER_AUTH,), "gateway", "clientAuth"),
    ((SERVER_AUTH,), "gateway_peer", "clientAuth"),
    ((CLIENT_AUTH,), "client", "serverAuth"),
    ((CLIENT_AUTH,), "cluster", "serverAuth"),
])
def test_missing_extended_key_usage(pki, ekus, purpose, missing):
    cert_path, _key_path, _cert, _key = pki.leaf("eku", ekus=ekus)
    report = check(cert_path, purpose, ca_path=pki.ca_path)
    assert rules(report) == [("extended_key_usage", cert_path)]
    message = report["problems"][0]["message"]
    assert "needs %s" % missing in message and purpose in message


def test_server_auth_only_is_enough_for_clients_and_no_eku_means_unrestricted(pki):
    server_only, _k, _c, _key = pki.leaf("srv", ekus=(SERVER_AUTH,))
    no_eku, _k2, _c2, _key2 = pki.leaf("noeku", ekus=None)
    assert check(server_only, "client", ca_path=pki.ca_path)["problems"] == []
    report = check(no_eku, "cluster", ca_path=pki.ca_path)
    assert report["problems"] == [] and report["facts"]["extended_key_usage"] == []


def test_key_usage_without_digital_signature(pki):
    cert_path, _key_path, _cert, _key = pki.leaf("ku", digital_signature=False)
    report = check(cert_path, ca_path=pki.ca_path)
    assert rules(report) == [("key_usage", cert_path)]


def test_expired_and_not_yet_valid(pki):
    expired, _k, _c, _key = pki.leaf("old", not_before=NOW - 100 * DAY, not_after=NOW - DAY)
    future, _k2, _c2, _key2 = pki.leaf("new", not_before=NOW + DAY, not_after=NOW + 100 * DAY)
    report = check(expired, ca_path=pki.ca_path)
    assert rules(report) == [("expired", expired)] and report["facts"]["days_left"] < 0
    assert rules(check(future, ca_path=pki.ca_path)) == [("not_yet_valid", future)]


def test_expiring_soon_is_a_warning_only(pki):
    soon, _k, _c, _key = pki.leaf("soon", not_after=NOW + 10 * DAY)
    report = check(soon, ca_path=pki.ca_path, expiry_warning_days=30)
    assert report["problems"] == []
    assert [(w["rule"], w["file"]) for w in report["warnings"]] == [("expiring", soon)]
    assert check(soon, ca_path=pki.ca_path, expiry_warning_days=5)["warnings"] == []


def test_expired_ca_is_reported_against_the_ca_file(tmp_path):
    pki = Pki(tmp_path)
    old_ca = make_cert("Old CA", pki.ca_key, ca=True, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    ca_path = pki.write("old-ca.pem", cert_pem(old_ca))
    cert_path, _k, _c, _key = pki.leaf("route", issuer=old_ca)
    assert rules(check(cert_path, ca_path=ca_path)) == [("expired", ca_path)]


def test_san_mismatch_names_what_is_missing(pki):
    cert_path, _k, _c, _key = pki.leaf("san", sans=("nats1.example.com", "10.0.0.11"))
    report = check(cert_path, ca_path=pki.ca_path, names=["nats1.example.com", "nats2.example.com", "10.0.0.12"])
    assert rules(report) == [("san", cert_path)]
    message = report["problems"][0]["message"]
    assert "nats2.example.com, 10.0.0.12" in message and "DNS:nats1.example.com" in message
    no_san, _k2, _c2, _key2 = pki.leaf("nosan", sans=())
    assert "the subjectAltNames (no subjectAltName at all) do not cover nosan;" in check(
        no_san, ca_path=pki.ca_path, names=["nosan"])["problems"][0]["message"]


def test_gateway_peer_needs_no_key(pki):
    cert_path, _k, _c, _key = pki.leaf("peer", sans=("gw.region2.example.com",))
    report = check(cert_path, "gateway_peer", ca_path=pki.ca_path, names=["gw.region2.example.com"])
    assert report["problems"] == []


def test_every_problem_is_listed_at_once(pki, tmp_path):
    other = Pki(tmp_path, name="Other CA")
    cert_path, _k, _c, _key = pki.leaf("bad", kind="rsa2048", ekus=(SERVER_AUTH,),
                                       not_after=NOW - DAY, not_before=NOW - 10 * DAY, sans=("x.example.com",))
    _c2, other_key, _c3, _k3 = pki.leaf("other")
    report = check(cert_path, key_path=other_key, ca_path=other.ca_path, names=["y.example.com"])
    assert sorted(r for r, _f in rules(report)) == sorted(
        ["key_type", "key_mismatch", "chain", "expired", "extended_key_usage", "san"])
    text = tls_spec.format_problems(report["problems"])
    assert "%s [key_mismatch]" % other_key in text and "%s [chain]" % cert_path in text


def test_system_trust_bundle_is_used_without_ca_path(pki, monkeypatch, tmp_path):
    cert_path, _k, _c, _key = pki.leaf("pub")
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (str(tmp_path / "missing"), pki.ca_path))
    report = check(cert_path, "client")
    assert report["problems"] == [] and report["trust_source"] == pki.ca_path
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (str(tmp_path / "missing"),))
    report = check(cert_path, "client")
    assert report["problems"] == [] and [w["rule"] for w in report["warnings"]] == ["chain"]


def test_bad_inputs_raise():
    with pytest.raises(tls_spec.TlsSpecError, match="purpose"):
        tls_spec.check_certificate_files("x", "routes")
    with pytest.raises(tls_spec.TlsSpecError, match="expiry_warning_days"):
        tls_spec.check_certificate_files("x", "client", expiry_warning_days=-1)
