# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_spec's reports spelled out: the facts, every message and the file it names.

The messages are what an operator reads in a failed play, so each one is
asserted whole; certificates get fixed dates so that the dates in them are known.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import warnings

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, x25519
from cryptography.x509.oid import ObjectIdentifier

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    CLIENT_AUTH, SERVER_AUTH, Pki, _name, cert_pem, key_pem, make_cert, make_key,
)

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
END = datetime.datetime(2026, 9, 10, 11, 12, 13, tzinfo=UTC)
NOW = datetime.datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)
# The test CA covers both NOW and the real time the certificates of tls_testlib are made for.
CA_START = datetime.datetime(2020, 1, 1, tzinfo=UTC)
CA_END = datetime.datetime(2045, 1, 1, tzinfo=UTC)


def issue(common_name, key, issuer=None, issuer_key=None, start=START, end=END, serial=0xABCDEF12,
          ca=False, ekus=(SERVER_AUTH, CLIENT_AUTH), cert_sign=None, basic_constraints=True, sans=(),
          public_key=None):
    """A certificate with fixed dates and serial; public_key puts a key in it that cannot sign."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.subject if issuer is not None else _name(common_name))
        .public_key(public_key or key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if cert_sign is not None:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
            decipher_only=False), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if ekus is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path):
    pki = Pki(tmp_path)
    pki.ca = issue("Test NATS CA", pki.ca_key, ca=True, ekus=None, start=CA_START, end=CA_END)
    pki.ca_path = pki.write(os.path.basename(pki.ca_path), cert_pem(pki.ca))
    return pki


def check(cert_path, purpose="cluster", **kwargs):
    kwargs.setdefault("now", NOW)
    return tls_spec.check_certificate_files(cert_path, purpose, **kwargs)


# ------------------------------------------------------------ spec data


@pytest.mark.parametrize("bad", ["latest", None, ""])
def test_an_unparsable_server_version_names_the_value_and_the_fix(bad):
    with pytest.raises(tls_spec.TlsSpecError) as caught:
        tls_spec.parse_server_version(bad)
    assert str(caught.value) == (
        "nats-server version %r is not of the form MAJOR.MINOR.PATCH (for example 2.15.1); "
        "pass the output of `nats-server --version` or the version string itself" % (bad,))


def test_server_versions_parse_to_numbers():
    assert tls_spec.parse_server_version("nats-server: v2.15.1") == (2, 15, 1)
    assert tls_spec.parse_server_version("10.20.30") == (10, 20, 30)


def test_the_iana_spelling_of_suite_names():
    assert tls_spec.iana_cipher_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305") == \
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert tls_spec.iana_cipher_name("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") == \
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"


# ------------------------------------------------------------ facts


def test_the_facts_of_a_certificate_are_all_its_public_data():
    key = make_key()
    ca_key = make_key()
    ca = issue("Facts CA", ca_key, ca=True, ekus=None)
    builder_cert = (
        x509.CertificateBuilder().subject_name(_name("facts")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(0xABCDEF12)
        .not_valid_before(START).not_valid_after(END)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("nats1.example.com"), x509.IPAddress(ipaddress.ip_address("10.0.0.11")),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([SERVER_AUTH, ObjectIdentifier("1.3.6.1.5.5.7.3.17")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    facts = tls_spec.describe_certificate(builder_cert, NOW)
    assert facts == {
        "subject": "CN=facts",
        "issuer": "CN=Facts CA",
        "serial_number": "abcdef12",
        "sans": ["DNS:nats1.example.com", "IP:10.0.0.11"],
        "key_type": "ECDSA",
        "curve": "P-256",
        "key_size": 256,
        "not_before": "2026-03-04T05:06:07Z",
        "not_after": "2026-09-10T11:12:13Z",
        "days_left": 101,
        "extended_key_usage": ["serverAuth", "1.3.6.1.5.5.7.3.17"],
        "fingerprint_sha256": builder_cert.fingerprint(hashes.SHA256()).hex(),
        "spki_sha256": tls_spec.spki_sha256(builder_cert),
    }
    assert tuple(facts) == tls_spec.CERTIFICATE_FACTS


def test_days_left_counts_down_to_the_end():
    cert = issue("days", make_key())
    assert tls_spec.describe_certificate(cert, END - datetime.timedelta(days=3, hours=1))["days_left"] == 3
    assert tls_spec.describe_certificate(cert, END + datetime.timedelta(hours=1))["days_left"] == -1


def test_validity_dates_are_read_without_a_deprecation_warning():
    cert = issue("dates", make_key())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (tls_spec.not_before(cert), tls_spec.not_after(cert)) == (START, END)


class _OldCertificate(object):
    """What cryptography < 42 (Debian 12 ships 38) offers: naive UTC dates only."""
    not_valid_before = START.replace(tzinfo=None)
    not_valid_after = END.replace(tzinfo=None)


def test_naive_dates_of_older_cryptography_are_read_as_utc():
    assert tls_spec.not_before(_OldCertificate()) == START
    assert tls_spec.not_after(_OldCertificate()) == END
    assert tls_spec.not_before(_OldCertificate()).tzinfo is not None


@pytest.mark.parametrize("public_key, expected", [
    (make_key("p384").public_key(), ("ECDSA", "P-384", 384)),
    (make_key("p521").public_key(), ("ECDSA", "P-521", 521)),
    (ec.generate_private_key(ec.SECP256K1()).public_key(), ("ECDSA", "secp256k1", 256)),
    (make_key("rsa2048").public_key(), ("RSA", None, 2048)),
    (make_key("ed25519").public_key(), ("Ed25519", None, 256)),
    (ed448.Ed448PrivateKey.generate().public_key(), ("Ed448", None, 456)),
    (dsa.generate_private_key(2048).public_key(), ("DSA", None, 2048)),
    (x25519.X25519PrivateKey.generate().public_key(), ("X25519PublicKey", None, None)),
], ids=["p384", "p521", "secp256k1", "rsa", "ed25519", "ed448", "dsa", "x25519"])
def test_key_descriptions(public_key, expected):
    assert tls_spec.key_description(public_key) == expected


# ------------------------------------------------------------ key rules


def _leaf_with_key(pki, name, public_key):
    cert = issue(name, None, pki.ca, pki.ca_key, public_key=public_key)
    return pki.write(name + ".pem", cert_pem(cert))


@pytest.mark.parametrize("name, public_key", [
    ("DSA", dsa.generate_private_key(2048).public_key()),
    ("Ed448", ed448.Ed448PrivateKey.generate().public_key()),
])
def test_a_key_nats_server_cannot_serve_is_refused_for_clients_too(pki, name, public_key):
    cert_path = _leaf_with_key(pki, name.lower(), public_key)
    assert check(cert_path, "client", ca_path=pki.ca_path)["problems"] == [{
        "file": cert_path, "rule": "key_type",
        "message": "nats-server cannot serve TLS with a %s key; use ECDSA P-256" % name,
    }]
    assert check(cert_path, "cluster", ca_path=pki.ca_path)["problems"] == [{
        "file": cert_path, "rule": "key_type",
        "message": "the key is %s, which the ECDHE_ECDSA suites cannot use; issue an ECDSA P-256 or P-384 "
                   "certificate" % name,
    }]


def test_an_ed25519_key_serves_clients_but_not_routes(pki):
    cert_path, _k, _c, _key = pki.leaf("edclient", kind="ed25519")
    assert check(cert_path, "client", ca_path=pki.ca_path, now=None)["problems"] == []
    assert check(cert_path, "cluster", ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": cert_path, "rule": "key_type",
        "message": "the key is Ed25519, which the ECDHE_ECDSA suites cannot use; issue an ECDSA P-256 or P-384 "
                   "certificate",
    }]


def test_the_rsa_messages_whole(pki):
    cert_path, _k, _c, _key = pki.leaf("rsa", kind="rsa2048")
    assert check(cert_path, ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": cert_path, "rule": "key_type",
        "message": "the key is RSA: with an RSA certificate none of the suites TLS_ECDHE_ECDSA_WITH_* can be "
                   "negotiated, so every TLS 1.2 handshake fails; issue an ECDSA P-256 or P-384 certificate",
    }]
    short, _k2, _c2, _key2 = pki.leaf("rsa1024", kind="rsa1024")
    assert check(short, "client", ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": short, "rule": "key_size", "message": "the RSA key has 1024 bits; use at least 2048",
    }]


def test_a_secp256k1_key_is_refused_on_its_curve(pki):
    cert_path = _leaf_with_key(pki, "k1", ec.generate_private_key(ec.SECP256K1()).public_key())
    assert check(cert_path, "client", ca_path=pki.ca_path)["problems"] == [{
        "file": cert_path, "rule": "key_curve",
        "message": "the key is ECDSA on secp256k1; use P-256 or P-384 (the ECDHE_ECDSA suites need one of them)",
    }]


# ------------------------------------------------------------ files


def test_unreadable_and_unparsable_certificate_files_are_named(pki, tmp_path):
    missing = str(tmp_path / "nope.pem")
    report = check(missing)
    assert report == {"facts": {}, "chain": [], "problems": [{
        "file": missing, "rule": "unreadable", "message": "cannot read the certificate file: No such file or directory",
    }], "warnings": [], "trust_source": None}
    blank = pki.write("blank.pem", b"just text\n")
    assert check(blank)["problems"] == [{
        "file": blank, "rule": "unparsable", "message": "the certificate file holds no PEM CERTIFICATE block",
    }]
    broken_block = b"-----BEGIN CERTIFICATE-----\nMIIBbroken\n-----END CERTIFICATE-----\n"
    broken = pki.write("broken.pem", broken_block)
    with pytest.raises(ValueError) as library:
        x509.load_pem_x509_certificate(broken_block)
    assert check(broken)["problems"] == [{
        "file": broken, "rule": "unparsable",
        "message": "the certificate file holds a certificate that does not parse: %s" % library.value,
    }]


def test_unreadable_and_empty_ca_files_are_named(pki, tmp_path):
    cert_path, _k, _c, _key = pki.leaf("route")
    missing = str(tmp_path / "no-ca.pem")
    report = check(cert_path, ca_path=missing, now=None)
    assert report["problems"] == [{
        "file": missing, "rule": "unreadable", "message": "cannot read the CA file: No such file or directory",
    }]
    assert report["trust_source"] == missing and report["chain"] == []
    empty = pki.write("empty-ca.pem", b"")
    assert check(cert_path, ca_path=empty, now=None)["problems"] == [{
        "file": empty, "rule": "unparsable", "message": "the CA file holds no PEM CERTIFICATE block",
    }]


def test_key_file_problems_are_named_without_quoting_the_key(pki, tmp_path):
    cert_path, _key_path, _cert, key = pki.leaf("keys")
    missing = str(tmp_path / "nope.key")
    encrypted = pki.write("enc.key", key_pem(key, password=b"hunter22"))
    no_block = pki.write("text.key", b"not a key")
    garbage = pki.write("garbage.key", b"-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----\n")
    expected = {
        missing: ("unreadable", "cannot read the private key: No such file or directory"),
        encrypted: ("key_encrypted", "the private key is encrypted; nats-server cannot use a passphrase, store it "
                                     "unencrypted with mode 0600"),
        no_block: ("unparsable", "the key file holds no PEM PRIVATE KEY block"),
        garbage: ("unparsable", "the private key does not parse"),
    }
    for path, (rule, message) in expected.items():
        assert check(cert_path, key_path=path, ca_path=pki.ca_path, now=None)["problems"] == [
            {"file": path, "rule": rule, "message": message}], path


def test_a_traditional_ec_key_file_is_read(pki):
    from cryptography.hazmat.primitives import serialization
    cert_path, _key_path, _cert, key = pki.leaf("trad")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    key_path = pki.write("trad.key", pem)
    assert check(cert_path, key_path=key_path, ca_path=pki.ca_path, now=None)["problems"] == []


def test_a_key_of_another_pair_is_named_with_the_certificate(pki):
    cert_path, _k, _c, _key = pki.leaf("one")
    _c2, other_key, _c3, _k3 = pki.leaf("two")
    assert check(cert_path, key_path=other_key, ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": other_key, "rule": "key_mismatch",
        "message": "the private key does not belong to the certificate in %s; install the matching pair" % cert_path,
    }]


@pytest.mark.parametrize("mode, finding", [
    (0o600, False), (0o400, False), (0o700, False),
    (0o640, True), (0o610, True), (0o604, True), (0o601, True), (0o620, True),
])
def test_key_modes_beyond_the_owner_are_findings(pki, mode, finding):
    _cert_path, key_path, _c, _k = pki.leaf("mode")
    os.chmod(key_path, mode)
    assert tls_spec.check_key_access(key_path) == ([{
        "file": key_path, "rule": "key_permissions",
        "message": "the private key has mode %04o, so users other than its owner can read or change it; "
                   "chmod 0600 it" % mode,
    }] if finding else [])


def test_the_owner_rule_names_the_owner_and_who_may_own_it(pki):
    _cert_path, key_path, _c, _k = pki.leaf("owner")
    owner = __import__("pwd").getpwuid(os.stat(key_path).st_uid).pw_name
    assert tls_spec.check_key_access(key_path, [owner, "nats"]) == []
    assert tls_spec.check_key_access(key_path, ["nats", "cmsgs"]) == [{
        "file": key_path, "rule": "key_owner",
        "message": "the private key is owned by %s; only nats or cmsgs may own it (chown it to the service user)"
                   % owner,
    }]
    assert tls_spec.check_key_access(str(pki.dir / "missing.key"), ["nats"]) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to a user id with no name needs root")
def test_a_key_owned_by_an_unnamed_user_id_is_named_by_number(pki):
    _cert_path, key_path, _c, _k = pki.leaf("uid")
    os.chown(key_path, 54321, -1)
    assert tls_spec.check_key_access(key_path, ["nats"])[0]["message"] == (
        "the private key is owned by 54321; only nats may own it (chown it to the service user)")


# ------------------------------------------------------------ chains


def test_a_chain_with_an_issuer_that_is_no_ca_names_the_issuer_and_its_file(pki):
    weak_key = make_key()
    weak = issue("Weak Intermediate", weak_key, pki.ca, pki.ca_key, ca=False, ekus=None)
    leaf_key = make_key()
    leaf = issue("route", leaf_key, weak, weak_key)
    bundle = pki.write("weak-bundle.pem", cert_pem(leaf, weak))
    report = check(bundle, ca_path=pki.ca_path)
    assert report["problems"] == [{
        "file": bundle, "rule": "ca_constraints",
        "message": "'CN=Weak Intermediate' signs the chain but is not a CA (basicConstraints CA:TRUE is missing), "
                   "so Go refuses the chain; reissue it as a CA",
    }]
    assert report["chain"] == ["CN=route", "CN=Weak Intermediate", "CN=Test NATS CA"]


def test_a_ca_without_key_cert_sign_names_the_ca_and_the_ca_file(pki):
    ca_key = make_key()
    ca = issue("No Sign CA", ca_key, ca=True, cert_sign=False, ekus=None)
    ca_path = pki.write("nosign-ca.pem", cert_pem(ca))
    leaf = issue("route", make_key(), ca, ca_key)
    cert_path = pki.write("nosign-leaf.pem", cert_pem(leaf))
    assert check(cert_path, ca_path=ca_path)["problems"] == [{
        "file": ca_path, "rule": "ca_constraints",
        "message": "'CN=No Sign CA' signs the chain but its keyUsage lacks keyCertSign, so Go refuses the chain; "
                   "reissue it with keyUsage keyCertSign",
    }]
    signing = issue("Sign CA", ca_key, ca=True, cert_sign=True, ekus=None)
    signing_path = pki.write("sign-ca.pem", cert_pem(signing))
    signed_leaf = pki.write("sign-leaf.pem", cert_pem(issue("route", make_key(), signing, ca_key)))
    assert check(signed_leaf, ca_path=signing_path)["problems"] == []


def test_an_intermediate_of_another_name_does_not_link_the_chain_even_with_the_right_key(pki):
    # Go links a chain by issuer name first: a certificate that carries the
    # issuer's key under another name is not the issuer.
    int_key = make_key()
    named = issue("Issuing CA", int_key, pki.ca, pki.ca_key, ca=True, ekus=None)
    renamed = issue("Renamed CA", int_key, pki.ca, pki.ca_key, ca=True, ekus=None)
    leaf = issue("route", make_key(), named, int_key)
    bundle = pki.write("renamed.pem", cert_pem(leaf, renamed))
    assert check(bundle, ca_path=pki.ca_path)["problems"] == [{
        "file": bundle, "rule": "chain",
        "message": "the chain does not verify against %s: no certificate named 'CN=Issuing CA' (the issuer of "
                   "'CN=route') in the CA file or the certificate bundle: add the CA to the CA file, or the "
                   "intermediate after the leaf in the certificate file" % pki.ca_path,
    }]


def test_an_impostor_ca_of_the_same_name_is_named_in_the_message(pki, tmp_path):
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    fake = Pki(impostor)
    cert_path, _k, _c, _key = pki.leaf("route")
    assert check(cert_path, ca_path=fake.ca_path, now=None)["problems"] == [{
        "file": cert_path, "rule": "chain",
        "message": "the chain does not verify against %s: the signature of 'CN=route' does not verify with the key "
                   "of any certificate named 'CN=Test NATS CA': the CA file holds a different CA of the same name"
                   % fake.ca_path,
    }]


def test_an_impostor_intermediate_of_the_same_name_fails_on_the_signature(pki):
    int_key = make_key()
    real = issue("Issuing CA", int_key, pki.ca, pki.ca_key, ca=True, ekus=None)
    other_key = make_key()
    impostor = issue("Issuing CA", other_key, pki.ca, pki.ca_key, ca=True, ekus=None, serial=7)
    leaf = issue("route", make_key(), real, int_key)
    bundle = pki.write("impostor-bundle.pem", cert_pem(leaf, impostor))
    report = check(bundle, ca_path=pki.ca_path)
    assert [p["message"] for p in report["problems"]] == [
        "the chain does not verify against %s: the signature of 'CN=route' does not verify with the key of any "
        "certificate named 'CN=Issuing CA': the CA file holds a different CA of the same name" % pki.ca_path]
    assert report["chain"] == []


def _ladder(pki, intermediates):
    """A leaf under a line of intermediates below the test CA: the bundle's path."""
    issuer, issuer_key, certs = pki.ca, pki.ca_key, []
    for index in range(intermediates):
        key = make_key()
        cert = issue("Level %d" % index, key, issuer, issuer_key, ca=True, ekus=None, serial=index + 1)
        certs.insert(0, cert)
        issuer, issuer_key = cert, key
    leaf = issue("route", make_key(), issuer, issuer_key)
    return pki.write("ladder-%d.pem" % intermediates, cert_pem(leaf, *certs))


