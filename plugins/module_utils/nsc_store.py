# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operators, accounts and users kept in an nsc store.

The files follow nsc's own layout, so that the nsc tool can work on an
[nsc] volume this collection wrote, and the other way round:

    <store_dir>/<op>/.nsc                          operator marker
    <store_dir>/<op>/<op>.jwt                      operator JWT
    <store_dir>/<op>/accounts/<acc>/<acc>.jwt      account JWT
    <store_dir>/<op>/accounts/<acc>/users/<u>.jwt  user JWT
    <keys_dir>/keys/<O|A|U>/<key[1:3]>/<key>.nk    seed, no newline
    <keys_dir>/creds/<op>/<acc>/<u>.creds          user credentials

An entity's identity is the subject of its JWT in the store; its seed comes
from the keys directory. Keys are created only for entities that have no
JWT yet: a JWT whose seed is missing is an error, never a reason to make a
new key, because everything signed by the old key would be orphaned.

Every change is first collected in a Plan, so check mode can report what
would change without touching a file.
"""

from __future__ import annotations

import json
import os
import stat
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import atomic_file, nats_jwt, volume_layout
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import (
    ACCOUNT,
    OPERATOR,
    USER,
    JwtError,
    KeyPair,
)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
NSC_MARKER = ".nsc"
NSC_STORE_VERSION = "1"
# Shown instead of keys that check mode made up but did not keep.
PLANNED_KEY = "(key created on apply)"


class StoreError(Exception):
    """A store, key or option problem, worded for the person running the play."""


class MissingParentError(StoreError):
    """The operator or account an entity belongs to does not exist (yet)."""


# --- layout ----------------------------------------------------------------

def check_name(name, option: str) -> str:
    """Refuse names that nsc could not use as a file or directory name."""
    if not isinstance(name, str) or not name:
        raise StoreError("%s must be a non-empty name" % option)
    if name != name.strip():
        raise StoreError("%s %r has leading or trailing spaces, which nsc strips; remove them" % (option, name))
    if name in (".", "..") or "/" in name or any(ord(char) < 32 for char in name):
        raise StoreError("%s %r cannot be used as a file name; use letters, digits, '-' or '_'" % (option, name))
    return name


class NscPaths:
    """Where nsc keeps each file, under one [nsc] volume or two directories."""

    def __init__(self, nsc_dir: str | None = None, store_dir: str | None = None, keys_dir: str | None = None):
        if not nsc_dir and not (store_dir and keys_dir):
            raise StoreError("set nsc_dir, or both store_dir and keys_dir")
        self.store_dir = store_dir or os.path.join(nsc_dir, "stores")
        self.keys_dir = keys_dir or os.path.join(nsc_dir, "keys")

    def operator_dir(self, operator: str) -> str:
        return os.path.join(self.store_dir, operator)

    def operator_marker(self, operator: str) -> str:
        return os.path.join(self.operator_dir(operator), NSC_MARKER)

    def operator_jwt(self, operator: str) -> str:
        return os.path.join(self.operator_dir(operator), operator + ".jwt")

    def accounts_dir(self, operator: str) -> str:
        return os.path.join(self.operator_dir(operator), "accounts")

    def account_jwt(self, operator: str, account: str) -> str:
        return os.path.join(self.accounts_dir(operator), account, account + ".jwt")

    def user_jwt(self, operator: str, account: str, user: str) -> str:
        return os.path.join(self.accounts_dir(operator), account, "users", user + ".jwt")

    def seed(self, public_key: str) -> str:
        return os.path.join(self.keys_dir, "keys", public_key[0], public_key[1:3], public_key + ".nk")

    def creds(self, operator: str, account: str, user: str) -> str:
        return os.path.join(self.keys_dir, "creds", operator, account, user + ".creds")


# --- files -----------------------------------------------------------------

def read_text(path: str) -> str | None:
    """Return a file's text, or None when it does not exist."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeError) as exc:
        raise StoreError("cannot read %s: %s" % (path, exc)) from None


def make_private_dirs(path: str):
    """Create path and missing parents as 0700, as nsc does.

    Directories that already exist keep their modes: the volume root and its
    owner are the administrator's choice.
    """
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory, PRIVATE_DIR_MODE)
        os.chmod(directory, PRIVATE_DIR_MODE)


