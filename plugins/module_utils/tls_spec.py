# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS specification of the stack as data, and certificate checks against it.

Routes (purpose ``cluster``) and gateways (purposes ``gateway`` and ``gateway_peer``)
must use curve preference X25519 and only the three ECDHE_ECDSA AEAD suites. Client
TLS (purpose ``client``) uses the ``[certs]/cmserver`` files, which may come from a
public CA and are not bound to the suite list.

The checks follow what nats-server (Go crypto/tls and crypto/x509) does with the
files, so a certificate that passes here is one the server loads and its peers
accept. They need the ``cryptography`` library; the spec data and the cipher name
mapping do not, so the filter plugins work on a controller without it.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import pwd
import re
import stat
import traceback

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
    _HAS_DIRECT_VERIFY = False
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    # cryptography < 40 (Debian 12 ships 38) lacks verify_directly_issued_by.
    _HAS_DIRECT_VERIFY = hasattr(x509.Certificate, "verify_directly_issued_by")

SPEC_CURVES = ("X25519",)

# Spelled as the stack spec spells them; nats_cipher_suites() turns them into the
# names a given nats-server accepts.
SPEC_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
)

# From 2.12.0 on, nats-server takes suite names from Go's tls.CipherSuites(), where
# the CHACHA20 suites carry a _SHA256 suffix; 2.15.1 rejects the short name
# ("unrecognized cipher"), older servers only know the short one.
GO_CIPHER_NAMES_SINCE = (2, 12, 0)
_GO_NAME_CHANGES = {
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

# The ECDHE_ECDSA suites can only be served with an ECDSA key, and Go's TLS stack
# signs with P-256 and P-384 keys for them (P-521 is outside the spec).
ALLOWED_KEY_CURVES = ("P-256", "P-384")

SERVER_AUTH = "serverAuth"
CLIENT_AUTH = "clientAuth"

# Routes and gateways verify the certificate in both directions (RootCAs and
# ClientCAs are both the ca_file), so each side's certificate acts as server
# and as client certificate.
PURPOSES = {
    "client": {"eku": (SERVER_AUTH,), "ecdsa_required": False},
    "cluster": {"eku": (SERVER_AUTH, CLIENT_AUTH), "ecdsa_required": True},
    "gateway": {"eku": (SERVER_AUTH, CLIENT_AUTH), "ecdsa_required": True},
    "gateway_peer": {"eku": (SERVER_AUTH, CLIENT_AUTH), "ecdsa_required": True},
}

MIN_RSA_BITS = 2048

# Names of the checks; they appear as `rule` in every problem.
RULE_UNREADABLE = "unreadable"
RULE_UNPARSABLE = "unparsable"
RULE_KEY_ENCRYPTED = "key_encrypted"
RULE_KEY_TYPE = "key_type"
RULE_KEY_CURVE = "key_curve"
RULE_KEY_SIZE = "key_size"
RULE_KEY_MISMATCH = "key_mismatch"
RULE_CHAIN = "chain"
RULE_EXPIRED = "expired"
RULE_NOT_YET_VALID = "not_yet_valid"
RULE_EXPIRING = "expiring"
RULE_EKU = "extended_key_usage"
RULE_KEY_USAGE = "key_usage"
RULE_SAN = "san"
RULE_KEY_PERMISSIONS = "key_permissions"
RULE_KEY_OWNER = "key_owner"
RULE_CA_CONSTRAINTS = "ca_constraints"
RULE_PUBLIC_CA = "public_ca"

# What to do when a CA file trusts a CA of the system trust store: anyone that
# CA issued a certificate to passes the chain check.
PUBLIC_CA_CHOICES = ("allow", "warn", "refuse")

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_PEM_BLOCK_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL
)
# Trust bundles Go's crypto/x509 reads on Linux when no ca_file is set.
SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
_MAX_CHAIN_DEPTH = 10

# What describe_certificate() reports: public data only.
CERTIFICATE_FACTS = (
    "subject", "issuer", "serial_number", "sans", "key_type", "curve", "key_size",
    "not_before", "not_after", "days_left", "extended_key_usage", "fingerprint_sha256", "spki_sha256",
)

_CURVE_NAMES = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}


class TlsSpecError(Exception):
    """An input to the spec helpers cannot be understood."""


