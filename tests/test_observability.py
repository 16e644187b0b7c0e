"""Metrics of the whole hub, request ids, and logs that never carry a secret."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from hub import logs
from tests.test_alopeyk_receiver import receiver_path, webhook_body


async def test_metrics_count_ingested_events_and_dead_letters(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), content=b"{", headers={"content-type": "application/json"})
    expected = [
        'hub_events_ingested_total{channel="webhook",outcome="new",provider="alopeyk"} 4',
        'hub_events_ingested_total{channel="webhook",outcome="duplicate",provider="alopeyk"} 4',
        'hub_deadletters_total{channel="webhook",provider="alopeyk"} 1',
        'hub_stream_length{stream="hub:events"} 4',
        'hub_inbox_accepted_total{provider="alopeyk"} 2',  # the bad body was refused at once
        'hub_inbox_processed_total{outcome="ingested",provider="alopeyk"} 2',
        'hub_consumer_group_lag{group="normalizers",stream="hub:inbox"} 0',
    ]
    text = await eventually_in_metrics(http, *expected)  # counted in memory, written within a second
    assert [line for line in expected if line not in text] == []


async def eventually_in_metrics(http: httpx.AsyncClient, *expected: str, timeout_s: float = 10) -> str:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        text = (await http.get("/metrics")).text
        if all(line in text for line in expected) or asyncio.get_running_loop().time() > deadline:
            return text
        await asyncio.sleep(0.05)


async def test_every_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    given = await http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    made = await http.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16


def test_log_lines_are_json_and_never_carry_secrets(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "hub.access",
        logging.INFO,
        __file__,
        1,
        "POST %s with %s",
        ("/ingest/alopeyk/s3cr3t-value", "Bearer hk_abc"),
        None,
    )
    line = logs.JsonFormatter().format(record)
    assert "s3cr3t-value" not in line and "hk_abc" not in line
    assert '"message": "POST /ingest/alopeyk/*** with Bearer ***"' in line
