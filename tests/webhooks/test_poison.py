"""One bad event or delivery is dead-lettered after a bounded number of attempts; the rest flow on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from hub import keys
from hub.ingest import deadletter
from hub.settings import Settings
from hub.webhooks import engine, manage
from hub.webhooks.delivery import delivery_id
from hub.webhooks.queue import Deliveries
from tests.conftest import ROOT
from tests.webhooks.conftest import Hub, Receiver, eventually

ATTEMPTS_MAX = 2
SURROGATE_EVENT = (
    '{"id": "evt_s", "type": "shipment.status_changed", "partitionkey": "shp_1", "sequence": 9,'
    ' "data": {"merchant_id": "mer_a", "shipment_id": "shp_1", "provider": "all24", "status": "x\\ud800"}}'
)


@pytest.fixture
def poison_settings(wh_settings: Settings) -> Settings:
    return wh_settings.replace(poison_attempts_max=ATTEMPTS_MAX, webhook_reclaim_idle_ms=300)


@pytest.fixture
async def rig(redis: Redis, poison_settings: Settings) -> AsyncIterator[Hub]:
    running = Hub(redis, poison_settings)
    await running.start()
    yield running
    await running.close()


async def letters(redis: Redis, kind: str) -> list[deadletter.DeadLetter]:
    return [letter for letter in await deadletter.recent(redis, 100) if letter.kind == kind]


async def letter_count(redis: Redis, kind: str, wanted: int) -> bool:
    return len(await letters(redis, kind)) >= wanted


async def test_an_event_the_dispatcher_cannot_handle_is_dead_lettered_and_the_others_delivered(
    rig: Hub, redis: Redis, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    await rig.endpoint(receiver, url)
    before = await rig.emit("shp_1", count=2)
    # Not written by the store: an entry holding no JSON, and one whose event has no data object.
    await redis.xadd(keys.EVENTS, {"event": "{not json"})
    await redis.xadd(keys.EVENTS, {"event": json.dumps({"id": "evt_x", "data": [1]})})
    await redis.xadd(keys.EVENTS, {"event": SURROGATE_EVENT})  # valid JSON, no valid UTF-8 to store
    after = await rig.emit("shp_1", count=2)

    wanted = {e["id"] for e in before + after}
    await eventually(lambda: wanted <= set(receiver.accepted_ids()), 20, "the good events delivered")
    kind = f"stream:{keys.EVENTS}"
    await eventually(
        lambda: letter_count(redis, kind, 3), 20, "the bad entries dead-lettered after their attempts"
    )
    found = await letters(redis, kind)
    assert sorted(json.loads(letter.body)["event"] for letter in found) == sorted(
        ["{not json", json.dumps({"id": "evt_x", "data": [1]}), SURROGATE_EVENT]
    )
    reasons = " ".join(letter.reason for letter in found)
    assert all(name in reasons for name in ("JSONDecodeError", "UnicodeEncodeError", "ValueError"))
    assert f"failed {ATTEMPTS_MAX} times" in reasons
    pending = await redis.xpending(keys.EVENTS, keys.WEBHOOK_GROUP)
    assert pending["pending"] == 0  # acknowledged, so nobody handles them again
    assert not any(task.done() for task in rig.tasks)  # the dispatcher is still running


async def test_a_delivery_that_fails_on_its_data_is_dead_lettered_and_its_neighbours_delivered(
    rig: Hub, redis: Redis, receivers: Callable[..., tuple[Receiver, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "POISON_RETRY_S", 0.2)
    good, good_url = receivers()
    bad, bad_url = receivers()
    await rig.endpoint(good, good_url)
    broken = await rig.endpoint(bad, bad_url)
    # Its secret says it was sealed with a master key this hub does not have: signing raises.
    await redis.hset(keys.webhook_endpoint(broken.id), "secrets", json.dumps([["fernet:gAAAA-lost", None]]))
    await redis.incr(keys.WEBHOOK_ENDPOINTS_VERSION)
    emitted = await rig.emit("shp_2", count=3)

    await eventually(lambda: {e["id"] for e in emitted} <= set(good.accepted_ids()), 20, "the good endpoint")
    queue = Deliveries(redis, rig.settings.webhook.retention_s)
    ids = [delivery_id(broken.id, e["id"]) for e in emitted]

    async def all_failed() -> bool:
        return [d.status.value for d in await queue.get_many([(broken.id, i) for i in ids])] == ["failed"] * 3

    await eventually(all_failed, 30, "the broken endpoint's deliveries to fail for good")
    delivered = await queue.get_many([(broken.id, i) for i in ids])
    assert all(
        "dead-lettered" in (d.last_error or "") and "ConfigError" in (d.last_error or "") for d in delivered
    )
    assert len(await letters(redis, "delivery")) == 3
    replay = _replay(rig.settings.redis_url or "", (await letters(redis, "delivery"))[0].id)
    assert replay.returncode == 1 and "cannot be normalized again" in replay.stderr  # told, not crashed
    assert bad.requests == []  # nothing unsigned ever went out
    assert not any(task.done() for task in rig.tasks)


async def test_an_unreadable_delivery_record_is_dead_lettered_and_taken_off_the_queue(
    rig: Hub, redis: Redis, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    endpoint = await rig.endpoint(receiver, url)
    await rig.endpoint(receiver, url)
    emitted = await rig.emit("shp_3", count=1)
    await eventually(lambda: len(receiver.accepted_ids()) == 2, 20, "both endpoints served")
    ident = delivery_id(endpoint.id, emitted[0]["id"])
    await redis.hset(keys.webhook_delivery(endpoint.id, ident), "sequence", "not a number")
    due = keys.webhook_due(keys.webhook_partition(endpoint.id))
    await redis.zadd(due, {f"{endpoint.id}/{ident}": 0})

    await eventually(lambda: letter_count(redis, "delivery", 1), 20, "the unreadable record dead-lettered")
    assert await redis.zscore(due, f"{endpoint.id}/{ident}") is None
    later = await rig.emit("shp_4", count=1)
    await eventually(lambda: later[0]["id"] in receiver.accepted_ids(), 20, "later events still delivered")


async def test_an_unreadable_record_at_the_head_of_a_lane_does_not_hold_the_lane_back(
    rig: Hub, redis: Redis, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    """The shipment's later events still go out, in order, once the head is dead-lettered."""
    receiver, url = receivers()
    endpoint = await manage.pause(redis, await rig.endpoint(receiver, url))
    emitted = await rig.emit("shp_5", count=3)
    head = f"{endpoint.id}/{delivery_id(endpoint.id, emitted[0]['id'])}"
    due = keys.webhook_due(keys.webhook_partition(endpoint.id))

    async def parked() -> bool:  # the paused endpoint's head looked at and put off
        return (await redis.zscore(due, head) or 0) > time.time() * 1000

    await eventually(parked, 20, "the paused endpoint's lane head to be parked")
    await redis.hset(keys.webhook_delivery(*head.split("/")), "sequence", "not a number")
    await redis.zadd(due, {head: 0})
    await eventually(lambda: letter_count(redis, "delivery", 1), 20, "the unreadable head dead-lettered")
    await manage.resume(redis, manage.delivery_queue(redis, rig.settings), endpoint)

    rest = [e["id"] for e in emitted[1:]]
    await eventually(lambda: _accepted(receiver, rest), 20, "the rest of the lane delivered")
    assert receiver.accepted_ids() == rest  # in order, and the unreadable one never sent


async def _accepted(receiver: Receiver, wanted: list[str]) -> bool:
    return set(wanted) <= set(receiver.accepted_ids())


def _replay(redis_url: str, letter_id: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | {"HUB_REDIS_URL": redis_url}
    command = [sys.executable, "-m", "hub", "deadletter", "replay", letter_id]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
