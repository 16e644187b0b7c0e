"""Hostile bodies at every route that reads one: a precise 4xx with its code, never a 5xx (issue 12).

Each case here answered 500 (or 202 and then killed the normalizer) before the guarded reader.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from hub import keys
from tests.conftest import admin_headers, bearer, inbox_drained
from tests.providers.test_properties import damaged
from tests.servers import ServerThread
from tests.test_alopeyk_receiver import dead_letters, published, receiver_path, webhook_body

DEEP = b'{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
LONG_NUMBER = b'{"name": ' + b"7" * 5_000 + b"}"
SURROGATE = "\\ud800"  # a JSON escape of a lone surrogate, as it goes on the wire


def with_surrogate(field: str) -> bytes:
    """A JSON body whose ``field`` holds a lone surrogate escape (json.dumps would refuse to write it)."""
    return f'{{"{field}": "x{SURROGATE}"}}'.encode()


def alopeyk_with_surrogate(path: str) -> bytes:
    """Alopeyk's webhook example with a lone surrogate escape at ``path`` (dotted) inside the order."""
    body = webhook_body(id="ord-1")
    marker = "@@SURROGATE@@"
    *parents, last = path.split(".")
    target = body["order"]
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = f"x{marker}"
    return json.dumps(body).replace(marker, SURROGATE).encode()


def assert_refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.headers["content-type"]) == (status, "application/json"), (
        response.text
    )
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.mark.parametrize("field", ["id", "status", "extra_params", "courier.firstname"])
async def test_a_lone_surrogate_in_an_alopeyk_webhook_is_refused_at_the_receiver_and_kept(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], field: str
) -> None:
    path = receiver_path(merchant)
    response = await http.post(path, content=alopeyk_with_surrogate(field))
    error = assert_refused(response, 400, "lone_surrogate")
    assert await redis.xlen(keys.INBOX) == 0  # never reaches the normalizer
    [kept] = await dead_letters(redis)
    assert kept["merchant_id"] == merchant["id"] and error["deadletter_id"]
    # The pipeline carries on: the next good webhook becomes events.
    assert (await http.post(path, json=webhook_body(id="ord-2"))).status_code == 202
    await inbox_drained(redis)
    assert {e["subject"] for e in await published(redis)}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (DEEP, 422, "too_deep"),
        (b'{"order": {"id": ' + b"9" * 5_000 + b', "status": "new"}}', 422, "number_too_long"),
        (b'{"order": {"id": 1e999, "status": "new"}}', 422, "number_too_long"),
        (b'{"order": {"id": "\xff\xfe", "status": "new"}}', 400, "invalid_utf8"),
        (b'{"order": {"id": NaN, "status": "new"}}', 400, "invalid_json"),
        (b'["order"]', 422, "wrong_type"),
        (b'{"status": "fail", "object": {}}', 422, "not_normalizable"),
        (b'{"status": "fail", "message": "order_not_found", "object": null}', 422, "not_normalizable"),
    ],
)
async def test_hostile_alopeyk_webhooks_are_refused_precisely_and_dead_lettered(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], body: bytes, status: int, code: str
) -> None:
    response = await http.post(receiver_path(merchant), content=body)
    error = assert_refused(response, status, code)
    [kept] = await dead_letters(redis)
    assert error["deadletter_id"] and kept["merchant_id"] == merchant["id"]
    assert await redis.xlen(keys.INBOX) == 0


async def test_hostile_bodies_at_the_json_api_get_a_precise_4xx(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    key = bearer(merchant["api_key"])
    cases: list[tuple[str, dict[str, str], bytes, int, str]] = [
        ("/v1/merchants", admin_headers(), DEEP, 422, "too_deep"),
        ("/v1/merchants", admin_headers(), LONG_NUMBER, 422, "number_too_long"),
        ("/v1/merchants", admin_headers(), with_surrogate("name"), 400, "lone_surrogate"),
        ("/v1/merchants", admin_headers(), b'{"name": "\xc3\x28"}', 400, "invalid_utf8"),
        ("/v1/shipments", key, DEEP, 422, "too_deep"),
        ("/v1/shipments", key, with_surrogate("provider_ref"), 400, "lone_surrogate"),
        ("/v1/shipments", key, with_surrogate("merchant_ref"), 400, "lone_surrogate"),
        ("/v1/shipments", key, b'{"provider": "hld", "provider_ref": ' + b"1" * 5_000 + b"}", 422,
         "number_too_long"),
        ("/v1/webhooks/endpoints", key, with_surrogate("url"), 400, "lone_surrogate"),
        ("/v1/webhooks/endpoints", key, DEEP, 422, "too_deep"),
        ("/v1/webhooks/endpoints", key, b'"https://example.com/hook"', 422, "wrong_type"),
    ]  # fmt: skip
    for path, headers, body, status, code in cases:
        response = await http.post(path, content=body, headers=headers)
        assert_refused(response, status, code)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_body_at_the_alopeyk_receiver_is_a_202_or_a_kept_4xx_and_the_pipeline_carries_on(
    hub_server: ServerThread, redis_url: str, data: st.DataObject
) -> None:
    created = httpx.post(f"{hub_server.url}/v1/merchants", json={"name": "Prop"}, headers=admin_headers())
    url = created.json()["alopeyk_webhook_url"]
    body = data.draw(
        st.one_of(
            st.binary(max_size=400),
            damaged(webhook_body(id=data.draw(st.text(min_size=1, max_size=8)))).map(
                lambda payload: json.dumps(payload).encode()  # lone surrogates go out as \udXXX escapes
            ),
        )
    )
    response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 202 or 400 <= response.status_code < 500, response.text
    if response.status_code != 202:
        assert response.json()["error"]["deadletter_id"]
    client = SyncRedis.from_url(redis_url, decode_responses=True)
    try:  # the normalizer turns every accepted body into events or a dead letter, and lives on
        deadline = time.monotonic() + 10
        while client.xlen(keys.INBOX) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.xlen(keys.INBOX) == 0, "the normalizer stopped taking the inbox"
    finally:
        client.close()
