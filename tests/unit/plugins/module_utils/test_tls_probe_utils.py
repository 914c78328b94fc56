# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe's parsing, and the probe against real nats-server listeners on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import threading
import time

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_probe, tls_spec
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    NatsServer, free_port, needs_openssl, openssl_binary, spec_server, tls_block,
)

OPENSSL_30_TLS13 = """\
depth=1 CN = Test NATS CA
verify return:1
CONNECTED(00000003)
---
Certificate chain
 0 s:CN = server
   i:CN = Test NATS CA
---
Server certificate
-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----
subject=CN = server
---
Peer signing digest: SHA256
Peer signature type: ECDSA
Server Temp Key: X25519, 253 bits
---
New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256
Verify return code: 0 (ok)
---
DONE
SSL-Session:
    Protocol  : TLSv1.3
    Cipher    : TLS_AES_128_GCM_SHA256
    Resumption PSK: 00112233
    Verify return code: 0 (ok)
"""

OPENSSL_35_TLS13 = """\
CONNECTED(00000003)
---
Peer signature type: ecdsa_secp256r1_sha256
Negotiated TLS1.3 group: X25519MLKEM768
---
New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384
Verify return code: 21 (unable to verify the first certificate)
"""

OPENSSL_35_TLS12 = """\
CONNECTED(00000003)
Peer Temp Key: ECDH, prime256v1, 256 bits
---
New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256
    Master-Key: 0011AABB
"""

OPENSSL_REFUSED = """\
40E79FA9C17F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:\
../ssl/record/rec_layer_s3.c:1601:SSL alert number 40
CONNECTED(00000003)
---
no peer certificate available
---
New, (NONE), Cipher is (NONE)
Verify return code: 0 (ok)
"""


