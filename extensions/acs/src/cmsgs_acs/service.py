# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account server's state and the one path by which a JWT is stored."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from cmsgs_acs import __version__, nats_jwt
from cmsgs_acs.config import Config
from cmsgs_acs.metrics import Metrics
from cmsgs_acs.store import OlderJwt, Store
from cmsgs_acs.trust import Operator, Refused, check_account

LOG = logging.getLogger("cmsgs_acs")
PUSH_LOG = logging.getLogger("cmsgs_acs.push")
# An nkeys seed: S, the key type, then base32. Reasons quote claims and keys
# from the request; a seed pasted into a claim must still not reach the log.
SEED_PATTERN = re.compile(r"S[OACNUPX][A-Z2-7]{50,}")
# Seeds are searched for in each run of base32 letters. A run that is exactly
# a valid public key is kept: some account keys hold "SA…"/"SX…" near their
# start and would otherwise be logged as "A[seed]".
BASE32_RUN = re.compile(r"[A-Z2-7]{52,}")


def redact_seeds(text: str) -> str:
    """text with every seed-like run replaced by [seed]; public keys stay readable."""
    def hide(match):
        run = match.group(0)
        if nats_jwt.key_kind(run) is not None:
            return run
        return SEED_PATTERN.sub("[seed]", run)
    return BASE32_RUN.sub(hide, text)


