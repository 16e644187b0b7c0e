"""The pipeline on a three-node Redis Cluster, started from the same embedded server binary.

The dispatcher and the delivery worker run as the real ``hub`` processes, their data on the
cluster and their RQ queue on a separate single server (``HUB_QUEUE_REDIS_URL``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.routing import Route

from hub import keys
from hub.api.app import create_app
from hub.dev.embedded import EmbeddedCluster
from hub.dev.supervisor import Supervisor
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.delays import DelayChecker
from hub.webhooks.delivery import delivery_id
from tests.conftest import ADMIN_TOKEN, ROOT, admin_headers, bearer, inbox_drained, normalize
from tests.servers import LoopThread, ServerThread
from tests.test_alopeyk_receiver import webhook_body
from tests.webhooks.conftest import Receiver, eventually

SHIPMENTS = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(Path(tmp_path_factory.mktemp("cluster"))) as started:
        yield started


@pytest.fixture
def cluster_env(cluster: EmbeddedCluster, redis_url: str) -> dict[str, str]:
    """The hub's data on the cluster, its RQ queues on the session's single server."""
    return {
        "HUB_REDIS_URL": cluster.url,
        "HUB_REDIS_CLUSTER": "true",
        "HUB_QUEUE_REDIS_URL": redis_url,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }


@pytest.fixture
def cluster_settings(cluster_env: dict[str, str]) -> Settings:
    return Settings.from_env(cluster_env)


@pytest.fixture
async def cluster_redis(cluster_settings: Settings) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster_settings.redis_url or "", decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


async def test_ingest_streams_and_api_run_unchanged_on_a_cluster(
    cluster_settings: Settings, cluster_redis: RedisCluster
) -> None:
    with (
        ServerThread(lambda url: create_app(cluster_settings.replace(public_url=url))) as server,
        LoopThread(lambda stop: normalize(cluster_settings, stop)),
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            assert (await http.get("/readyz")).status_code == 200
            merchant: dict[str, Any] = (
                await http.post("/v1/merchants", json={"name": "Cluster shop"}, headers=admin_headers())
            ).json()
            receiver = httpx.URL(merchant["alopeyk_webhook_url"]).path
            shipment_ids = await _ingest_orders(
                http, receiver, cluster_redis, range(500000, 500000 + SHIPMENTS)
            )
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
                assert (await http.post(receiver, json=moved)).status_code == 202
                live = json.loads(await asyncio.wait_for(socket.recv(), 20))
                assert live["type"] == "event" and live["event"]["data"]["status"] == "at_pickup"

    nodes = {cluster_redis.get_node_from_key(keys.history(sid)).name for sid in shipment_ids}
    assert len(nodes) == 3, "shipments should be spread over all three nodes"
    published = [json.loads(fields["event"]) for _, fields in await cluster_redis.xrange(keys.EVENTS)]
    assert len(published) == len({event["id"] for event in published}) == SHIPMENTS * 4 + 1
    for sid in shipment_ids:
        history = [json.loads(f["event"]) for _, f in await cluster_redis.xrange(keys.history(sid))]
        assert [event["sequence"] for event in history][:4] == [1, 2, 3, 4]


async def test_signed_webhooks_reach_a_merchant_from_a_cluster_once_each_and_in_order(
    cluster_env: dict[str, str], cluster_settings: Settings, cluster_redis: RedisCluster, redis_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    processes = Supervisor(env | cluster_env | {"PYTHONPATH": str(ROOT)})
    receiver = Receiver()
    merchant_app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    with (
        ServerThread(lambda url: merchant_app) as merchant_server,
        ServerThread(lambda url: create_app(cluster_settings.replace(public_url=url))) as server,
        LoopThread(lambda stop: normalize(cluster_settings, stop)),
    ):
        try:
            processes.start("dispatcher", "dispatcher")
            processes.start("worker", "worker")
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                shipment_ids, endpoint_ids = await _subscribe_and_ingest(
                    http, receiver, f"{merchant_server.url}/hook", cluster_redis
                )
                expected = SHIPMENTS * 4 * len(endpoint_ids)
                await eventually(
                    lambda: len(receiver.accepted()) >= expected or processes.failed(),
                    90,
                    f"{expected} deliveries",
                )
            assert processes.failed() is None
        finally:
            processes.stop()

    nodes = {cluster_redis.get_node_from_key(keys.history(sid)).name for sid in shipment_ids}
    assert len(nodes) == 3, "shipments should be spread over all three nodes"
    queues = {cluster_redis.get_node_from_key(keys.webhook_in_flight(eid)).name for eid in endpoint_ids}
    assert len(queues) == 3, "the endpoints' delivery queues should be spread over all three nodes"
    assert receiver.unverified == 0
    accepted = receiver.accepted()
    for endpoint_id in endpoint_ids:
        mine = [r.event for r in accepted if r.msg_id == delivery_id(endpoint_id, r.event["id"])]
        assert len(mine) == len({event["id"] for event in mine}) == SHIPMENTS * 4, "each event exactly once"
        for sid in shipment_ids:
            assert [e["sequence"] for e in mine if e["partitionkey"] == sid] == [1, 2, 3, 4], "in order"


async def _subscribe_and_ingest(
    http: httpx.AsyncClient, receiver: Receiver, hook_url: str, cluster_redis: RedisCluster
) -> tuple[list[str], list[str]]:
    """A merchant with endpoints until their queues sit on all three nodes; then its orders arrive."""
    merchant: dict[str, Any] = (
        await http.post("/v1/merchants", json={"name": "Cluster shop"}, headers=admin_headers())
    ).json()
    nodes: set[str] = set()
    endpoint_ids: list[str] = []
    for _ in range(40):  # bounded: each endpoint's queue lands on a node at random
        response = await http.post(
            "/v1/webhooks/endpoints", json={"url": hook_url}, headers=bearer(merchant["api_key"])
        )
        assert response.status_code == 201, response.text
        endpoint = response.json()
        node = cluster_redis.get_node_from_key(keys.webhook_in_flight(endpoint["id"])).name
        if node in nodes:
            await http.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=bearer(merchant["api_key"]))
            continue
        nodes.add(node)
        endpoint_ids.append(endpoint["id"])
        receiver.secrets.append(endpoint["secret"])
        if len(nodes) == 3:
            break
    receiver_path = httpx.URL(merchant["alopeyk_webhook_url"]).path
    orders = range(700000, 700000 + SHIPMENTS)
    return await _ingest_orders(http, receiver_path, cluster_redis, orders), endpoint_ids


async def _ingest_orders(
    http: httpx.AsyncClient, receiver_path: str, cluster_redis: RedisCluster, orders: range
) -> list[str]:
    """Each order's webhook twice (the resend publishes nothing); returns their shipments once normalized."""
    for order in orders:
        for _ in range(2):
            assert (await http.post(receiver_path, json=webhook_body(id=order))).status_code == 202
    await inbox_drained(cluster_redis)
    ids = []
    for order in orders:
        shipment = await shipments.find(cluster_redis, "alopeyk", str(order))
        assert shipment is not None, f"order {order} was not registered"
        ids.append(shipment.id)
    return ids


