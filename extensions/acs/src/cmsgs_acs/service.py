"""The account server's state and the one path by which a JWT is stored."""

from __future__ import annotations

import logging
import time

from cmsgs_acs import __version__, nats_jwt
from cmsgs_acs.config import Config
from cmsgs_acs.metrics import Metrics
from cmsgs_acs.store import OlderJwt, Store
from cmsgs_acs.trust import Operator, Refused, check_account

LOG = logging.getLogger("cmsgs_acs")
PUSH_LOG = logging.getLogger("cmsgs_acs.push")


class Service:
    """Configuration, trusted operator, store and counters, shared by HTTP and NATS."""

    def __init__(self, config: Config):
        self.config = config
        self.version = __version__
        self.operator = Operator(config.operator_jwt)
        self.store = Store(config.store_dir)
        self.metrics = Metrics()
        self.system_account_jwt = None
        self.nats = None  # a NatsLink once started
        if config.system_account_jwt_path:
            self.system_account_jwt = self._read_system_account(config.system_account_jwt_path)

    def _read_system_account(self, path: str):
        with open(path, "rb") as handle:
            data = handle.read().strip()
        decoded = nats_jwt.decode(data.decode("ascii"), expected_kind=nats_jwt.ACCOUNT, check_times=False)
        return decoded

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
        """Check and store a pushed JWT. Returns (status, message); logs one line."""
        if self.config.is_secondary:
            return self._pushed(pub, 405, "refused", "this account server is a secondary; push to the primary at %s"
                                % self.config.primary_url)
        try:
            decoded = check_account(self.operator, pub, body)
        except Refused as refused:
            return self._pushed(pub, refused.status, "refused", refused.message)
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

    def _pushed(self, pub: str, status: int, result: str, reason: str) -> tuple:
        self.metrics.pushes[result] += 1
        # The reason is built from claims and key names only, never from secrets.
        PUSH_LOG.info("push account=%s result=%s status=%d reason=%s", pub, result, status,
                      reason.replace("\n", " "))
        return status, reason

    async def merge(self, pub: str, token: bytes, source: str) -> str:
        """Take a JWT from the primary or a peer if it passes the checks and is newer.

        Returns stored, unchanged (same or older than ours) or refused.
        """
        try:
            decoded = check_account(self.operator, pub, token)
        except Refused as refused:
            LOG.warning("not taking the JWT of %s from %s: %s", pub, source, refused.message.replace("\n", " "))
            result = "refused"
        else:
            try:
                changed, _ = await self.store.save(decoded, refuse_older=False)
            except OSError as exc:
                LOG.error("cannot write the JWT of %s from %s: %s", pub, source, exc)
                result = "error"
            else:
                result = "stored" if changed else "unchanged"
                if changed:
                    LOG.info("took the JWT of %s from %s (jti %s)", pub, source, decoded.claims.get("jti"))
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
