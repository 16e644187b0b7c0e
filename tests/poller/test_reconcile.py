"""HLD shipments reconciled from its paged order list against the emulator, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from hub import keys
from hub.clients import http_client
from hub.clients.hld import HldClient
from hub.dev.emulators.hld import order_id
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.providers import hld_orders
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, poller_env, status_codes
from workers import jobs
from workers.reconcile import BulkReconciler
from workers.scheduler import Scheduler

QUIET = 20  # shipments whose status did not change since the hub last heard


@pytest.fixture
def bulk_settings(redis_url: str, emulators: Emulators) -> Settings:
    return Settings.from_env(
        poller_env(redis_url, emulators, HUB_HLD_TOKEN="hld-client-token", HUB_HLD_BULK_PER_PAGE="10")
    )


@pytest.fixture
async def http(bulk_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(bulk_settings) as client:
        yield client


def pusher_status(token: str, code: int, at: datetime) -> bytes:
    """HLD's ``hld.order.status_changed`` data, as its Pusher channel delivers it."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "order": {"id": order_id(token), "status": code},
            "tracking_entry": {"status": code, "timestamp": stamp},
            "timestamp": stamp,
        }
    ).encode()


async def test_the_order_list_reconciles_in_pages_and_asks_only_about_changed_orders(
    redis: Redis, emulators: Emulators, bulk_settings: Settings, http: httpx.AsyncClient
) -> None:
    hld = emulators.emulator("hld")
    client = HldClient(bulk_settings, http, redis)
    ingestor = Ingestor(redis, bulk_settings)
    tokens = [f"HLDBULK{n:03d}" for n in range(QUIET)] + ["HLDMISSED", "HLDPUSHED", "HLDDONE", "HLDAHEAD"]
    ids = {}
    for token in tokens:  # each polled once already: the hub knows "1" and the HLD order id
        ids[token] = (await shipments.register(redis, "m1", "hld", token))[0].id
        hld.script(token, step_s=3600)  # holds still unless advanced
        answer = await client.track(token)
        await ingestor.ingest_raw("hld", answer.kind, answer.body, Channel.POLL, ref=token)
    never_polled = (await shipments.register(redis, "m1", "hld", "HLDNEW"))[0].id
    hld.script("HLDNEW", step_s=3600)

    for token, steps in (("HLDMISSED", 2), ("HLDPUSHED", 2), ("HLDDONE", 6)):
        for _ in range(steps):
            hld.shipment(token).advance()  # changes Pusher never delivered to the hub...
    pushed_13 = hld.shipment("HLDPUSHED").time_of(1)  # ...but this one it did, halfway
    await ingestor.ingest_raw(
        "hld", "pusher:hld.order.status_changed", pusher_status("HLDPUSHED", 13, pushed_13), Channel.PUSHER,
        ref="HLDPUSHED",
    )  # fmt: skip
    ahead_at = datetime.now(UTC)  # Pusher said "picked up"; the list still says "Order Placed"
    await ingestor.ingest_raw(
        "hld", "pusher:hld.order.status_changed", pusher_status("HLDAHEAD", 3, ahead_at), Channel.PUSHER,
        ref="HLDAHEAD",
    )  # fmt: skip
    history_before = {token: await status_codes(redis, ids[token]) for token in tokens}
    hld.calls.clear()
    started = datetime.now(UTC)

    report = await BulkReconciler(redis, bulk_settings, http, ingestor).run(started)

    assert (report.pages, report.rows) == (3, 25)  # 25 orders, 10 a page
    assert (report.confirmed, report.behind, report.fetched) == (QUIET, 1, 3)
    assert hld.calls == {"orders": 3, "track": 3}  # against 24 tracking calls one by one
    assert await status_codes(redis, ids["HLDMISSED"]) == ["1", "13", "2"]
    assert await status_codes(redis, ids["HLDPUSHED"]) == ["1", "13", "2"]  # 13 once: same id as Pusher's
    assert await status_codes(redis, ids["HLDDONE"]) == ["1", "13", "2", "24", "3", "25", "4"]
    assert (await shipments.get(redis, ids["HLDDONE"])).status == "delivered"
    assert await redis.hget(keys.active("hld"), ids["HLDDONE"]) is None  # Pusher may leave its channel
    assert await status_codes(redis, ids["HLDAHEAD"]) == history_before["HLDAHEAD"]
    assert (await shipments.get(redis, ids["HLDAHEAD"])).status == "picked_up"  # never backwards
    deferred_ms = (started.timestamp() + bulk_settings.poll.reconcile_after_s) * 1000
    assert await redis.zscore(keys.POLL_DUE, ids["HLDBULK000"]) == pytest.approx(deferred_ms, abs=1)
    assert await redis.zscore(keys.POLL_DUE, never_polled) == 0, "unknown order id: its own poll stays due"

    again = await BulkReconciler(redis, bulk_settings, http, ingestor).run()
    assert (again.fetched, again.published) == (0, 0)  # nothing missed twice, nothing published twice
    published = [json.loads(f["event"])["id"] for _, f in await redis.xrange(keys.EVENTS)]
    assert len(published) == len(set(published))
    await ingestor.close()


