# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NATS JWT v2: claim layout, signing, decoding, verification and .creds files.

nats-server and nsc read these tokens with the Go library nats-io/jwt v2.
The payload is produced the way Go's encoding/json marshals that library's
structs: struct field order, ``omitempty`` fields left out when zero, HTML
characters escaped. Matching it byte for byte keeps ``jti`` identical to what
the Go library computes and lets the tests compare tokens with Go-issued
fixtures. Signatures are ed25519 over ``header.payload`` (the nkey of the
issuer), which nats-server checks against the public key in ``iss``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
import traceback

try:
    import nacl.exceptions
    import nacl.signing
    import nkeys
except ImportError:
    HAS_NKEYS = False
    NKEYS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_NKEYS = True
    NKEYS_IMPORT_ERROR = None


OPERATOR = "operator"
ACCOUNT = "account"
USER = "user"

# Prefix bytes of nkeys public keys (the same values as nkeys.PREFIX_BYTE_*),
# kept here so that layout checks work before the library is known to exist.
_PREFIX_BYTES = {OPERATOR: 14 << 3, ACCOUNT: 0, USER: 20 << 3}
# Which key kinds nats-io/jwt accepts as issuer of each claim type.
_ISSUER_KINDS = {OPERATOR: (OPERATOR,), ACCOUNT: (OPERATOR, ACCOUNT), USER: (ACCOUNT,)}

JWT_VERSION = 2
HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
# nats-io/jwt refuses tokens above 1 MiB before parsing them.
MAX_TOKEN_SIZE = 1024 * 1024
# The claims that change on every signing; everything else decides whether
# a token needs to be issued again.
VOLATILE_CLAIMS = ("iat", "jti")

