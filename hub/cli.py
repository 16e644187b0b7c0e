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

from hub import keys, processes
from hub.errors import HubError
from hub.infra import logs
from hub.infra.redis_clients import connect
from hub.ingest import deadletter, poison
from hub.ingest.payload import Rejected
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments
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

    processes.add_commands(sub)

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

    dead = sub.add_parser("deadletter", help="inspect and replay payloads that could not be normalized")
    dead_sub = dead.add_subparsers(required=True, metavar="ACTION")
    listing = dead_sub.add_parser("list", help="the most recent dead letters")
    listing.add_argument("--count", type=int, default=20)
    listing.set_defaults(run=_deadletter_list)
    replay = dead_sub.add_parser("replay", help="normalize a dead letter again (after a fix)")
    replay.add_argument("entry_id")
    replay.set_defaults(run=_deadletter_replay)
    _emulator_command(sub)
    return parser


def _emulator_command(sub: Any) -> None:
    """``hub emulator``: a provider's API from scripted shipments (see docs/poller.md)."""
    from hub.dev.emulators import serve

    emulator = sub.add_parser("emulator", help="serve a provider's API from scripted shipments")
    serve.add_arguments(emulator)
    emulator.set_defaults(run=serve.main)


def _dev(args: argparse.Namespace) -> int:
    from hub.dev import local

    return local.run(args)


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
            if letter.provider == poison.PROVIDER:
                print(
                    f"{letter.id} is a {letter.kind} the {letter.channel} gave up on, not a provider's"
                    " payload: it cannot be normalized again; fix its cause and re-send the event"
                    " (POST /v1/webhooks/deliveries/{id}/retry or .../recover)",
                    file=sys.stderr,
                )
                return 1
            polled = None  # a poll's answer belongs to the shipment polled, named by the letter's ref
            if letter.channel == Channel.POLL.value and letter.ref:
                polled = await shipments.find(redis, letter.provider, letter.ref)
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
                    shipment=polled,
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


# Commands that print for people; every other one is a process that logs JSON lines.
_FOR_PEOPLE = {_dev, _tail, _check, _deadletter_list, _deadletter_replay}