def test_a_chain_of_nine_intermediates_verifies_and_one_of_ten_is_too_long(pki):
    nine = check(_ladder(pki, 9), ca_path=pki.ca_path)
    assert nine["problems"] == [] and len(nine["chain"]) == 11
    ten = _ladder(pki, 10)
    assert check(ten, ca_path=pki.ca_path)["problems"] == [{
        "file": ten, "rule": "chain",
        "message": "the chain does not verify against %s: the chain is longer than 10 certificates" % pki.ca_path,
    }]


def test_no_trust_bundle_at_all_is_a_warning_that_names_the_certificate(pki, monkeypatch, tmp_path):
    cert_path, _k, _c, _key = pki.leaf("lonely")
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (str(tmp_path / "missing"),))
    assert tls_spec.system_ca_bundle() is None
    report = check(cert_path, "client", now=None)
    assert report["warnings"] == [{
        "file": cert_path, "rule": "chain",
        "message": "no ca_path given and no system trust bundle found; the chain was not checked",
    }]
    assert report["trust_source"] is None and report["chain"] == []


def test_the_system_bundle_is_the_first_that_opens(pki, monkeypatch, tmp_path):
    first = pki.write("first.pem", cert_pem(pki.ca))
    second = pki.write("second.pem", cert_pem(pki.ca))
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (str(tmp_path / "missing"), first, second))
    assert tls_spec.system_ca_bundle() == first


