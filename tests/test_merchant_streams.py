"""Each merchant's own stream, and the stream credentials that read it, against the real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError, NoPermissionError
from redis.retry import Retry

from hub import keys
from hub.model.event import ShipmentRef
from hub.registry import shipments
from hub.settings import Settings
from hub.streams import credentials
from hub.streams.append import Store
from tests.conftest import bearer, create_merchant
from tests.servers import wait_until
from tests.stream_access import assert_reads_only_its_own_stream, delete_stream_users
from tests.test_alopeyk_receiver import post_webhook, receiver_path, webhook_body
from tests.test_store import position_event
from tests.test_stream_consumers import EXAMPLE, Output, hub_env

CREDENTIALS = "/v1/stream-credentials"


@pytest.fixture(autouse=True)
async def _no_stream_users_left(redis: Redis) -> AsyncIterator[None]:
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


async def test_each_merchant_stream_holds_exactly_its_own_events(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    await post_webhook(http, redis, merchant, webhook_body(id=1001))
    await post_webhook(http, redis, other, webhook_body(id=2002))
    everything = await events_of(redis, keys.EVENTS)
    for shop in (merchant, other):
        own = await events_of(redis, keys.merchant_events(shop["id"]))
        # The same entries as hub:events (same JSON, same order), only this merchant's.
        assert own == [event for event in everything if event["data"]["merchant_id"] == shop["id"]]
        assert len(own) == 4
    assert len(everything) == 8  # hub:events stays, with everyone's


async def test_a_merchant_stream_is_trimmed_by_its_own_settings(redis: Redis, settings: Settings) -> None:
    registered, _ = await shipments.register(redis, "mer_trim", "hld", "HLDTRIM1")
    ref: ShipmentRef = registered.ref
    store = Store(redis, settings.replace(merchant_stream_maxlen=10, stream_maxlen=1000))
    for start in range(0, 300, 100):
        await store.append([position_event(ref, 18 + i / 1000, start + i) for i in range(100)])
    assert await redis.xlen(keys.merchant_events("mer_trim")) < 300  # trimmed (approximately) to 10
    assert await redis.xlen(keys.EVENTS) == 300  # hub:events by its own, larger limit
    assert len(await shipments.history(redis, ref.id)) == 300


async def test_the_example_consumer_reads_its_merchant_stream_with_its_credentials_until_revoked(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    await post_webhook(http, redis, merchant, webhook_body(id=1001))
    await post_webhook(http, redis, other, webhook_body(id=2002))
    credential = await new_credential(http, merchant, description="warehouse consumer")
    assert credential["stream"] == keys.merchant_events(merchant["id"])
    env = hub_env(credential["redis_url"]) | {"HUB_STREAM": credential["stream"]}
    with subprocess.Popen(
        [sys.executable, str(EXAMPLE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        output = Output(process)
        try:
            wait_until(lambda: len(output.lines) >= 4, 30, "the example to print the merchant's 4 events")
            await http.post(
                receiver_path(merchant),
                json=webhook_body(id=1001, status="picking", picking_at="2017-09-12T18:55:00+04:30"),
            )
            wait_until(lambda: len(output.lines) >= 5, 30, "the example to print the live event")
            # Revoked while it waits in XREADGROUP: its connection is closed and it cannot log in again.
            revoked = await http.delete(
                f"{CREDENTIALS}/{credential['user']}", headers=bearer(merchant["api_key"])
            )
            assert revoked.status_code == 204
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            output.thread.join(timeout=10)
        stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode != 0 and "Connection closed by server" in stderr, stderr
    again = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode != 0 and "AuthenticationError" in again.stderr, again.stderr  # no new login
    mine = {
        event["data"]["shipment_id"]
        for event in await events_of(redis, keys.EVENTS)
        if event["data"]["merchant_id"] == merchant["id"]
    }
    assert {line.split()[1] for line in output.lines} == mine  # never another merchant's shipment
    assert output.lines[-1].split()[2] == "at_pickup"
    assert (await redis.xpending(credential["stream"], "my-app"))["pending"] == 0


async def test_a_credential_reads_its_own_stream_and_the_server_refuses_everything_else(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    await post_webhook(http, redis, merchant, webhook_body(id=1001))
    await post_webhook(http, redis, other, webhook_body(id=2002))
    credential = await new_credential(http, merchant)
    client = client_of(credential)
    try:
        read = await assert_reads_only_its_own_stream(
            client, credential["stream"], keys.merchant_events(other["id"])
        )
        assert {event["data"]["merchant_id"] for event in read} == {merchant["id"]} and len(read) == 4
        # Nothing it tried changed anything.
        assert await redis.xlen(keys.merchant_events(other["id"])) == 4 and await redis.xlen(keys.EVENTS) == 8
        assert await redis.execute_command("ACL", "GETUSER", "mallory") is None
    finally:
        await client.aclose()


async def test_revoking_kills_open_connections_and_refuses_new_ones_at_once(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    credential = await new_credential(http, merchant)
    kept = await new_credential(http, merchant)
    client, neighbour = client_of(credential), client_of(kept)
    try:
        await client.xgroup_create(credential["stream"], "g", id="0", mkstream=True)
        waiting = asyncio.create_task(client.xreadgroup("g", "c", {credential["stream"]: ">"}, block=20_000))
        for _ in range(200):  # until the server shows the read blocked
            if "xreadgroup" in str(await redis.client_list()):
                break
            await asyncio.sleep(0.01)
        revoked = await http.delete(
            f"{CREDENTIALS}/{credential['user']}", headers=bearer(merchant["api_key"])
        )
        assert revoked.status_code == 204
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(waiting, 10)
        fresh = client_of(credential)
        with pytest.raises(AuthenticationError):
            await fresh.ping()
        await fresh.aclose()
        assert await neighbour.ping()  # the merchant's other credential is untouched
        listed = await http.get(CREDENTIALS, headers=bearer(merchant["api_key"]))
        assert [c["user"] for c in listed.json()["data"]] == [kept["user"]]
        assert await redis.execute_command("ACL", "GETUSER", credential["user"]) is None
    finally:
        await client.aclose()
        await neighbour.aclose()


async def test_suspending_a_merchant_closes_its_consumers_until_resumed(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    """What an operator's disable needs: no access meanwhile, the same credentials working after."""
    credential = await new_credential(http, merchant)
    other = await new_credential(http, await create_merchant(http, "Shop Two"))
    client, neighbour = client_of(credential), client_of(other)
    try:
        assert await client.ping() and await neighbour.ping()
        await credentials.suspend(redis, merchant["id"])
        with pytest.raises(ConnectionError):
            await client.ping()
        with pytest.raises(AuthenticationError):
            await client.ping()  # a new connection: refused
        assert await neighbour.ping()  # another merchant's consumers are untouched
        await credentials.resume(redis, merchant["id"])
        assert await client.ping()
        assert await client.xlen(credential["stream"]) == 0
    finally:
        await client.aclose()
        await neighbour.aclose()


