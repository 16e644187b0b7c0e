"""Alopeyk webhooks at a steady rate: each order's steps posted one after another, as Alopeyk would.

Every step moves the courier (a longitude of its own) one second later, so each accepted webhook
must become exactly one ``shipment.location_updated`` event. A refused attempt (503 while Redis
is away, a connection cut by a killed web process) is sent again, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.figures import LNG_BASE, LNG_STEP

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "alopeyk" / "webhook_accepted.json"
ORDER_ID_BASE = 700_000
ATTEMPTS_MAX = 200
ATTEMPT_WINDOW_S = 60.0
RETRY_WAIT_S = 0.1
START = datetime(2017, 9, 12, 18, 0, 0)


@dataclass
class Sent:
    accepted: set[tuple[str, int]] = field(default_factory=set)  # (order id, step)
    refused: list[str] = field(default_factory=list)  # 4xx, or given up: a webhook the hub never took
    server_errors: int = 0
    unavailable: int = 0

    @property
    def count(self) -> int:
        return len(self.accepted)


class Pacer:
    """Hands out send times ``1/rate`` apart (a schedule, not a synchronization)."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval_s = 1 / rate_per_s
        self.next_s = time.monotonic()

    async def turn(self) -> None:
        self.next_s = max(self.next_s + self.interval_s, time.monotonic() - 1)
        await asyncio.sleep(max(0.0, self.next_s - time.monotonic()))


def step_body(template: dict[str, Any], order_id: int, step: int) -> dict[str, Any]:
    body = copy.deepcopy(template)
    when = (START + timedelta(seconds=step)).strftime("%Y-%m-%d %H:%M:%S")
    body["order"]["id"] = order_id
    body["order"]["last_position_minimal"] = {
        "lat": 35.75,
        "lng": LNG_BASE + step * LNG_STEP,
        "updated_at": when,
    }
    return body


async def post_orders(
    http: httpx.AsyncClient,
    url: str,
    *,
    orders: int,
    steps: int,
    rate_per_s: float,
    concurrency: int,
    sent: Sent,
    stop: asyncio.Event | None = None,
) -> None:
    """Post ``orders`` x ``steps`` webhooks at ``rate_per_s``, ``concurrency`` orders at a time."""
    template = json.loads(FIXTURE.read_text())
    pacer = Pacer(rate_per_s)
    numbers = iter(range(orders))

    async def lane() -> None:
        for index in numbers:
            for step in range(steps):
                if stop is not None and stop.is_set():
                    return
                await pacer.turn()
                order_id = ORDER_ID_BASE + index
                if await _post(http, url, step_body(template, order_id, step), sent):
                    sent.accepted.add((str(order_id), step))
                else:
                    sent.refused.append(f"{order_id}/{step}")
                    break  # later steps would overtake a lost one

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any], sent: Sent) -> bool:
    deadline = time.monotonic() + ATTEMPT_WINDOW_S
    for _ in range(ATTEMPTS_MAX):
        try:
            response = await http.post(url, json=body)
        except httpx.TransportError:
            response = None
        if response is not None:
            if response.status_code == 202:
                return True
            if response.status_code == 503:
                sent.unavailable += 1
            elif response.status_code >= 500:
                sent.server_errors += 1
            else:
                return False
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(RETRY_WAIT_S)
    return False
