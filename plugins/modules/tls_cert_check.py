#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_cert_check
short_description: Check a NATS TLS certificate, its key and CA against the stack's TLS spec
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Reads a certificate file, its private key and its CA file on the target host and checks
    them the way nats-server and its peers will use them, before a server is (re)started with them.
  - The certificate file holds the leaf certificate first and may carry intermediates after it.
    Blocks other than C(CERTIFICATE) are skipped, as nats-server does.
  - "Problems (each one fails the task unless O(report_only=true)):
    the key is not ECDSA on P-256 or P-384 where the purpose needs the ECDHE_ECDSA suites
    (an RSA certificate makes all of them impossible);
    the private key does not match the certificate, is encrypted or does not parse;
    the chain does not verify to the CA (issuer name and signature of every link, through
    intermediates in the certificate file);
    a certificate of the chain is expired or not yet valid;
    the extended key usage lacks C(serverAuth) (and C(clientAuth) for routes and gateways);
    the key usage lacks C(digitalSignature);
    a certificate that signs the chain lacks C(CA:TRUE) or, with a key usage extension, C(keyCertSign)
    (Go refuses such a chain);
    the private key file grants any permission to its group or others, or is owned by a user
    not in O(key_owners);
    the CA file trusts a CA of the system trust store, when O(public_ca=refuse);
    the subjectAltNames do not cover every name in O(names)."
  - A certificate that expires within O(expiry_warning_days) only raises a warning.
  - File contents never appear in the result or in messages. The private key is parsed only to
    compare its public half with the certificate.
requirements:
  - cryptography >= 3.1 on the target host (Debian 12 C(python3-cryptography) qualifies).
attributes:
  check_mode:
    support: full
    description: The module only reads files, so it runs unchanged in check mode.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is no diff to show.
options:
  cert_path:
    description:
      - Certificate file in PEM, leaf first, for example C([certs]/cmcluster/cert.pem).
    type: path
    required: true
  key_path:
    description:
      - Private key file in PEM, for example C([certs]/cmcluster/privkey.pem).
      - Leave it out for O(purpose=gateway_peer), where only the peer's certificate is held.
    type: path
  ca_path:
    description:
      - CA file in PEM that the chain must verify to; every certificate in it is a trust anchor,
        as for nats-server's C(ca_file).
      - Without it the chain is checked against the system trust bundle, which is what
        nats-server uses when C(ca_file) is not set.
    type: path
  purpose:
    description:
      - What the certificate is for. It decides the required extended key usages and whether
        the key must be ECDSA.
      - V(client) is the client listener (C([certs]/cmserver)); it needs C(serverAuth), and RSA
        keys of at least 2048 bits are accepted unless O(require_ecdsa=true).
      - V(cluster) (routes, C([certs]/cmcluster)), V(gateway) (this cluster's gateway,
        C([certs]/cmgateway)) and V(gateway_peer) (a peer cluster's gateway certificate,
        C([certs]/cmgwpeers/<peer>)) need C(serverAuth) and C(clientAuth), because routes and
        gateways verify certificates in both directions, and an ECDSA P-256 or P-384 key.
    type: str
    required: true
    choices: [client, cluster, gateway, gateway_peer]
  names:
    description:
      - Host names and IP addresses the server is reached by (route URLs, gateway URLs,
        client host names). Each must be covered by a DNS or IP subjectAltName; the subject
        CN is ignored, as Go ignores it.
      - A wildcard SAN covers exactly one left-most label.
    type: list
    elements: str
    default: []
  expiry_warning_days:
    description:
      - Warn when a certificate of the chain expires in fewer than this many days.
    type: int
    default: 30
  require_ecdsa:
    description:
      - Require an ECDSA P-256 or P-384 key regardless of O(purpose), for example when the client
        listener is restricted to the ECDHE_ECDSA suites as well.
      - Left out, the purpose decides (true for everything but V(client)).
    type: bool
  key_owners:
    description:
      - User names that may own O(key_path), typically the service user and V(root).
      - Left out, any owner is accepted; the mode is checked either way.
    type: list
    elements: str
  public_ca:
    description:
      - What to do when O(ca_path) holds a CA that is in, or issued by a CA in, the host's system trust
        store.
      - Routes and gateways accept every certificate their CA file vouches for, so a public CA there
        admits any certificate it ever issued. V(refuse) makes that a problem, V(warn) a warning,
        V(allow) skips the check (right for the client listener).
    type: str
    choices: [allow, warn, refuse]
    default: allow
  report_only:
    description:
      - Return the problems without failing the task.
    type: bool
    default: false