NO_LIMIT = -1
# nsc and nats-io/jwt start an account with every limit unlimited and
# wildcard exports allowed. A limit left at 0 is omitted from the JSON and
# means zero: a conn of 0 blocks every client connection.
DEFAULT_ACCOUNT_LIMITS = {
    "subs": NO_LIMIT,
    "data": NO_LIMIT,
    "payload": NO_LIMIT,
    "imports": NO_LIMIT,
    "exports": NO_LIMIT,
    "wildcards": True,
    "disallow_bearer": False,
    "conn": NO_LIMIT,
    "leaf": NO_LIMIT,
}
# JetStream is off until memory or disk storage is non-zero (-1 = unlimited).
DEFAULT_JETSTREAM_LIMITS = {
    "mem_storage": 0,
    "disk_storage": 0,
    "streams": 0,
    "consumer": 0,
    "max_ack_pending": 0,
    "mem_max_stream_bytes": 0,
    "disk_max_stream_bytes": 0,
    "max_bytes_required": False,
}
DEFAULT_USER_LIMITS = {"subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT}


class JwtError(Exception):
    """A token, key or claim set that NATS would not accept."""


# --- JSON layout -----------------------------------------------------------
#
# A layout lists the JSON names of a Go struct in field order. A plain name
# is an ``omitempty`` field: left out when it holds Go's zero value. A
# (name, layout) pair is a nested struct, which encoding/json always writes
# (omitempty has no effect on structs), even when it comes out as ``{}``.

_PERMISSION = ("allow", "deny")
_PERMISSIONS = (("pub", _PERMISSION), ("sub", _PERMISSION), "resp")
_CLAIMS_DATA = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub")
_GENERIC_FIELDS = ("tags", "type", "version")

_OPERATOR_FIELDS = (
    "signing_keys",
    "account_server_url",
    "operator_service_urls",
    "system_account",
    "assert_server_version",
    "strict_signing_key_usage",
) + _GENERIC_FIELDS

_ACCOUNT_LIMITS = (
    "subs", "data", "payload",
    "imports", "exports", "wildcards", "disallow_bearer", "conn", "leaf",
    "mem_storage", "disk_storage", "streams", "consumer", "max_ack_pending",
    "mem_max_stream_bytes", "disk_max_stream_bytes", "max_bytes_required",
    "tiered_limits",
)

# nats-io/jwt releases after 2.3.0 also write an empty "authorization"
# object; every release reads a token with or without it the same way. It is
# treated as omitempty here so that tokens match the release Debian ships,
# which the Go cross-check builds against.
_ACCOUNT_FIELDS = (
    "imports",
    "exports",
    ("limits", _ACCOUNT_LIMITS),
    "signing_keys",
    "revocations",
    ("default_permissions", _PERMISSIONS),
    "mappings",
    "authorization",
    "trace",
    "cluster_traffic",
    "description",
    "info_url",
) + _GENERIC_FIELDS

_USER_FIELDS = _PERMISSIONS + (
    "src", "times", "times_location",
    "subs", "data", "payload",
    "bearer_token", "proxy_required", "allowed_connection_types",
    "issuer_account",
) + _GENERIC_FIELDS

_NATS_FIELDS = {OPERATOR: _OPERATOR_FIELDS, ACCOUNT: _ACCOUNT_FIELDS, USER: _USER_FIELDS}


def _is_zero(value) -> bool:
    """Tell whether Go's encoding/json would drop the value under omitempty."""
    if value is None or isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    return len(value) == 0


def _arrange(values: dict, fields, keep_unknown: bool = True) -> dict:
    """Order a struct's fields as Go writes them and drop omitempty zeros.

    Fields this layout does not know (written by a newer nats-io/jwt) are
    kept after the known ones, so that re-issuing a token does not lose them.
    """
    arranged = {}
    known = set()
    for field in fields:
        if isinstance(field, tuple):
            name, nested = field
            arranged[name] = _arrange(values.get(name) or {}, nested)
        else:
            name = field
            if not _is_zero(values.get(name)):
                arranged[name] = values[name]
        known.add(name)
    for name, value in values.items() if keep_unknown else ():
        if name not in known and not _is_zero(value):
            arranged[name] = value
    return arranged


def arrange_claims(claims: dict) -> dict:
    """Return the claims in the field order and omissions of nats-io/jwt."""
    nats = claims.get("nats") or {}
    fields = _NATS_FIELDS.get(nats.get("type"), _GENERIC_FIELDS)
    arranged = _arrange(claims, _CLAIMS_DATA + ("nats",))
    arranged["nats"] = _arrange(nats, fields)
    return arranged


def go_json(value) -> bytes:
    """Serialise compactly and escape like Go's json.Marshal.

    Go escapes <, > and & (HTML safety) and the JavaScript line separators
    U+2028/U+2029, and writes other non-ASCII text as UTF-8. These characters
    only ever occur inside JSON strings, so replacing them is safe.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    """Decode base64url without padding, strictly (as Go's RawURLEncoding)."""
    if "=" in text:
        raise JwtError("unexpected padding in a JWT segment")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise JwtError("a JWT segment is not base64url: %s" % exc) from None


# --- keys ------------------------------------------------------------------

def _require_nkeys():
    if not HAS_NKEYS:
        raise JwtError("the Python libraries nkeys and PyNaCl are required")


def key_kind(public_key) -> str | None:
    """Return operator/account/user for a well-formed public key, else None.

    The check covers the base32 form, the prefix byte and the CRC16 that
    nkeys appends, so that a typo in a key is caught before it is signed
    into a token.
    """
    _require_nkeys()
    if not isinstance(public_key, str) or len(public_key) != 56:
        return None
    try:
        raw = base64.b32decode(public_key)
    except (binascii.Error, ValueError):
        return None
    body, checksum = raw[:-2], raw[-2:]
    if nkeys.crc16(bytearray(body)) != int.from_bytes(checksum, "little"):
        return None
    for kind, prefix in _PREFIX_BYTES.items():
        if body[0] == prefix:
            return kind
    return None


def is_public_key(public_key, kind: str) -> bool:
    """Tell whether public_key is a valid nkeys public key of this kind."""
    return key_kind(public_key) == kind


def _verify_key(public_key: str):
    if key_kind(public_key) is None:
        raise JwtError("%r is not an nkeys public key" % public_key)
    return nacl.signing.VerifyKey(base64.b32decode(public_key)[1:33])


def new_seed(kind: str) -> str:
    """Create a fresh nkeys seed of the given kind from the OS RNG."""
    _require_nkeys()
    return nkeys.encode_seed(os.urandom(32), _PREFIX_BYTES[kind]).decode("ascii")


class KeyPair:
    """An nkeys key pair, holding the seed without ever showing it.

    Wrapping nkeys.KeyPair keeps the seed out of repr() and error messages
    and gives the public key as text, as it appears in JWTs.
    """

    def __init__(self, seed: str):
        _require_nkeys()
        try:
            self._pair = nkeys.from_seed(seed.encode("ascii"))
            public_key = self._pair.public_key.decode("ascii")
        except (nkeys.NkeysError, UnicodeError, ValueError, TypeError):
            raise JwtError("the data is not a valid nkeys seed") from None
        self.public_key = public_key
        self.kind = key_kind(public_key)

    @property
    def seed(self) -> str:
        return self._pair.seed.decode("ascii")

    def sign(self, data: bytes) -> bytes:
        return self._pair.sign(data)

    def __repr__(self):
        return "KeyPair(%s)" % self.public_key


# --- claims ----------------------------------------------------------------

def build_claims(kind: str, name: str, subject: str, issuer: str, nats: dict) -> dict:
    """Assemble the unsigned claims of a token, in nats-io/jwt layout.

    ``iat`` and ``jti`` are left out: they are set when signing.
    """
    body = dict(nats)
    body["type"] = kind
    body["version"] = JWT_VERSION
    claims = {"iss": issuer, "name": name, "sub": subject, "nats": body}
    _check_claim_keys(claims)
    return arrange_claims(claims)


def _check_claim_keys(claims: dict):
    """Refuse what nats-io/jwt's Encode would refuse: wrong key kinds."""
    kind = claims["nats"]["type"]
    if not is_public_key(claims.get("sub"), kind):
        raise JwtError("the subject of %s JWT must be %s public key" % (with_article(kind), with_article(kind)))
    if key_kind(claims.get("iss")) not in _ISSUER_KINDS[kind]:
        raise JwtError("%s JWT cannot be issued by %r" % (with_article(kind), claims.get("iss")))


def claim_hash(claims: dict) -> str:
    """Compute ``jti`` as nats-io/jwt does.

    It is SHA-512/256 over the JSON of the standard claims only (aud, exp,
    iat, iss, name, nbf, sub, with jti empty and the "nats" part left out),
    encoded as unpadded standard base32.
    """
    standard = _arrange(dict(claims, jti=""), _CLAIMS_DATA, keep_unknown=False)
    digest = hashlib.new("sha512_256", go_json(standard)).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def sign_claims(claims: dict, signer: KeyPair, issued_at: int | None = None) -> str:
    """Sign claims from build_claims() into a compact JWT.

    issued_at defaults to now; tests pass it to reproduce a known token.
    """
    if claims.get("iss") != signer.public_key:
        raise JwtError("the claims name issuer %s but the signing key is %s"
                       % (claims.get("iss"), signer.public_key))
    _check_claim_keys(claims)
    final = dict(claims)
    final["iat"] = int(time.time()) if issued_at is None else int(issued_at)
    final["jti"] = claim_hash(final)
    signing_input = _b64encode(go_json(HEADER)) + "." + _b64encode(go_json(arrange_claims(final)))
    signature = signer.sign(signing_input.encode("ascii"))
    return signing_input + "." + _b64encode(signature)


def comparable(claims: dict | None) -> dict | None:
    """Claims without iat/jti, arranged, for deciding whether to re-issue."""
    if claims is None:
        return None
    return arrange_claims({k: v for k, v in claims.items() if k not in VOLATILE_CLAIMS})


def same_claims(left: dict | None, right: dict | None) -> bool:
    """Tell whether two claim sets differ only in iat and jti."""
    return comparable(left) == comparable(right)


# --- decoding --------------------------------------------------------------

class DecodedJwt:
    """A token whose header, signature and issuer kind have been checked."""

    def __init__(self, token: str, claims: dict):
        self.token = token
        self.claims = claims

    @property
    def kind(self) -> str:
        return self.claims["nats"]["type"]

    @property
    def subject(self) -> str:
        return self.claims["sub"]

    @property
    def issuer(self) -> str:
        return self.claims["iss"]

    @property
    def name(self) -> str:
        return self.claims.get("name", "")

    @property
    def nats(self) -> dict:
        return self.claims["nats"]


def _parse_json_object(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise JwtError("the JWT %s is not JSON: %s" % (what, exc)) from None
    if not isinstance(value, dict):
        raise JwtError("the JWT %s is not a JSON object" % what)
    return value


def _check_header(header: dict):
    """Accept what nats-io/jwt accepts for a v2 token."""
    if str(header.get("typ", "")).upper() != "JWT":
        raise JwtError("unsupported JWT type %r" % header.get("typ"))
    if str(header.get("alg", "")).lower() != HEADER["alg"]:
        raise JwtError("unsupported JWT algorithm %r (NATS JWT v2 uses %s)"
                       % (header.get("alg"), HEADER["alg"]))


def _check_body(claims: dict) -> str:
    nats = claims.get("nats")
    if not isinstance(nats, dict) or nats.get("type") not in _NATS_FIELDS:
        raise JwtError("the JWT is not a NATS v2 operator, account or user token")
    if nats.get("version") != JWT_VERSION:
        raise JwtError("the JWT has version %r; only NATS JWT v2 is supported" % nats.get("version"))
    for claim in ("iss", "sub"):
        if not isinstance(claims.get(claim), str):
            raise JwtError("the JWT has no %r claim" % claim)
    return nats["type"]


def with_article(kind: str) -> str:
    """'an account', 'an operator', 'a user': the kind as a message names it."""
    return ("an " if kind in (ACCOUNT, OPERATOR) else "a ") + kind


def decode(token: str, expected_kind: str | None = None, check_times: bool = True) -> DecodedJwt:
    """Decode a token and check it as nats-io/jwt's Decode and Validate do.

    Checks: three segments, header, v2 claims, ed25519 signature by the key
    in ``iss``, issuer kind, subject kind and, unless check_times is off,
    exp/nbf against the clock. Reading a store turns the time check off: an
    expired token still tells whose it is, and gets issued again.
    """
    token = token.strip()
    if len(token) > MAX_TOKEN_SIZE:
        raise JwtError("the JWT is larger than %d bytes" % MAX_TOKEN_SIZE)
    segments = token.split(".")
    if len(segments) != 3:
        raise JwtError("a JWT has three dot-separated segments, this one has %d" % len(segments))
    _check_header(_parse_json_object(_b64decode(segments[0]), "header"))
    claims = _parse_json_object(_b64decode(segments[1]), "payload")
    kind = _check_body(claims)
    if expected_kind is not None and kind != expected_kind:
        raise JwtError("expected %s JWT, found %s JWT" % (with_article(expected_kind), with_article(kind)))
    _check_claim_keys(claims)
    _check_signature(token, claims["iss"], _b64decode(segments[2]))
    if check_times:
        _check_times(claims, int(time.time()))
    return DecodedJwt(token, claims)


def _check_signature(token: str, issuer: str, signature: bytes):
    signing_input = token.rsplit(".", 1)[0].encode("ascii")
    try:
        _verify_key(issuer).verify(signing_input, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise JwtError("the JWT signature does not verify with its issuer %s" % issuer) from None


def _check_times(claims: dict, now: int):
    expires = claims.get("exp") or 0
    not_before = claims.get("nbf") or 0
    if expires > 0 and now > expires:
        raise JwtError("the JWT expired at %d" % expires)
    if not_before > 0 and not_before > now:
        raise JwtError("the JWT is not valid before %d" % not_before)


def signed_by(child: DecodedJwt, parent: DecodedJwt) -> bool:
    """Tell whether parent vouches for child, as nats-server decides it.

    An operator vouches for accounts signed by its own key (unless it demands
    signing keys) or by one of its signing keys. An account vouches for
    users signed by its own key, or by one of its signing keys when the user
    names the account in ``issuer_account``.
    """
    signing_keys = signing_key_names(parent.nats)
    if parent.kind == OPERATOR and child.kind == ACCOUNT:
        if child.issuer == parent.subject:
            return not parent.nats.get("strict_signing_key_usage")
        return child.issuer in signing_keys
    if parent.kind == ACCOUNT and child.kind == USER:
        if child.issuer == parent.subject:
            return True
        return child.nats.get("issuer_account") == parent.subject and child.issuer in signing_keys
    return False


def signing_key_names(nats: dict) -> list:
    """The public signing keys in a token's nats claims.

    Accounts may list scoped signing keys as objects with a "key" field.
    """
    return [entry.get("key") if isinstance(entry, dict) else entry for entry in nats.get("signing_keys") or ()]


# --- .creds files ----------------------------------------------------------

_CREDS_TEMPLATE = """-----BEGIN NATS USER JWT-----
{jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{seed}
------END USER NKEY SEED------

*************************************************************
"""

# A block is a dashed BEGIN line, one line of content, a dashed END line,
# the shape nats clients look for.
_CREDS_BLOCK = re.compile(r"-{3,}[^\n]*-{3,}\r?\n([\w\-.=]+)\r?\n-{3,}[^\n]*-{3,}")


def render_creds(user_jwt: str, user_seed: str) -> str:
    """Render a .creds file exactly as nsc writes it."""
    if not user_seed.startswith("SU"):
        raise JwtError("a .creds file needs a user seed")
    return _CREDS_TEMPLATE.format(jwt=user_jwt.strip(), seed=user_seed.strip())


def parse_creds(text: str) -> tuple:
    """Return (jwt, seed) from the contents of a .creds file."""
    blocks = _CREDS_BLOCK.findall(text)
    if len(blocks) < 2:
        raise JwtError("the .creds data does not hold a JWT block and a seed block")
    return blocks[0], blocks[1]
