"""Poison entries: one payload that makes a consumer raise costs that payload alone, never the pipeline."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from hub import keys
from hub.infra.group_commit import GroupCommit
from hub.infra.group_consumer import Entry, GroupConsumer, Poison
from hub.ingest import deadletter, inbox
from hub.ingest.normalizer import Normalizer
from hub.ingest.payload import Payload
from hub.registry import merchants
from hub.settings import Settings
from tests.conftest import ROOT, inbox_drained
from tests.test_alopeyk_receiver import webhook_body
from tests.test_normalizer import payload, statuses

# Issue 12's payload, as the JSON escape of a lone surrogate that json.loads turns into "x\ud800".
SURROGATE_ORDER = (
    b'{"order":{"id":"x\\ud800","status":"new","created_at":"2017-09-12T18:45:39+04:30",'
    b'"updated_at":"2017-09-12T18:45:39+04:30"}}'
)


def poison_once(redis: Redis) -> Poison:
    """Dead-letter at the first failure, keeping raw fields."""
    return Poison(1, keep_raw=deadletter.stream_keeper(redis, "test:stream"))


def fast(settings: Settings, attempts_max: int = 3) -> Settings:
    return settings.replace(poison_attempts_max=attempts_max, inbox_reclaim_idle_ms=50)


async def write_entry(redis: Redis, payloads: list[Payload]) -> str:
    """One inbox entry holding ``payloads``, as concurrent requests share one."""
    entry: str = await redis.xadd(keys.INBOX, {"payloads": json.dumps([inbox.to_item(p) for p in payloads])})
    return entry


async def run_until_drained(normalizer: Normalizer, redis: Redis) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(normalizer.run(stop))
    try:
        await inbox_drained(redis, timeout_s=30)
        assert not running.done(), "the normalizer stopped on a poison entry"
    finally:
        stop.set()
        await running


async def test_a_lone_surrogate_is_dead_lettered_and_everything_around_it_becomes_events(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    poison = payload(merchant.id, SURROGATE_ORDER)
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=1)))
    await write_entry(
        redis, [payload(merchant.id, webhook_body(id=2)), poison, payload(merchant.id, webhook_body(id=3))]
    )
    await inbox.Inbox(redis).add(poison)  # an entry of its own, in the same batch as the others
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=4)))

    await run_until_drained(Normalizer(redis, fast(settings)), redis)

    # The poison's batch-mates, even those sharing its entry, became events once each.
    assert sorted(await statuses(redis)) == ["1", "2", "3", "4"]
    assert await redis.xlen(keys.EVENTS) == 4 * 4
    letters = await deadletter.recent(redis)
    assert len(letters) == 2
    for letter in letters:
        assert letter.body == SURROGATE_ORDER and letter.merchant_id == merchant.id
        # The guarded reader refuses it at once: a typed refusal, no retries needed.
        assert letter.reason.startswith("body refused (lone_surrogate)")
        json.dumps(letter.to_json())  # what the API and `hub deadletter list` show
    assert (await redis.xpending(keys.INBOX, keys.INBOX_GROUP))["pending"] == 0
    counted = await redis.hgetall(keys.METRICS)
    assert counted['hub_deadletters_total{channel="webhook",provider="alopeyk"}'] == "2"


async def test_an_entry_its_normalizers_kept_dying_on_is_dead_lettered_without_being_handled(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    entry = await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=7)))
    await redis.xgroup_create(keys.INBOX, keys.INBOX_GROUP, id="0")
    await redis.xreadgroup(keys.INBOX_GROUP, "died-1", {keys.INBOX: ">"})
    for dead in ("died-2", "died-3"):  # each took it over and was killed before acknowledging it
        await redis.xautoclaim(keys.INBOX, keys.INBOX_GROUP, dead, min_idle_time=0, start_id="0-0")

    await run_until_drained(Normalizer(redis, fast(settings, attempts_max=3)), redis)

    assert await redis.xlen(keys.EVENTS) == 0  # a fourth delivery was not risked
    [letter] = await deadletter.recent(redis)
    assert letter.reason.startswith(f"inbox entry {entry}: delivered 4 times and never acknowledged")
    assert letter.provider == "alopeyk" and letter.merchant_id == merchant.id  # replayable as it was


async def test_a_payload_failing_less_often_than_the_limit_still_becomes_events(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=5)))
    normalizer = Normalizer(redis, fast(settings, attempts_max=3))
    real_ingest = normalizer.ingestor.ingest_batch
    failures = iter([RuntimeError("a bug that strikes twice")] * 2)

    async def flaky(payloads: list[Payload]) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return await real_ingest(payloads)

    normalizer.ingestor.ingest_batch = flaky  # type: ignore[method-assign]
    await run_until_drained(normalizer, redis)

    assert sorted(await statuses(redis)) == ["5"]
    assert await redis.xlen(keys.DEADLETTER) == 0


async def test_redis_going_away_is_never_held_against_an_entry(redis: Redis) -> None:
    consumer = GroupConsumer(
        redis,
        "test:stream",
        "g",
        reclaim_idle_ms=50,
        poison=poison_once(redis),
    )
    await consumer.ensure_group()
    await redis.xadd("test:stream", {"n": "1"})

    async def unavailable(entries: list[Entry]) -> None:
        raise RedisConnectionError("Connection closed by server.")

    with pytest.raises(RedisConnectionError):
        await consumer.handle_isolated(unavailable, await consumer.read(block_ms=100))
    assert await redis.xlen(keys.DEADLETTER) == 0
    assert (await redis.xpending("test:stream", "g"))["pending"] == 1  # retried once Redis is back


async def test_any_group_consumer_keeps_a_poison_entry_raw_when_it_has_no_keeper_of_its_own(
    redis: Redis,
) -> None:
    consumer = GroupConsumer(
        redis,
        "test:stream",
        "g",
        reclaim_idle_ms=50,
        poison=poison_once(redis),
    )
    await consumer.ensure_group()
    for n in range(5):
        await redis.xadd("test:stream", {"n": str(n)})
    handled: list[str] = []

    async def handle(entries: list[Entry]) -> None:
        if any(fields["n"] == "2" for _, fields in entries):
            raise ValueError("cannot handle n=2")
        handled.extend(fields["n"] for _, fields in entries)
        await consumer.ack([entry_id for entry_id, _ in entries])

    await consumer.handle_isolated(handle, await consumer.read(block_ms=100))

    assert handled == ["0", "1", "3", "4"]
    [letter] = await deadletter.recent(redis)
    assert letter.kind == "stream:test:stream" and "cannot handle n=2" in letter.reason
    assert json.loads(letter.body)["n"] == "2"
    assert (await redis.xpending("test:stream", "g"))["pending"] == 0


async def test_a_dead_letter_keeps_lone_surrogates_and_huge_reasons_without_failing(redis: Redis) -> None:
    await deadletter.add(
        redis,
        provider="alopeyk",
        kind="webhook",
        channel="webhook",
        reason="bad id 'x\ud800'" + "!" * 100_000,
        body=b"\xff\xfe",
        ref="x\ud800",
        merchant_id="m\udcff",
    )
    [letter] = await deadletter.recent(redis)
    assert letter.ref == "x\\ud800" and letter.merchant_id == "m\\udcff"
    assert letter.reason.startswith("bad id 'x\\ud800'") and len(letter.reason) < 3000
    assert letter.body == b"\xff\xfe"


async def test_an_entry_that_is_not_utf8_is_dead_lettered_as_read_and_as_reclaimed(
    redis: Redis, redis_url: str, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    await redis.xadd(keys.INBOX, {"payloads": b"[\xff]"})  # another writer's bytes
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=8)))
    await redis.xgroup_create(keys.INBOX, keys.INBOX_GROUP, id="0")
    await redis.xadd(keys.INBOX, {"payloads": b"\xc3("})
    raw = Redis.from_url(redis_url)  # a reader that took the first entry, then died
    await raw.xreadgroup(keys.INBOX_GROUP, "died", {keys.INBOX: ">"}, count=1)
    await raw.aclose()

    await run_until_drained(Normalizer(redis, fast(settings)), redis)

    assert sorted(await statuses(redis)) == ["8"]
    letters = await deadletter.recent(redis)
    assert len(letters) == 2 and all("not valid utf-8" in letter.reason for letter in letters)
    assert {json.loads(letter.body)["payloads"] for letter in letters} == {"[\\xff]", "\\xc3("}


def surrogate_in(where: str) -> bytes:
    """Issue 12's hostile orders: a JSON-escaped lone surrogate in one field of a real webhook."""
    body = webhook_body(id=77)
    order = body["order"]
    if where == "courier.firstname":
        order["courier"]["firstname"] = "x\ud800"
    elif where == "extra_params":
        order["extra_params"] = {"my_order_id": "x\ud800"}
    else:
        order[where] = "x\ud800"
    return json.dumps(body).encode()  # ensure_ascii: "\ud800" as an escape, as a provider would send it


