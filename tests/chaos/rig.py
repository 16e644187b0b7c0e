"""The hub under faults: processes, a restartable Redis, a merchant receiver and a live subscriber.

Used by ``tests/test_chaos.py`` and ``bench/soak.py``. Everything listens on 127.0.0.1 and every
wait is bounded. Faults: :meth:`Rig.kill` (SIGKILL a process, then start it again as a
supervisor would) and :meth:`Rig.restart_redis` (stop Redis, see ``/readyz`` say so, start it
again on the same port and data directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import redis as sync_redis
from starlette.applications import Starlette
from starlette.routing import Route

from hub import keys
from hub.dev.embedded import free_port
from tests.chaos import figures as checks
from tests.chaos.live import LiveSubscriber
from tests.chaos.processes import (
    PROCESSES,
    READY_TIMEOUT_S,
    Processes,
    hub_env,
    readyz,
    restartable_redis,
    wait_for,
)
from tests.chaos.traffic import Sent, post_orders
from tests.servers import ServerThread
from tests.webhooks.conftest import Receiver

ADMIN_TOKEN = "chaos-admin-token"
SETTLE_POLL_S = 0.2
LAG_SAMPLE_S = 0.25
REDIS_GONE_TIMEOUT_S = 15.0
PAGE = 1000


class Rig:
    def __init__(self, work_dir: Path, *, receiver_delay_s: float = 0.0, **env: str) -> None:
        self.work_dir = work_dir
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.redis = restartable_redis(work_dir / "redis")
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.processes = Processes(
            hub_env(self.redis.url, self.web_port, ADMIN_TOKEN, **env), work_dir / "logs", self.web_port
        )
        # A receiver that takes its time keeps deliveries in flight, so a killed worker has some.
        self.receiver = Receiver(behaviour=lambda count, event: (204, {}, receiver_delay_s))
        app = Starlette(routes=[Route("/hook", self.receiver.handle, methods=["POST"])])
        self.receiver_server = ServerThread(lambda url: app)
        self.sent = Sent()
        self.figures = checks.Figures()
        self.stop = asyncio.Event()
        self.live: LiveSubscriber | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.endpoint_id = ""
        self.ingest_url = ""
        self.redis_restarts = 0
        self.readyz_during_outage: list[int | None] = []

    async def __aenter__(self) -> Rig:
        self.redis.start()
        self.receiver_server.__enter__()
        for name in PROCESSES:
            self.processes.start(name)
        await asyncio.to_thread(wait_for, lambda: readyz(self.web_port) == 200, READY_TIMEOUT_S, "hub serve")
        await asyncio.to_thread(wait_for, self._all_at_work, READY_TIMEOUT_S, "every process at work")
        api_key = await self._merchant_and_endpoint()
        self.live = LiveSubscriber(f"ws://127.0.0.1:{self.web_port}", api_key)
        self.tasks = [asyncio.create_task(self.live.run(self.stop)), asyncio.create_task(self._sample_lag())]
        await self.live.subscribed(30)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 30)
        await asyncio.to_thread(self.processes.stop_all)
        self.receiver_server.__exit__(None, None, None)
        self.redis.stop()

    def _client(self) -> sync_redis.Redis:
        return sync_redis.Redis.from_url(self.redis.url, decode_responses=True, socket_timeout=5)

    def _all_at_work(self) -> bool:
        with self._client() as client:
            try:
                groups = {g["name"] for g in client.xinfo_groups(keys.EVENTS)}
                inbox = {g["name"] for g in client.xinfo_groups(keys.INBOX)}
            except sync_redis.ResponseError:
                return False
            return (
                client.scard("rq:workers") > 0 and keys.WEBHOOK_GROUP in groups and keys.INBOX_GROUP in inbox
            )

    async def _merchant_and_endpoint(self) -> str:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            made = await http.post("/v1/merchants", json={"name": "Chaos Shop"}, headers=admin)
            assert made.status_code == 201, made.text
            merchant = made.json()
            key = {"Authorization": f"Bearer {merchant['api_key']}"}
            hook = await http.post(
                "/v1/webhooks/endpoints", json={"url": f"{self.receiver_server.url}/hook"}, headers=key
            )
            assert hook.status_code == 201, hook.text
        self.receiver.secrets.append(hook.json()["secret"])
        self.endpoint_id = hook.json()["id"]
        self.ingest_url = self.url + httpx.URL(merchant["alopeyk_webhook_url"]).path
        return str(merchant["api_key"])

    # ---- faults --------------------------------------------------------------------------

    async def kill(self, name: str) -> None:
        """SIGKILL ``name`` and start it again; a worker's leased deliveries are counted as in flight."""
        await asyncio.to_thread(self.processes.kill, name)
        if name == "worker":
            self.figures.deliveries_in_flight_at_kills += await asyncio.to_thread(self._in_flight)
        self.processes.start(name)

    def _in_flight(self) -> int:
        """Deliveries leased and not finished: what the killed worker may have sent without recording it."""
        with self._client() as client:
            now_ms = int(time.time() * 1000)
            return int(client.zcount(keys.webhook_in_flight(self.endpoint_id), now_ms, "+inf"))

    async def restart_redis(self, down_s: float = 1.0) -> None:
        """Stop Redis, wait until ``/readyz`` says the hub is not ready, hold it down, start it again."""
        await asyncio.to_thread(self.redis.stop)
        await asyncio.to_thread(
            wait_for,
            lambda: readyz(self.web_port) != 200,
            REDIS_GONE_TIMEOUT_S,
            "/readyz to report Redis gone",
        )
        self.readyz_during_outage.append(readyz(self.web_port))
        await asyncio.sleep(down_s)  # the outage's length, not a synchronization
        await asyncio.to_thread(self.redis.start)
        self.redis_restarts += 1

    # ---- traffic and verdict -------------------------------------------------------------

    async def send(self, *, orders: int, steps: int, rate_per_s: float, concurrency: int = 20) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await post_orders(
                http,
                self.ingest_url,
                orders=orders,
                steps=steps,
                rate_per_s=rate_per_s,
                concurrency=concurrency,
                sent=self.sent,
                stop=self.stop,
            )

    async def settle(self, timeout_s: float) -> checks.Figures:
        """Wait (bounded) until everything sent is an event, delivered and seen live; then count."""
        deadline = time.monotonic() + timeout_s
        while True:
            figures = await self.verdict()
            done = not (figures.events_lost or figures.deliveries_missing or figures.live_frames_missed)
            if done or time.monotonic() > deadline:
                return figures
            await asyncio.sleep(SETTLE_POLL_S)

    async def verdict(self) -> checks.Figures:
        entries = await asyncio.to_thread(self._events)
        figures = self.figures
        figures.webhooks_accepted = self.sent.count
        figures.server_errors, figures.unavailable = self.sent.server_errors, self.sent.unavailable
        figures.deliveries_unverified = self.receiver.unverified
        checks.check_events(figures, entries, self.sent.accepted)
        checks.check_deliveries(figures, entries, self.receiver.accepted())
        assert self.live is not None
        checks.check_live(figures, entries, list(self.live.offsets))
        figures.live_unrecovered = self.live.unrecovered
        return figures

    def _events(self) -> list[tuple[str, dict[str, Any]]]:
        entries: list[tuple[str, dict[str, Any]]] = []
        start = "-"
        with self._client() as client:
            for _ in range(100_000):
                page = client.xrange(keys.EVENTS, start, "+", count=PAGE)
                entries += page
                if len(page) < PAGE:
                    break
                start = "(" + page[-1][0]
        return entries

    async def _sample_lag(self) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                with contextlib.suppress(sync_redis.RedisError, OSError):
                    await asyncio.to_thread(self._lag, client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), LAG_SAMPLE_S)

    def _lag(self, client: sync_redis.Redis) -> None:
        length = int(client.xlen(keys.INBOX))
        self.figures.inbox_lag_max = max(self.figures.inbox_lag_max, length)
        oldest = client.xrange(keys.INBOX, "-", "+", count=1)
        if oldest:
            age_s = time.time() - int(oldest[0][0].split("-")[0]) / 1000
            self.figures.inbox_lag_max_s = max(self.figures.inbox_lag_max_s, round(age_s, 2))