def write_atomic(path: str, data: str, mode: int):
    """Replace a file in one step, created with its final mode, in a private folder.

    A seed is never readable by others, not even for a moment, and a crash
    never leaves a half-written JWT (see atomic_file).
    """
    make_private_dirs(os.path.dirname(path))
    atomic_file.write_atomic(path, data, mode)


def _mode_of(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


class Plan:
    """The file changes one module run needs, applied in the order recorded.

    Seeds are recorded before the JWTs that name them, so an interrupted run
    never leaves a JWT whose seed was not written.
    """

    def __init__(self):
        self._steps = []
        self._paths = set()

    @property
    def changed(self) -> bool:
        return bool(self._steps)

    @property
    def paths(self) -> list:
        return [step[1] for step in self._steps]

    def ensure_dir(self, path: str):
        if not os.path.isdir(path):
            self._steps.append(("dir", path, None, None))

    def create_file(self, path: str, data: str, mode: int):
        """Write a file only if it is missing; an existing one is left alone."""
        if path not in self._paths and _mode_of(path) is None:
            self.ensure_file(path, data, mode)

    def ensure_mode(self, path: str, mode: int):
        """Fix the mode of an existing file, keeping its contents."""
        data = read_text(path)
        if data is not None:
            self.ensure_file(path, data, mode)

    def ensure_file(self, path: str, data: str, mode: int):
        """Write data unless the file holds it already; fix a wrong mode."""
        if path in self._paths:
            return
        self._paths.add(path)
        current_mode = _mode_of(path)
        if current_mode is None or read_text(path) != data:
            self._steps.append(("write", path, data, mode))
        elif current_mode != mode:
            self._steps.append(("chmod", path, None, mode))

    def apply(self):
        """Carry out every step; errors name the file that failed."""
        for action, path, data, mode in self._steps:
            try:
                if action == "dir":
                    make_private_dirs(path)
                elif action == "write":
                    write_atomic(path, data, mode)
                else:
                    os.chmod(path, mode)
            except OSError as exc:
                raise StoreError("cannot write %s: %s" % (path, exc)) from None


# --- keys and JWTs in the store --------------------------------------------

def read_jwt(path: str, kind: str) -> nats_jwt.DecodedJwt | None:
    """Decode and verify a JWT from the store; None when the file is absent."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return nats_jwt.decode(text, expected_kind=kind, check_times=False)
    except JwtError as exc:
        raise StoreError("%s is not a valid NATS %s JWT (%s); restore it from a backup or "
                         "remove it and its seed to start that %s afresh" % (path, kind, exc, kind)) from None


def load_key(paths: NscPaths, public_key: str) -> KeyPair | None:
    """Return the key pair of public_key from the keys dir, None if absent."""
    path = paths.seed(public_key)
    text = read_text(path)
    if text is None:
        return None
    try:
        pair = KeyPair(text.strip())
    except JwtError:
        raise StoreError("%s does not hold an nkeys seed; restore it from a backup" % path) from None
    if pair.public_key != public_key:
        raise StoreError("%s holds the seed of %s, not of %s; restore the right file"
                         % (path, pair.public_key, public_key))
    return pair


def record_new_key(paths: NscPaths, plan: Plan, kind: str) -> KeyPair:
    """Make a key pair and plan to store its seed (0600, no newline)."""
    pair = KeyPair(nats_jwt.new_seed(kind))
    plan.ensure_file(paths.seed(pair.public_key), pair.seed, PRIVATE_FILE_MODE)
    return pair


class Entity:
    """An operator, account or user: its existing JWT and its key pair."""

    def __init__(self, jwt_path: str, existing, pair: KeyPair, created: bool):
        self.jwt_path = jwt_path
        self.existing = existing
        self.pair = pair
        self.created = created

    @property
    def public_key(self) -> str:
        return self.pair.public_key

    def current_nats(self, defaults: dict) -> dict:
        """The claims to start from: the stored ones, or defaults if new."""
        if self.existing is None:
            return json.loads(json.dumps(defaults))
        nats = json.loads(json.dumps(self.existing.nats))
        nats.pop("type", None)
        nats.pop("version", None)
        return nats


def resolve_entity(paths: NscPaths, plan: Plan, kind: str, jwt_path: str) -> Entity:
    """Find an entity's identity, or plan a new key when nothing exists."""
    existing = read_jwt(jwt_path, kind)
    if existing is None:
        return Entity(jwt_path, None, record_new_key(paths, plan, kind), True)
    pair = load_key(paths, existing.subject)
    if pair is None:
        raise StoreError(
            "%s belongs to %s %s, but its seed %s is missing. Restore the seed from a backup; "
            "a new key would orphan everything signed by the old one"
            % (jwt_path, kind, existing.subject, paths.seed(existing.subject)))
    plan.ensure_mode(paths.seed(existing.subject), PRIVATE_FILE_MODE)
    return Entity(jwt_path, existing, pair, False)


def load_parent(path: str, kind: str, name: str, module_name: str) -> nats_jwt.DecodedJwt:
    """Read the operator or account an entity hangs under; it must exist."""
    parent = read_jwt(path, kind)
    if parent is None:
        raise MissingParentError("%s %s not found: %s does not exist; create it first with %s"
                                 % (kind, name, path, module_name))
    return parent


def add_signing_keys(paths: NscPaths, plan: Plan, kind: str, current: list, wanted: int | None) -> list:
    """Keep every signing key and create more until there are ``wanted``.

    Keys are never removed here: tokens signed with a removed key stop
    working at once, so removal stays a deliberate step with nsc.
    """
    keys = list(current or [])
    if wanted is None:
        return keys
    if wanted < 0:
        raise StoreError("signing_keys must be 0 or more, not %d" % wanted)
    while len(keys) < wanted:
        keys.append(record_new_key(paths, plan, kind).public_key)
    return keys


def choose_signer(paths: NscPaths, parent: nats_jwt.DecodedJwt, use_signing_key: bool, current_issuer: str | None) -> str:
    """Pick the public key that signs for parent.

    Without use_signing_key that is the parent's own key. Otherwise it is a
    signing key of the parent whose seed is in the keys dir, preferring the
    one that signed the current token so that nothing is re-issued for the
    choice alone.
    """
    if not use_signing_key:
        return parent.subject
    candidates = [key for key in parent.nats.get("signing_keys") or [] if isinstance(key, str)]
    if current_issuer in candidates and os.path.exists(paths.seed(current_issuer)):
        return current_issuer
    for key in candidates:
        if os.path.exists(paths.seed(key)):
            return key
    raise StoreError("use_signing_key is set, but %s %s has no signing key whose seed is in %s; "
                     "give it signing keys first (option signing_keys)"
                     % (parent.kind, parent.name, os.path.join(paths.keys_dir, "keys")))


def signer_pair(paths: NscPaths, public_key: str) -> KeyPair:
    """Load the seed that signs for a parent; needed only when re-issuing."""
    pair = load_key(paths, public_key)
    if pair is None:
        raise StoreError("cannot sign: the seed of %s is missing at %s; restore it from a backup"
                         % (public_key, paths.seed(public_key)))
    return pair


# --- outcome ---------------------------------------------------------------

class Outcome:
    """What a run decided: the token, the planned writes, what to report."""

    def __init__(self, entity: Entity, plan: Plan, claims: dict, token: str, new_keys: list):
        self.entity = entity
        self.plan = plan
        self.claims = claims
        self.token = token
        self.new_keys = new_keys
        self.extra = {}
        self.creds = None
        self.warnings = []

    @property
    def changed(self) -> bool:
        return self.plan.changed

    def _hide_planned_keys(self, value, check_mode: bool):
        """Replace keys made up in check mode: they would differ on apply."""
        if not check_mode or not self.new_keys:
            return value
        text = json.dumps(value)
        for key in self.new_keys:
            text = text.replace(key, PLANNED_KEY)
        return json.loads(text)

    def result(self, check_mode: bool) -> dict:
        """Return values of the module; never the seed or creds contents."""
        hides_token = check_mode and bool(self.new_keys)
        values = {
            "changed": self.changed,
            "public_key": self.entity.public_key,
            "jwt": None if hides_token else self.token,
            "jwt_path": self.entity.jwt_path,
        }
        values.update(self.extra)
        return self._hide_planned_keys(values, check_mode)

    def diff(self, check_mode: bool) -> dict:
        """The claims before and after, without iat/jti, as readable JSON."""
        before = nats_jwt.comparable(self.entity.existing.claims) if self.entity.existing else None
        after = nats_jwt.comparable(self.claims)
        return self._hide_planned_keys({
            "before_header": self.entity.jwt_path,
            "after_header": self.entity.jwt_path,
            "before": _pretty(before),
            "after": _pretty(after),
        }, check_mode)


def _pretty(claims: dict | None) -> str:
    return "" if claims is None else json.dumps(claims, indent=2) + "\n"


def issue(plan: Plan, paths: NscPaths, entity: Entity, claims: dict, issued_at: int | None) -> str:
    """Sign and plan to write the JWT, unless only iat/jti would change."""
    if entity.existing is not None and nats_jwt.same_claims(entity.existing.claims, claims):
        return entity.existing.token
    signer = entity.pair if claims["iss"] == entity.public_key else signer_pair(paths, claims["iss"])
    token = nats_jwt.sign_claims(claims, signer, issued_at)
    plan.ensure_file(entity.jwt_path, token, PRIVATE_FILE_MODE)
    return token


def _new_keys(entity: Entity, before: list, after: list) -> list:
    keys = [key for key in after if key not in before and isinstance(key, str)]
    return ([entity.public_key] if entity.created else []) + keys


# --- operators -------------------------------------------------------------

def _check_url_scheme(url: str, option: str, schemes: tuple | None):
    parts = urlsplit(url)
    if not parts.scheme:
        raise StoreError("%s %r needs a scheme, e.g. https://acs.example.com/jwt/v1" % (option, url))
    if schemes is None:
        return
    if parts.scheme.lower() not in schemes:
        raise StoreError("%s %r: only nats:// or tls:// URLs are allowed" % (option, url))
    if parts.username or parts.password or parts.path:
        raise StoreError("%s %r: give host and port only, without credentials or a path" % (option, url))


def _dedupe(values) -> list:
    seen = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen


def resolve_system_account(paths: NscPaths, operator: str, value: str, operator_keys: list) -> str:
    """Turn system_account (an account name or public key) into a key.

    A named account must exist in this operator's store and be signed by
    the operator or one of its signing keys: nats-server refuses a system
    account that the operator does not vouch for.
    """
    if value == "" or nats_jwt.is_public_key(value, ACCOUNT):
        return value
    check_name(value, "system_account")
    account = read_jwt(paths.account_jwt(operator, value), ACCOUNT)
    if account is None:
        raise MissingParentError(
            "system_account: account %s not found at %s; create it with cmsgs.nats.jwt_account first, "
            "or give its public key" % (value, paths.account_jwt(operator, value)))
    if account.issuer not in operator_keys:
        raise StoreError("system_account: account %s was signed by %s, which is not a key of operator %s; "
                         "re-issue it with cmsgs.nats.jwt_account" % (value, account.issuer, operator))
    return account.subject


def plan_operator(paths: NscPaths, name: str, account_server_url: str | None = None,
                  operator_service_urls: list | None = None, system_account: str | None = None,
                  signing_keys: int | None = None, issued_at: int | None = None) -> Outcome:
    """Decide the operator JWT. Options left as None keep their stored value."""
    check_name(name, "name")
    _refuse_new_operator_over_accounts(paths, name)
    plan = Plan()
    entity = resolve_entity(paths, plan, OPERATOR, paths.operator_jwt(name))
    nats = entity.current_nats({})
    before_keys = list(nats.get("signing_keys") or [])

    if account_server_url:
        _check_url_scheme(account_server_url, "account_server_url", None)
    if account_server_url is not None:
        nats["account_server_url"] = account_server_url
    if operator_service_urls is not None:
        for url in operator_service_urls:
            _check_url_scheme(url, "operator_service_urls", ("nats", "tls"))
        nats["operator_service_urls"] = _dedupe(operator_service_urls)
    nats["signing_keys"] = add_signing_keys(paths, plan, OPERATOR, before_keys, signing_keys)
    if system_account is not None:
        nats["system_account"] = resolve_system_account(
            paths, name, system_account, [entity.public_key] + nats["signing_keys"])

    claims = nats_jwt.build_claims(OPERATOR, name, entity.public_key, entity.public_key, nats)
    token = issue(plan, paths, entity, claims, issued_at)
    # An existing marker is nsc's to manage (it may say the operator is managed).
    plan.create_file(paths.operator_marker(name), _marker(name), PRIVATE_FILE_MODE)
    plan.ensure_dir(paths.accounts_dir(name))
    outcome = Outcome(entity, plan, claims, token, _new_keys(entity, before_keys, nats["signing_keys"]))
    outcome.extra["signing_keys"] = nats["signing_keys"]
    return outcome


def _refuse_new_operator_over_accounts(paths: NscPaths, name: str):
    """A missing operator JWT beside existing accounts is a lost file, not a new operator.

    A new operator key would leave every account signed by the old one
    unusable, so the module stops and says how to get the file back.
    """
    if os.path.exists(paths.operator_jwt(name)):
        return
    try:
        accounts = sorted(os.listdir(paths.accounts_dir(name)))
    except FileNotFoundError:
        return
    found = [account for account in accounts if os.path.exists(paths.account_jwt(name, account))]
    if not found:
        return
    issuers = set()
    for account in found:
        try:
            issuers.add(nats_jwt.decode(read_text(paths.account_jwt(name, account)), check_times=False).issuer)
        except JwtError:
            continue
    raise StoreError(
        "the operator JWT %s is missing, but %s still holds %d account JWT(s) (%s) signed by %s. "
        "A new operator key would orphan them, so none was made. Restore %s (and its seed under %s) "
        "from a backup or from a server's copy of the operator JWT; to start a new operator on purpose, "
        "move %s out of the way first"
        % (paths.operator_jwt(name), paths.accounts_dir(name), len(found), ", ".join(found),
           ", ".join(sorted(issuers)) or "an unknown key", paths.operator_jwt(name),
           os.path.join(paths.keys_dir, "keys", "O"), paths.accounts_dir(name)))


def _refuse_new_user_over_creds(jwt_path: str, creds_files: list):
    """A missing user JWT beside existing credentials is a lost file, not a new user.

    A new key would overwrite the .creds that clients use today.
    """
    if os.path.exists(jwt_path):
        return
    existing = [path for path in creds_files if path and os.path.exists(path)]
    if existing:
        raise StoreError(
            "the user JWT %s is missing, but %s exists. A new user key would overwrite it and lock out "
            "every client that uses it, so none was made. Restore %s from a backup (the JWT is also the "
            "first block of the .creds file), or remove %s to issue new credentials on purpose"
            % (jwt_path, " and ".join(existing), jwt_path, " and ".join(existing)))


# Bits a copy's mode must not have: a .creds file holds a seed and is for its
# owner alone; a JWT is public but the server's group reads it, and nobody
# else may change it.
_COPY_FORBIDDEN_BITS = {"creds": 0o077, "jwt": 0o027}


def check_copy_modes(params: dict):
    """Refuse a copy mode that is not a quoted octal string, or that opens a file too far."""
    for prefix, forbidden in _COPY_FORBIDDEN_BITS.items():
        option = prefix + "_mode"
        if option not in params or params[option] is None:
            continue
        value = params[option]
        try:
            mode = volume_layout.parse_mode(value, option, example=0o600)
        except volume_layout.VolumeLayoutError as exc:
            raise StoreError(str(exc)) from None
        if mode & forbidden:
            raise StoreError(
                "%s %r gives access to %s; use at most '%04o'"
                % (option, value, "group or others" if prefix == "creds" else "others, or lets the group write",
                   0o7777 & ~forbidden & 0o666))


def _marker(name: str) -> str:
    """The .nsc file by which nsc recognises an operator directory."""
    info = {"managed": False, "name": name, "kind": OPERATOR, "version": NSC_STORE_VERSION}
    return nats_jwt.go_json(info).decode("utf-8")


# --- accounts --------------------------------------------------------------

def merge_limits(current: dict, limits: dict | None, jetstream: dict | None) -> dict:
    """Apply the limits and jetstream options to the stored limits.

    Each option owns its group of fields: when given, fields it leaves
    unset go back to the defaults (unlimited limits, JetStream off); when
    None, the group keeps its stored values. Global JetStream limits and
    per-tier limits exclude each other, so setting jetstream drops tiers.
    """
    # A field missing from a stored token holds Go's zero value, not a default.
    fields = dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS, **nats_jwt.DEFAULT_JETSTREAM_LIMITS)
    merged = {field: type(default)() for field, default in fields.items()}
    merged.update(current)
    for option, defaults in ((limits, nats_jwt.DEFAULT_ACCOUNT_LIMITS),
                             (jetstream, nats_jwt.DEFAULT_JETSTREAM_LIMITS)):
        if option is None:
            continue
        for field, default in defaults.items():
            value = option.get(field)
            merged[field] = default if value is None else value
    if jetstream is not None:
        merged.pop("tiered_limits", None)
    return merged