def parse_server_version(version):
    """Return (major, minor, patch) from '2.15.1', 'v2.15.1' or 'nats-server: v2.15.1'."""
    match = _VERSION_RE.search(str(version or ""))
    if not match:
        raise TlsSpecError(
            "nats-server version %r is not of the form MAJOR.MINOR.PATCH (for example 2.15.1); "
            "pass the output of `nats-server --version` or the version string itself" % (version,)
        )
    return tuple(int(part) for part in match.groups())


def iana_cipher_name(name):
    """The IANA (and Go, OpenSSL -stdname) spelling of a suite name."""
    return _GO_NAME_CHANGES.get(name, name)


def nats_cipher_name(spec_name, server_version):
    """Translate one suite name into the spelling the given nats-server accepts."""
    if parse_server_version(server_version) >= GO_CIPHER_NAMES_SINCE:
        return iana_cipher_name(spec_name)
    for short, long_name in _GO_NAME_CHANGES.items():
        if spec_name == long_name:
            return short
    return spec_name


def nats_cipher_suites(server_version):
    """The spec's cipher suites as the given nats-server version accepts them."""
    return [nats_cipher_name(name, server_version) for name in SPEC_CIPHER_SUITES]


def nats_curves(server_version):
    """The spec's curve preferences; every nats-server 2.x spells X25519 the same way."""
    parse_server_version(server_version)
    return list(SPEC_CURVES)


# ---------------------------------------------------------------- certificates


def _problem(path, rule, message):
    return {"file": path, "rule": rule, "message": message}


def pem_blocks(data):
    """Return (label, block bytes) for every PEM block in data, in file order."""
    return [(m.group(1).decode("ascii"), m.group(0)) for m in _PEM_BLOCK_RE.finditer(data)]


def load_certificates(data):
    """Parse every CERTIFICATE block of a PEM file, in file order.

    Like Go's loaders, blocks of other kinds (a key appended to the certificate,
    EC PARAMETERS) are skipped rather than refused.
    """
    certs = [x509.load_pem_x509_certificate(block) for label, block in pem_blocks(data) if label == "CERTIFICATE"]
    for cert in certs:
        # cryptography parses the extensions on first use: read them here, so that a
        # malformed one (an empty extendedKeyUsage, say) is a ValueError of the file
        # rather than a traceback out of a later check.
        list(cert.extensions)
    return certs


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def not_before(cert):
    # The *_utc properties exist from cryptography 42 on; the naive ones are
    # deprecated there but are all that older releases have.
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else _utc(cert.not_valid_before)


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else _utc(cert.not_valid_after)


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def key_description(public_key):
    """Return (key_type, curve, key_size) of a public key."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = public_key.curve.name
        return "ECDSA", _CURVE_NAMES.get(name, name), public_key.curve.key_size
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", None, public_key.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", None, 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", None, 456
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", None, public_key.key_size
    return type(public_key).__name__, None, None


def spki_der(public_key):
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_sha256(cert):
    """Lower-case hex SHA-256 of the SubjectPublicKeyInfo: the key nats-server
    expects in `pinned_certs` (server/client.go matchesPinnedCert)."""
    return hashlib.sha256(spki_der(cert.public_key())).hexdigest()


def _extension(cert, ext_type):
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None


_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": SERVER_AUTH,
    "1.3.6.1.5.5.7.3.2": CLIENT_AUTH,
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


def extended_key_usages(cert):
    """EKU names of a certificate, or None when it has no EKU extension (no restriction)."""
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in eku]


def subject_alt_names(cert):
    """Return (dns_names, ip_addresses) of the SAN extension, both lists of str."""
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return [], []
    dns = list(san.get_values_for_type(x509.DNSName))
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def describe_certificate(cert, now=None):
    """Facts about one certificate, safe to print (public data only)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key_type, curve, key_size = key_description(cert.public_key())
    dns, ips = subject_alt_names(cert)
    ekus = extended_key_usages(cert)
    remaining = not_after(cert) - now
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial_number": format(cert.serial_number, "x"),
        "sans": ["DNS:%s" % name for name in dns] + ["IP:%s" % ip for ip in ips],
        "key_type": key_type,
        "curve": curve,
        "key_size": key_size,
        "not_before": _iso(not_before(cert)),
        "not_after": _iso(not_after(cert)),
        "days_left": remaining.days,
        "extended_key_usage": ekus if ekus is not None else [],
        "fingerprint_sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "spki_sha256": spki_sha256(cert),
    }


