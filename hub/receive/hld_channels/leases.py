"""Which ``hub pusher`` worker holds which channel: worker leases in Redis plus rendezvous hashing.

Each worker renews a lease (a score in ``hub:pusher:workers``) several times per TTL.
The live workers are those whose lease has not run out, and every worker computes the
same owner for a channel from that list (highest hash of worker + token), so channels
spread evenly with no per-channel bookkeeping. When a worker dies its lease runs out,
the survivors see a shorter list, and its channels move to them; when one joins, about
1/n of the channels move to it. During such a change a channel may briefly be held by
two workers (event ids make the duplicates harmless) or by none (the new holder
gap-fills after subscribing).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time

from redis.asyncio import Redis

from hub import keys


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def owner(token: str, workers: list[str]) -> str | None:
    """The worker that should hold ``token``'s channel (rendezvous hashing)."""
    if not workers:
        return None
    return max(
        workers, key=lambda worker: hashlib.blake2b(f"{worker}\x1f{token}".encode(), digest_size=8).digest()
    )


class Leases:
    def __init__(self, redis: Redis, worker_id: str, ttl_ms: int) -> None:
        self.redis = redis
        self.worker_id = worker_id
        self.ttl_ms = ttl_ms

    async def renew(self) -> list[str]:
        """Extend our lease, forget expired ones, and return the live workers (sorted)."""
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(keys.PUSHER_WORKERS, {self.worker_id: now_ms + self.ttl_ms})
        pipe.zremrangebyscore(keys.PUSHER_WORKERS, "-inf", now_ms)
        pipe.zrange(keys.PUSHER_WORKERS, 0, -1)
        *_, workers = await pipe.execute()
        return sorted(workers)

    async def release(self) -> None:
        """Leave at once on a clean shutdown, so the survivors need not wait for the TTL."""
        await self.redis.zrem(keys.PUSHER_WORKERS, self.worker_id)
