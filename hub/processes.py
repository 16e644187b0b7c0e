"""Every kind of process the hub runs, defined once.

The Procfile, the deploy units and ``hub <command>`` are all this table. A kind names its
entry point as ``"module:function"`` and imports it only when that process starts (as
uvicorn and arq name theirs): the web process never loads the poller, and the hub never
imports ``workers/`` (the RQ worker builds on the hub, not the reverse). Each entry point
takes the settings and the parsed command line and returns the exit status; the
asynchronous ones share one start-up (:func:`hub.infra.runtime.serve`).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.infra.heartbeat import Heartbeat
from hub.settings import Settings

Main = Callable[[Settings, argparse.Namespace], int]


@dataclass(frozen=True)
class Option:
    """One command-line option of a process kind (``argparse.add_argument``'s arguments)."""

    flag: str
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessKind:
    name: str  # the Procfile's and the deploy units' name
    command: str  # `hub <command>`
    help: str
    entry: str  # "module:function", function(settings, args) -> exit status
    options: tuple[Option, ...] = ()

    def start(self, args: argparse.Namespace) -> int:
        """Run the process, reporting it alive meanwhile (``hub_processes`` in ``/metrics``)."""
        module, _, function = self.entry.partition(":")
        main: Callable[[Settings, argparse.Namespace], int] = getattr(
            importlib.import_module(module), function
        )
        settings = Settings.from_env()
        with Heartbeat(settings, self.name):
            return main(settings, args)


KINDS: tuple[ProcessKind, ...] = (
    ProcessKind(
        "web",
        "serve",
        "the HTTP API, provider receivers, live WebSockets and the map (needs HUB_REDIS_URL)",
        "hub.api.app:main",
        (
            Option("--host", "address to listen on", {"default": "127.0.0.1"}),
            Option("--port", "port to listen on", {"type": int, "default": 8000}),
            Option("--workers", "web worker processes", {"type": int, "default": 1}),
        ),
    ),
    ProcessKind(
        "normalizer",
        "normalizer",
        "turn the payloads receivers accepted into events",
        "hub.ingest.normalizer:main",
    ),
    ProcessKind(
        "worker",
        "worker",
        "poll providers and send merchant webhooks (RQ, needs HUB_REDIS_URL)",
        "workers.worker:main",
        (
            Option("--burst", "exit when the queue is empty", {"action": "store_true"}),
            Option("--name", "worker name (default: RQ's)", {}),
        ),
    ),
    ProcessKind(
        "scheduler", "scheduler", "enqueue provider polls as they fall due", "workers.scheduler:main"
    ),
    ProcessKind(
        "dispatcher",
        "dispatcher",
        "turn hub:events into merchant webhook deliveries",
        "hub.webhooks.dispatcher:main",
    ),
    ProcessKind(
        "pusher",
        "pusher",
        "subscribe to HLD's Pusher channels of every active shipment",
        "hub.receive.hld_channels.process:main",
    ),
)


def add_commands(subparsers: Any) -> None:
    """One ``hub`` subcommand per process kind."""
    for kind in KINDS:
        parser = subparsers.add_parser(kind.command, help=kind.help)
        for option in kind.options:
            parser.add_argument(option.flag, help=option.help, **option.kwargs)
        parser.set_defaults(run=kind.start)
