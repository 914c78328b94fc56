"""A secondary takes the primary's store over HTTP: at start, then periodically.

GET <primary_url>/jwt/v1/pack?max=<pack_max> returns every unexpired
account as <pub>|<jwt> lines. Each line passes the same checks as a push
and is kept only if it is newer than what the secondary holds, so an
unreachable or misbehaving primary can never make a secondary lose or
roll back an account. With the primary down, the secondary serves what
it has.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

LOG = logging.getLogger("cmsgs_acs.replication")
PULL_TIMEOUT_SECONDS = 5.0


def pack_url(primary_url: str, pack_max: int) -> str:
    base = primary_url.rstrip("/")
    if not base.endswith("/jwt/v1"):
        base += "/jwt/v1"
    return "%s/pack?max=%d" % (base, pack_max)


class PrimaryPuller:
    def __init__(self, service):
        self.service = service
        self.url = pack_url(service.config.primary_url, service.config.pack_max)
        self._task = None
        self._reachable = None

    async def pull(self) -> dict | None:
        """One pull; returns the merge counts, or None when the primary did not answer."""
        timeout = aiohttp.ClientTimeout(total=PULL_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(self.url) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError("status %d: %s" % (response.status, body[:200].decode("ascii", "replace")))
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, OSError) as exc:
            if self._reachable is not False:
                LOG.warning("primary %s not reachable (%s); serving the %d accounts held here",
                            self.url, exc.__class__.__name__ + (": %s" % exc if str(exc) else ""),
                            len(self.service.store))
            self._reachable = False
            return None
        if self._reachable is not True:
            LOG.info("primary %s reachable", self.url)
        self._reachable = True
        counts = await self.service.merge_pack(body.split(b"\n"), "primary")
        if counts.get("stored") or counts.get("refused"):
            LOG.info("pull from the primary: %s", ", ".join("%s %d" % item for item in sorted(counts.items())))
        return counts

    def start(self, interval: float):
        self._task = asyncio.ensure_future(self._loop(interval))

    async def _loop(self, interval: float):
        while True:
            await asyncio.sleep(interval)
            await self.pull()

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
