"""``hub emulator <provider>``: serve one provider's emulated API on 127.0.0.1."""

from __future__ import annotations

import argparse
from typing import Any

from starlette.applications import Starlette

from hub.dev.emulators import alclient, all24, alod, alopeyk, hld

APPS = {
    "alopeyk": alopeyk.app,
    "hld": hld.app,
    "alclient": alclient.app,
    "alod": alod.app,
    "all24": all24.app,
}


def build(provider: str, step_s: float) -> Starlette:
    if provider == "pusher":  # HLD's side: Pusher channels and the tracking built from them
        from hub.dev.emulators.pusher import PusherEmulator

        return PusherEmulator().app
    return APPS[provider](step_s)


def add_arguments(parser: Any) -> None:
    parser.add_argument("provider", choices=[*sorted(APPS), "pusher"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--step-s", type=float, default=5.0, help="seconds between status steps")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")


def main(args: argparse.Namespace) -> int:
    import uvicorn

    app = build(args.provider, args.step_s)
    if args.latency_ms and args.provider != "pusher":
        app.state.emulator.knobs.faults.latency_ms = args.latency_ms
    print(f"{args.provider} emulator on http://{args.host}:{args.port} (faults: POST /_emulator/faults)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