def dns_name_matches(pattern, host):
    """Match a host name against one DNS SAN the way Go's crypto/x509 does.

    Case-insensitive, a trailing dot ignored; a wildcard is only valid as the whole
    left-most label and stands for exactly one label, so *.example.com covers
    a.example.com but neither example.com nor a.b.example.com.
    """
    pattern = pattern.rstrip(".").lower()
    host = host.rstrip(".").lower()
    if not pattern or not host:
        return False
    if pattern == host:
        return True
    p_labels = pattern.split(".")
    h_labels = host.split(".")
    if p_labels[0] != "*" or len(p_labels) < 3 or len(p_labels) != len(h_labels):
        return False
    if "*" in "".join(p_labels[1:]):
        return False
    return h_labels[0] != "" and p_labels[1:] == h_labels[1:]


def uncovered_names(cert, names):
    """The names (host names or IP addresses) the certificate's SANs do not cover.

    Go ignores the subject CN, and an IP address is only matched by IP SANs.
    """
    dns, ips = subject_alt_names(cert)
    cert_ips = {ipaddress.ip_address(ip) for ip in ips}
    missing = []
    for name in names:
        text = str(name).strip()
        try:
            address = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            if not any(dns_name_matches(pattern, text) for pattern in dns):
                missing.append(text)
        else:
            if address not in cert_ips:
                missing.append(text)
    return missing


def go_verifies(public_key):
    """True for the CA key types whose signatures Go's crypto/x509 verifies.

    nats-server and the Go clients check chains with it, and it knows RSA,
    ECDSA and Ed25519 only: a chain signed by a DSA or Ed448 key fails every
    handshake, whatever Python's cryptography would say.
    """
    return isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey))


def _signature_valid(cert, issuer):
    """True when issuer's key verifies cert's signature (names already match)."""
    public_key = issuer.public_key()
    if not go_verifies(public_key):
        return False
    if _HAS_DIRECT_VERIFY:
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
        return True
    algorithm = cert.signature_hash_algorithm
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            public_key.verify(cert.signature, cert.tbs_certificate_bytes)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def build_chain(leaf, intermediates, anchors):
    """Walk from leaf to a trust anchor by issuer name and signature.

    Returns (chain, error): chain is the list of certificates from leaf to anchor
    when one verifies, error explains the first link that does not.
    """
    anchor_ders = {a.public_bytes(serialization.Encoding.DER) for a in anchors}
    chain = [leaf]
    current = leaf
    for _hop in range(_MAX_CHAIN_DEPTH):
        if current.public_bytes(serialization.Encoding.DER) in anchor_ders:
            return chain, None
        named_anchors = [a for a in anchors if a.subject == current.issuer]
        for anchor in named_anchors:
            if _signature_valid(current, anchor):
                chain.append(anchor)
                return chain, None
        named_intermediates = [
            c for c in intermediates if c.subject == current.issuer and c not in chain
        ]
        next_cert = next((c for c in named_intermediates if _signature_valid(current, c)), None)
        if next_cert is None:
            subject = current.subject.rfc4514_string()
            issuer = current.issuer.rfc4514_string()
            unverifiable = [c for c in named_anchors + named_intermediates if not go_verifies(c.public_key())]
            if unverifiable:
                return chain, (
                    "'%s' is signed with the %s key of '%s', and nats-server (Go's crypto/x509) verifies "
                    "RSA, ECDSA and Ed25519 signatures only: reissue the CA with an ECDSA P-256 key"
                    % (subject, key_description(unverifiable[0].public_key())[0], issuer)
                )
            if named_anchors or named_intermediates:
                return chain, (
                    "the signature of '%s' does not verify with the key of any certificate named "
                    "'%s': the CA file holds a different CA of the same name" % (subject, issuer)
                )
            return chain, (
                "no certificate named '%s' (the issuer of '%s') in the CA file or the "
                "certificate bundle: add the CA to the CA file, or the intermediate after "
                "the leaf in the certificate file" % (issuer, subject)
            )
        chain.append(next_cert)
        current = next_cert
    return chain, "the chain is longer than %d certificates" % _MAX_CHAIN_DEPTH


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _load_cert_file(path, what, problems):
    try:
        data = _read(path)
    except OSError as exc:
        problems.append(_problem(path, RULE_UNREADABLE, "cannot read the %s: %s" % (what, exc.strerror or exc)))
        return []
    try:
        certs = load_certificates(data)
    except ValueError as exc:
        problems.append(_problem(path, RULE_UNPARSABLE, "the %s holds a certificate that does not parse: %s" % (what, exc)))
        return []
    if not certs:
        problems.append(_problem(path, RULE_UNPARSABLE, "the %s holds no PEM CERTIFICATE block" % what))
    return certs


