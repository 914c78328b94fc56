# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read NATS JWTs on the controller.

Documented in nats_jwt_claims.yml and nats_jwt_error.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
nats_jwt = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt")


class _Unusable(Exception):
    """Why a value cannot be used as the JWT asked for."""


def _decode(token, kind, check_times):
    """Decode and verify a token; error texts never repeat the token.

    The token may be a credential handed over from a vault (the Region One
    Token), so it must not end up in a failed task's message.
    """
    kinds = (nats_jwt.OPERATOR, nats_jwt.ACCOUNT, nats_jwt.USER)
    if kind is not None and kind not in kinds:
        raise AnsibleFilterError("kind must be one of %s, not %r" % (", ".join(kinds), kind))
    if not nats_jwt.HAS_NKEYS:
        raise AnsibleFilterError("the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs")
    if not isinstance(token, (str, bytes)):
        raise _Unusable("expected a JWT as text, got %s" % type(token).__name__)
    text = to_text(token, errors="surrogate_or_strict").strip()
    if not text:
        raise _Unusable("the value is empty")
    try:
        return nats_jwt.decode(text, expected_kind=kind, check_times=check_times)
    except nats_jwt.JwtError as exc:
        raise _Unusable(str(exc)) from None


def nats_jwt_claims(token, kind=None, check_times=True):
    """The verified claims of a NATS JWT; fails saying why it is unusable."""
    try:
        return _decode(token, kind, check_times).claims
    except _Unusable as exc:
        raise AnsibleFilterError("nats_jwt_claims: not a valid NATS %s: %s" % (_what(kind), exc)) from None


def nats_jwt_error(token, kind=None, check_times=True):
    """Why a value is not a usable NATS JWT, or '' when it is.

    Lets a role's preflight name the variable at fault and the reason in one
    message instead of failing inside a template.
    """
    try:
        _decode(token, kind, check_times)
    except _Unusable as exc:
        return "not a valid NATS %s: %s" % (_what(kind), exc)
    return ""


def _what(kind):
    return "%s JWT" % kind if kind else "JWT"


class FilterModule:
    """NATS JWT filters."""

    def filters(self):
        return {"nats_jwt_claims": nats_jwt_claims, "nats_jwt_error": nats_jwt_error}