# ------------------------------------------------------------ dates


def test_validity_boundaries_and_their_messages(pki):
    ca_key = make_key()
    ca = issue("Dated CA", ca_key, ca=True, ekus=None, start=START - datetime.timedelta(days=1),
               end=END + datetime.timedelta(days=400))
    ca_path = pki.write("dated-ca.pem", cert_pem(ca))
    cert_path = pki.write("dated.pem", cert_pem(issue("dated", make_key(), ca, ca_key)))

    def found(now, days=30):
        report = check(cert_path, ca_path=ca_path, now=now, expiry_warning_days=days)
        return report["problems"] + report["warnings"]

    assert found(START) == []
    assert found(START - datetime.timedelta(seconds=1)) == [{
        "file": cert_path, "rule": "not_yet_valid",
        "message": "the certificate 'CN=dated' is not valid before 2026-03-04T05:06:07Z; check the host clock or "
                   "reissue it",
    }]
    assert found(END) == [{
        "file": cert_path, "rule": "expiring",
        "message": "the certificate 'CN=dated' expires on 2026-09-10T11:12:13Z, in 0 days; renew it soon",
    }]
    assert found(END + datetime.timedelta(seconds=1)) == [{
        "file": cert_path, "rule": "expired",
        "message": "the certificate 'CN=dated' expired on 2026-09-10T11:12:13Z; renew it",
    }]
    assert found(END - datetime.timedelta(days=30)) == []
    assert found(END - datetime.timedelta(days=29, hours=23))[0]["message"] == (
        "the certificate 'CN=dated' expires on 2026-09-10T11:12:13Z, in 29 days; renew it soon")
    assert found(END - datetime.timedelta(hours=1), days=0) == []