def _load_private_key(path, problems):
    """Load the private key, reporting problems without ever quoting the file."""
    try:
        data = _read(path)
    except OSError as exc:
        problems.append(_problem(path, RULE_UNREADABLE, "cannot read the private key: %s" % (exc.strerror or exc)))
        return None
    blocks = [block for label, block in pem_blocks(data) if label.endswith("PRIVATE KEY")]
    if not blocks:
        problems.append(_problem(path, RULE_UNPARSABLE, "the key file holds no PEM PRIVATE KEY block"))
        return None
    try:
        return serialization.load_pem_private_key(blocks[0], password=None)
    except TypeError:
        problems.append(_problem(
            path, RULE_KEY_ENCRYPTED,
            "the private key is encrypted; nats-server cannot use a passphrase, store it unencrypted with mode 0600",
        ))
    except (ValueError, UnsupportedAlgorithm):
        # The library's message is left out on purpose: it must not echo key material.
        problems.append(_problem(path, RULE_UNPARSABLE, "the private key does not parse"))
    return None


def system_ca_bundle():
    """Path of the system trust bundle nats-server falls back to, or None."""
    for path in SYSTEM_CA_BUNDLES:
        try:
            with open(path, "rb"):
                return path
        except OSError:
            continue
    return None


def check_key_access(path, owners=None):
    """Problems with who may read a private key file.

    Any permission for the group or others is a finding: the key is the
    server's identity, and only the service user (which nats-server runs as)
    or root should be able to read it. owners, when given, lists the user
    names that may own the file.
    """
    try:
        info = os.stat(path)
    except OSError:
        return []  # reported as unreadable by the key check itself
    problems = []
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        problems.append(_problem(
            path, RULE_KEY_PERMISSIONS,
            "the private key has mode %04o, so users other than its owner can read or change it; "
            "chmod 0600 it" % mode,
        ))
    if owners is not None:
        try:
            owner = pwd.getpwuid(info.st_uid).pw_name
        except KeyError:
            owner = str(info.st_uid)
        if owner not in owners:
            problems.append(_problem(
                path, RULE_KEY_OWNER,
                "the private key is owned by %s; only %s may own it (chown it to the service user)"
                % (owner, " or ".join(owners)),
            ))
    return problems


def _check_ca_constraints(chain, paths, problems):
    """Every issuer in the chain must be a CA allowed to sign certificates.

    Go (crypto/x509 CheckSignatureFrom) refuses a v3 issuer without
    basicConstraints CA:TRUE, and one whose keyUsage lacks keyCertSign; the
    chain check above only compared names and signatures.
    """
    for cert, path in zip(chain[1:], paths[1:]):
        subject = cert.subject.rfc4514_string()
        constraints = _extension(cert, x509.BasicConstraints)
        if cert.version == x509.Version.v3 and (constraints is None or not constraints.ca):
            problems.append(_problem(
                path, RULE_CA_CONSTRAINTS,
                "'%s' signs the chain but is not a CA (basicConstraints CA:TRUE is missing), so Go refuses "
                "the chain; reissue it as a CA" % subject,
            ))
        key_usage = _extension(cert, x509.KeyUsage)
        if key_usage is not None and not key_usage.key_cert_sign:
            problems.append(_problem(
                path, RULE_CA_CONSTRAINTS,
                "'%s' signs the chain but its keyUsage lacks keyCertSign, so Go refuses the chain; "
                "reissue it with keyUsage keyCertSign" % subject,
            ))


def public_anchors(anchors, system_anchors):
    """Subjects of the anchors that are, or are issued by, a CA of the system trust store.

    Compared by key (SPKI), so a re-issued or cross-signed public root counts too.
    """
    system_keys = {spki_der(a.public_key()) for a in system_anchors}
    found = []
    for anchor in anchors:
        if spki_der(anchor.public_key()) in system_keys:
            found.append(anchor.subject.rfc4514_string())
            continue
        issuers = [a for a in system_anchors if a.subject == anchor.issuer]
        if any(_signature_valid(anchor, issuer) for issuer in issuers):
            found.append(anchor.subject.rfc4514_string())
    return found


