# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_ca_change: a renewed CA (same key) passes, a CA issued afresh is named."""

from __future__ import annotations

import base64
import datetime

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.cmsgs.nats.plugins.filter.tls_ca_change import tls_ca_change


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
