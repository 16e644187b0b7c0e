"""Stream credentials on the three-node Redis Cluster: ACLs are per node; the hub sets them on each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError
from redis.retry import Retry

from hub import keys
from hub.api.app import create_app
from hub.dev.embedded import EmbeddedCluster
from hub.settings import Settings
from tests.conftest import admin_headers, bearer, inbox_drained, normalize
from tests.servers import LoopThread, ServerThread
from tests.stream_access import assert_reads_only_its_own_stream, delete_stream_users
from tests.test_alopeyk_receiver import receiver_path, webhook_body
from tests.test_cluster import cluster, cluster_env, cluster_redis, cluster_settings  # noqa: F401

CREDENTIALS = "/v1/stream-credentials"


@pytest.fixture
async def hub(
    cluster_settings: Settings,  # noqa: F811
    cluster_redis: RedisCluster,  # noqa: F811
) -> AsyncIterator[httpx.AsyncClient]:
    with (
        ServerThread(lambda url: create_app(cluster_settings.replace(public_url=url))) as server,
        LoopThread(lambda stop: normalize(cluster_settings, stop)),
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            yield http
    await delete_stream_users(cluster_redis, target_nodes=cluster_redis.get_nodes())


def node_clients(cluster: EmbeddedCluster, **auth: Any) -> list[Redis]:  # noqa: F811
    """One plain client per node (no reconnecting retries: a refusal shows at once)."""
    return [
        Redis(host="127.0.0.1", port=node.port, decode_responses=True, retry=Retry(NoBackoff(), 0), **auth)
        for node in cluster.nodes
    ]


async def merchants_on_two_nodes(
    http: httpx.AsyncClient,
    cluster: EmbeddedCluster,  # noqa: F811
    cluster_redis: RedisCluster,  # noqa: F811
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two merchants whose streams live on two nodes, neither the one the credential's URL names."""
    seed = f"127.0.0.1:{cluster.nodes[0].port}"
    found: dict[str, dict[str, Any]] = {}
    for attempt in range(60):
        made = await http.post("/v1/merchants", json={"name": f"Shop {attempt}"}, headers=admin_headers())
        merchant: dict[str, Any] = made.json()
        node = cluster_redis.get_node_from_key(keys.merchant_events(merchant["id"])).name
        if node != seed:
            found.setdefault(node, merchant)
        if len(found) == 2:
            first, second = found.values()
            return first, second
    raise AssertionError("no two merchants' streams on two other nodes")


async def test_a_credential_reads_only_its_own_stream_on_every_node_until_revoked(
    hub: httpx.AsyncClient,
    cluster: EmbeddedCluster,  # noqa: F811
    cluster_redis: RedisCluster,  # noqa: F811
) -> None:
    merchant, other = await merchants_on_two_nodes(hub, cluster, cluster_redis)
    for shop, order in ((merchant, 710001), (other, 720002)):
        assert (await hub.post(receiver_path(shop), json=webhook_body(id=order))).status_code == 202
    await inbox_drained(cluster_redis)
    made = await hub.post(CREDENTIALS, headers=bearer(merchant["api_key"]))
    assert made.status_code == 201, made.text
    credential = made.json()
    assert credential["redis_url"].endswith(f"@127.0.0.1:{cluster.nodes[0].port}")

    # A cluster-aware consumer: it logs in to the node its URL names, finds the stream's node, reads.
    client = RedisCluster.from_url(credential["redis_url"], decode_responses=True)
    try:
        read = await assert_reads_only_its_own_stream(
            client, credential["stream"], keys.merchant_events(other["id"]), cluster=True
        )
    finally:
        await client.aclose()
    assert len(read) == 4 and {event["data"]["merchant_id"] for event in read} == {merchant["id"]}
    assert await cluster_redis.xlen(keys.merchant_events(other["id"])) == 4

    # The user exists on every node; a connection to each is open when the merchant revokes it.
    opened = node_clients(cluster, username=credential["user"], password=credential["password"])
    try:
        for node in opened:
            assert await node.ping()
        revoked = await hub.delete(f"{CREDENTIALS}/{credential['user']}", headers=bearer(merchant["api_key"]))
        assert revoked.status_code == 204
        for node in opened:
            with pytest.raises(ConnectionError):  # killed, on every node
                await node.ping()
    finally:
        for node in opened:
            await node.aclose()
    for node in node_clients(cluster, username=credential["user"], password=credential["password"]):
        with pytest.raises(AuthenticationError):  # and no node lets it in again
            await node.ping()
        await node.aclose()
    for node in node_clients(cluster):
        assert await node.execute_command("ACL", "GETUSER", credential["user"]) is None
        await node.aclose()
