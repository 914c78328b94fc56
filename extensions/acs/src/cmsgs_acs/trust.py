# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which account JWTs this server accepts: the checks of a push, in order.

The operator JWT names the keys that may sign accounts (its own key and
its signing keys). Every JWT that enters the store, by a push, a pack
from the primary or a peer, or a notification, passes the same checks.
"""

from __future__ import annotations

import time

from cmsgs_acs import nats_jwt
from cmsgs_acs.nats_jwt import ACCOUNT, OPERATOR, JwtError


class Refused(Exception):
    """A JWT this server will not store; status is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Operator:
    """The trusted operator, read once at start.

    With a pinned key (operator_public_key), an operator JWT of another key
    is refused: whoever can replace the file must not move the server, and
    every account it serves, to an operator of their own.
    """

    def __init__(self, token: str, pinned_key: str = "", source: str = "operator_jwt"):
        try:
            decoded = nats_jwt.decode(token, expected_kind=OPERATOR, check_times=False)
        except JwtError as exc:
            raise ValueError("the operator JWT (%s) is not usable: %s" % (source, exc)) from None
        if pinned_key and decoded.subject != pinned_key:
            raise ValueError("%s holds operator %s, but operator_public_key pins operator %s; put back the "
                             "operator JWT of %s, or, if the operator really changed, set operator_public_key to "
                             "the new key" % (source, decoded.subject, pinned_key, pinned_key))
        self.token = decoded.token
        self.decoded = decoded
        self.name = decoded.name
        self.public_key = decoded.subject
        self.system_account = decoded.nats.get("system_account", "")
        self.trusted_keys = frozenset([decoded.subject] + nats_jwt.signing_key_names(decoded.nats))


def _validation_issues(claims: dict, now: int) -> list:
    """Blocking issues nats-io/jwt's AccountClaims.Validate would report.

    Signature, key kinds and layout are checked by nats_jwt.decode already;
    these are the time checks and the account parts a server would refuse.
    """
    issues = []
    expires = claims.get("exp") or 0
    not_before = claims.get("nbf") or 0
    if expires and now > expires:
        issues.append("claim is expired (exp %d is before now %d)" % (expires, now))
    if not_before and not_before > now:
        issues.append("claim is not yet valid (nbf %d is after now %d)" % (not_before, now))
    nats = claims.get("nats") or {}
    for key in nats_jwt.signing_key_names(nats):
        if not nats_jwt.is_public_key(key, ACCOUNT):
            issues.append("%r is not a valid account signing key" % (key,))
    limits = nats.get("limits") or {}
    if not isinstance(limits, dict):
        issues.append("limits must be an object")
    else:
        for name, value in limits.items():
            if name != "tiered_limits" and not isinstance(value, (int, bool)):
                issues.append("limit %s must be a number or a boolean, not %r" % (name, value))
    for section in ("imports", "exports"):
        entries = nats.get(section) or []
        if not isinstance(entries, list):
            issues.append("%s must be a list" % section)
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("subject"):
                issues.append("every entry of %s needs a subject" % section)
    revocations = nats.get("revocations") or {}
    if not isinstance(revocations, dict):
        issues.append("revocations must be an object")
    return issues


VALIDATION_HEADER = ("The server was unable to update your account JWT. "
                     "One or more validation issues occurred.")


def check_account(operator: Operator, pub: str, body: bytes, now: int | None = None) -> nats_jwt.DecodedJwt:
    """Decode and check a pushed JWT for account pub; raise Refused if it fails."""
    now = int(time.time()) if now is None else now
    try:
        token = body.decode("ascii").strip()
    except UnicodeError:
        raise Refused(400, "bad JWT in request: the body is not ASCII text") from None
    if not token:
        raise Refused(400, "bad JWT in request: the body is empty; send the account JWT as the body")
    try:
        decoded = nats_jwt.decode(token, check_times=False)
    except JwtError as exc:
        raise Refused(400, "bad JWT in request: %s" % exc) from None
    if decoded.kind != ACCOUNT:
        raise Refused(400, "bad JWT in request: expected an account JWT, found %s JWT" % nats_jwt.with_article(decoded.kind))
    if decoded.subject != pub:
        raise Refused(400, "pub keys don't match: the path names %s, the JWT's subject is %s"
                      % (pub, decoded.subject))
    if not nats_jwt.is_public_key(decoded.issuer, OPERATOR):
        raise Refused(400, "Bad JWT Issuer in request: %s is not an operator key (self-signed or "
                      "account-signed accounts are not accepted)" % decoded.issuer)
    if decoded.issuer not in operator.trusted_keys:
        raise Refused(400, "untrusted issuer in request: %s is neither the key of operator %s (%s) "
                      "nor one of its signing keys" % (decoded.issuer, operator.name, operator.public_key))
    issues = _validation_issues(decoded.claims, now)
    if issues:
        raise Refused(400, VALIDATION_HEADER + "".join("\n\t - %s" % issue for issue in issues))
    return decoded
