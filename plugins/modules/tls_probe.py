#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_probe
short_description: Try a TLS handshake on a live NATS port with chosen versions, groups and suites
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Connects to a NATS port the way a peer does and reports whether a TLS handshake with the
    given TLS version, key-exchange groups, cipher suites and client certificate is accepted,
    and what was negotiated. Use it to prove that a server enforces the stack's TLS spec
    (X25519 only, the three ECDHE_ECDSA AEAD suites) and refuses everything else.
  - On a client port nats-server first sends a plain C(INFO) line and the client then starts
    TLS on the same socket. Route and gateway ports (and client ports with C(handshake_first))
    start with the TLS handshake and send C(INFO) inside TLS; set O(tls_first=true) for them.
  - The module reads C(INFO) itself, then relays the connection through an ephemeral port on
    127.0.0.1 to C(openssl s_client), because Python's ssl module can neither restrict a client
    to X25519 nor report the negotiated group. Only parsed fields of the s_client output are
    returned; the output itself holds session secrets and is discarded.
  - With O(plaintext=true) no TLS is attempted; the module sends C(CONNECT) and C(PING) in plain
    text to show that a port requiring TLS refuses plain clients.
requirements:
  - The C(openssl) command-line tool (OpenSSL 1.1.1 or newer; Debian 12 package C(openssl)) on the
    host that runs the module, unless O(plaintext=true).
  - cryptography >= 3.1 on that host, to describe the server certificate.
attributes:
  check_mode:
    support: full
    description: The probe changes nothing, so it runs unchanged in check mode.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is no diff to show.
options:
  host:
    description:
      - Host name or IP address of the NATS server, as seen from the host that runs the module.
    type: str
    required: true
  port:
    description:
      - The port to probe (client, route, gateway or leafnode listener).
    type: int
    required: true
  tls_version:
    description:
      - The only TLS version the probe offers.
    type: str
    choices: ['1.2', '1.3']
    default: '1.3'
  groups:
    description:
      - Key-exchange groups the probe offers, for example V(X25519), V(P-256), V(P-384). nats-server
        spellings (V(CurveP256)) and OpenSSL curve names (V(prime256v1)) are accepted too.
      - In TLS 1.2 this list also limits the curves of ECDSA certificates the probe accepts, so a
        TLS 1.2 probe of a P-256 certificate has to offer V(P-256) next to V(X25519).
      - Left out, openssl offers its defaults.
    type: list
    elements: str
  ciphers:
    description:
      - Cipher suites the probe offers, by IANA name.
      - For O(tls_version=1.2) any TLS 1.2 suite openssl knows, including the stack's short name
        V(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305); these are what nats-server's C(cipher_suites)
        restricts. For O(tls_version=1.3) only the TLS 1.3 suites, which nats-server does not restrict.
      - Left out, openssl offers its defaults.
    type: list
    elements: str
  client_cert_path:
    description:
      - Client certificate (PEM) to present. Routes and gateways require one.
    type: path
  client_key_path:
    description:
      - Private key (PEM) of O(client_cert_path). It is handed to openssl and never read or returned by the module.
    type: path
  ca_path:
    description:
      - CA file (PEM) the server certificate must verify to. With it, a certificate that does not
        verify (or does not match O(server_name)) makes the handshake fail; without it, the
        verification result is only reported in RV(verify_code).
    type: path
  server_name:
    description:
      - Name to send as SNI and, with O(ca_path), to verify the server certificate against.
        An IP address is verified against IP subjectAltNames and not sent as SNI.
    type: str
  tls_first:
    description:
      - Start the TLS handshake at once instead of reading the plain C(INFO) line first. Needed for
        route and gateway ports and for client ports with C(handshake_first).
    type: bool
    default: false
  plaintext:
    description:
      - Do not start TLS; send C(CONNECT) and C(PING) in plain text and report the server's reply.
        nats-server 2.15 closes a TLS-required connection without a reply; an C(-ERR) reply is
        reported in RV(error).
    type: bool
    default: false
  expect:
    description:
      - Fail the task unless the outcome is this. V(any) only reports.
    type: str
    choices: [accepted, refused, any]
    default: any
  timeout:
    description:
      - Seconds the whole probe may take, connection, C(INFO) and handshake included.
    type: float
    default: 10