class Service:
    """Configuration, trusted operator, store and counters, shared by HTTP and NATS."""

    def __init__(self, config: Config):
        self.config = config
        self.version = __version__
        self.operator = Operator(config.operator_jwt, config.operator_public_key, config.operator_source)
        self.store = Store(config.store_dir)
        self.metrics = Metrics()
        self.system_account_jwt = None
        self.nats = None  # a NatsLink once started
        if config.system_account_jwt_path:
            self.system_account_jwt = self._read_system_account(config.system_account_jwt_path)
        if config.nats_urls:
            self._check_creds(config.sys_creds_path)

    def _read_system_account(self, path: str):
        try:
            with open(path, "rb") as handle:
                data = handle.read().strip()
            decoded = nats_jwt.decode(data.decode("ascii"), expected_kind=nats_jwt.ACCOUNT, check_times=False)
        except (OSError, UnicodeError, nats_jwt.JwtError) as exc:
            raise ValueError("system_account_jwt_path %s is not a readable account JWT: %s" % (path, exc)) from None
        # Served as SYS to every server with the url resolver: it must be the
        # system account of the operator this server trusts, signed by it.
        if not self.operator.system_account:
            raise ValueError("system_account_jwt_path %s cannot be the system account of operator %s (%s), which "
                             "names none; issue the operator JWT again with its system account set"
                             % (path, self.operator.name, self.operator.public_key))
        if decoded.subject != self.operator.system_account:
            raise ValueError("system_account_jwt_path %s holds account %s, but operator %s names %s as its "
                             "system account" % (path, decoded.subject, self.operator.name,
                                                 self.operator.system_account))
        if decoded.issuer not in self.operator.trusted_keys:
            raise ValueError("system_account_jwt_path %s holds account %s signed by %s, which is neither the key of "
                             "operator %s (%s) nor one of its signing keys; put back the SYS.jwt this operator "
                             "issued" % (path, decoded.subject, decoded.issuer, self.operator.name,
                                         self.operator.public_key))
        return decoded

    @staticmethod
    def _check_creds(path: str):
        """Read the SYS creds once at start so that a wrong path fails now (nothing of it is shown)."""
        try:
            with open(path, encoding="ascii") as handle:
                token, _seed = nats_jwt.parse_creds(handle.read())
            user = nats_jwt.decode(token, expected_kind=nats_jwt.USER, check_times=False)
        except (OSError, UnicodeError, nats_jwt.JwtError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a .creds file of a NATS user"
            raise ValueError("sys_creds_path %s cannot be used: %s" % (path, reason)) from None
        return user

    def open(self):
        self.store.open()

    @property
    def nats_connected(self) -> bool:
        return self.nats is not None and self.nats.connected

    def lookup(self, pub: str):
        """The stored entry, or the configured system account JWT, or None."""
        entry = self.store.get(pub)
        if entry is None and self.system_account_jwt is not None and pub == self.system_account_jwt.subject:
            return None, self.system_account_jwt.token.encode("ascii")
        return entry, (entry.data if entry is not None else None)

    async def push(self, pub: str, body: bytes) -> tuple:
        """Check and store a pushed JWT. Returns (status, message); logs one line.

        The one way a JWT is pushed, whether it came as an HTTP POST or as a
        $SYS.REQ.CLAIMS.UPDATE request over NATS; status is the HTTP answer.
        """
        if self.config.is_secondary:
            return self._pushed(pub, 405, "refused", "this account server is a secondary; push to the primary at %s"
                                % self.config.primary_url)
        if len(body) > self.config.max_body_bytes:
            return self.too_large(pub)
        try:
            decoded = check_account(self.operator, pub, body)
        except Refused as refused:
            return self._pushed(pub, refused.status, "refused", refused.message)
        # A client that hangs up cancels its request's handler (handler_cancellation), and the
        # write's thread would finish without the memory, the notification or the log line
        # following it: the store would then serve the old JWT the file no longer holds.
        return await asyncio.shield(self._store_push(pub, decoded))

    async def _store_push(self, pub: str, decoded) -> tuple:
        try:
            changed, previous = await self.store.save(decoded, refuse_older=True)
        except OlderJwt as older:
            return self._pushed(pub, 409, "refused", (
                "refused: the stored JWT of account %s was issued at %d (jti %s); this one was issued "
                "at %d and is older. Push a JWT issued after the stored one."
                % (pub, older.current.iat, older.current.jti, older.offered.iat)))
        except OSError as exc:
            LOG.error("cannot write the JWT of %s to %s: %s", pub, self.store.directory, exc)
            return self._pushed(pub, 500, "error", "error saving JWT: %s" % exc.strerror)
        if not changed:
            return self._pushed(pub, 200, "unchanged", "the same JWT is stored already")
        if self.nats is not None:
            self.nats.notify(self.store.get(pub))
        return self._pushed(pub, 200, "stored", "jti %s, iat %d" % (decoded.claims.get("jti"), decoded.claims.get("iat", 0)))

    def too_large(self, pub: str) -> tuple:
        """Refuse a body above max_body_bytes (HTTP refuses it before reading it)."""
        return self._pushed(pub, 413, "refused", "the body is larger than max_body_bytes (%d bytes); an account JWT "
                            "is a few kilobytes" % self.config.max_body_bytes)

    def _pushed(self, pub: str, status: int, result: str, reason: str) -> tuple:
        self.metrics.pushes[result] += 1
        # The reason is built from claims and key names only, never from secrets.
        PUSH_LOG.info("push account=%s result=%s status=%d reason=%s", redact_seeds(pub)[:64],
                      result, status, redact_seeds(reason.replace("\n", " ")))
        return status, reason

    async def merge(self, pub: str, token: bytes, source: str) -> str:
        """Take a JWT from the primary or a peer if it passes the checks and is newer.

        Returns stored, unchanged (same or older than ours) or refused.
        """
        try:
            decoded = check_account(self.operator, pub, token)
        except Refused as refused:
            LOG.warning("not taking the JWT of %s from %s: %s", redact_seeds(pub)[:64], source,
                        redact_seeds(refused.message.replace("\n", " ")))
            result = "refused"
        else:
            try:
                changed, _previous = await self.store.save(decoded, refuse_older=False)
            except OSError as exc:
                LOG.error("cannot write the JWT of %s from %s: %s", pub, source, exc)
                result = "error"
            else:
                result = "stored" if changed else "unchanged"
                if changed:
                    # A summary line per pull or pack follows; one line per account only when debugging.
                    LOG.debug("took the JWT of %s from %s (jti %s)", pub, source, decoded.claims.get("jti"))
        self.metrics.merges[(source.split(" ")[0], result)] += 1
        return result

    async def merge_pack(self, lines, source: str) -> dict:
        counts = {}
        for line in lines:
            line = line.strip()
            if not line:
                continue
            pub, sep, token = line.partition(b"|")
            if not sep:
                LOG.warning("ignoring a malformed pack line from %s", source)
                counts["refused"] = counts.get("refused", 0) + 1
                continue
            result = await self.merge(pub.decode("ascii", "replace"), token, source)
            counts[result] = counts.get(result, 0) + 1
        return counts

    async def expire(self):
        if self.config.delete_expired:
            for pub in await self.store.delete_expired(time.time()):
                LOG.info("deleted the expired JWT of account %s", pub)
