"""Merchants and shipments API over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.routing import Route

from hub.api.app import create_app
from hub.api.openapi import PATHS
from hub.settings import Settings
from tests.conftest import admin_headers, bearer, create_merchant


async def register(
    http: httpx.AsyncClient, key: str, provider: str, ref: str, **extra: Any
) -> httpx.Response:
    return await http.post(
        "/v1/shipments", json={"provider": provider, "provider_ref": ref, **extra}, headers=bearer(key)
    )


async def test_creating_a_merchant_needs_the_admin_token(http: httpx.AsyncClient) -> None:
    missing = await http.post("/v1/merchants", json={"name": "x"})
    wrong = await http.post("/v1/merchants", json={"name": "x"}, headers=bearer("nope"))
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["error"]["code"] == "unauthorized"
    created = await http.post("/v1/merchants", json={"name": "Shop"}, headers=admin_headers())
    assert created.status_code == 201
    body = created.json()
    assert body["api_key"].startswith("hk_")
    assert body["alopeyk_webhook_url"].startswith(str(http.base_url).rstrip("/") + "/ingest/alopeyk/")


async def test_register_get_and_stop_tracking_a_shipment(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    created = await register(http, key, "all24", "HSBY37H7", merchant_ref="ORDER-1")
    assert created.status_code == 201
    shipment = created.json()
    assert shipment["tracking_token"] and shipment["tracking_url"].endswith(shipment["tracking_token"])
    again = await register(http, key, "all24", "HSBY37H7")
    assert again.status_code == 200 and again.json()["id"] == shipment["id"]

    fetched = await http.get(f"/v1/shipments/{shipment['id']}", headers=bearer(key))
    assert fetched.status_code == 200
    assert fetched.json()["merchant_ref"] == "ORDER-1" and fetched.json()["history"] == []

    assert (await http.delete(f"/v1/shipments/{shipment['id']}", headers=bearer(key))).status_code == 204
    assert (await http.get(f"/v1/shipments/{shipment['id']}", headers=bearer(key))).json()[
        "tracking"
    ] is False


async def test_a_merchant_never_sees_another_merchants_shipment(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    shipment = (await register(http, merchant["api_key"], "alod", "625fe47c6b8812713f16c52a")).json()
    for method in ("GET", "DELETE"):
        response = await http.request(
            method, f"/v1/shipments/{shipment['id']}", headers=bearer(other["api_key"])
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    listed = await http.get("/v1/shipments", headers=bearer(other["api_key"]))
    assert listed.json()["data"] == []
    taken = await register(http, other["api_key"], "alod", "625fe47c6b8812713f16c52a")
    assert taken.status_code == 409


async def test_listing_filters_and_paginates_with_a_cursor(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    for i in range(5):
        await register(http, key, "all24", f"HS{i}")
    await register(http, key, "alod", "booking-1")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"provider": "all24", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/v1/shipments", params=params, headers=bearer(key))).json()
        seen += [s["provider_ref"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["HS4", "HS3", "HS2", "HS1", "HS0"]  # newest first, each once
    bad = await http.get("/v1/shipments", params={"status": "teleported"}, headers=bearer(key))
    assert bad.status_code == 422 and "status must be one of" in bad.json()["error"]["message"]


async def test_invalid_bodies_get_precise_errors(http: httpx.AsyncClient, merchant: dict[str, Any]) -> None:
    key = merchant["api_key"]
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b"[1]", 422, "wrong_type"),
        (b'{"provider": "fedex", "provider_ref": "1"}', 422, "unprocessable"),
        (b'{"provider": "hld"}', 422, "unprocessable"),
    ]
    for body, status, code in cases:
        response = await http.post("/v1/shipments", content=body, headers=bearer(key))
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body


async def test_health_readiness_and_openapi_cover_every_route(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json()["status"] == "ready"
    document = (await http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    paths = {route.path for route in create_app(settings).routes if isinstance(route, Route)}
    assert paths <= set(document["paths"]) == set(PATHS)


async def test_readyz_reports_unreachable_redis() -> None:
    from tests.servers import ServerThread

    settings = Settings.from_env({"HUB_REDIS_URL": "redis://127.0.0.1:1/0"})
    with ServerThread(lambda url: create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["redis"].startswith("unreachable")
