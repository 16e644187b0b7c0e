"""A merchant's own API keys over real HTTP: several, named, shown once, revoked on every process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub import keys
from hub.api.app import create_app
from hub.registry import api_keys
from hub.settings import Secret, Settings
from tests.conftest import admin_headers, bearer, create_merchant
from tests.servers import ServerThread, eventually

REVOKED_WITHIN_S = 5.0


async def frames_until_closed(ws: ClientConnection, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Every frame until the server closes the socket (it must, within ``timeout_s``)."""
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout_s)))
    return frames


async def new_key(http: httpx.AsyncClient, key: str, name: str) -> dict[str, Any]:
    response = await http.post("/v1/keys", json={"name": name}, headers=bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_first_key_is_named_default_and_more_keys_are_listed_without_their_secrets(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    ci = await new_key(http, merchant["api_key"], "CI deploys")
    assert ci["key"].startswith("hk_") and ci["key"] != merchant["api_key"]
    assert ci["prefix"] == ci["key"][: len(ci["prefix"])] and len(ci["prefix"]) < 16
    assert ci["name"] == "CI deploys" and ci["last_used_ms"] is None

    listed = (await http.get("/v1/keys", headers=bearer(ci["key"]))).json()["data"]
    assert [k["name"] for k in listed] == ["default", "CI deploys"]
    assert all("key" not in k for k in listed)
    assert merchant["api_key"] not in json.dumps(listed) and ci["key"] not in json.dumps(listed)
    stored = json.dumps(await redis.hgetall(keys.merchant_api_keys(merchant["id"])))
    assert ci["key"] not in stored and merchant["api_key"] not in stored  # only digests are kept
    # the key that listed has been used just now; the default key earlier (creating the second)
    assert all(k["last_used_ms"] for k in listed)


async def test_last_used_is_written_at_most_once_a_minute_per_key(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    used_key = keys.merchant_api_keys_used(merchant["id"])
    await http.get("/v1/keys", headers=bearer(merchant["api_key"]))
    first = await redis.hgetall(used_key)
    await redis.hset(used_key, next(iter(first)), 1)  # as if written long ago
    for _ in range(5):
        assert (await http.get("/v1/keys", headers=bearer(merchant["api_key"]))).status_code == 200
    assert set((await redis.hgetall(used_key)).values()) == {"1"}  # not rewritten within the minute


async def test_a_revoked_key_is_refused_by_every_instance_within_seconds(
    http: httpx.AsyncClient, http2: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    spare = await new_key(http, merchant["api_key"], "spare")
    for client in (http, http2):  # both instances have served the key (any cache is warm)
        assert (await client.get("/v1/shipments", headers=bearer(spare["key"]))).status_code == 200

    assert (
        await http.delete(f"/v1/keys/{spare['id']}", headers=bearer(merchant["api_key"]))
    ).status_code == 204

    async def refused_by_both() -> bool:
        answers = [await c.get("/v1/shipments", headers=bearer(spare["key"])) for c in (http, http2)]
        return all(a.status_code == 401 for a in answers)

    await eventually(refused_by_both, "the revoked key refused by both instances", REVOKED_WITHIN_S)
    answer = await http2.get("/v1/keys", headers=bearer(spare["key"]))
    assert answer.json()["error"]["code"] == "unauthorized" and "revoked" in answer.json()["error"]["message"]
    listed = (await http2.get("/v1/keys", headers=bearer(merchant["api_key"]))).json()["data"]
    assert [k["name"] for k in listed] == ["default"]


async def test_a_live_socket_opened_with_a_revoked_key_is_closed_on_another_instance(
    http: httpx.AsyncClient, second_server: ServerThread, merchant: dict[str, Any]
) -> None:
    spare = await new_key(http, merchant["api_key"], "dashboard")
    ws_url = second_server.url.replace("http://", "ws://") + "/v1/live"
    async with connect(ws_url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "subscribe", "token": spare["key"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
        assert (
            await http.delete(f"/v1/keys/{spare['id']}", headers=bearer(merchant["api_key"]))
        ).status_code == 204
        frames = await frames_until_closed(ws)
        assert ws.close_code == 4003
        assert frames[-1] == {
            "type": "error",
            "code": "key_revoked",
            "message": "the API key this socket was opened with was revoked",
        }


async def test_another_merchants_key_is_not_found_and_the_last_key_cannot_be_revoked(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Other")
    theirs = (await http.get("/v1/keys", headers=bearer(other["api_key"]))).json()["data"][0]
    answer = await http.delete(f"/v1/keys/{theirs['id']}", headers=bearer(merchant["api_key"]))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert (await http.get("/v1/keys", headers=bearer(other["api_key"]))).status_code == 200

    mine = (await http.get("/v1/keys", headers=bearer(merchant["api_key"]))).json()["data"][0]
    last = await http.delete(f"/v1/keys/{mine['id']}", headers=bearer(merchant["api_key"]))
    assert last.status_code == 409 and "last API key" in last.json()["error"]["message"]
    unknown = await http.delete("/v1/keys/key_%F0%9F%98%80", headers=bearer(merchant["api_key"]))
    assert unknown.status_code == 404


async def test_hostile_key_requests_get_precise_refusals(
    http: httpx.AsyncClient, merchant: dict[str, Any], settings: Settings
) -> None:
    key = bearer(merchant["api_key"])
    cases: list[tuple[bytes, int, str]] = [
        (b"", 400, "invalid_json"),
        (b"not json", 400, "invalid_json"),
        (b"\xff\xfe{}", 400, "invalid_utf8"),
        (b"[" * 30_000, 422, "too_deep"),
        (b'{"a":' * 10_000, 422, "too_deep"),
        (b'["name"]', 422, "wrong_type"),
        (b"{}", 422, "unprocessable"),
        (b'{"name": null}', 422, "unprocessable"),
        (b'{"name": 12}', 422, "unprocessable"),
        (b'{"name": 1' + b"0" * 5000 + b"}", 422, "number_too_long"),
        (b'{"name": true}', 422, "unprocessable"),
        (b'{"name": {"x": 1}}', 422, "unprocessable"),
        (b'{"name": "   "}', 422, "unprocessable"),
        (b'{"name": "\\ud800"}', 400, "lone_surrogate"),
        (b'{"name": "ok\\udfff"}', 400, "lone_surrogate"),
        (b'{"name": "tab\\tname"}', 422, "unprocessable"),
        (json.dumps({"name": "x" * 101}).encode(), 422, "unprocessable"),
        (b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}', 413, "payload_too_large"),
    ]
    for body, status, code in cases:
        answer = await http.post("/v1/keys", content=body, headers=key)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body[:40]
    listed = (await http.get("/v1/keys", headers=key)).json()["data"]
    assert len(listed) == 1  # nothing hostile was stored
    unicode = await new_key(http, merchant["api_key"], "کلید فروشگاه 🚚")
    assert unicode["name"] == "کلید فروشگاه 🚚"
    for header in (b"Bearer", "Bearer hk_\u00e9".encode(), b"Basic abc", b"Bearer " + b"x" * 10_000):
        answer = await http.get("/v1/keys", headers={"Authorization": header})
        assert answer.status_code == 401, header[:20]


async def test_a_merchant_has_at_most_the_allowed_number_of_keys(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    for index in range(api_keys.MAX_KEYS - 1):
        await api_keys.create(redis, merchant["id"], f"k{index}")
    refused = await http.post("/v1/keys", json={"name": "one more"}, headers=bearer(merchant["api_key"]))
    assert refused.status_code == 409 and str(api_keys.MAX_KEYS) in refused.json()["error"]["message"]


async def test_concurrent_creates_never_pass_the_cap(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    """Twenty requests at once, five places left: five keys made, fifteen refused, never more."""
    for index in range(api_keys.MAX_KEYS - 6):
        await api_keys.create(redis, merchant["id"], f"k{index}")
    answers = await asyncio.gather(
        *(
            http.post("/v1/keys", json={"name": f"race {n}"}, headers=bearer(merchant["api_key"]))
            for n in range(20)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 5 + [409] * 15
    listed = (await http.get("/v1/keys", headers=bearer(merchant["api_key"]))).json()["data"]
    assert len(listed) == api_keys.MAX_KEYS
    made = [a.json()["key"] for a in answers if a.status_code == 201]
    for secret in made:  # each key made in the race works
        assert (await http.get("/v1/keys", headers=bearer(secret))).status_code == 200


async def test_a_merchant_created_before_named_keys_keeps_its_key_as_default(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    """Data written by the previous version: one key, its digest on the merchant's hash."""
    legacy_key = "hk_legacy-key-of-an-old-merchant-0000000000000"
    digest = api_keys.digest(legacy_key)
    await redis.hset(
        keys.merchant("mer_old"), mapping={"name": "Old", "api_key_sha256": digest, "created_ms": 5}
    )
    await redis.set(keys.api_key(digest), "mer_old")
    listed = (await http.get("/v1/keys", headers=bearer(legacy_key))).json()["data"]
    assert [(k["name"], k["created_ms"]) for k in listed] == [("default", 5)]
    merchants = (await http.get("/v1/merchants", headers=admin_headers())).json()["data"]
    assert [(m["id"], m["name"], m["created_ms"]) for m in merchants] == [("mer_old", "Old", 5)]  # indexed
    newer = await new_key(http, legacy_key, "new")
    assert (await http.delete(f"/v1/keys/{listed[0]['id']}", headers=bearer(newer["key"]))).status_code == 204
    assert (await http.get("/v1/keys", headers=bearer(legacy_key))).status_code == 401
    assert [k["name"] for k in (await http.get("/v1/keys", headers=bearer(newer["key"]))).json()["data"]] == [
        "new"
    ]


async def test_live_tokens_die_with_the_key_that_issued_them(
    http: httpx.AsyncClient, second_server: ServerThread, merchant: dict[str, Any]
) -> None:
    spare = await new_key(http, merchant["api_key"], "browser tokens")
    issued = await http.post("/v1/live/tokens", headers=bearer(spare["key"]))
    token = issued.json()["token"]
    kept = (await http.post("/v1/live/tokens", headers=bearer(merchant["api_key"]))).json()["token"]
    ws_url = second_server.url.replace("http://", "ws://") + "/v1/live"
    async with connect(ws_url, open_timeout=10) as ws, connect(ws_url, open_timeout=10) as other:
        for socket, credential in ((ws, token), (other, kept)):
            await socket.send(json.dumps({"type": "subscribe", "token": credential}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "subscribed"
        revoked = await http.delete(f"/v1/keys/{spare['id']}", headers=bearer(merchant["api_key"]))
        assert revoked.status_code == 204
        frames = await frames_until_closed(ws)
        assert ws.close_code == 4003 and frames[-1]["code"] == "key_revoked"
        await other.send(json.dumps({"type": "ping"}))  # a token of another key is untouched
        assert json.loads(await asyncio.wait_for(other.recv(), 10))["type"] in {"snapshot", "pong", "ping"}
    async with connect(ws_url, open_timeout=10) as again:
        await again.send(json.dumps({"type": "subscribe", "token": token}))
        refused = await frames_until_closed(again)
        assert again.close_code == 4001 and "revoked" in refused[-1]["message"]


async def test_two_revocations_at_once_never_leave_a_merchant_without_a_key(
    http: httpx.AsyncClient, http2: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    for _ in range(5):
        spare = await new_key(http, merchant["api_key"], "spare")
        default = (await http.get("/v1/keys", headers=bearer(spare["key"]))).json()["data"][0]
        answers = await asyncio.gather(
            http.delete(f"/v1/keys/{default['id']}", headers=bearer(spare["key"])),
            http2.delete(f"/v1/keys/{spare['id']}", headers=bearer(merchant["api_key"])),
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses in ([204, 409], [204, 401]), statuses  # 401: the caller's own key went first
        survivors = [
            k
            for k in (merchant["api_key"], spare["key"])
            if (await http.get("/v1/keys", headers=bearer(k))).status_code == 200
        ]
        assert len(survivors) == 1
        merchant = {**merchant, "api_key": survivors[0]}


async def test_a_pusher_private_channel_authorized_by_a_revoked_key_is_closed(
    settings: Settings, redis: Redis, merchant: dict[str, Any]
) -> None:
    """pusher-js authorizes a private channel once; the socket must not outlive the key that did."""
    configured = settings.replace(live_pusher_secret=Secret("pusher-secret"))
    with ServerThread(lambda url: create_app(configured.replace(public_url=url))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            spare = await new_key(client, merchant["api_key"], "dashboard")
            channel = f"private-merchant-{merchant['id']}"
            url = server.url.replace("http://", "ws://") + "/app/hub?protocol=7"
            async with connect(url, open_timeout=10) as ws:
                established = json.loads(await asyncio.wait_for(ws.recv(), 10))
                socket_id = json.loads(established["data"])["socket_id"]
                authorized = await client.post(
                    "/v1/live/pusher/auth",
                    content=f"socket_id={socket_id}&channel_name={channel}",
                    headers={**bearer(spare["key"]), "content-type": "application/x-www-form-urlencoded"},
                )
                assert authorized.status_code == 200, authorized.text
                subscribe = {"channel": channel, "auth": authorized.json()["auth"]}
                await ws.send(json.dumps({"event": "pusher:subscribe", "data": subscribe}))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert answer["event"] == "pusher_internal:subscription_succeeded", answer
                revoked = await client.delete(f"/v1/keys/{spare['id']}", headers=bearer(merchant["api_key"]))
                assert revoked.status_code == 204
                frames = []
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 15)))
                assert ws.close_code == 4009
                assert frames[-1]["event"] == "pusher:error" and "key_revoked" in json.dumps(frames[-1])
