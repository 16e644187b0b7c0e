"""Alopeyk's API error envelope posted to the webhook receiver is not an order: a precise 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from tests.test_alopeyk_receiver import receiver_path


@pytest.mark.parametrize(
    "body",
    [
        {"status": "fail", "message": "ORDER_NOT_FOUND_ERROR", "object": {}},
        {"status": "fail", "message": "FORBIDDEN_ERROR", "object": None},
        {"status": "fail", "object": []},
    ],
    ids=["order-not-found", "forbidden", "no-constant"],
)
async def test_an_error_envelope_posted_as_a_webhook_is_refused_precisely(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await http.post(receiver_path(merchant), json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "not_normalizable"
    assert "error response, not an order" in response.json()["error"]["message"]
    assert await redis.xlen(keys.DEADLETTER) == 1 and await redis.xlen(keys.INBOX) == 0