def test_an_expired_ca_is_named_as_the_ca_certificate(pki):
    ca_key = make_key()
    ca = issue("Old CA", ca_key, ca=True, ekus=None, end=NOW - datetime.timedelta(days=1))
    ca_path = pki.write("old-ca.pem", cert_pem(ca))
    leaf = issue("route", make_key(), ca, ca_key)
    cert_path = pki.write("old-leaf.pem", cert_pem(leaf))
    assert check(cert_path, ca_path=ca_path)["problems"] == [{
        "file": ca_path, "rule": "expired",
        "message": "the CA certificate 'CN=Old CA' expired on 2026-05-31T00:00:00Z; renew it",
    }]


# ------------------------------------------------------------ usages


def test_usage_messages_name_what_is_allowed_and_what_is_needed(pki):
    cert_path, _k, _c, _key = pki.leaf("srv", ekus=(SERVER_AUTH,))
    assert check(cert_path, ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": cert_path, "rule": "extended_key_usage",
        "message": "the certificate allows serverAuth but purpose cluster needs clientAuth; reissue it with "
                   "extendedKeyUsage serverAuth,clientAuth",
    }]
    code, _k2, _c2, _key2 = pki.leaf("code", ekus=(x509.oid.ExtendedKeyUsageOID.CODE_SIGNING,))
    assert check(code, "gateway", ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": code, "rule": "extended_key_usage",
        "message": "the certificate allows codeSigning but purpose gateway needs serverAuth and clientAuth; "
                   "reissue it with extendedKeyUsage serverAuth,clientAuth",
    }]


