# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import nats_tls
from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    Pki, check_config, free_port, nats_server_version,
)

FILTERS = nats_tls.FilterModule().filters()


def test_filters_are_registered():
    assert set(FILTERS) == {"nats_tls_ciphers", "nats_tls_curves"}


def test_ciphers_for_current_and_old_servers():
    assert FILTERS["nats_tls_ciphers"]("2.15.1")[-1] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert FILTERS["nats_tls_ciphers"]("2.9.10")[-1] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
    assert FILTERS["nats_tls_ciphers"]("v2.12.0")[:2] == [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]


def test_curves():
    assert FILTERS["nats_tls_curves"]("2.15.1") == ["X25519"]


@pytest.mark.parametrize("name", ["nats_tls_ciphers", "nats_tls_curves"])
def test_bad_version_is_a_filter_error(name):
    with pytest.raises(AnsibleFilterError, match="%s: .*MAJOR.MINOR.PATCH" % name):
        FILTERS[name]("stable")


def write_config(pki, suites, curves):
    cert_path, key_path, _cert, _key = pki.leaf("server")
    config = 'listen: "127.0.0.1:%d"\ntls {\n  cert_file: "%s"\n  key_file: "%s"\n  ca_file: "%s"\n' \
             '  cipher_suites: %s\n  curve_preferences: %s\n}\n' % (
                 free_port(), cert_path, key_path, pki.ca_path, json.dumps(suites), json.dumps(curves))
    return pki.write("nats.conf", config.encode())


@needs_nats_server
def test_installed_server_accepts_the_filter_output_and_rejects_the_spec_spelling(tmp_path):
    """nats-server 2.15.1 `-t`: the spec's short CHACHA20 name is an unrecognized cipher."""
    pki = Pki(tmp_path)
    version_text = nats_server_version()
    if tls_spec.parse_server_version(version_text) < tls_spec.GO_CIPHER_NAMES_SINCE:
        pytest.skip("the installed %s predates the Go cipher names" % version_text)
    spelled = FILTERS["nats_tls_ciphers"](version_text)
    code, output = check_config(write_config(pki, spelled, FILTERS["nats_tls_curves"](version_text)))
    assert code == 0, output
    code, output = check_config(write_config(pki, ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"], ["X25519"]))
    assert code != 0 and "unrecognized cipher TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" in output