def _check_private_ca(ca_path, anchors, purpose, public_ca, result):
    """Routes and gateways admit every certificate their CA file vouches for:
    a public CA there would let any certificate it issued join."""
    if public_ca == "allow" or not ca_path or not anchors:
        return
    bundle = system_ca_bundle()
    if not bundle:
        return
    try:
        system_anchors = load_certificates(_read(bundle))
    except (OSError, ValueError):
        return
    public = public_anchors(anchors, system_anchors)
    if not public:
        return
    finding = _problem(
        ca_path, RULE_PUBLIC_CA,
        "the CA file trusts %s, in or issued by the system trust store (%s): any certificate such a CA "
        "issued would be accepted for %s; use a private CA for it"
        % (", ".join("'%s'" % s for s in public[:3]) + (" and %d more" % (len(public) - 3) if len(public) > 3 else ""),
           bundle, purpose),
    )
    (result["problems"] if public_ca == "refuse" else result["warnings"]).append(finding)


def _check_key(cert, cert_path, require_ecdsa, problems):
    key_type, curve, key_size = key_description(cert.public_key())
    if key_type == "ECDSA":
        if curve not in ALLOWED_KEY_CURVES:
            problems.append(_problem(
                cert_path, RULE_KEY_CURVE,
                "the key is ECDSA on %s; use P-256 or P-384 (the ECDHE_ECDSA suites need one of them)" % curve,
            ))
        return
    if require_ecdsa:
        if key_type == "RSA":
            detail = (
                "the key is RSA: with an RSA certificate none of the suites "
                "TLS_ECDHE_ECDSA_WITH_* can be negotiated, so every TLS 1.2 handshake fails"
            )
        else:
            detail = "the key is %s, which the ECDHE_ECDSA suites cannot use" % key_type
        problems.append(_problem(cert_path, RULE_KEY_TYPE, detail + "; issue an ECDSA P-256 or P-384 certificate"))
    elif key_type == "RSA":
        if key_size < MIN_RSA_BITS:
            problems.append(_problem(
                cert_path, RULE_KEY_SIZE,
                "the RSA key has %d bits; use at least %d" % (key_size, MIN_RSA_BITS),
            ))
    elif key_type != "Ed25519":
        problems.append(_problem(cert_path, RULE_KEY_TYPE, "nats-server cannot serve TLS with a %s key; use ECDSA P-256" % key_type))


def _check_validity(cert, path, label, now, warning_days, problems, warnings):
    start, end = not_before(cert), not_after(cert)
    subject = cert.subject.rfc4514_string()
    if now < start:
        problems.append(_problem(
            path, RULE_NOT_YET_VALID,
            "%s '%s' is not valid before %s; check the host clock or reissue it" % (label, subject, _iso(start)),
        ))
    elif now > end:
        problems.append(_problem(
            path, RULE_EXPIRED, "%s '%s' expired on %s; renew it" % (label, subject, _iso(end)),
        ))
    elif (end - now).days < warning_days:
        warnings.append(_problem(
            path, RULE_EXPIRING,
            "%s '%s' expires on %s, in %d days; renew it soon" % (label, subject, _iso(end), (end - now).days),
        ))


def _check_usages(chain, paths, purpose, needed, problems):
    for index, cert in enumerate(chain):
        ekus = extended_key_usages(cert)
        if ekus is None or "anyExtendedKeyUsage" in ekus:
            continue
        missing = [usage for usage in needed if usage not in ekus]
        if missing:
            role = "the certificate" if index == 0 else "the issuing CA '%s'" % cert.subject.rfc4514_string()
            problems.append(_problem(
                paths[index], RULE_EKU,
                "%s allows %s but purpose %s needs %s; reissue it with extendedKeyUsage %s"
                % (role, ", ".join(ekus) or "no usage", purpose, " and ".join(missing), ",".join(needed)),
            ))
    key_usage = _extension(chain[0], x509.KeyUsage)
    if key_usage is not None and not key_usage.digital_signature:
        problems.append(_problem(
            paths[0], RULE_KEY_USAGE,
            "the keyUsage extension lacks digitalSignature, which every ECDHE handshake needs; "
            "reissue it with keyUsage digitalSignature",
        ))