notes:
  - O(purpose=cluster) and O(purpose=gateway) describe the spec of the stack (curve X25519, suites
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 and
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305); the curve and suites themselves are server settings,
    see the P(cmsgs.nats.nats_tls_ciphers#filter) filter and the M(cmsgs.nats.tls_probe) module.
  - RV(spki_sha256) is the value nats-server expects in C(pinned_certs).
seealso:
  - module: cmsgs.nats.tls_probe
  - plugin: cmsgs.nats.nats_tls_ciphers
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the route certificate before the servers use it
  cmsgs.nats.tls_cert_check:
    cert_path: /srv/certs/cmcluster/cert.pem
    key_path: /srv/certs/cmcluster/privkey.pem
    ca_path: /srv/certs/cmcluster/ca.pem
    purpose: cluster
    names:
      - nats1.example.com
      - 10.0.0.11
    # Only the service user or root may own the key, and the route CA must be private.
    key_owners: [cmsgs, root]
    public_ca: refuse

- name: Check a peer cluster's gateway certificate, only reporting
  cmsgs.nats.tls_cert_check:
    cert_path: /srv/certs/cmgwpeers/region2/cert.pem
    ca_path: /srv/certs/cmgwpeers/region2/ca.pem
    purpose: gateway_peer
    names: [gw.region2.example.com]
    report_only: true
  register: peer_cert

- name: Pin the peer's key in the gateway configuration
  ansible.builtin.set_fact:
    nats_gateway_pins: "{{ [peer_cert.spki_sha256] }}"
  when: peer_cert.valid
"""

RETURN = r"""
valid:
  description: Whether no problem was found.
  returned: always
  type: bool
  sample: true
problems:
  description: Every problem found; empty when the certificate meets the spec.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: The file the problem is about.
      type: str
      sample: /srv/certs/cmcluster/cert.pem
    rule:
      description:
        - The check that failed, one of C(unreadable), C(unparsable), C(key_encrypted), C(key_type),
          C(key_curve), C(key_size), C(key_mismatch), C(chain), C(expired), C(not_yet_valid),
          C(extended_key_usage), C(key_usage), C(san), C(ca_constraints), C(key_permissions), C(key_owner),
          C(public_ca).
      type: str
      sample: extended_key_usage
    message:
      description: What is wrong and how to fix it.
      type: str
      sample: the certificate allows serverAuth but purpose cluster needs clientAuth; reissue it with extendedKeyUsage serverAuth,clientAuth
  sample: []
chain:
  description: Subjects from the leaf to the trust anchor, when the chain verifies.
  returned: always
  type: list
  elements: str
  sample: [CN=nats1.example.com, CN=Example NATS CA]
trust_source:
  description: The file the chain was checked against (O(ca_path) or the system trust bundle).
  returned: always
  type: str
  sample: /srv/certs/cmcluster/ca.pem
subject:
  description: Subject of the leaf certificate (RFC 4514). This and the following facts are null when the certificate cannot be read.
  returned: always
  type: str
  sample: CN=nats1.example.com
issuer:
  description: Issuer of the leaf certificate (RFC 4514).
  returned: always
  type: str
  sample: CN=Example NATS CA
serial_number:
  description: Serial number in lower-case hex.
  returned: always
  type: str
  sample: 5f3a9c
sans:
  description: subjectAltNames as C(DNS:name) and C(IP:address).
  returned: always
  type: list
  elements: str
  sample: [DNS:nats1.example.com, IP:10.0.0.11]
key_type:
  description: Public key type.
  returned: always
  type: str
  sample: ECDSA
curve:
  description: Curve of an ECDSA key (C(P-256), C(P-384), ...), null for other keys.
  returned: always
  type: str
  sample: P-256
key_size:
  description: Key size in bits.
  returned: always
  type: int
  sample: 256
extended_key_usage:
  description: Extended key usages; empty when the certificate has no such extension (no restriction).
  returned: always
  type: list
  elements: str
  sample: [serverAuth, clientAuth]
not_before:
  description: Start of validity, UTC, ISO 8601.
  returned: always
  type: str
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of validity, UTC, ISO 8601.
  returned: always
  type: str
  sample: "2027-01-01T00:00:00Z"
days_left:
  description: Whole days until the leaf expires (negative once expired).
  returned: always
  type: int
  sample: 364
fingerprint_sha256:
  description: SHA-256 of the certificate (DER), lower-case hex.
  returned: always
  type: str
  sample: 3b1f0c9e5d0d5e0f6f8b0b7c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d
spki_sha256:
  description: SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lower-case hex, the form nats-server's C(pinned_certs) takes.
  returned: always
  type: str
  sample: a3c1e0f5b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cert_path=dict(type="path", required=True),
            key_path=dict(type="path"),
            ca_path=dict(type="path"),
            purpose=dict(type="str", required=True, choices=sorted(tls_spec.PURPOSES)),
            names=dict(type="list", elements="str", default=[]),
            expiry_warning_days=dict(type="int", default=30),
            require_ecdsa=dict(type="bool"),
            key_owners=dict(type="list", elements="str", no_log=False),
            public_ca=dict(type="str", default="allow", choices=list(tls_spec.PUBLIC_CA_CHOICES)),
            report_only=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not tls_spec.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=tls_spec.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    try:
        report = tls_spec.check_certificate_files(
            params["cert_path"],
            params["purpose"],
            key_path=params["key_path"],
            ca_path=params["ca_path"],
            names=params["names"],
            expiry_warning_days=params["expiry_warning_days"],
            require_ecdsa=params["require_ecdsa"],
            key_owners=params["key_owners"],
            public_ca=params["public_ca"],
        )
    except tls_spec.TlsSpecError as exc:
        module.fail_json(msg=str(exc))

    for warning in report["warnings"]:
        module.warn("%s [%s]: %s" % (warning["file"], warning["rule"], warning["message"]))
    result = dict.fromkeys(tls_spec.CERTIFICATE_FACTS)
    result.update(report["facts"])
    result.update(
        changed=False,
        valid=not report["problems"],
        problems=report["problems"],
        chain=report["chain"],
        trust_source=report["trust_source"],
    )
    if report["problems"] and not params["report_only"]:
        module.fail_json(
            msg="%s certificate check failed: %s" % (params["purpose"], tls_spec.format_problems(report["problems"])),
            **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
