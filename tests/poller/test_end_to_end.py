"""Real RQ workers and a real scheduler (subprocesses) poll the five emulators over HTTP."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Worker

from hub import keys
from hub.dev.emulators import alclient, all24, alod, alopeyk, hld
from hub.model.status import TERMINAL
from hub.registry import shipments
from tests.poller.conftest import Emulators, Processes, poller_env, status_codes
from tests.poller.drive import wait_for

REFS = {
    "alopeyk": ("14756", alopeyk.FLOWS),
    "hld": ("tok-live-1", hld.FLOWS),
    "alclient": ("10245", alclient.FLOWS),
    "alod": ("625fe47c6b8812713f16c52a", alod.FLOWS),
    "all24": ("HSBY37H7", all24.FLOWS),
}
TIMEOUT_S = 90.0


async def test_every_provider_walks_its_whole_flow_each_event_once_in_order(
    redis: Redis, emulators: Emulators, poll_env: dict[str, str], processes: Processes
) -> None:
    registered = {
        provider: (await shipments.register(redis, "m1", provider, ref))[0]
        for provider, (ref, _) in REFS.items()
    }
    processes.start(poll_env, "scheduler")
    processes.start(poll_env, "worker")

    async def all_stopped() -> bool:
        return not await redis.zcard(keys.POLL_DUE)

    await wait_for(all_stopped, TIMEOUT_S, "every shipment to reach a terminal status and stop being polled")

    for provider, shipment in registered.items():
        flow = [step.code for step in REFS[provider][1]["deliver"]]
        codes = await status_codes(redis, shipment.id)
        assert codes == flow[: len(codes)], f"{provider}: {codes} is not its flow {flow} in order"
        current = await shipments.get(redis, shipment.id)
        assert current.status in TERMINAL, provider
        assert (await redis.hgetall(keys.poll_state(shipment.id))).get("stopped_ms"), provider
    published = [json.loads(f["event"])["id"] for _, f in await redis.xrange(keys.EVENTS)]
    assert published, "nothing reached hub:events"
    assert [i for i, n in Counter(published).items() if n > 1] == []


async def test_rate_limit_holds_across_two_workers(
    redis: Redis, redis_url: str, emulators: Emulators, processes: Processes
) -> None:
    limit, window_s = 8, 2
    env = poller_env(
        redis_url, emulators, HUB_ALL24_RATE_LIMITS=f"{limit}/{window_s}", HUB_POLL_BATCH_SIZE="5"
    )
    for n in range(20):
        await shipments.register(redis, "m1", "all24", f"RL{n:04d}")
    processes.start(env, "scheduler")
    processes.start(env, "worker", "--name", "poller-a")
    processes.start(env, "worker", "--name", "poller-b")

    async def enough() -> bool:
        return len(emulators.requests("all24")) >= 4 * limit

    await wait_for(enough, TIMEOUT_S, f"{4 * limit} requests at the all24 emulator")
    times_s = sorted(emulators.requests("all24"))
    # Counted where the provider counts them: on arrival, in any window (requests stay counted in flight).
    busiest = max(sum(1 for t in times_s if start <= t < start + window_s) for start in times_s)
    assert busiest <= limit, f"{busiest} requests within {window_s} s; limit is {limit}/{window_s} s"

    workers = {w.name: w for w in Worker.all(connection=SyncRedis.from_url(redis_url))}
    assert {"poller-a", "poller-b"} <= set(workers)


@pytest.mark.parametrize("provider", ["all24", "alclient", "hld"])
async def test_cancelled_flow_stops_polling(
    redis: Redis, emulators: Emulators, poll_env: dict[str, str], processes: Processes, provider: str
) -> None:
    ref = {"all24": "HSCANCEL1", "alclient": "20001", "hld": "tok-cancel"}[provider]
    emulators.emulator(provider).script(ref, "cancel")
    shipment, _ = await shipments.register(redis, "m1", provider, ref)
    processes.start(poll_env, "scheduler")
    processes.start(poll_env, "worker")

    async def stopped() -> bool:
        return not await redis.zcard(keys.POLL_DUE)

    await wait_for(stopped, TIMEOUT_S, "the cancelled shipment to stop being polled")
    assert (await shipments.get(redis, shipment.id)).status == "cancelled"