def test_an_order_list_page_in_the_documents_shape_maps_words_to_codes_and_times_to_utc() -> None:
    page = {
        "data": [
            {"id": "HLD2026040412345", "status": "Delivered", "created_at": "04 Apr, 2026 10:30 am"},
            {"id": "HLD2026040412346", "status": "On the Way", "created_at": "04 Apr, 2026 12:05 pm"},
            {"id": "HLD2026040412347", "status": "Lost in Space", "created_at": "04 Apr, 2026 09:00 am"},
        ],
        "links": {"first": "…?page=1", "last": "…?page=5", "prev": None, "next": "…?page=2"},
        "meta": {"current_page": 1, "from": 1, "last_page": 5, "per_page": 10, "to": 10, "total": 48},
    }
    parsed = hld_orders.parse(json.dumps(page).encode(), ZoneInfo("Asia/Kolkata"))

    assert (parsed.page, parsed.last_page) == (1, 5)
    assert [row.code for row in parsed.rows] == ["4", "25", None]  # unknown words are kept, not guessed
    assert parsed.rows[0].created_at == datetime(2026, 4, 4, 5, 0, tzinfo=UTC)  # 10:30 IST
    assert parsed.rows[1].created_at == datetime(2026, 4, 4, 6, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"data": {}, "meta": {"current_page": 1, "last_page": 1}}',
        b'{"data": [], "meta": {"current_page": "1", "last_page": 1}}',
        b'{"data": [{"id": null, "status": "Delivered", "created_at": "04 Apr, 2026 10:30 am"}],'
        b' "meta": {"current_page": 1, "last_page": 1}}',
        b'{"data": [{"id": "HLD1", "status": 4, "created_at": "04 Apr, 2026 10:30 am"}],'
        b' "meta": {"current_page": 1, "last_page": 1}}',
        b'{"data": [{"id": "HLD1", "status": "Delivered", "created_at": "yesterday"}],'
        b' "meta": {"current_page": 1, "last_page": 1}}',
        b'{"data": [], "meta": {"current_page": 1, "last_page": 99999999999999999999}}',
    ],
)
def test_an_order_list_page_in_any_other_shape_is_refused_with_the_reason(body: bytes) -> None:
    from hub.errors import NormalizationError

    with pytest.raises(NormalizationError):
        hld_orders.parse(body, ZoneInfo("Asia/Kolkata"))


async def test_schedulers_enqueue_one_bulk_round_per_interval_and_a_worker_runs_it(
    redis: Redis, redis_url: str, emulators: Emulators, bulk_settings: Settings
) -> None:
    shipment_id = (await shipments.register(redis, "m1", "hld", "HLDROUND1"))[0].id
    await redis.set(keys.provider_alias("hld", "order_id", order_id("HLDROUND1")), shipment_id)
    emulators.emulator("hld").script("HLDROUND1", step_s=3600)
    connection = SyncRedis.from_url(redis_url)
    try:
        for scheduler in [Scheduler(bulk_settings, connection) for _ in range(2)]:
            scheduler.tick()
            scheduler.tick()
        queued = Queue(bulk_settings.poll.queue, connection=connection).get_jobs()
    finally:
        connection.close()
    rounds = [job for job in queued if job.func_name == "workers.jobs.reconcile_hld"]
    assert len(rounds) == 1

    def run_round() -> dict[str, int]:
        with jobs.resident(bulk_settings):
            return jobs.reconcile_hld()

    assert await asyncio.to_thread(run_round) == {"pages": 1, "confirmed": 0, "fetched": 1}
    assert await status_codes(redis, shipment_id) == ["1"]


async def test_a_shipment_silent_past_the_expiry_keeps_its_poll_which_expires_it(
    redis: Redis, emulators: Emulators, bulk_settings: Settings, http: httpx.AsyncClient
) -> None:
    shipment_id = (await shipments.register(redis, "m1", "hld", "HLDSILENT"))[0].id
    emulators.emulator("hld").script("HLDSILENT", step_s=3600)
    ingestor = Ingestor(redis, bulk_settings)
    answer = await HldClient(bulk_settings, http, redis).track("HLDSILENT")
    await ingestor.ingest_raw("hld", answer.kind, answer.body, Channel.POLL, ref="HLDSILENT")
    weeks_later = datetime.now(UTC) + timedelta(seconds=bulk_settings.poll.expire_after_s + 60)

    report = await BulkReconciler(redis, bulk_settings, http, ingestor).run(weeks_later)
    await ingestor.close()

    assert report.confirmed == 1
    assert await redis.zscore(keys.POLL_DUE, shipment_id) == 0  # not deferred: its poll will expire it


def test_an_order_id_too_long_to_be_hlds_is_refused() -> None:
    from hub.errors import NormalizationError

    body = {
        "data": [{"id": "H" * 5000, "status": "Delivered", "created_at": "04 Apr, 2026 10:30 am"}],
        "meta": {"current_page": 1, "last_page": 1},
    }
    with pytest.raises(NormalizationError) as refused:
        hld_orders.parse(json.dumps(body).encode(), ZoneInfo("Asia/Kolkata"))
    assert len(str(refused.value)) < 300  # the reason names the field, not the whole value
