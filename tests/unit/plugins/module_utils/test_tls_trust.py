# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the servers trust: private key files, the CAs that sign a chain, public CAs as peer CAs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.plugins.modules import tls_cert_check
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    DAY, NOW, Pki, cert_pem, make_cert, make_key, _name,
)


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


def rules(report):
    return [(p["rule"], p["file"]) for p in report["problems"]]


def me():
    return pwd.getpwuid(os.getuid()).pw_name


# ------------------------------------------------------------ private key files


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_only_its_owner_reads_passes(pki, mode):
    cert_path, key_path, _cert, _key = pki.leaf("route")
    os.chmod(key_path, mode)
    report = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=pki.ca_path,
                                              key_owners=[me()])
    assert report["problems"] == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_a_key_readable_by_group_or_others_is_a_finding(pki, mode):
    cert_path, key_path, _cert, _key = pki.leaf("route")
    os.chmod(key_path, mode)
    report = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=pki.ca_path)
    assert rules(report) == [("key_permissions", key_path)]
    assert "%04o" % mode in report["problems"][0]["message"]


def test_a_key_owned_by_another_user_is_a_finding(pki):
    cert_path, key_path, _cert, _key = pki.leaf("route")
    report = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=pki.ca_path,
                                              key_owners=["cmsgs-nobody"])
    assert rules(report) == [("key_owner", key_path)]
    assert "owned by %s" % me() in report["problems"][0]["message"]


# ------------------------------------------------------------ the CAs that sign the chain


def _ca_without(name, ca_flag=True, cert_sign=True, basic_constraints=True):
    """A self-signed issuer with its CA powers cut as asked."""
    key = make_key()
    builder = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
            decipher_only=False), critical=True)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()), key


@pytest.mark.parametrize("cut", [
    {"ca_flag": False},
    {"basic_constraints": False},
    {"cert_sign": False},
], ids=["ca-false", "no-basic-constraints", "no-keycertsign"])
def test_an_issuer_that_is_not_a_signing_ca_is_refused_like_go(pki, cut):
    ca, ca_key = _ca_without("Weak CA", **cut)
    ca_path = pki.write("weak-ca.pem", cert_pem(ca))
    cert_path, key_path, _cert, _key = pki.leaf("route", issuer=ca, issuer_key=ca_key)
    report = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=ca_path)
    assert rules(report) == [("ca_constraints", ca_path)]
    assert "CN=Weak CA" in report["problems"][0]["message"]


def test_a_proper_intermediate_passes_and_a_leaf_posing_as_one_does_not(pki):
    inter_key = make_key()
    inter = make_cert("Intermediate", inter_key, pki.ca, pki.ca_key, ca=True)
    cert_path, key_path, leaf, _key = pki.leaf("route", issuer=inter, issuer_key=inter_key)
    bundle = pki.write("good-bundle.pem", cert_pem(leaf, inter))
    assert tls_spec.check_certificate_files(bundle, "cluster", key_path=key_path, ca_path=pki.ca_path)["problems"] == []

    fake_key = make_key()
    fake = make_cert("Posing Intermediate", fake_key, pki.ca, pki.ca_key, ca=False)
    _c, key2, leaf2, _k = pki.leaf("route2", issuer=fake, issuer_key=fake_key)
    bad_bundle = pki.write("bad-bundle.pem", cert_pem(leaf2, fake))
    report = tls_spec.check_certificate_files(bad_bundle, "cluster", key_path=key2, ca_path=pki.ca_path)
    assert ("ca_constraints", bad_bundle) in rules(report)


# ------------------------------------------------------------ public CAs as peer CAs


@pytest.fixture
def system_store(tmp_path, monkeypatch):
    """A system trust store holding one 'public' root, in place of the host's."""
    public = Pki(tmp_path, name="Public Root")
    bundle = public.write("system-bundle.pem", cert_pem(public.ca))
    monkeypatch.setattr(tls_spec, "SYSTEM_CA_BUNDLES", (bundle,))
    return public


def test_a_private_route_ca_passes_the_public_ca_rule(pki, system_store):
    cert_path, key_path, _c, _k = pki.leaf("route")
    report = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=pki.ca_path,
                                              public_ca="refuse")
    assert report["problems"] == [] and report["warnings"] == []


def test_a_public_root_as_route_ca_is_refused_or_warned(pki, system_store, tmp_path):
    cert_path, key_path, _c, _k = system_store.leaf("anyone-with-a-public-cert")
    # The system bundle itself as cmcluster/ca.pem: the case of a copied public bundle.
    ca_path = system_store.write("cmcluster-ca.pem", cert_pem(pki.ca, system_store.ca))
    refused = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=ca_path,
                                               public_ca="refuse")
    assert rules(refused) == [("public_ca", ca_path)]
    assert "CN=Public Root" in refused["problems"][0]["message"]
    assert "CN=Test NATS CA" not in refused["problems"][0]["message"]
    warned = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=ca_path,
                                              public_ca="warn")
    assert warned["problems"] == [] and [w["rule"] for w in warned["warnings"]] == ["public_ca"]
    allowed = tls_spec.check_certificate_files(cert_path, "cluster", key_path=key_path, ca_path=ca_path)
    assert allowed["problems"] == [] and allowed["warnings"] == []


def test_a_public_intermediate_as_route_ca_is_refused(pki, system_store):
    inter_key = make_key()
    inter = make_cert("Public Issuing CA", inter_key, system_store.ca, system_store.ca_key, ca=True)
    ca_path = pki.write("intermediate-ca.pem", cert_pem(inter))
    cert_path, key_path, _c, _k = pki.leaf("route", issuer=inter, issuer_key=inter_key)
    report = tls_spec.check_certificate_files(cert_path, "gateway", key_path=key_path, ca_path=ca_path,
                                              public_ca="refuse")
    assert rules(report) == [("public_ca", ca_path)]


def test_unknown_public_ca_choice_raises(pki):
    cert_path, _k, _c, _key = pki.leaf("route")
    with pytest.raises(tls_spec.TlsSpecError, match="public_ca"):
        tls_spec.check_certificate_files(cert_path, "cluster", public_ca="maybe")


# ------------------------------------------------------------ through the module


def test_the_module_reports_a_world_readable_key_and_a_public_ca(pki, system_store, capsys, monkeypatch):
    cert_path, key_path, _c, _k = pki.leaf("route")
    os.chmod(key_path, 0o644)
    ca_path = pki.write("mixed-ca.pem", cert_pem(pki.ca, system_store.ca))
    result = run_module(tls_cert_check.main, capsys, monkeypatch, cert_path=cert_path, key_path=key_path,
                        ca_path=ca_path, purpose="cluster", key_owners=["root", me()], public_ca="refuse")
    assert result["failed"] is True
    assert sorted(p["rule"] for p in result["problems"]) == ["key_permissions", "public_ca"]
    assert "%s [key_permissions]" % key_path in result["msg"]