notes:
  - A refusal is reported (RV(accepted=false)) and fails the task only with O(expect=accepted). Not
    being able to probe at all (connection refused, no openssl, an option openssl rejects) always fails.
  - In TLS 1.3 a server checks the client certificate after the client considers the handshake
    done; the module waits for the link to go quiet so that such a late refusal is caught.
seealso:
  - module: cmsgs.nats.tls_cert_check
"""

EXAMPLES = r"""
- name: TLS 1.3 with X25519 is accepted on the route port
  cmsgs.nats.tls_probe:
    host: 127.0.0.1
    port: 6222
    tls_first: true
    tls_version: '1.3'
    groups: [X25519]
    client_cert_path: /srv/certs/cmcluster/cert.pem
    client_key_path: /srv/certs/cmcluster/privkey.pem
    ca_path: /srv/certs/cmcluster/ca.pem
    server_name: nats1.example.com
    expect: accepted

- name: P-256 key exchange is refused on the route port
  cmsgs.nats.tls_probe:
    host: 127.0.0.1
    port: 6222
    tls_first: true
    groups: [P-256]
    client_cert_path: /srv/certs/cmcluster/cert.pem
    client_key_path: /srv/certs/cmcluster/privkey.pem
    expect: refused

- name: Each spec suite is accepted in TLS 1.2 on the client port
  cmsgs.nats.tls_probe:
    host: 127.0.0.1
    port: 4222
    tls_version: '1.2'
    groups: [X25519, P-256]
    ciphers: ["{{ item }}"]
    expect: accepted
  loop: "{{ '2.15.1' | cmsgs.nats.nats_tls_ciphers }}"

- name: A plain-text client is refused where TLS is required
  cmsgs.nats.tls_probe:
    host: 127.0.0.1
    port: 4222
    plaintext: true
    expect: refused
  register: plain_probe
"""

RETURN = r"""
accepted:
  description: Whether the server accepted the connection (the handshake, or with O(plaintext) the plain client).
  returned: always
  type: bool
  sample: true
refused_by:
  description:
    - Which side ended the attempt, V(server) or V(client) (the probe itself, for example on a
      certificate that does not verify or a TLS 1.2 certificate curve it did not offer); null when accepted.
  returned: always
  type: str
  sample: server
error:
  description: Why the attempt was refused, from OpenSSL's error reasons or the server's C(-ERR) line; null when accepted.
  returned: always
  type: str
  sample: sslv3 alert handshake failure (SSL alert number 40)
info:
  description: The server's C(INFO) as a dict (read in plain text, or inside TLS with O(tls_first)); null when none was seen.
  returned: always
  type: dict
  sample: {"server_id": "NCKD66G7...", "version": "2.15.1", "tls_required": true, "max_payload": 1048576}
tls_version:
  description: Negotiated TLS version (V(1.2) or V(1.3)); null when no handshake completed. Also set when the server refused after the handshake.
  returned: unless O(plaintext)
  type: str
  sample: '1.3'
cipher:
  description: Negotiated cipher suite, IANA name.
  returned: unless O(plaintext)
  type: str
  sample: TLS_AES_128_GCM_SHA256
cipher_openssl:
  description: Negotiated cipher suite as OpenSSL names it.
  returned: unless O(plaintext)
  type: str
  sample: ECDHE-ECDSA-AES128-GCM-SHA256
group:
  description: Negotiated key-exchange group (V(X25519), V(P-256), ...).
  returned: unless O(plaintext)
  type: str
  sample: X25519
