"""Test material for the account server: a REGION1 operator and its JWTs.

The operator, its SYS account and the sys user come from nsc_store (as the
jwt_* modules make them); account and user variations (older iat, expiry,
limits) are signed with nats_jwt, the code the account server runs too.
"""

from __future__ import annotations

import json
import os
import sys
import time

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import ACCOUNT, USER, KeyPair
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    NscPaths,
    load_key,
    plan_account,
    plan_operator,
    plan_user,
)

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
PACKAGE_DIR = os.path.join(COLLECTION_ROOT, "extensions", "acs")
PACKAGE_SRC = os.path.join(PACKAGE_DIR, "src")
SHARED_JWT = os.path.join(COLLECTION_ROOT, "plugins", "module_utils", "nats_jwt.py")


def use_source_tree():
    """Import cmsgs_acs from extensions/acs/src, its JWT code from module_utils.

    In the wheel, cmsgs_acs/nats_jwt.py is a copy made at build time (a
    test compares the copy); from the source tree the original is used.
    """
    if PACKAGE_SRC not in sys.path:
        sys.path.insert(0, PACKAGE_SRC)
    sys.modules.setdefault("cmsgs_acs.nats_jwt", nats_jwt)
    import cmsgs_acs
    cmsgs_acs.nats_jwt = nats_jwt
    return cmsgs_acs


def _applied(outcome):
    outcome.plan.apply()
    return outcome


class Region:
    """Operator REGION1 with a signing key, SYS and its user, in an nsc store."""

    def __init__(self, root, name: str = "REGION1"):
        self.root = str(root)
        self.name = name
        self.paths = NscPaths(os.path.join(self.root, "nsc"))
        _applied(plan_operator(self.paths, name, signing_keys=1))
        self.sys_account = _applied(plan_account(self.paths, name, "SYS"))
        operator = _applied(plan_operator(self.paths, name, system_account="SYS"))
        self.operator_jwt_path = operator.entity.jwt_path
        self.operator_token = operator.token
        self.operator_key = operator.entity.public_key
        self.signing_key = load_key(self.paths, operator.extra["signing_keys"][0])
        self.sys_pub = self.sys_account.entity.public_key
        self.sys_jwt_path = self.sys_account.entity.jwt_path
        self.sys_creds = _applied(plan_user(self.paths, name, "SYS", "sys")).extra["creds_path"]
        self.app = _applied(plan_account(self.paths, name, "APP", use_signing_key=True))
        self.app_pub = self.app.entity.public_key
        self.app_token = self.app.token
        self.app_creds = _applied(plan_user(self.paths, name, "APP", "app")).extra["creds_path"]

    def mint(self, account: KeyPair, name: str = "ACC", limits: dict | None = None, issued_at: int | None = None,
             expires: int | None = None, signer: KeyPair | None = None, not_before: int | None = None) -> str:
        """An account JWT for account, signed by the operator's signing key."""
        signer = signer or self.signing_key
        nats = {"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS, **nats_jwt.DEFAULT_JETSTREAM_LIMITS, **(limits or {})),
                "default_permissions": {"pub": {}, "sub": {}}}
        claims = nats_jwt.build_claims(ACCOUNT, name, account.public_key, signer.public_key, nats)
        if expires is not None:
            claims["exp"] = expires
        if not_before is not None:
            claims["nbf"] = not_before
        return nats_jwt.sign_claims(claims, signer, issued_at)

    def user_creds(self, account: KeyPair, name: str, directory) -> str:
        """A user of account (signed by the account key) as a .creds file."""
        user = KeyPair(nats_jwt.new_seed(USER))
        nats = dict({"pub": {}, "sub": {}}, **nats_jwt.DEFAULT_USER_LIMITS)
        claims = nats_jwt.build_claims(USER, name, user.public_key, account.public_key, nats)
        token = nats_jwt.sign_claims(claims, account)
        path = os.path.join(str(directory), "%s-%s.creds" % (name, user.public_key[:8]))
        with open(path, "w") as handle:
            handle.write(nats_jwt.render_creds(token, user.seed))
        os.chmod(path, 0o600)
        return path


def new_account() -> KeyPair:
    return KeyPair(nats_jwt.new_seed(ACCOUNT))


def acs_config(region: Region, store_dir, port: int = 9090, **extra) -> dict:
    config = {
        "listen_host": "127.0.0.1",
        "listen_port": port,
        "store_dir": str(store_dir),
        "operator_jwt_path": region.operator_jwt_path,
        "system_account_jwt_path": region.sys_jwt_path,
        "sys_creds_path": region.sys_creds,
        "nats_urls": [],
        "primary_url": "",
        "max_body_bytes": 65536,
        "request_timeout_seconds": 5,
        "pack_max": 10000,
        "delete_expired": False,
        "log_level": "info",
    }
    config.update(extra)
    return config


def write_config(path, config: dict) -> str:
    with open(str(path), "w") as handle:
        json.dump(config, handle, indent=2)
    return str(path)


def now() -> int:
    return int(time.time())