def test_any_extended_key_usage_allows_every_purpose(pki):
    anything, _k, _c, _key = pki.leaf("any", ekus=(x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,))
    assert check(anything, ca_path=pki.ca_path, now=None)["problems"] == []


def test_an_issuing_ca_restricting_usage_is_named(pki):
    int_key = make_key()
    restricted = issue("Restricted CA", int_key, pki.ca, pki.ca_key, ca=True, ekus=(SERVER_AUTH,))
    leaf = issue("route", make_key(), restricted, int_key)
    bundle = pki.write("restricted.pem", cert_pem(leaf, restricted))
    assert check(bundle, ca_path=pki.ca_path)["problems"] == [{
        "file": bundle, "rule": "extended_key_usage",
        "message": "the issuing CA 'CN=Restricted CA' allows serverAuth but purpose cluster needs clientAuth; "
                   "reissue it with extendedKeyUsage serverAuth,clientAuth",
    }]


def test_a_key_usage_without_digital_signature_names_the_fix(pki):
    cert_path, _k, _c, _key = pki.leaf("ku", digital_signature=False)
    assert check(cert_path, ca_path=pki.ca_path, now=None)["problems"] == [{
        "file": cert_path, "rule": "key_usage",
        "message": "the keyUsage extension lacks digitalSignature, which every ECDHE handshake needs; reissue it "
                   "with keyUsage digitalSignature",
    }]