def _check_chain(leaf, intermediates, cert_path, ca_path, result, purpose, public_ca):
    """Verify the chain; return it with the file each of its certificates came from."""
    trust_path = ca_path or system_ca_bundle()
    result["trust_source"] = trust_path
    if not trust_path:
        result["warnings"].append(_problem(
            cert_path, RULE_CHAIN, "no ca_path given and no system trust bundle found; the chain was not checked",
        ))
        return [leaf], [cert_path]
    anchors = _load_cert_file(trust_path, "CA file", result["problems"])
    if not anchors:
        return [leaf], [cert_path]
    _check_private_ca(ca_path, anchors, purpose, public_ca, result)
    chain, error = build_chain(leaf, intermediates, anchors)
    if error:
        result["problems"].append(_problem(
            cert_path, RULE_CHAIN, "the chain does not verify against %s: %s" % (trust_path, error),
        ))
        return chain, [cert_path] * len(chain)
    result["chain"] = [c.subject.rfc4514_string() for c in chain]
    # Intermediates come from the certificate file, the anchor from the CA file
    # (unless the leaf is itself listed there).
    return chain, [cert_path] * (len(chain) - 1) + [trust_path if len(chain) > 1 else cert_path]


def check_certificate_files(cert_path, purpose, key_path=None, ca_path=None, names=None,
                            expiry_warning_days=30, require_ecdsa=None, now=None,
                            key_owners=None, public_ca="allow"):
    """Check a certificate (with its key and CA) against the spec for one purpose.

    key_owners: user names that may own the key file (None: any owner).
    public_ca: what a CA file holding a publicly trusted CA is (see PUBLIC_CA_CHOICES).

    Returns a dict with `facts` (public data of the leaf, or {} when it cannot be
    read), `chain` (subjects from leaf to trust anchor), `problems` and `warnings`
    (both lists of {file, rule, message}).
    """
    if purpose not in PURPOSES:
        raise TlsSpecError("purpose %r is not one of %s" % (purpose, ", ".join(sorted(PURPOSES))))
    if public_ca not in PUBLIC_CA_CHOICES:
        raise TlsSpecError("public_ca %r is not one of %s" % (public_ca, ", ".join(PUBLIC_CA_CHOICES)))
    if expiry_warning_days < 0:
        raise TlsSpecError("expiry_warning_days must be 0 or more, not %d" % expiry_warning_days)
    spec = PURPOSES[purpose]
    if require_ecdsa is None:
        require_ecdsa = spec["ecdsa_required"]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems, warnings = [], []
    result = {"facts": {}, "chain": [], "problems": problems, "warnings": warnings, "trust_source": None}

    bundle = _load_cert_file(cert_path, "certificate file", problems)
    if not bundle:
        return result
    leaf, intermediates = bundle[0], bundle[1:]
    result["facts"] = describe_certificate(leaf, now)

    _check_key(leaf, cert_path, require_ecdsa, problems)

    if key_path:
        problems.extend(check_key_access(key_path, key_owners))
        private_key = _load_private_key(key_path, problems)
        if private_key is not None and spki_der(private_key.public_key()) != spki_der(leaf.public_key()):
            problems.append(_problem(
                key_path, RULE_KEY_MISMATCH,
                "the private key does not belong to the certificate in %s; install the matching pair" % cert_path,
            ))

    chain, paths = _check_chain(leaf, intermediates, cert_path, ca_path, result, purpose, public_ca)
    _check_ca_constraints(chain, paths, problems)
    labels = ["the certificate"] + ["the CA certificate"] * (len(chain) - 1)
    for cert, path, label in zip(chain, paths, labels):
        _check_validity(cert, path, label, now, expiry_warning_days, problems, warnings)

    _check_usages(chain, paths, purpose, spec["eku"], problems)

    if names:
        missing = uncovered_names(leaf, names)
        if missing:
            have = ", ".join(result["facts"]["sans"]) or "no subjectAltName at all"
            problems.append(_problem(
                cert_path, RULE_SAN,
                "the subjectAltNames (%s) do not cover %s; reissue the certificate with them as "
                "DNS or IP subjectAltNames (the subject CN is ignored)" % (have, ", ".join(missing)),
            ))
    return result


def format_problems(problems):
    return "; ".join("%s [%s]: %s" % (p["file"], p["rule"], p["message"]) for p in problems)


def problems_from_checks(results, check_mode=False):
    """'file [rule]: message' for each problem a loop of tls_cert_check reported, once each.

    In check mode a file that an earlier task of the run would install may
    not be there yet, so unreadable files do not count then.
    """
    lines = []
    for result in results or []:
        for problem in (result or {}).get("problems") or []:
            if check_mode and problem.get("rule") == RULE_UNREADABLE:
                continue
            line = "%s [%s]: %s" % (problem.get("file"), problem.get("rule"), problem.get("message"))
            if line not in lines:
                lines.append(line)
    return lines
