"""The pipeline on a three-node Redis Cluster, started from the same embedded server binary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio.cluster import RedisCluster

from hub import keys
from hub.api.app import create_app
from hub.embedded import EmbeddedCluster
from hub.settings import Settings
from tests.conftest import ADMIN_TOKEN, admin_headers, bearer
from tests.servers import ServerThread
from tests.test_alopeyk_receiver import webhook_body

SHIPMENTS = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(Path(tmp_path_factory.mktemp("cluster"))) as started:
        yield started


@pytest.fixture
def cluster_settings(cluster: EmbeddedCluster) -> Settings:
    return Settings.from_env(
        {"HUB_REDIS_URL": cluster.url, "HUB_REDIS_CLUSTER": "true", "HUB_ADMIN_TOKEN": ADMIN_TOKEN}
    )


@pytest.fixture
async def cluster_redis(cluster_settings: Settings) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster_settings.redis_url or "", decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


async def test_ingest_streams_and_api_run_unchanged_on_a_cluster(
    cluster_settings: Settings, cluster_redis: RedisCluster
) -> None:
    with ServerThread(lambda url: create_app(cluster_settings.replace(public_url=url))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            assert (await http.get("/readyz")).status_code == 200
            merchant: dict[str, Any] = (
                await http.post("/v1/merchants", json={"name": "Cluster shop"}, headers=admin_headers())
            ).json()
            receiver = httpx.URL(merchant["alopeyk_webhook_url"]).path
            shipment_ids = []
            for order in range(SHIPMENTS):
                body = webhook_body(id=500000 + order)
                first = await http.post(receiver, json=body)
                again = await http.post(receiver, json=body)
                assert (first.status_code, first.json()["published"], again.json()["published"]) == (
                    200,
                    4,
                    0,
                )
                shipment_ids += first.json()["shipment_ids"]
            listed = await http.get(
                "/v1/shipments", params={"limit": "100"}, headers=bearer(merchant["api_key"])
            )
            assert len(listed.json()["data"]) == SHIPMENTS
            # Live fan-out from the cluster: a subscriber gets the snapshot, then a new event live.
            token = listed.json()["data"][0]["tracking_token"]
            order = int(listed.json()["data"][0]["provider_ref"])
            async with websockets.connect(server.url.replace("http", "ws") + "/v1/live") as socket:
                await socket.send(json.dumps({"type": "subscribe", "tracking_token": token}))
                frames = [json.loads(await asyncio.wait_for(socket.recv(), 20)) for _ in range(2)]
                assert [f["type"] for f in frames] == ["subscribed", "snapshot"]
                moved = webhook_body(id=order, status="picking", picking_at="2017-09-12T18:55:00+04:30")
                assert (await http.post(receiver, json=moved)).json()["published"] == 1
                live = json.loads(await asyncio.wait_for(socket.recv(), 20))
                assert live["type"] == "event" and live["event"]["data"]["status"] == "at_pickup"

    nodes = {cluster_redis.get_node_from_key(keys.history(sid)).name for sid in shipment_ids}
    assert len(nodes) == 3, "shipments should be spread over all three nodes"
    published = [json.loads(fields["event"]) for _, fields in await cluster_redis.xrange(keys.EVENTS)]
    assert len(published) == len({event["id"] for event in published}) == SHIPMENTS * 4 + 1
    for sid in shipment_ids:
        history = [json.loads(f["event"]) for _, f in await cluster_redis.xrange(keys.history(sid))]
        assert [event["sequence"] for event in history][:4] == [1, 2, 3, 4]