# ------------------------------------------------------------ names


@pytest.mark.parametrize("pattern, host, expected", [
    ("nats1.example.com", "nats1.example.com.", True),
    ("MAILBOX.", "mailbox", True),
    ("mailbox", "MAILBOX.", True),
    ("", "", False),
    (".", ".", False),
    ("*.example.com", ".example.com", False),
    ("*.*.example.com", "a.*.example.com", False),
    ("*.a.example.com", "b.a.example.com", True),
])
def test_dns_name_matching_edges(pattern, host, expected):
    assert tls_spec.dns_name_matches(pattern, host) is expected


def test_a_name_that_is_no_address_is_not_read_as_one(pki):
    cert = make_cert("n", make_key(), pki.ca, pki.ca_key, sans=("10.0.0.11",))
    assert tls_spec.uncovered_names(cert, ["10.0.0.11X", " 10.0.0.11 "]) == ["10.0.0.11X"]


def test_the_san_message_lists_what_the_certificate_has(pki):
    cert_path, _k, _c, _key = pki.leaf("san", sans=("nats1.example.com", "10.0.0.11"))
    assert check(cert_path, ca_path=pki.ca_path, names=["nats2.example.com", "10.0.0.12"], now=None)["problems"] == [{
        "file": cert_path, "rule": "san",
        "message": "the subjectAltNames (DNS:nats1.example.com, IP:10.0.0.11) do not cover nats2.example.com, "
                   "10.0.0.12; reissue the certificate with them as DNS or IP subjectAltNames (the subject CN is "
                   "ignored)",
    }]


# ------------------------------------------------------------ inputs and summaries


def test_bad_arguments_are_refused_with_the_choices():
    with pytest.raises(tls_spec.TlsSpecError) as purpose:
        tls_spec.check_certificate_files("x", "routes")
    assert str(purpose.value) == "purpose 'routes' is not one of client, cluster, gateway, gateway_peer"
    with pytest.raises(tls_spec.TlsSpecError) as public_ca:
        tls_spec.check_certificate_files("x", "client", public_ca="maybe")
    assert str(public_ca.value) == "public_ca 'maybe' is not one of allow, warn, refuse"
    with pytest.raises(tls_spec.TlsSpecError) as days:
        tls_spec.check_certificate_files("x", "client", expiry_warning_days=-1)
    assert str(days.value) == "expiry_warning_days must be 0 or more, not -1"


def test_zero_warning_days_is_accepted(pki):
    cert_path, _k, _c, _key = pki.leaf("zero")
    assert check(cert_path, ca_path=pki.ca_path, expiry_warning_days=0, now=None)["problems"] == []


def test_format_problems_joins_file_rule_and_message():
    assert tls_spec.format_problems([
        {"file": "/a.pem", "rule": "chain", "message": "m1"},
        {"file": "/b.key", "rule": "key_owner", "message": "m2"},
    ]) == "/a.pem [chain]: m1; /b.key [key_owner]: m2"