async def test_credentials_are_listed_without_passwords_and_other_merchants_get_404(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    first = await new_credential(http, merchant, description="billing")
    theirs = await new_credential(http, other)
    assert first["password"] in first["redis_url"] and first["user"] in first["redis_url"]
    listed = await http.get(CREDENTIALS, headers=bearer(merchant["api_key"]))
    assert listed.status_code == 200
    assert listed.json()["data"] == [
        {"user": first["user"], "created_ms": first["created_ms"], "description": "billing"}
    ]
    assert first["password"] not in listed.text
    stored = json.dumps(await redis.hgetall(keys.merchant_stream_users(merchant["id"])))
    assert first["password"] not in stored  # the hub keeps no password
    # Another merchant's credential, revoked with this merchant's key: 404, and it still works.
    attempt = await http.delete(f"{CREDENTIALS}/{theirs['user']}", headers=bearer(merchant["api_key"]))
    assert attempt.status_code == 404 and attempt.json()["error"]["code"] == "not_found"
    client = client_of(theirs)
    try:
        assert await client.ping()
        with pytest.raises(NoPermissionError):  # and it never reads this merchant's stream
            await client.xrange(first["stream"])
    finally:
        await client.aclose()
    assert (await http.get(CREDENTIALS)).status_code == 401
    assert (await http.post(CREDENTIALS, headers=bearer("hk_wrong"))).status_code == 401


@pytest.mark.parametrize(
    ("content", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"\xff\xfe", 400, "invalid_utf8", None),
        (b"[]", 422, "wrong_type", None),
        (b'"text"', 422, "wrong_type", None),
        (b'{"description": 5}', 422, "unprocessable", "description"),
        (b'{"description": ["a"]}', 422, "unprocessable", "description"),
        (b'{"description": {"a": 1}}', 422, "unprocessable", "description"),
        (b'{"description": "' + b"x" * 201 + b'"}', 422, "unprocessable", "description"),
        (b'{"description": "ok", "acl": "+@all"}', 422, "unprocessable", "acl"),
        (b'{"description": ' + b"[" * 5000 + b"]" * 5000 + b"}", 422, "too_deep", None),
        (b'{"description": "\\ud800"}', 400, "lone_surrogate", None),
        (b'{"description": 1' + b"0" * 5000 + b"}", 422, "number_too_long", None),
        (b'{"description": "' + b"x" * 200 + b'"}', 201, None, None),
        (b"{}", 201, None, None),
    ],
)
async def test_bad_bodies_get_a_precise_4xx(
    http: httpx.AsyncClient,
    merchant: dict[str, Any],
    content: bytes,
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    response = await http.post(
        CREDENTIALS,
        content=content,
        headers={**bearer(merchant["api_key"]), "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["error"]["code"] == code
        assert response.json()["error"].get("field") == field
    listed = (await http.get(CREDENTIALS, headers=bearer(merchant["api_key"]))).json()["data"]
    assert len(listed) == (1 if status == 201 else 0)


async def test_hostile_user_names_are_404_and_a_merchant_holds_at_most_twenty(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    auth = bearer(merchant["api_key"])
    for user in ("%ED%A0%80", "x" * 5000, "stream.*", "default", "%00", "..%2F..%2Fadmin"):
        response = await http.delete(f"{CREDENTIALS}/{user}", headers=auth)
        assert response.status_code == 404, (user, response.text)
    made = [await new_credential(http, merchant) for _ in range(20)]
    refused = await http.post(CREDENTIALS, headers=auth)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_credentials"
    assert (await http.delete(f"{CREDENTIALS}/{made[0]['user']}", headers=auth)).status_code == 204
    assert (await http.post(CREDENTIALS, headers=auth)).status_code == 201


async def test_the_redis_url_names_the_configured_public_address(redis: Redis, settings: Settings) -> None:
    default = credentials.public_url(settings, "u", "p")
    assert default.startswith("redis://u:p@127.0.0.1:")
    public = settings.replace(merchant_stream_public_url="rediss://streams.example.com:6380")
    assert credentials.public_url(public, "u", "p") == "rediss://u:p@streams.example.com:6380"
    # The hub on database 3: the URL selects it, and the user may (its key pattern is the same one key).
    other_db = settings.replace(redis_url="redis://10.0.0.5:6379/3")
    assert credentials.public_url(other_db, "u", "p") == "redis://u:p@10.0.0.5:6379/3"
    assert "+select" in credentials.acl_rules("mer_1", "0" * 64, False, credentials.database(other_db))
    assert "+select" not in credentials.acl_rules("mer_1", "0" * 64, False, credentials.database(settings))


async def test_every_route_is_in_openapi(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert set(paths[CREDENTIALS]) == {"get", "post"}
    assert set(paths[f"{CREDENTIALS}/{{user}}"]) == {"delete"}


async def test_a_hub_whose_redis_user_may_not_manage_acls_says_so(
    redis: Redis, redis_url: str, settings: Settings
) -> None:
    await redis.execute_command(
        "ACL", "SETUSER", "hub-limited", "on", ">limited", "~*", "&*", "+@all", "-@admin"
    )
    limited = Redis.from_url(
        redis_url.replace("redis://", "redis://hub-limited:limited@"), decode_responses=True
    )
    try:
        with pytest.raises(credentials.AclNotPermitted, match=r"\+acl\|setuser"):
            await credentials.create(limited, settings, "mer_limited")
    finally:
        await limited.aclose()
        await redis.execute_command("ACL", "DELUSER", "hub-limited")
