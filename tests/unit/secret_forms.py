# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every form in which a key could end up printed, to show that none of them did.

A check that looks for "BEGIN" or for the seed string alone misses a key that
leaked as base64 of its PEM, as its DER, or as the raw bytes behind a seed.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def _encodings(raw):
    return [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def pem_key_forms(pem):
    """The PEM itself, each of its base64 lines, its DER in one line and as hex,
    base64 of the whole PEM, and the private number of an EC or Ed25519 key."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    lines = [line for line in text.splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(lines))
    forms = [text.strip(), "".join(lines)] + lines + _encodings(der) + [base64.b64encode(text.encode()).decode()]
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        return forms
    if isinstance(key, ec.EllipticCurvePrivateKey):
        number = key.private_numbers().private_value
        forms += ["%x" % number, str(number)] + _encodings(number.to_bytes((number.bit_length() + 7) // 8, "big"))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        forms += _encodings(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))
    return forms


def pem_file_key_forms(path):
    with open(path) as handle:
        return pem_key_forms(handle.read())


def seed_forms(seed):
    """An nkey seed as text, as base64 of that text, and the raw 32 bytes it encodes."""
    import nkeys

    _prefix, raw = nkeys.decode_seed(seed.encode())
    return [seed, base64.b64encode(seed.encode()).decode()] + _encodings(bytes(raw))


def leaked_forms(forms, text):
    """How many of the forms occur in text (a count, never the secret itself)."""
    return sum(1 for form in forms if form in text)
