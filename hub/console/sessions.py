"""Console sessions: server-side, in Redis with a TTL, bound to the API key that opened them.

The browser holds only a random session id (an HttpOnly cookie); Redis keeps the session under
the id's SHA-256, so a dump of Redis holds no usable cookie. A session lasts
``session_idle_s`` past its last use and at most ``session_max_s`` after sign-in. Every page
checks that the API key still exists and the merchant is enabled (:mod:`hub.console.auth`):
revoking the key ends its sessions at their next request.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from hub import keys
from hub.registry.api_keys import digest
from hub.settings import ConsoleSettings

TICKET_TTL_S = 600  # a `hub dev` sign-in link works once, within ten minutes


@dataclass(frozen=True)
class Session:
    id: str  # the cookie's value: never logged, never stored in Redis
    merchant_id: str
    api_key_id: str
    csrf: str  # sent back in every form as a hidden field (and by scripts in X-CSRF-Token)
    created_ms: int

    def __repr__(self) -> str:
        return f"Session(merchant_id={self.merchant_id!r}, api_key_id={self.api_key_id!r})"

    def csrf_matches(self, candidate: str | None) -> bool:
        """Constant time; an absent token never matches."""
        return candidate is not None and hmac.compare_digest(self.csrf.encode(), candidate.encode())


def now_ms() -> int:
    return int(time.time() * 1000)


async def create(redis: Redis, settings: ConsoleSettings, merchant_id: str, api_key_id: str) -> Session:
    session = Session(secrets.token_urlsafe(32), merchant_id, api_key_id, secrets.token_urlsafe(32), now_ms())
    key = keys.console_session(digest(session.id))
    pipe = redis.pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "merchant_id": merchant_id,
            "api_key_id": api_key_id,
            "csrf": session.csrf,
            "created_ms": session.created_ms,
        },
    )
    pipe.expire(key, _ttl_s(settings, session.created_ms))
    await pipe.execute()
    return session


async def load(redis: Redis, settings: ConsoleSettings, session_id: str) -> Session | None:
    """The live session behind a cookie, its idle clock restarted; ``None`` when unknown or expired."""
    key = keys.console_session(digest(session_id))
    raw = await redis.hgetall(key)
    if not raw or not {"merchant_id", "api_key_id", "csrf", "created_ms"} <= raw.keys():
        return None
    session = Session(session_id, raw["merchant_id"], raw["api_key_id"], raw["csrf"], int(raw["created_ms"]))
    ttl_s = _ttl_s(settings, session.created_ms)
    if ttl_s <= 0:
        await redis.delete(key)
        return None
    await redis.expire(key, ttl_s)
    return session


async def end(redis: Redis, session_id: str) -> None:
    await redis.delete(keys.console_session(digest(session_id)))


def _ttl_s(settings: ConsoleSettings, created_ms: int) -> int:
    """The idle timeout, cut short by the session's absolute end."""
    left_s = (created_ms + settings.session_max_s * 1000 - now_ms()) // 1000
    return int(min(settings.session_idle_s, left_s))


async def mint_ticket(redis: Redis, merchant_id: str, api_key_id: str, ttl_s: int = TICKET_TTL_S) -> str:
    """A one-time sign-in ticket (``hub dev`` only: the route that takes it exists only in dev)."""
    ticket = secrets.token_urlsafe(32)
    await redis.set(keys.console_signin_ticket(digest(ticket)), f"{merchant_id} {api_key_id}", ex=ttl_s)
    return ticket


async def redeem_ticket(redis: Redis, ticket: str) -> tuple[str, str] | None:
    """The ticket's merchant and API key id, once: the ticket is gone after this call."""
    found: str | None = await redis.getdel(keys.console_signin_ticket(digest(ticket)))
    if not found or " " not in found:
        return None
    merchant_id, _, api_key_id = found.partition(" ")
    return merchant_id, api_key_id
