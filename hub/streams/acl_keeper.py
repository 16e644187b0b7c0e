"""Stream credentials set again on a Redis server that restarted without them.

ACL users live in the server's memory: without an ``aclfile`` a restart forgets them while the
hub's records of them (kept with the data) remain, and the merchants' consumers are refused.
Every ``hub serve`` watches the server's ``run_id`` (each node's, on a cluster); when it changes,
every recorded credential is set again from the password digest its record keeps, switched off
for a disabled merchant. A credential being revoked is marked first (:func:`credentials.revoke`),
and one set again while its revocation ran is deleted again here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.exceptions import RedisError

from hub import keys
from hub.errors import NotFound
from hub.infra.redis_clients import is_cluster
from hub.registry import merchants
from hub.settings import Settings
from hub.streams import credentials

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 5.0
MERCHANTS_PAGE = 500


async def run_ids(redis: Any) -> tuple[str, ...]:
    """The server's run id, or each node's: a new one means a server started afresh."""
    if not is_cluster(redis):
        return (str((await redis.info("server")).get("run_id", "")),)
    found = []
    for node in redis.get_nodes():
        info = await redis.execute_command("INFO", "server", target_nodes=node)
        found.append(f"{node.name}={info.get('run_id', '') if isinstance(info, dict) else info}")
    return tuple(sorted(found))


async def restore(redis: Any, settings: Settings) -> int:
    """Set every recorded credential again; the number set.

    Every merchant holding a credential is in the merchants' index (:func:`credentials.create`).
    """
    restored, start = 0, 0
    while ids := await merchants.indexed_ids(redis, start, MERCHANTS_PAGE):
        for merchant_id in ids:
            try:
                disabled = (await merchants.get(redis, merchant_id)).disabled
            except NotFound:
                continue
            restored += await _restore_merchant(redis, settings, merchant_id, disabled)
        start += len(ids)
    return restored


async def _restore_merchant(redis: Any, settings: Settings, merchant_id: str, disabled: bool) -> int:
    records: dict[str, str] = await redis.hgetall(keys.merchant_stream_users(merchant_id))
    restored = 0
    for user, raw in records.items():
        record = json.loads(raw)
        if record.get("revoking"):
            continue
        if not record.get("sha256"):
            log.warning(
                "stream credential %s predates restorable records: revoke it and create another", user
            )
            continue
        rules = credentials.acl_rules(
            merchant_id, record["sha256"], is_cluster(redis), credentials.database(settings)
        )
        await credentials.on_every_node(redis, "ACL", "SETUSER", user, *rules, *(["off"] if disabled else []))
        current = await redis.hget(keys.merchant_stream_users(merchant_id), user)
        if current is None or json.loads(current).get("revoking"):  # revoked meanwhile
            await credentials.on_every_node(redis, "ACL", "DELUSER", user)
            continue
        restored += 1
    return restored


class AclKeeper:
    """The background task of ``hub serve`` that watches for a restarted server."""

    def __init__(self, redis: Any, settings: Settings, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.redis = redis
        self.settings = settings
        self.interval_s = interval_s
        self._seen: tuple[str, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> int:
        """Restore when the server is not the one last seen (and at the first check); the number set."""
        ids = await run_ids(self.redis)
        if ids == self._seen:
            return 0
        restored = await restore(self.redis, self.settings)
        if restored:
            log.info("set %d stream credentials again on a restarted Redis", restored)
        self._seen = ids
        return restored

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="acl-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except (RedisError, OSError) as exc:  # Redis away: the next check tries again
                log.debug("stream credential check failed: %s", exc)
            except credentials.AclNotPermitted as exc:
                log.warning("%s", exc)
                return
            await asyncio.sleep(self.interval_s)