def _limit_warnings(limits: dict) -> list:
    if limits.get("conn") == 0:
        return ["limits.conn is 0: nats-server will refuse every connection to this account; "
                "use -1 for no limit"]
    return []


def plan_account(paths: NscPaths, operator: str, name: str, limits: dict | None = None,
                 jetstream: dict | None = None, signing_keys: int | None = None,
                 use_signing_key: bool = False, issued_at: int | None = None) -> Outcome:
    """Decide the account JWT, signed by the operator or its signing key."""
    check_name(operator, "operator")
    check_name(name, "name")
    parent = load_parent(paths.operator_jwt(operator), OPERATOR, operator, "cmsgs.nats.jwt_operator")
    plan = Plan()
    entity = resolve_entity(paths, plan, ACCOUNT, paths.account_jwt(operator, name))
    # No default_permissions default: the claims always hold it (pub and sub empty).
    nats = entity.current_nats({"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS, **nats_jwt.DEFAULT_JETSTREAM_LIMITS)})
    before_keys = list(nats.get("signing_keys") or [])
    nats["limits"] = merge_limits(nats.get("limits") or {}, limits, jetstream)
    nats["signing_keys"] = add_signing_keys(paths, plan, ACCOUNT, before_keys, signing_keys)

    current_issuer = entity.existing.issuer if entity.existing else None
    issuer = choose_signer(paths, parent, use_signing_key, current_issuer)
    claims = nats_jwt.build_claims(ACCOUNT, name, entity.public_key, issuer, nats)
    token = issue(plan, paths, entity, claims, issued_at)
    outcome = Outcome(entity, plan, claims, token, _new_keys(entity, before_keys, nats["signing_keys"]))
    outcome.extra["signing_keys"] = nats_jwt.signing_key_names(nats)
    outcome.warnings = _limit_warnings(nats["limits"])
    return outcome


# --- users -----------------------------------------------------------------

def _check_subjects(subjects, option: str, allow_queue: bool) -> list:
    """Check subjects as nats-io/jwt validates permissions.

    A subscribe permission may name a queue group after one space
    ("subject queue"); a publish permission may not.
    """
    checked = []
    for subject in subjects or []:
        tokens = subject.split(" ") if isinstance(subject, str) else [""]
        if "" in tokens or len(tokens) > (2 if allow_queue else 1):
            raise StoreError("%s: %r is not a valid subject%s" % (
                option, subject, " (at most 'subject queue')" if allow_queue else " (no spaces)"))
        checked.append(subject)
    return _dedupe(checked)


def user_permissions(permissions: dict) -> dict:
    """Turn the permissions option into the pub/sub claims of a user."""
    claims = {}
    for direction in ("pub", "sub"):
        lists = permissions.get(direction) or {}
        claims[direction] = {
            verdict: _check_subjects(lists.get(verdict), "permissions.%s.%s" % (direction, verdict), direction == "sub")
            for verdict in ("allow", "deny")
        }
    return claims


def plan_user(paths: NscPaths, operator: str, account: str, name: str, permissions: dict | None = None,
              bearer_token: bool = False, use_signing_key: bool = False,
              issued_at: int | None = None, creds_copies: list | None = None) -> Outcome:
    """Decide the user JWT and its nsc .creds file (and refuse to replace ``creds_copies``)."""
    check_name(operator, "operator")
    check_name(account, "account")
    check_name(name, "name")
    load_parent(paths.operator_jwt(operator), OPERATOR, operator, "cmsgs.nats.jwt_operator")
    parent = load_parent(paths.account_jwt(operator, account), ACCOUNT, account, "cmsgs.nats.jwt_account")
    _refuse_new_user_over_creds(paths.user_jwt(operator, account, name),
                                [paths.creds(operator, account, name)] + list(creds_copies or []))
    plan = Plan()
    entity = resolve_entity(paths, plan, USER, paths.user_jwt(operator, account, name))
    # No pub/sub default: the claims always hold both (empty), as nats-io/jwt writes them.
    nats = entity.current_nats(dict(nats_jwt.DEFAULT_USER_LIMITS))
    if permissions is not None:
        nats.update(user_permissions(permissions))
    nats["bearer_token"] = bool(bearer_token)

    current_issuer = entity.existing.issuer if entity.existing else None
    issuer = choose_signer(paths, parent, use_signing_key, current_issuer)
    nats["issuer_account"] = parent.subject if issuer != parent.subject else ""
    claims = nats_jwt.build_claims(USER, name, entity.public_key, issuer, nats)
    token = issue(plan, paths, entity, claims, issued_at)

    creds_path = paths.creds(operator, account, name)
    creds = nats_jwt.render_creds(token, entity.pair.seed)
    plan.ensure_file(creds_path, creds, PRIVATE_FILE_MODE)
    outcome = Outcome(entity, plan, claims, token, _new_keys(entity, [], []))
    outcome.extra["creds_path"] = creds_path
    outcome.creds = creds
    return outcome


# --- running a module ------------------------------------------------------

def ensure_copy(module, dest: str, content: str, owner, group, mode) -> bool:
    """Keep a copy of a JWT or .creds file at dest, with owner, group, mode.

    The directory must exist already: it is a volume the play provisions,
    and guessing its owner and mode here would be wrong more often than not.
    """
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        raise StoreError("cannot copy to %s: directory %s does not exist; create it first" % (dest, directory))
    changed = read_text(dest) != content
    if module.check_mode:
        if not os.path.exists(dest):
            return True
    elif changed:
        try:
            write_atomic(dest, content, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise StoreError("cannot write %s: %s" % (dest, exc)) from None
    file_args = module.load_file_common_arguments({"path": dest, "owner": owner, "group": group, "mode": mode})
    return module.set_fs_attributes_if_different(file_args, changed)


def _apply(module, planner, copies) -> dict:
    outcome = planner()
    if not module.check_mode:
        outcome.plan.apply()
    result = outcome.result(module.check_mode)
    for dest, content, owner, group, mode in copies(outcome):
        if dest:
            result["changed"] = ensure_copy(module, dest, content, owner, group, mode) or result["changed"]
    for warning in outcome.warnings:
        module.warn(warning)
    if module._diff:
        result["diff"] = outcome.diff(module.check_mode)
    return result


def run_module(module, planner, copies) -> None:
    """Plan, apply unless in check mode, keep the copies, and exit.

    planner returns an Outcome; copies(outcome) lists the extra files as
    (dest, content, owner, group, mode) tuples, dest None when not wanted.
    In check mode a missing operator or account is not an error: a play
    that creates it in an earlier task would create it on a real run.
    """
    try:
        check_copy_modes(module.params)
        result = _apply(module, planner, copies)
    except MissingParentError as exc:
        if not module.check_mode:
            module.fail_json(msg=str(exc))
        module.warn("check mode: %s" % exc)
        result = {"changed": True}
    except (StoreError, JwtError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


def new_module(options: dict, copy_prefix: str, copy_default_mode: str):
    """The AnsibleModule of a jwt_* module: its own options, the store's and
    one extra copy's (<copy_prefix>_dest/_owner/_group/_mode); it fails at
    once when the nkeys library is missing."""
    argument_spec = dict(options)
    argument_spec.update(store_argument_spec())
    argument_spec.update(copy_argument_spec(copy_prefix, copy_default_mode))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not nats_jwt.HAS_NKEYS:
        module.fail_json(msg=missing_required_lib("nkeys"), exception=nats_jwt.NKEYS_IMPORT_ERROR)
    return module


def store_argument_spec() -> dict:
    """Options every nsc-store module takes to find the store and the keys."""
    return {
        "nsc_dir": {"type": "path"},
        "store_dir": {"type": "path"},
        "keys_dir": {"type": "path"},
    }


def copy_argument_spec(prefix: str, default_mode: str) -> dict:
    """Options for an extra copy of a file: <prefix>_dest/_owner/_group/_mode."""
    return {
        prefix + "_dest": {"type": "path"},
        prefix + "_owner": {"type": "str"},
        prefix + "_group": {"type": "str"},
        prefix + "_mode": {"type": "raw", "default": default_mode},
    }


def paths_from_params(params: dict) -> NscPaths:
    return NscPaths(params["nsc_dir"], params["store_dir"], params["keys_dir"])


def copy_from_params(params: dict, prefix: str, content: str) -> tuple:
    """One (dest, content, owner, group, mode) entry for run_module()."""
    return (params[prefix + "_dest"], content, params[prefix + "_owner"],
            params[prefix + "_group"], params[prefix + "_mode"])
