"""Keys, rotation and the operator's switch on the three-node Redis Cluster (keys on several slots)."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio.cluster import RedisCluster

from hub.api.app import create_app
from hub.settings import Settings
from tests.conftest import admin_headers, bearer
from tests.servers import ServerThread, eventually
from tests.test_alopeyk_receiver import webhook_body
from tests.test_cluster import cluster, cluster_env, cluster_redis, cluster_settings

__all__ = ["cluster", "cluster_env", "cluster_redis", "cluster_settings"]  # the fixtures, shared

SEEN_WITHIN_S = 5.0


async def test_keys_rotation_and_disabling_work_on_a_cluster(
    cluster_settings: Settings, cluster_redis: RedisCluster
) -> None:
    settings = cluster_settings.replace(receiver_secret_overlap_s=0)
    with (
        ServerThread(lambda url: create_app(settings.replace(public_url=url))) as one,
        ServerThread(lambda url: create_app(settings.replace(public_url=url))) as two,
    ):
        async with (
            httpx.AsyncClient(base_url=one.url, timeout=20) as first,
            httpx.AsyncClient(base_url=two.url, timeout=20) as second,
        ):
            shop: dict[str, Any] = (
                await first.post("/v1/merchants", json={"name": "Cluster shop"}, headers=admin_headers())
            ).json()
            spare = (
                await first.post("/v1/keys", json={"name": "spare"}, headers=bearer(shop["api_key"]))
            ).json()
            assert (await second.get("/v1/keys", headers=bearer(spare["key"]))).status_code == 200
            assert (
                await second.delete(f"/v1/keys/{spare['id']}", headers=bearer(shop["api_key"]))
            ).status_code == 204
            assert (await first.get("/v1/keys", headers=bearer(spare["key"]))).status_code == 401

            old = httpx.URL(shop["alopeyk_webhook_url"]).path
            assert (await second.post(old, json=webhook_body(id=880001))).status_code == 202
            rotated = (
                await first.post("/v1/receivers/alopeyk/rotate", headers=bearer(shop["api_key"]))
            ).json()
            new = httpx.URL(rotated["alopeyk_webhook_url"]).path

            async def old_refused() -> bool:
                return (await second.post(old, json=webhook_body(id=880002))).status_code == 404

            await eventually(old_refused, "the rotated URL refused", SEEN_WITHIN_S)
            assert (await second.post(new, json=webhook_body(id=880003))).status_code == 202

            merchant_path = f"/v1/merchants/{shop['id']}"
            assert (await first.post(merchant_path + "/disable", headers=admin_headers())).status_code == 200
            refused = await second.get("/v1/shipments", headers=bearer(shop["api_key"]))
            assert refused.status_code == 403

            async def receiver_refuses() -> bool:
                return (await second.post(new, json=webhook_body(id=880004))).status_code == 404

            await eventually(receiver_refuses, "the disabled merchant's receiver refusing", SEEN_WITHIN_S)
            listed = (await second.get("/v1/merchants", headers=admin_headers())).json()["data"]
            assert [(m["id"], m["disabled"]) for m in listed] == [(shop["id"], True)]
            assert (await second.post(merchant_path + "/enable", headers=admin_headers())).status_code == 200
            assert (await first.get("/v1/shipments", headers=bearer(shop["api_key"]))).status_code == 200
