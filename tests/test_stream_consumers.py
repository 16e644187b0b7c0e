"""Reading the streams as a merchant would: the documented consumer-group example, and `hub tail`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import httpx
from redis.asyncio import Redis

from hub import keys
from tests.conftest import ROOT
from tests.servers import wait_until
from tests.test_alopeyk_receiver import post_webhook, receiver_path, webhook_body

EXAMPLE = ROOT / "examples" / "consume_events.py"


class Output:
    """Collects a subprocess's stdout lines on a thread, so tests can wait for them."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))


def hub_env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "HUB_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}


def test_docs_show_the_consumer_example_verbatim() -> None:
    assert EXAMPLE.read_text().strip() in (ROOT / "docs" / "events.md").read_text()


async def test_the_consumer_group_example_reads_and_acknowledges_every_event(
    http: httpx.AsyncClient, redis: Redis, redis_url: str, merchant: dict[str, Any]
) -> None:
    await http.post(receiver_path(merchant), json=webhook_body())  # 4 events before the consumer starts
    with subprocess.Popen(
        [sys.executable, str(EXAMPLE)], env=hub_env(redis_url), stdout=subprocess.PIPE, text=True
    ) as process:
        output = Output(process)
        try:
            wait_until(lambda: len(output.lines) >= 4, 30, "the example to print the first 4 events")
            await http.post(
                receiver_path(merchant),
                json=webhook_body(status="picking", picking_at="2017-09-12T18:55:00+04:30"),
            )
            wait_until(lambda: len(output.lines) >= 5, 30, "the example to print the live event")
        finally:
            process.terminate()
            process.wait(timeout=10)
            output.thread.join(timeout=10)
    assert [line.split()[0] for line in output.lines] == ["shipment.status_changed"] * 3 + [
        "shipment.location_updated",
        "shipment.status_changed",
    ]
    assert output.lines[-1].split()[2] == "at_pickup"
    pending = await redis.xpending(keys.EVENTS, "my-app")
    assert pending["pending"] == 0  # everything it printed, it acknowledged


async def test_hub_tail_pretty_prints_the_global_stream_and_one_shipment(
    http: httpx.AsyncClient, redis: Redis, redis_url: str, merchant: dict[str, Any]
) -> None:
    shipment_id = await post_webhook(http, redis, merchant, webhook_body())
    tail = [sys.executable, "-m", "hub", "tail", "--from", "0", "--count", "4"]
    everything = subprocess.run(tail, env=hub_env(redis_url), capture_output=True, text=True, timeout=60)
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert len(lines) == 4
    assert "pending -> searching_courier" in lines[1] and "alopeyk:searching" in lines[1]
    assert "@35.75410,51.41535" in lines[3]
    one = subprocess.run(
        [*tail, "--shipment", shipment_id, "--json"],
        env=hub_env(redis_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [line.count(shipment_id) > 0 for line in one.stdout.splitlines()] == [True] * 4
