"""What a merchant's stream credential may and may not do, asked of the real server (single or cluster)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError
from redis.retry import Retry

from hub import keys
from hub.streams.credentials import USER_PREFIX
from tests.conftest import bearer

CREDENTIALS = "/v1/stream-credentials"


def forbidden(own: str, other: str, cluster: bool = False) -> list[tuple[str, ...]]:
    """Commands the server must refuse with NOPERM: other keys, writes, and the server itself.

    On a cluster, commands naming keys of two slots are refused by the client before any
    server sees them, databases other than 0 do not exist, and the client sends no pub/sub
    command through ``execute_command``: those are left out.
    """
    both: list[tuple[str, ...]] = [("RENAME", own, other), ("COPY", own, other), ("SWAPDB", "0", "1")]
    # hub:events' channel carries every merchant's new entries to the live readers (hub/live/pushes.py).
    both += [("SUBSCRIBE", keys.EVENTS), ("PSUBSCRIBE", "*"), ("SSUBSCRIBE", keys.EVENTS)]
    return [
        *([] if cluster else both),
        ("XRANGE", other, "-", "+"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", other, ">"),
        ("XGROUP", "CREATE", other, "g", "0", "MKSTREAM"),
        ("XINFO", "STREAM", other),
        ("XRANGE", keys.EVENTS, "-", "+"),
        ("XLEN", keys.EVENTS),
        ("XADD", own, "*", "event", "{}"),
        ("XDEL", own, "0-1"),
        ("XTRIM", own, "MAXLEN", "0"),
        ("DEL", own),
        ("SET", own, "x"),
        ("SET", "hub:anything", "x"),
        ("GET", keys.merchant_stream_users("mer_x")),
        ("HGETALL", keys.INBOX),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("DBSIZE",),
        ("INFO",),
        ("EVAL", "return 1", "0"),
        ("FUNCTION", "LIST"),
        ("PUBLISH", "ch", "x"),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", "mallory", "on", ">pw", "+@all", "~*"),
        ("CLIENT", "LIST"),
        ("CLIENT", "KILL", "USER", "default"),
        ("SHUTDOWN",),
        ("SAVE",),
        ("MONITOR",),
        ("OBJECT", "ENCODING", own),
        ("DUMP", own),
    ]


async def assert_reads_only_its_own_stream(
    client: Any, own: str, other: str, *, cluster: bool = False
) -> list[dict[str, Any]]:
    """Consumes ``own`` with a consumer group (returns the events), then checks every refusal."""
    await client.xgroup_create(own, "checker", id="0", mkstream=True)
    read = await client.xreadgroup("checker", "c1", {own: ">"}, count=1000)
    entries = read[0][1] if read else []
    for entry_id, _ in entries:
        await client.xack(own, "checker", entry_id)
    assert (await client.xpending(own, "checker"))["pending"] == 0
    assert await client.xlen(own) == len(entries)
    assert await client.xinfo_groups(own)
    assert await client.xrevrange(own, count=1) == entries[-1:]
    for command in forbidden(own, other, cluster):
        # A cluster client routes a command by its key; one without a key is asked of each node.
        keyless = cluster and not any(":" in arg for arg in command[1:])
        for target in client.get_nodes() if keyless else [None]:
            with pytest.raises(NoPermissionError):
                await client.execute_command(*command, **({"target_nodes": target} if target else {}))
    return [json.loads(fields["event"]) for _, fields in entries]


async def delete_stream_users(client: Any, **target: Any) -> None:
    """Delete the ACL users stream credentials made (FLUSHALL keeps ACL users)."""
    users = await client.execute_command("ACL", "USERS", **target)
    if isinstance(users, dict):  # a cluster answers per node
        users = {user for listed in users.values() for user in listed}
    ours = [user for user in users if user.startswith(USER_PREFIX)]
    if ours:
        await client.execute_command("ACL", "DELUSER", *ours, **target)


@pytest.fixture
async def no_stream_users_left(redis: Redis) -> AsyncIterator[None]:
    yield
    await delete_stream_users(redis)


async def events_of(redis: Redis, stream: str) -> list[dict[str, Any]]:
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(stream)]


async def new_credential(http: httpx.AsyncClient, merchant: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await http.post(CREDENTIALS, json=body or None, headers=bearer(merchant["api_key"]))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def client_of(credential: dict[str, Any]) -> Redis:
    """A client that reports a refused or killed connection at once (no reconnecting retries)."""
    return Redis.from_url(credential["redis_url"], decode_responses=True, retry=Retry(NoBackoff(), 0))
