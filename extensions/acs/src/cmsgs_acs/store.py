# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account store: <store_dir>/<account public key>.jwt, one JWT a file.

The layout and modes are nats-account-server's (0600 files, 0700 folder),
so a store can move between the two. Unlike it, every write is atomic: the
new JWT goes to a temporary file in the same folder, is flushed to disk,
renamed over the old one, and the folder is flushed too. A crash at any
moment leaves either the old or the new JWT, never a torn one. Temporary
files start with ".tmp-" and have no .jwt suffix, so they are never read
as accounts; leftovers are removed at start.

Everything is held in memory as well (the store is small: one short JWT a
account), so reads never touch the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time

from multidict import CIMultiDict

from cmsgs_acs import nats_jwt
from cmsgs_acs.nats_jwt import ACCOUNT, JwtError

LOG = logging.getLogger("cmsgs_acs.store")
SUFFIX = ".jwt"
TEMP_PREFIX = ".tmp-"


class Entry:
    """One stored account JWT and what the server needs from it."""

    __slots__ = ("pub", "data", "claims", "sha256", "etag", "headers")

    def __init__(self, pub: str, data: bytes, claims: dict):
        self.pub = pub
        self.data = data
        self.claims = claims
        self.sha256 = hashlib.sha256(data).digest()
        self.etag = '"%s"' % claims.get("jti", "")
        # The headers of a plain GET, built once: reads are the hot path. A
        # CIMultiDict, which aiohttp copies into each response without
        # converting it (never changed after this).
        self.headers = CIMultiDict(
            (("ETag", self.etag), ("Cache-Control", "no-cache"), ("Content-Type", "application/jwt")))

    @property
    def iat(self) -> int:
        return self.claims.get("iat") or 0

    @property
    def jti(self) -> str:
        return self.claims.get("jti", "")

    @property
    def exp(self) -> int:
        return self.claims.get("exp") or 0

    def expired(self, now: float) -> bool:
        return 0 < self.exp < now


def _fsync_dir(path: str):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(directory: str, name: str, data: bytes):
    """Replace directory/name with data so that a crash leaves old or new."""
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


class Store:
    """The account JWTs on disk and in memory.

    Writes are serialised by one lock and run in a worker thread, so an
    fsync never stalls the readers on the event loop.
    """

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        self.entries: dict = {}
        self._lock = asyncio.Lock()

    # --- start-up ----------------------------------------------------------

    def open(self):
        """Create the folder if needed and load every account JWT in it."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        mode = os.stat(self.directory).st_mode & 0o777
        if mode & 0o077:
            try:
                os.chmod(self.directory, 0o700)
            except PermissionError:
                LOG.warning("store %s has mode %04o and is not ours to change; it should be 0700",
                            self.directory, mode)
        # Fail now, not at the first push, when the folder is not writable.
        probe_fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.directory)
        os.close(probe_fd)
        os.unlink(probe)
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            if name.startswith(TEMP_PREFIX):
                LOG.warning("removing %s, left over from an interrupted write", path)
                os.unlink(path)
                continue
            if not name.endswith(SUFFIX) or not os.path.isfile(path):
                continue
            pub = name[:-len(SUFFIX)]
            with open(path, "rb") as handle:
                data = handle.read()
            try:
                decoded = nats_jwt.decode(data.decode("ascii"), expected_kind=ACCOUNT, check_times=False)
            except (JwtError, UnicodeError) as exc:
                LOG.error("ignoring %s: not an account JWT (%s)", path, exc)
                continue
            if decoded.subject != pub:
                LOG.error("ignoring %s: it holds the JWT of account %s", path, decoded.subject)
                continue
            self.entries[pub] = Entry(pub, data.strip(), decoded.claims)
        LOG.info("store %s holds %d accounts", self.directory, len(self.entries))

    # --- reads -------------------------------------------------------------

    def get(self, pub: str):
        return self.entries.get(pub)

    def __len__(self):
        return len(self.entries)

    def live_entries(self, now: float | None = None):
        """Entries that are not expired, in key order (what a pack holds)."""
        now = time.time() if now is None else now
        return [entry for _pub, entry in sorted(self.entries.items()) if not entry.expired(now)]

    def pack_hash(self, now: float | None = None) -> bytes:
        """XOR of sha256 over the JWTs a pack would hold (nats-server's Hash)."""
        value = 0
        for entry in self.live_entries(now):
            value ^= int.from_bytes(entry.sha256, "big")
        return value.to_bytes(32, "big")

    def pack_lines(self, limit: int = -1, now: float | None = None) -> list:
        entries = self.live_entries(now)
        if limit >= 0:
            entries = entries[:limit]
        return [entry.pub.encode("ascii") + b"|" + entry.data for entry in entries]

    def size_bytes(self) -> int:
        return sum(len(entry.data) for entry in self.entries.values())

    # --- writes ------------------------------------------------------------

    async def save(self, decoded: nats_jwt.DecodedJwt, refuse_older: bool = True):
        """Store a checked account JWT. Returns (changed, previous entry).

        A JWT identical to the stored one changes nothing. One issued before
        the stored one raises OlderJwt when refuse_older is set (a push) and
        is skipped otherwise (a merge from a pack or a peer).
        """
        data = decoded.token.encode("ascii")
        entry = Entry(decoded.subject, data, decoded.claims)
        async with self._lock:
            current = self.entries.get(entry.pub)
            if current is not None:
                if current.data == data:
                    return False, current
                if entry.iat < current.iat:
                    if refuse_older:
                        raise OlderJwt(current, entry)
                    return False, current
            await asyncio.to_thread(write_atomic, self.directory, entry.pub + SUFFIX, data)
            self.entries[entry.pub] = entry
            return True, current

    async def delete_expired(self, now: float | None = None) -> list:
        now = time.time() if now is None else now
        removed = []
        async with self._lock:
            for pub, entry in list(self.entries.items()):
                if entry.expired(now):
                    await asyncio.to_thread(self._remove, pub)
                    del self.entries[pub]
                    removed.append(pub)
        return removed

    def _remove(self, pub: str):
        try:
            os.unlink(os.path.join(self.directory, pub + SUFFIX))
        except FileNotFoundError:
            pass
        _fsync_dir(self.directory)


class OlderJwt(Exception):
    def __init__(self, current: Entry, offered: Entry):
        super().__init__("older JWT")
        self.current = current
        self.offered = offered