def test_problems_from_checks_lists_each_line_once_and_skips_unreadable_files_in_check_mode():
    results = [
        {"problems": [
            {"file": "/new.pem", "rule": "unreadable", "message": "cannot read"},
            {"file": "/c.pem", "rule": "san", "message": "m3"},
        ]},
        None,
        {"problems": [{"file": "/a.pem", "rule": "chain", "message": "m1"}]},
        {"problems": None},
        {"problems": [{"file": "/a.pem", "rule": "chain", "message": "m1"},
                      {"file": "/b.key", "rule": "key_owner", "message": "m2"}]},
    ]
    assert tls_spec.problems_from_checks(results) == [
        "/new.pem [unreadable]: cannot read", "/c.pem [san]: m3", "/a.pem [chain]: m1", "/b.key [key_owner]: m2"]
    assert tls_spec.problems_from_checks(results, check_mode=True) == [
        "/c.pem [san]: m3", "/a.pem [chain]: m1", "/b.key [key_owner]: m2"]
    assert tls_spec.problems_from_checks(None) == []


# ------------------------------------------------------------ public CAs


def _public_roots(tmp_path, monkeypatch, count):
    """count self-signed 'public' roots, all of them in a system trust store in place of the host's."""
    roots = []
    for index in range(count):
        key = make_key()
        roots.append((issue("Public Root %d" % index, key, ca=True, ekus=None, start=CA_START, end=CA_END,
                            serial=index + 100), key))
    bundle = os.path.join(str(tmp_path), "system-bundle.pem")
    with open(bundle, "wb") as handle:
        handle.write(cert_pem(*[root for root, _key in roots]))
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (bundle,))
    return roots, bundle


def test_a_route_ca_file_with_a_public_root_and_a_public_intermediate_names_both(pki, tmp_path, monkeypatch):
    roots, bundle = _public_roots(tmp_path, monkeypatch, 1)
    root, root_key = roots[0]
    inter_key = make_key()
    inter = issue("Public Issuing CA", inter_key, root, root_key, ca=True, ekus=None, serial=5)
    ca_path = pki.write("mixed-ca.pem", cert_pem(root, inter, pki.ca))
    cert_path = pki.write("private-leaf.pem", cert_pem(issue("route", make_key(), pki.ca, pki.ca_key)))
    finding = {
        "file": ca_path, "rule": "public_ca",
        "message": "the CA file trusts 'CN=Public Root 0', 'CN=Public Issuing CA', in or issued by the system trust "
                   "store (%s): any certificate such a CA issued would be accepted for cluster; use a private CA "
                   "for it" % bundle,
    }
    refused = check(cert_path, ca_path=ca_path, public_ca="refuse")
    assert (refused["problems"], refused["warnings"]) == ([finding], [])
    warned = check(cert_path, ca_path=ca_path, public_ca="warn")
    assert (warned["problems"], warned["warnings"]) == ([], [finding])
    allowed = check(cert_path, ca_path=ca_path, public_ca="allow")
    assert (allowed["problems"], allowed["warnings"]) == ([], [])
    assert tls_spec.public_anchors([inter, pki.ca, root], [root]) == ["CN=Public Issuing CA", "CN=Public Root 0"]


@pytest.mark.parametrize("count, listed", [
    (3, "'CN=Public Root 0', 'CN=Public Root 1', 'CN=Public Root 2'"),
    (4, "'CN=Public Root 0', 'CN=Public Root 1', 'CN=Public Root 2' and 1 more"),
])
def test_the_public_ca_message_lists_three_cas_and_counts_the_rest(pki, tmp_path, monkeypatch, count, listed):
    roots, bundle = _public_roots(tmp_path, monkeypatch, count)
    ca_path = pki.write("public-cas.pem", cert_pem(*[root for root, _key in roots]))
    cert_path = pki.write("public-leaf.pem", cert_pem(issue("gw", make_key(), roots[0][0], roots[0][1])))
    assert check(cert_path, "gateway", ca_path=ca_path, public_ca="refuse")["problems"] == [{
        "file": ca_path, "rule": "public_ca",
        "message": "the CA file trusts %s, in or issued by the system trust store (%s): any certificate such a CA "
                   "issued would be accepted for gateway; use a private CA for it" % (listed, bundle),
    }]


def test_the_public_ca_rule_reads_only_a_given_ca_file(pki, tmp_path, monkeypatch):
    # Without ca_path the system store itself is the trust, as chosen: no finding.
    roots, _bundle = _public_roots(tmp_path, monkeypatch, 1)
    cert_path = pki.write("sys-leaf.pem", cert_pem(issue("client", make_key(), roots[0][0], roots[0][1])))
    report = check(cert_path, "client", public_ca="refuse")
    assert (report["problems"], report["warnings"]) == ([], [])