def test_parse_openssl_30_output():
    parsed = tls_probe.parse_s_client(OPENSSL_30_TLS13)
    assert (parsed["protocol"], parsed["cipher"], parsed["group"]) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256", "X25519")
    assert parsed["peer_cert_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert (parsed["verify_code"], parsed["verify_message"], parsed["errors"]) == (0, "ok", [])


def test_parse_newer_openssl_output():
    tls13 = tls_probe.parse_s_client(OPENSSL_35_TLS13)
    assert (tls13["protocol"], tls13["group"], tls13["verify_code"]) == ("TLSv1.3", "X25519MLKEM768", 21)
    tls12 = tls_probe.parse_s_client(OPENSSL_35_TLS12)
    assert (tls12["cipher"], tls12["group"]) == ("ECDHE-ECDSA-AES128-GCM-SHA256", "P-256")


def test_parse_refusal():
    parsed = tls_probe.parse_s_client(OPENSSL_REFUSED)
    assert parsed["cipher"] is None and parsed["group"] is None
    assert parsed["errors"] == ["sslv3 alert handshake failure (SSL alert number 40)"]


def test_nats_lines_written_into_the_report_are_taken_out():
    head, tail = OPENSSL_30_TLS13.split("TLSv1.3, Cipher")
    text = head + 'INFO {"cluster":"c1","tls_verify":true} \r\nPING\r\n' + "TLSv1.3, Cipher" + tail
    parsed = tls_probe.parse_s_client(text)
    assert parsed["info"] == {"cluster": "c1", "tls_verify": True}
    assert parsed["cipher"] == "TLS_AES_128_GCM_SHA256"


def test_verify_errors_alone_are_no_failure():
    text = "verify error:num=20:unable to get local issuer certificate\n" + OPENSSL_35_TLS13
    assert tls_probe.parse_s_client(text)["errors"] == []
    failing = "4047:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:" \
              "../ssl/statem/statem_clnt.c:1889:\n" + text
    assert tls_probe.parse_s_client(failing)["errors"] == [
        "certificate verify failed", "verify error: unable to get local issuer certificate"]


@pytest.mark.parametrize("given, canonical", [
    ("X25519", "X25519"), ("x25519", "X25519"), ("CurveP256", "P-256"), ("prime256v1", "P-256"),
    ("secp384r1", "P-384"), ("P-521", "P-521"), ("X25519MLKEM768", "X25519MLKEM768"),
])
def test_canonical_group(given, canonical):
    assert tls_probe.canonical_group(given) == canonical


def test_s_client_arguments():
    argv = tls_probe.s_client_argv("openssl", 4000, "1.2", groups=["X25519", "CurveP256"],
                                   ciphers=["ECDHE-ECDSA-AES128-GCM-SHA256"], ca_file="/ca.pem",
                                   server_name="nats1.example.com")
    assert argv[:5] == ["openssl", "s_client", "-connect", "127.0.0.1:4000", "-tls1_2"]
    assert argv[argv.index("-groups") + 1] == "X25519:P-256"
    assert argv[argv.index("-cipher") + 1] == "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0"
    assert argv[argv.index("-servername") + 1] == "nats1.example.com"
    assert argv[argv.index("-verify_hostname") + 1] == "nats1.example.com"
    by_ip = tls_probe.s_client_argv("openssl", 4000, "1.3", ciphers=["TLS_AES_128_GCM_SHA256"],
                                    ca_file="/ca.pem", server_name="10.0.0.1")
    assert "-noservername" in by_ip and by_ip[by_ip.index("-verify_ip") + 1] == "10.0.0.1"
    assert by_ip[by_ip.index("-ciphersuites") + 1] == "TLS_AES_128_GCM_SHA256" and "-cipher" not in by_ip
    with pytest.raises(tls_probe.ProbeError, match="tls_version"):
        tls_probe.s_client_argv("openssl", 4000, "1.1")


def test_cipher_list_translation():
    table = {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305"}
    assert tls_probe.openssl_cipher_list(
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"], "1.2", table
    ) == ["ECDHE-ECDSA-CHACHA20-POLY1305"] * 2
    with pytest.raises(tls_probe.ProbeError, match="option ciphers: 'TLS_NOPE'"):
        tls_probe.openssl_cipher_list(["TLS_NOPE"], "1.2", table)
    with pytest.raises(tls_probe.ProbeError, match="cannot be offered in TLS 1.3"):
        tls_probe.openssl_cipher_list(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], "1.3", table)


def test_parse_info():
    assert tls_probe.parse_info(b'INFO {"tls_required":true} \r')["tls_required"] is True
    with pytest.raises(tls_probe.ProbeError, match="not a NATS INFO line"):
        tls_probe.parse_info(b"HTTP/1.1 400 Bad Request")
    with pytest.raises(tls_probe.ProbeError, match="not valid JSON"):
        tls_probe.parse_info(b"INFO {nope")


# ---------------------------------------------------------------- live server

@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    setup = spec_server(tmp_path_factory.mktemp("spec"))
    yield setup
    setup["server"].stop()


@pytest.fixture(scope="module")
def second(tmp_path_factory, spec):
    """Client listener with handshake_first, verify and pinned_certs; a TLS gateway; an RSA listener."""
    directory = tmp_path_factory.mktemp("second")
    pki = spec["pki"]
    pinned_cert, pinned_key, pinned, _k = pki.leaf("pinned")
    rsa_cert, rsa_key, _rc, _rk = pki.leaf("rsa", kind="rsa2048")
    server_cert, server_key = pki.dir + "/server-cert.pem", pki.dir + "/server-key.pem"
    client_port, gateway_port, rsa_port = free_port(), free_port(), free_port()
    pin = tls_spec.spki_sha256(pinned)
    config = """
listen: "127.0.0.1:%d"
tls %s
gateway {
  name: "gw1"
  listen: "127.0.0.1:%d"
  tls %s
}
""" % (client_port, tls_block(server_cert, server_key, pki.ca_path,
                              'verify: true\n    handshake_first: true\n    pinned_certs: ["%s"]' % pin),
       gateway_port, tls_block(server_cert, server_key, pki.ca_path))
    rsa_config = 'listen: "127.0.0.1:%d"\ntls %s\n' % (rsa_port, tls_block(rsa_cert, rsa_key, pki.ca_path))
    servers = [NatsServer(directory, config, [client_port, gateway_port], name="second").start()]
    try:
        servers.append(NatsServer(directory, rsa_config, [rsa_port], name="rsa").start())
    except RuntimeError:
        servers[0].stop()
        raise
    yield dict(client_port=client_port, gateway_port=gateway_port, rsa_port=rsa_port,
               pinned_cert=pinned_cert, pinned_key=pinned_key)
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    directory = tmp_path_factory.mktemp("plain")
    open_port, auth_port = free_port(), free_port()
    servers = [
        NatsServer(directory, 'listen: "127.0.0.1:%d"\n' % open_port, [open_port], name="open").start(),
        NatsServer(directory, 'listen: "127.0.0.1:%d"\nauthorization { token: "s3cr3t-token" }\n' % auth_port,
                   [auth_port], name="auth").start(),
    ]
    yield dict(open_port=open_port, auth_port=auth_port)
    for server in servers:
        server.stop()


def probe(port, **kwargs):
    kwargs.setdefault("timeout", 10)
    return tls_probe.probe_tls("127.0.0.1", port, openssl=openssl_binary(), **kwargs)


@needs_nats_server
@needs_openssl
def test_tls13_with_x25519_is_accepted_and_described(spec):
    result = probe(spec["client_port"], tls_version="1.3", groups=["X25519"], ca_file=spec["ca_path"],
                   server_name="localhost")
    assert result["accepted"] is True, result
    assert (result["tls_version"], result["group"], result["refused_by"], result["error"]) == ("1.3", "X25519", None, None)
    assert result["cipher"] in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
    assert result["verify_code"] == 0
    assert result["info"]["tls_required"] is True
    assert result["server_cert"]["subject"] == "CN=server"
    assert result["server_cert"]["spki_sha256"] == tls_spec.spki_sha256(spec["server_cert"])
    assert result["server_cert"]["sans"] == ["DNS:localhost", "IP:127.0.0.1"]
    assert set(result) == {"accepted", "refused_by", "error", "tls_version", "cipher", "cipher_openssl", "group",
                           "server_cert", "verify_code", "verify_message", "info"}
    # TLS 1.3 suites carry the same name in OpenSSL.
    assert (result["cipher_openssl"], result["verify_message"]) == (result["cipher"], "ok")


@needs_nats_server
@needs_openssl
@pytest.mark.parametrize("version, groups", [("1.3", ["P-256"]), ("1.3", ["P-384"]), ("1.2", ["P-256"]),
                                             ("1.2", ["P-384"]), ("1.3", ["P-256", "P-384", "P-521"])])
def test_other_key_exchange_groups_are_refused(spec, version, groups):
    result = probe(spec["client_port"], tls_version=version, groups=groups)
    assert result["accepted"] is False and result["refused_by"] == "server", result
    assert "handshake failure" in result["error"]
    assert (result["group"], result["tls_version"], result["cipher"], result["cipher_openssl"]) == (None, None, None, None)


@needs_nats_server
@needs_openssl
@pytest.mark.parametrize("suite", list(tls_spec.SPEC_CIPHER_SUITES))
def test_tls12_with_each_spec_suite_is_accepted(spec, suite):
    # P-256 is offered too: in TLS 1.2 the group list also bounds the certificate's curve.
    result = probe(spec["client_port"], tls_version="1.2", groups=["X25519", "P-256"], ciphers=[suite])
    assert result["accepted"] is True, result
    assert (result["tls_version"], result["group"]) == ("1.2", "X25519")
    assert result["cipher"] == tls_spec.iana_cipher_name(suite)
    assert result["cipher_openssl"] == tls_probe.cipher_table(openssl_binary())[tls_spec.iana_cipher_name(suite)]


@needs_nats_server
@needs_openssl
def test_tls12_client_offering_only_x25519_rejects_a_p256_certificate_itself(spec):
    result = probe(spec["client_port"], tls_version="1.2", groups=["X25519"])
    assert result["accepted"] is False and result["refused_by"] == "client"
    assert "wrong curve" in result["error"]


@needs_nats_server
@needs_openssl
@pytest.mark.parametrize("suite", [
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
])
def test_tls12_rsa_and_cbc_suites_are_refused(spec, suite):
    result = probe(spec["client_port"], tls_version="1.2", groups=["X25519", "P-256"], ciphers=[suite])
    assert result["accepted"] is False and result["refused_by"] == "server", result
    assert "handshake failure" in result["error"]


@needs_nats_server
@needs_openssl
def test_server_name_is_verified_with_a_ca(spec):
    assert probe(spec["client_port"], ca_file=spec["ca_path"], server_name="127.0.0.1")["accepted"] is True
    wrong = probe(spec["client_port"], ca_file=spec["ca_path"], server_name="nats9.example.com")
    assert wrong["accepted"] is False and wrong["refused_by"] == "client"
    assert "hostname mismatch" in wrong["error"] and wrong["verify_code"] == 62
    untrusted = probe(spec["client_port"], ca_file=spec["rogue_cert"])
    assert untrusted["accepted"] is False and "certificate verify failed" in untrusted["error"]


@needs_nats_server
def test_plain_client_is_refused_where_tls_is_required(spec):
    result = tls_probe.probe_plain("127.0.0.1", spec["client_port"], timeout=10)
    assert result["accepted"] is False and result["refused_by"] == "server"
    assert result["info"]["tls_required"] is True
    # nats-server 2.15 drops the connection without an -ERR line.
    assert result["reply"] is None and "closed" in result["error"]


@needs_nats_server
def test_plain_client_on_plain_ports(plain):
    accepted = tls_probe.probe_plain("127.0.0.1", plain["open_port"], timeout=10)
    assert (accepted["accepted"], accepted["reply"], accepted["error"]) == (True, "PONG", None)
    assert accepted["info"].get("tls_required") in (None, False)
    refused = tls_probe.probe_plain("127.0.0.1", plain["auth_port"], timeout=10)
    assert refused["accepted"] is False and refused["reply"].startswith("-ERR")
    assert refused["error"] == "Authorization Violation"


@needs_nats_server
@needs_openssl
def test_route_port_accepts_a_cluster_certificate_and_sends_info_inside_tls(spec):
    result = probe(spec["route_port"], tls_first=True, groups=["X25519"], client_cert=spec["client_cert"],
                   client_key=spec["client_key"], ca_file=spec["ca_path"], server_name="localhost")
    assert result["accepted"] is True, result
    assert result["group"] == "X25519"
    assert result["info"]["cluster"] == "c1" and result["info"]["tls_verify"] is True


@needs_nats_server
@needs_openssl
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_route_port_refuses_a_client_without_certificate(spec, version):
    result = probe(spec["route_port"], tls_first=True, tls_version=version, groups=["X25519", "P-256"])
    assert result["accepted"] is False and result["refused_by"] == "server", result
    if version == "1.3":
        # The refusal comes after the client's view of the handshake: the probe must still see it.
        assert result["tls_version"] == "1.3" and "certificate required" in result["error"]
    else:
        # TLS 1.2 only says "handshake failure"; the same offer with the
        # certificate is accepted, so the certificate is what was missing.
        assert "handshake failure" in result["error"]
    with_cert = probe(spec["route_port"], tls_first=True, tls_version=version, groups=["X25519", "P-256"],
                      client_cert=spec["client_cert"], client_key=spec["client_key"])
    assert with_cert["accepted"] is True, with_cert


@needs_nats_server
@needs_openssl
def test_route_port_refuses_a_certificate_of_another_ca_and_other_groups(spec):
    rogue = probe(spec["route_port"], tls_first=True, groups=["X25519"], client_cert=spec["rogue_cert"],
                  client_key=spec["rogue_key"])
    assert rogue["accepted"] is False and rogue["refused_by"] == "server"
    assert "unknown ca" in rogue["error"] or "bad certificate" in rogue["error"]
    p256 = probe(spec["route_port"], tls_first=True, groups=["P-256"], client_cert=spec["client_cert"],
                 client_key=spec["client_key"])
    assert p256["accepted"] is False and "handshake failure" in p256["error"]


class SlowLink(object):
    """A TCP proxy on 127.0.0.1 that delays every chunk the server sends, like a long path."""

    def __init__(self, target_port, delay):
        self.delay = delay
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            client = self.listener.accept()[0]
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        threading.Thread(target=self._copy, args=(client, server, 0), daemon=True).start()
        self._copy(server, client, self.delay)

    @staticmethod
    def _copy(source, target, delay):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                time.sleep(delay)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


@needs_nats_server
@needs_openssl
def test_late_tls13_refusal_over_a_slow_link_is_still_seen(spec):
    """The server's 'certificate required' alert arrives after s_client considers the handshake done."""
    link = SlowLink(spec["route_port"], delay=0.15)
    try:
        result = probe(link.port, tls_first=True, tls_version="1.3", groups=["X25519"])
    finally:
        link.close()
    assert result["accepted"] is False and "certificate required" in result["error"], result


@needs_nats_server
def test_route_port_sends_no_plain_info(spec):
    with pytest.raises(tls_probe.ProbeError, match="tls_first=true"):
        probe(spec["route_port"], timeout=1)
    result = tls_probe.probe_plain("127.0.0.1", spec["route_port"], tls_first=True, timeout=10)
    assert result["accepted"] is False and result["refused_by"] == "server"


@needs_nats_server
@needs_openssl
def test_gateway_port(second, spec):
    accepted = probe(second["gateway_port"], tls_first=True, groups=["X25519"], client_cert=spec["client_cert"],
                     client_key=spec["client_key"], ca_file=spec["ca_path"], server_name="localhost")
    assert accepted["accepted"] is True, accepted
    assert accepted["info"]["gateway"] == "gw1"
    refused = probe(second["gateway_port"], tls_first=True, groups=["X25519"])
    assert refused["accepted"] is False and "certificate required" in refused["error"]


@needs_nats_server
@needs_openssl
def test_pinned_certs_take_the_spki_sha256(second, spec):
    pinned = probe(second["client_port"], tls_first=True, groups=["X25519"], client_cert=second["pinned_cert"],
                   client_key=second["pinned_key"])
    assert pinned["accepted"] is True, pinned
    # Same CA, but its key is not pinned: the server drops it right after the handshake.
    other = probe(second["client_port"], tls_first=True, groups=["X25519"], client_cert=spec["client_cert"],
                  client_key=spec["client_key"])
    assert other["accepted"] is False and other["refused_by"] == "server", other
    assert other["error"] == "the server closed the connection right after the handshake"


@needs_nats_server
@needs_openssl
def test_handshake_first_port_without_tls_first_gives_a_hint(second):
    with pytest.raises(tls_probe.ProbeError, match="handshake_first"):
        probe(second["client_port"], timeout=1)


@needs_nats_server
@needs_openssl
def test_rsa_certificate_leaves_no_tls12_spec_suite(second):
    tls12 = probe(second["rsa_port"], tls_version="1.2", groups=["X25519"],
                  ciphers=list(tls_spec.SPEC_CIPHER_SUITES))
    assert tls12["accepted"] is False and tls12["refused_by"] == "server"
    tls13 = probe(second["rsa_port"], tls_version="1.3", groups=["X25519"])
    assert tls13["accepted"] is True and tls13["server_cert"]["key_type"] == "RSA"


@needs_nats_server
@needs_openssl
def test_probe_errors_are_not_refusals(spec):
    with pytest.raises(tls_probe.ProbeError, match="cannot connect"):
        probe(free_port(), timeout=2)
    with pytest.raises(tls_probe.ProbeError, match="group 'bogus'"):
        probe(spec["client_port"], groups=["bogus"])
    with pytest.raises(tls_probe.ProbeError, match="client_cert_path"):
        probe(spec["client_port"], client_cert="/nonexistent/cert.pem", client_key="/nonexistent/key.pem")
