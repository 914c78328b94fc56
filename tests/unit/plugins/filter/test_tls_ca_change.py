# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_ca_change: a renewed CA (same key) passes, a CA issued afresh is named."""

from __future__ import annotations

import base64
import datetime
import hashlib

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.cmsgs.nats.plugins.filter.tls_ca_change import tls_ca_change
from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec


def _ca(key, days):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cmsgs.nats client CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def _slurped(pem):
    return {"content": base64.b64encode(pem).decode(), "source": "/srv/certs/cmserver/ca.pem"}


def test_a_renewed_ca_with_the_same_key_is_no_change(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    controller = tmp_path / "ca.pem"
    controller.write_bytes(_ca(key, 3650))
    assert tls_ca_change(_slurped(_ca(key, 30)), str(controller)) == ""


def test_a_ca_issued_afresh_is_named_with_both_files(tmp_path):
    controller = tmp_path / "ca.pem"
    controller.write_bytes(_ca(ec.generate_private_key(ec.SECP256R1()), 3650))
    message = tls_ca_change(_slurped(_ca(ec.generate_private_key(ec.SECP256R1()), 3650)), str(controller))
    assert "/srv/certs/cmserver/ca.pem" in message and str(controller) in message and "different CA" in message


def test_an_unreadable_controller_ca_is_an_error(tmp_path):
    with pytest.raises(AnsibleFilterError):
        tls_ca_change(_slurped(_ca(ec.generate_private_key(ec.SECP256R1()), 1)), str(tmp_path / "missing.pem"))


def test_a_loop_result_finds_its_ca_by_purpose(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "ca.pem").write_bytes(_ca(ec.generate_private_key(ec.SECP256R1()), 3650))
    slurped = dict(_slurped(_ca(key, 3650)), item="client")
    assert "different CA" in tls_ca_change(slurped, pki_dir=str(tmp_path))


def _pin(pem):
    """The key fingerprint as nats-server's pinned_certs takes it: hex SHA-256 of the SubjectPublicKeyInfo."""
    key = x509.load_pem_x509_certificate(pem).public_key()
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def test_the_sentence_names_both_files_and_both_keys(tmp_path):
    controller_pem, host_pem = (_ca(ec.generate_private_key(ec.SECP256R1()), 3650) for _count in range(2))
    controller = tmp_path / "ca.pem"
    controller.write_bytes(controller_pem)
    assert tls_ca_change(_slurped(host_pem), str(controller)) == (
        "/srv/certs/cmserver/ca.pem holds a CA with key sha256:%s, but the controller's %s is a different CA"
        " (key sha256:%s)" % (_pin(host_pem), controller, _pin(controller_pem)))
    # PEM text instead of a slurp result: the host's file is not known unless given.
    assert tls_ca_change(host_pem.decode("ascii"), str(controller)).startswith("the host's CA holds a CA with key")
    assert tls_ca_change(host_pem.decode("ascii"), str(controller), host_path="/etc/x/ca.pem").startswith(
        "/etc/x/ca.pem holds a CA with key sha256:%s, " % _pin(host_pem))


def test_a_host_file_that_holds_no_certificate_is_no_change(tmp_path):
    controller = tmp_path / "ca.pem"
    controller.write_bytes(_ca(ec.generate_private_key(ec.SECP256R1()), 3650))
    assert tls_ca_change(_slurped(b""), str(controller)) == ""
    assert tls_ca_change("", str(controller)) == ""


def test_missing_arguments_and_libraries_are_named(tmp_path, monkeypatch):
    with pytest.raises(AnsibleFilterError, match=r"^tls_ca_change: give controller_ca_path or pki_dir$"):
        tls_ca_change(_slurped(b""))
    monkeypatch.setattr(tls_spec, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(AnsibleFilterError,
                       match=r"^tls_ca_change needs the Python library cryptography on the controller$"):
        tls_ca_change(_slurped(b""), str(tmp_path / "ca.pem"))