async def test_a_late_shipment_is_published_once_on_a_cluster(
    cluster_settings: Settings, cluster_redis: RedisCluster
) -> None:
    shipment, _ = await shipments.register(cluster_redis, "m1", "hld", "HLD67890ABCDEF")
    ingestor = Ingestor(cluster_redis, cluster_settings)
    tracking = (ROOT / "tests/fixtures/hld/tracking_on_the_way.json").read_bytes()  # ETA 11:15Z
    await ingestor.ingest_raw("hld", "tracking", tracking, Channel.POLL, ref="HLD67890ABCDEF")
    await ingestor.close()
    late = datetime.fromisoformat("2026-04-04T11:30:00+00:00")
    checkers = [DelayChecker(cluster_redis, cluster_settings) for _ in range(2)]  # two stores: two workers

    results = await asyncio.gather(*(checker.check(shipment.id, late) for checker in checkers))

    assert sorted(r.result for r in results) == ["duplicate", "published"]
    published = [f["type"] for _, f in await cluster_redis.xrange(keys.EVENTS)]
    assert published.count("shipment.delayed") == 1
    assert await cluster_redis.zscore(keys.DELAY_DUE, shipment.id) is None


async def test_lookups_retention_and_erasure_on_a_cluster(
    cluster_settings: Settings, cluster_redis: RedisCluster
) -> None:
    settings = cluster_settings.replace(shipment_retention_s=3600)
    with (
        ServerThread(lambda url: create_app(settings.replace(public_url=url))) as server,
        LoopThread(lambda stop: normalize(settings, stop)),
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            shop = (await http.post("/v1/merchants", json={"name": "Shop"}, headers=admin_headers())).json()
            receiver, key = httpx.URL(shop["alopeyk_webhook_url"]).path, bearer(shop["api_key"])
            for body in (webhook_body(id=600001), webhook_body(id=600002, status="finished")):
                assert (await http.post(receiver, json=body)).status_code == 202
            await inbox_drained(cluster_redis)
            lookup = {"merchant_ref": "SHOP-3333"}
            found = (await http.get("/v1/shipments", params=lookup, headers=key)).json()
            by_ref = {s["provider_ref"]: s for s in found["data"]}
            assert sorted(by_ref) == ["600001", "600002"]
            done, ongoing = by_ref["600002"], by_ref["600001"]
            for name in (keys.history(done["id"]), keys.tracking_token(done["tracking_token"])):
                assert 0 < await cluster_redis.pttl(name) <= 3_600_000, name
            assert await cluster_redis.pttl(keys.history(ongoing["id"])) == -1

            erased = await http.delete(f"/v1/shipments/{ongoing['id']}?erase=true", headers=key)
            assert erased.status_code == 204
            after = (await http.get(f"/v1/shipments/{ongoing['id']}", headers=key)).json()
            assert after["courier"] is None and all(e["data"]["courier"] is None for e in after["history"])
            assert [e["sequence"] for e in after["history"]] == [1, 2, 3, 4]