@pytest.mark.parametrize("where", ["id", "status", "extra_params", "courier.firstname"])
async def test_a_lone_surrogate_anywhere_ends_as_events_or_a_dead_letter(
    redis: Redis, settings: Settings, where: str
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    await inbox.Inbox(redis).add(payload(merchant.id, surrogate_in(where)))
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=78)))

    await run_until_drained(Normalizer(redis, fast(settings, attempts_max=1)), redis)

    assert "78" in await statuses(redis)  # what came after it was not held up
    letters = await deadletter.recent(redis)
    became_events = any(ref.startswith("x") or ref == "77" for ref in await statuses(redis))
    assert len(letters) + became_events == 1, "the hostile order must end exactly one way"


async def test_the_hub_normalizer_process_outlives_a_poison_entry_and_stops_cleanly(
    redis: Redis, redis_url: str
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    await inbox.Inbox(redis).add(payload(merchant.id, SURROGATE_ORDER))
    await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=9)))
    env = {
        **os.environ,
        "HUB_REDIS_URL": redis_url,
        "HUB_POISON_ATTEMPTS_MAX": "2",
        "HUB_INBOX_RECLAIM_IDLE_MS": "100",
        "PYTHONPATH": str(ROOT),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "hub", "normalizer"], env=env, stderr=subprocess.DEVNULL
    ) as process:
        try:
            await inbox_drained(redis, timeout_s=60)
            assert process.poll() is None, f"hub normalizer exited with {process.returncode}"
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=30)
    assert returncode == 0
    assert sorted(await statuses(redis)) == ["9"]
    [letter] = await deadletter.recent(redis)
    assert letter.reason.startswith("body refused (lone_surrogate)") and letter.body == SURROGATE_ORDER


async def test_a_shared_write_fails_only_the_caller_whose_items_redis_cannot_take(redis: Redis) -> None:
    async def write(items: list[str]) -> list[str]:
        pipe = redis.pipeline(transaction=False)
        for item in items:
            pipe.xadd("test:stream", {"value": item})
        written: list[str] = await pipe.execute()
        return written

    commit: GroupCommit[str, str] = GroupCommit(write)
    first, poison, rest = await asyncio.gather(
        commit.submit(["a"]), commit.submit(["x\ud800"]), commit.submit(["b", "c"]), return_exceptions=True
    )

    assert isinstance(poison, UnicodeEncodeError)
    assert isinstance(first, list) and len(first) == 1 and isinstance(rest, list) and len(rest) == 2
    assert [f["value"] for _, f in await redis.xrange("test:stream")] == ["a", "b", "c"]