server_cert:
  description: The server's certificate; null when the server sent none.
  returned: unless O(plaintext)
  type: dict
  contains:
    subject:
      description: Subject (RFC 4514).
      type: str
    issuer:
      description: Issuer (RFC 4514).
      type: str
    sans:
      description: subjectAltNames as C(DNS:name) and C(IP:address).
      type: list
      elements: str
    key_type:
      description: Public key type.
      type: str
    curve:
      description: Curve of an ECDSA key.
      type: str
    not_after:
      description: End of validity, UTC, ISO 8601.
      type: str
    spki_sha256:
      description: SHA-256 of the SubjectPublicKeyInfo, lower-case hex (the C(pinned_certs) form).
      type: str
    fingerprint_sha256:
      description: SHA-256 of the certificate (DER), lower-case hex.
      type: str
  sample: {"subject": "CN=nats1.example.com", "sans": ["DNS:nats1.example.com"], "key_type": "ECDSA", "curve": "P-256"}
verify_code:
  description: OpenSSL's verification result code for the server certificate (0 is OK); without O(ca_path) it is informational.
  returned: unless O(plaintext)
  type: int
  sample: 0
verify_message:
  description: Text of RV(verify_code).
  returned: unless O(plaintext)
  type: str
  sample: ok
reply:
  description: The server's first reply line to plain C(CONNECT)/C(PING) (C(PONG), C(+OK) or C(-ERR ...)); null when it closed the connection.
  returned: when O(plaintext)
  type: str
  sample: PONG
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_probe, tls_spec


def describe_attempt(params):
    if params["plaintext"]:
        return "plain-text probe of %s:%s" % (params["host"], params["port"])
    parts = ["TLS %s" % params["tls_version"]]
    if params["groups"]:
        parts.append("groups %s" % ":".join(params["groups"]))
    if params["ciphers"]:
        parts.append("ciphers %s" % ":".join(params["ciphers"]))
    if params["client_cert_path"]:
        parts.append("client certificate")
    return "TLS probe of %s:%s (%s)" % (params["host"], params["port"], ", ".join(parts))


def describe_outcome(result):
    if result["accepted"]:
        if "cipher" in result:
            return "the server accepted it (TLS %s, %s, %s)" % (result["tls_version"], result["cipher"], result["group"])
        return "the server accepted it (%s)" % result["reply"]
    return "it was refused by the %s: %s" % (result["refused_by"], result["error"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", required=True),
            tls_version=dict(type="str", choices=["1.2", "1.3"], default="1.3"),
            groups=dict(type="list", elements="str"),
            ciphers=dict(type="list", elements="str"),
            client_cert_path=dict(type="path"),
            client_key_path=dict(type="path"),
            ca_path=dict(type="path"),
            server_name=dict(type="str"),
            tls_first=dict(type="bool", default=False),
            plaintext=dict(type="bool", default=False),
            expect=dict(type="str", choices=["accepted", "refused", "any"], default="any"),
            timeout=dict(type="float", default=10),
        ),
        required_together=[("client_cert_path", "client_key_path")],
        mutually_exclusive=[
            ("plaintext", "groups"), ("plaintext", "ciphers"), ("plaintext", "client_cert_path"),
            ("plaintext", "ca_path"), ("plaintext", "server_name"),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="option timeout must be more than 0 seconds, not %s" % params["timeout"])
    try:
        if params["plaintext"]:
            result = tls_probe.probe_plain(
                params["host"], params["port"], tls_first=params["tls_first"], timeout=params["timeout"]
            )
        else:
            if not tls_spec.HAS_CRYPTOGRAPHY:
                module.fail_json(msg=missing_required_lib("cryptography"), exception=tls_spec.CRYPTOGRAPHY_IMPORT_ERROR)
            result = tls_probe.probe_tls(
                params["host"],
                params["port"],
                tls_version=params["tls_version"],
                groups=params["groups"],
                ciphers=params["ciphers"],
                client_cert=params["client_cert_path"],
                client_key=params["client_key_path"],
                ca_file=params["ca_path"],
                server_name=params["server_name"],
                tls_first=params["tls_first"],
                timeout=params["timeout"],
                openssl=module.get_bin_path("openssl", required=True),
            )
    except tls_probe.ProbeError as exc:
        module.fail_json(msg="%s: %s" % (describe_attempt(params), exc))

    expected = params["expect"]
    if expected != "any" and result["accepted"] != (expected == "accepted"):
        module.fail_json(
            msg="%s was expected to be %s, but %s" % (describe_attempt(params), expected, describe_outcome(result)),
            changed=False,
            **result
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
