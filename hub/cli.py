"""The ``hub`` command line: run the hub, follow the streams, handle dead letters."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from hub import keys
from hub.errors import HubError
from hub.infra import logs
from hub.infra.redis_clients import connect
from hub.ingest import deadletter
from hub.ingest.pipeline import Ingestor, Rejected
from hub.live.listening_socket import listening_socket
from hub.model.observation import Channel
from hub.settings import Settings

DEV_REDIS_PORT = 6399
CHECK_TIMEOUT_S = 3.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.run not in _FOR_PEOPLE:
        logs.configure(os.environ.get("HUB_LOG_LEVEL", "info"))
    try:
        result: int = args.run(args)
        return result
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Delivery tracking event hub")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    dev = sub.add_parser("dev", help="run everything locally, with an embedded Redis-protocol server")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--redis-port", type=int, default=DEV_REDIS_PORT)
    dev.add_argument(
        "--demo",
        action="store_true",
        help="emulated providers and moving shipments (default when none is configured)",
    )
    dev.set_defaults(run=_dev)

    receiver = sub.add_parser(
        "demo-receiver", help="the demo merchant's webhook endpoint (run by hub dev --demo)"
    )
    receiver.add_argument("--port", type=int, required=True)
    receiver.set_defaults(run=_demo_receiver)

    serve = sub.add_parser("serve", help="run the web process (needs HUB_REDIS_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    tail = sub.add_parser("tail", help="follow hub:events (or one shipment's history), pretty-printed")
    tail.add_argument("--shipment", help="follow this shipment's history instead of the global stream")
    tail.add_argument(
        "--from", dest="start", default="$", help="stream id to start after ('0' for the beginning)"
    )
    tail.add_argument("--json", action="store_true", help="print each event as one JSON line")
    tail.add_argument("--count", type=int, default=0, help="stop after this many events (0: never)")
    tail.set_defaults(run=_tail)

    check = sub.add_parser(
        "check", help="exit 0 when Redis answers (a liveness probe for background processes)"
    )
    check.set_defaults(run=_check)

    pusher = sub.add_parser("pusher", help="subscribe to HLD's Pusher channels of every active shipment")
    pusher.set_defaults(run=_pusher)

    dead = sub.add_parser("deadletter", help="inspect and replay payloads that could not be normalized")
    dead_sub = dead.add_subparsers(required=True, metavar="ACTION")
    listing = dead_sub.add_parser("list", help="the most recent dead letters")
    listing.add_argument("--count", type=int, default=20)
    listing.set_defaults(run=_deadletter_list)
    replay = dead_sub.add_parser("replay", help="normalize a dead letter again (after a fix)")
    replay.add_argument("entry_id")
    replay.set_defaults(run=_deadletter_replay)
    _poller_commands(sub)

    normalizer = sub.add_parser("normalizer", help="turn the payloads receivers accepted into events")
    normalizer.set_defaults(run=_normalizer)

    dispatcher = sub.add_parser("dispatcher", help="turn hub:events into merchant webhook deliveries")
    dispatcher.set_defaults(run=_webhook_dispatcher)
    return parser


def _poller_commands(sub: Any) -> None:
    """``hub worker``, ``hub scheduler``, ``hub emulator``: the poller (see docs/poller.md)."""
    from hub.dev.emulators import serve
    from workers import cli

    worker = sub.add_parser(
        "worker", help="poll providers and send merchant webhooks (RQ, needs HUB_REDIS_URL)"
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.add_argument("--name", help="worker name (default: RQ's)")
    worker.set_defaults(run=cli.worker)
    scheduler = sub.add_parser("scheduler", help="enqueue provider polls as they fall due")
    scheduler.set_defaults(run=cli.scheduler)
    emulator = sub.add_parser("emulator", help="serve a provider's API from scripted shipments")
    serve.add_arguments(emulator)
    emulator.set_defaults(run=serve.main)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env()
    if not settings.redis_url:
        raise HubError("hub serve needs HUB_REDIS_URL (redis://host:port/db); for a local run use `hub dev`")
    listener = listening_socket(args.host, args.port, settings.live_send_buffer_bytes)  # live fan-out
    uvicorn.run(
        "hub.api.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        fd=listener.fileno() if listener else None,
        workers=args.workers,
        log_config=None,  # the app configures JSON logs in every worker process
        access_log=False,  # hub.api.middleware logs each request, with its request id
        proxy_headers=True,
        ws_per_message_deflate=settings.live_compression,  # off: deflate costs CPU on every frame
    )
    return 0


def _dev(args: argparse.Namespace) -> int:
    from hub.dev import local as dev

    return dev.run(args)


def _demo_receiver(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.dev.demo import receiver_app

    secret = os.environ.get("HUB_DEMO_WEBHOOK_SECRET", "")
    if not secret:
        raise HubError("hub demo-receiver needs HUB_DEMO_WEBHOOK_SECRET (hub dev sets it)")
    uvicorn.run(receiver_app(secret), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def _tail(args: argparse.Namespace) -> int:
    return asyncio.run(_follow(Settings.from_env(), args))


async def _follow(settings: Settings, args: argparse.Namespace) -> int:
    redis = connect(settings)
    stream = keys.history(args.shipment) if args.shipment else keys.EVENTS
    last, shown = args.start, 0
    try:
        while args.count == 0 or shown < args.count:
            reply = await redis.xread({stream: last}, block=5000, count=100)
            for _, entries in reply:
                for entry_id, fields in entries:
                    last = entry_id
                    event = json.loads(fields["event"])
                    print(json.dumps(event) if args.json else _pretty(entry_id, event), flush=True)
                    shown += 1
                    if args.count and shown >= args.count:
                        return 0
    finally:
        await redis.aclose()
    return 0


def _pretty(entry_id: str, event: dict[str, Any]) -> str:
    data = event["data"]
    code = (data.get("provider_status") or {}).get("code")
    where = f" @{data['location']['lat']:.5f},{data['location']['lng']:.5f}" if data.get("location") else ""
    status = data.get("status") or "-"
    if event["type"] == "shipment.status_changed":
        status = f"{data.get('previous_status') or '-'} -> {status}"
    return (
        f"{entry_id}  {event['time']}  {event['type'].removeprefix('shipment.'):<16} {data['shipment_id']}  "
        f"{data['provider']}:{code}  {status}{where}  seq={event['sequence']} via {data['channel']}"
    )


def _check(args: argparse.Namespace) -> int:
    async def ping() -> bool:
        redis = connect(Settings.from_env())
        try:
            return bool(await asyncio.wait_for(redis.ping(), CHECK_TIMEOUT_S))
        except (RedisError, OSError, TimeoutError) as exc:
            print(f"hub check: Redis unreachable ({type(exc).__name__})", file=sys.stderr)
            return False
        finally:
            await redis.aclose()

    return 0 if asyncio.run(ping()) else 1


def _pusher(args: argparse.Namespace) -> int:
    from hub.receive.hld_channels.process import run

    return run(Settings.from_env())


def _deadletter_list(args: argparse.Namespace) -> int:
    async def run() -> None:
        redis = connect(Settings.from_env())
        try:
            for letter in await deadletter.recent(redis, args.count):
                view = letter.to_json()
                body = view["body"]
                print(f"{letter.id}  {letter.provider}/{letter.kind} via {letter.channel}: {letter.reason}")
                print(f"    {body[:200]}{'...' if len(body) > 200 else ''}")
        finally:
            await redis.aclose()

    asyncio.run(run())
    return 0


def _deadletter_replay(args: argparse.Namespace) -> int:
    async def run() -> int:
        settings = Settings.from_env()
        redis = connect(settings)
        try:
            letter = await deadletter.get(redis, args.entry_id)
            try:
                result = await Ingestor(redis, settings).ingest_raw(
                    letter.provider,
                    letter.kind,
                    letter.body,
                    Channel(letter.channel),
                    merchant_id=letter.merchant_id,
                    ref=letter.ref,
                    register=letter.channel == Channel.WEBHOOK.value,
                    dead_letter=False,
                )
            except Rejected as rejected:
                print(f"still not normalizable: {rejected.reason}", file=sys.stderr)
                return 1
            duplicates = len(result.appended) - len(result.published)
            outcome = f"{len(result.published)} published, {duplicates} duplicates"
            await deadletter.mark_replayed(redis, letter.id, outcome)
            print(f"replayed {letter.id}: {outcome}")
            return 0
        finally:
            await redis.aclose()

    return asyncio.run(run())


def _normalizer(args: argparse.Namespace) -> int:
    from hub.ingest.normalizer import run_normalizer

    run_normalizer(Settings.from_env())
    return 0


def _webhook_dispatcher(args: argparse.Namespace) -> int:
    from hub.webhooks.service import run_dispatcher

    run_dispatcher(Settings.from_env())
    return 0


# Commands that print for people; every other one is a process that logs JSON lines.
_FOR_PEOPLE = {_dev, _tail, _check, _deadletter_list, _deadletter_replay}
