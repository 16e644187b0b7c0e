"""Every way a payload becomes a dead letter counts it the same way: one entry, one count."""

from __future__ import annotations

from redis.asyncio import Redis

from hub import keys
from hub.infra import metrics
from hub.ingest import deadletter, poison


async def counted(redis: Redis, provider: str, channel: str) -> float:
    series = metrics.series("hub_deadletters_total", {"provider": provider, "channel": channel})
    return float(await redis.hget(keys.METRICS, series) or 0)


async def test_each_writer_keeps_the_letter_and_counts_it_once(redis: Redis) -> None:
    await deadletter.add(redis, provider="alopeyk", kind="webhook", channel="webhook", reason="r", body=b"{")
    await deadletter.stream_keeper(redis, keys.EVENTS)(("1-0", {"event": "{not json"}), "unreadable")
    await poison.give_up(redis, source="delivery", kind="delivery", reason="sealed", body=b"x")

    assert await redis.xlen(keys.DEADLETTER) == 3
    assert await counted(redis, "alopeyk", "webhook") == 1
    assert await counted(redis, "unknown", "unknown") == 1
    assert await counted(redis, poison.PROVIDER, "delivery") == 1


async def test_a_letter_with_a_lone_surrogate_in_its_labels_is_kept_and_counted(redis: Redis) -> None:
    await deadletter.add(redis, provider="x\ud800", kind="k", channel="c\udfff", reason="r\ud800", body=b"")
    [letter] = await deadletter.recent(redis, 1)
    assert letter.provider == "x\\ud800" and letter.channel == "c\\udfff"
    assert await counted(redis, "x\\ud800", "c\\udfff") == 1