def test_the_public_ca_rule_is_silent_when_the_system_store_is_missing_or_broken(pki, tmp_path, monkeypatch):
    cert_path = pki.write("quiet-leaf.pem", cert_pem(issue("route", make_key(), pki.ca, pki.ca_key)))
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (str(tmp_path / "missing"),))
    report = check(cert_path, ca_path=pki.ca_path, public_ca="refuse")
    assert (report["problems"], report["warnings"]) == ([], [])
    broken = pki.write("broken-system.pem", b"-----BEGIN CERTIFICATE-----\nMIIBbroken\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (broken,))
    report = check(cert_path, ca_path=pki.ca_path, public_ca="refuse")
    assert (report["problems"], report["warnings"]) == ([], [])


def test_the_default_warning_comes_thirty_days_ahead_and_facts_use_the_given_time(pki):
    cert_path = pki.write("thirty.pem", cert_pem(issue("thirty", make_key(), pki.ca, pki.ca_key)))
    at_thirty = tls_spec.check_certificate_files(cert_path, "cluster", ca_path=pki.ca_path,
                                                 now=END - datetime.timedelta(days=30))
    assert (at_thirty["warnings"], at_thirty["facts"]["days_left"]) == ([], 30)
    at_29 = tls_spec.check_certificate_files(cert_path, "cluster", ca_path=pki.ca_path,
                                             now=END - datetime.timedelta(days=29, hours=23))
    assert [w["rule"] for w in at_29["warnings"]] == ["expiring"]
    assert check(cert_path, ca_path=pki.ca_path)["facts"]["days_left"] == 101


def test_a_leaf_trusted_as_itself_is_reported_against_its_own_file(pki):
    key = make_key()
    old = issue("self", key, end=NOW - datetime.timedelta(days=2), ekus=None)
    cert_path = pki.write("self.pem", cert_pem(old))
    ca_path = pki.write("self-as-ca.pem", cert_pem(old))
    report = check(cert_path, "client", ca_path=ca_path)
    assert report["problems"] == [{
        "file": cert_path, "rule": "expired",
        "message": "the certificate 'CN=self' expired on 2026-05-30T00:00:00Z; renew it",
    }]
    assert report["chain"] == ["CN=self"]


def test_a_leaf_without_usages_under_a_restricting_ca_names_the_ca(pki):
    int_key = make_key()
    restricted = issue("Restricted CA", int_key, pki.ca, pki.ca_key, ca=True, ekus=(SERVER_AUTH,))
    leaf = issue("route", make_key(), restricted, int_key, ekus=None)
    bundle = pki.write("restricted-noeku.pem", cert_pem(leaf, restricted))
    assert [p["message"] for p in check(bundle, ca_path=pki.ca_path)["problems"]] == [
        "the issuing CA 'CN=Restricted CA' allows serverAuth but purpose cluster needs clientAuth; "
        "reissue it with extendedKeyUsage serverAuth,clientAuth"]


def test_a_certificate_with_a_malformed_extension_is_reported_as_unparsable(pki):
    # An empty extendedKeyUsage: the certificate loads, its extensions do not.
    leaf = issue("empty", make_key(), pki.ca, pki.ca_key, ekus=())
    with pytest.raises(ValueError) as library:
        list(leaf.extensions)
    cert_path = pki.write("empty-eku.pem", cert_pem(leaf))
    assert check(cert_path, "client", ca_path=pki.ca_path)["problems"] == [{
        "file": cert_path, "rule": "unparsable",
        "message": "the certificate file holds a certificate that does not parse: %s" % library.value,
    }]
    ca_path = pki.write("empty-eku-ca.pem", cert_pem(leaf))
    good, _k, _c, _key = pki.leaf("good")
    assert check(good, "client", ca_path=ca_path, now=None)["problems"] == [{
        "file": ca_path, "rule": "unparsable",
        "message": "the CA file holds a certificate that does not parse: %s" % library.value,
    }]


def test_every_usage_a_certificate_allows_is_listed(pki):
    oids = x509.oid.ExtendedKeyUsageOID
    cert_path, _k, _c, _key = pki.leaf("mail", ekus=(oids.CODE_SIGNING, oids.EMAIL_PROTECTION))
    assert [p["message"] for p in check(cert_path, "client", ca_path=pki.ca_path, now=None)["problems"]] == [
        "the certificate allows codeSigning, emailProtection but purpose client needs serverAuth; "
        "reissue it with extendedKeyUsage serverAuth"]
