"""Each merchant's own stream, read with its stream credentials, against the real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError

from hub import keys
from hub.model.event import ShipmentRef
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.append import Store
from tests.conftest import admin_headers, bearer, create_merchant
from tests.servers import wait_until
from tests.stream_access import (
    CREDENTIALS,
    assert_reads_only_its_own_stream,
    client_of,
    events_of,
    new_credential,
    no_stream_users_left,  # noqa: F401
)
from tests.test_alopeyk_receiver import post_webhook, receiver_path, webhook_body
from tests.test_store import position_event
from tests.test_stream_consumers import EXAMPLE, Output, hub_env

pytestmark = pytest.mark.usefixtures("no_stream_users_left")  # FLUSHALL keeps ACL users


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


async def test_disabling_a_merchant_closes_its_consumers_until_enabled(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    """The operator's disable: no stream access meanwhile, the same credentials working after enable."""
    credential = await new_credential(http, merchant)
    other = await new_credential(http, await create_merchant(http, "Shop Two"))
    client, neighbour = client_of(credential), client_of(other)
    try:
        assert await client.ping() and await neighbour.ping()
        disabled = await http.post(f"/v1/merchants/{merchant['id']}/disable", headers=admin_headers())
        assert disabled.status_code == 200, disabled.text
        with pytest.raises(ConnectionError):
            await client.ping()
        with pytest.raises(AuthenticationError):
            await client.ping()  # a new connection: refused
        assert await neighbour.ping()  # another merchant's consumers are untouched
        enabled = await http.post(f"/v1/merchants/{merchant['id']}/enable", headers=admin_headers())
        assert enabled.status_code == 200, enabled.text
        assert await client.ping()
        assert await client.xlen(credential["stream"]) == 0
    finally:
        await client.aclose()
        await neighbour.aclose()
