"""``hub dev``: every hub process on one machine, with an embedded Redis-protocol server.

With no provider configured (or ``--demo``) it also runs the five provider emulators, a
demo merchant with a webhook receiver, and a stream of simulated shipments (see
:mod:`hub.demo`). Ctrl-C stops everything; starting again resumes with the data kept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

from hub.console import sessions
from hub.dev import demo
from hub.dev.embedded import EmbeddedRedis
from hub.dev.supervisor import Supervisor
from hub.errors import HubError
from hub.registry import api_keys
from hub.settings import Settings

READY_TIMEOUT_S = 60.0
# A development tool delivers webhooks to the developer's own machine over plain HTTP; `hub serve`
# alone refuses both unless configured. Set either variable to override.
DEV_WEBHOOK_DEFAULTS = {
    "HUB_WEBHOOK_ALLOW_HTTP": "1",
    "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,::1/128",
}


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with_demo = args.demo or not any(p.configured for p in settings.providers.values())
    embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir / "redis", args.redis_port)
    redis_url = embedded.start().url if embedded else str(settings.redis_url)
    api_url = f"http://{args.host}:{args.port}"
    ports = demo.Ports.free() if with_demo else None
    env = {
        **os.environ,
        **(demo.environment(ports) if ports else {}),
        "HUB_REDIS_URL": redis_url,
        "HUB_PUBLIC_URL": os.environ.get("HUB_PUBLIC_URL", api_url),
        "HUB_ADMIN_TOKEN": os.environ.get("HUB_ADMIN_TOKEN") or _admin_token(settings.data_dir),
        "PYTHONUNBUFFERED": "1",
        "HUB_CONSOLE_DEV_SIGNIN_LINKS": "1",  # the banner's one-click sign-in link (never in `hub serve`)
    }
    for name, value in DEV_WEBHOOK_DEFAULTS.items():
        env.setdefault(name, value)
    supervisor = Supervisor(env)
    driver: demo.Driver | None = None
    try:
        for name, command in demo.emulator_commands(ports) if ports else []:
            supervisor.start(name, *command)
        supervisor.start("web", "serve", "--host", args.host, "--port", str(args.port))
        _wait_ready(api_url, supervisor)
        for process in ("normalizer", "worker", "scheduler", "dispatcher"):
            supervisor.start(process, process)
        if env.get("HUB_HLD_PUSHER_KEY"):
            supervisor.start("pusher", "pusher")
        if ports:
            driver = _start_demo(api_url, env, settings.data_dir, ports, supervisor)
        signin_url = _console_link(api_url, redis_url, driver.merchant) if driver else None
        _banner(api_url, env, redis_url, driver, signin_url)
        dead = supervisor.wait()
        if dead is not None:
            raise HubError(f"`hub {' '.join(dead.args)}` exited; see its output above")
        return 0
    finally:
        if driver is not None:
            driver.stopping.set()
        supervisor.stop()
        if embedded:
            embedded.stop()


def _start_demo(
    api_url: str, env: dict[str, str], data_dir: Path, ports: demo.Ports, supervisor: Supervisor
) -> demo.Driver:
    merchant = demo.DemoMerchant.load_or_create(api_url, env["HUB_ADMIN_TOKEN"], data_dir, ports.receiver)
    merchant.stop_previous_run(api_url)
    supervisor.env["HUB_DEMO_WEBHOOK_SECRET"] = merchant.webhook_secret
    supervisor.start("demo-receiver", "demo-receiver", "--port", str(ports.receiver))
    driver = demo.Driver(api_url, merchant, ports)
    driver.start()
    driver.first_tracking_url.wait(timeout=30)
    return driver


def _wait_ready(api_url: str, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if (dead := supervisor.failed()) is not None:
            raise HubError(f"`hub {' '.join(dead.args)}` exited while starting; see its output above")
        try:
            if httpx.get(f"{api_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise HubError(f"the web process did not become ready at {api_url} within {READY_TIMEOUT_S:.0f} s")


def _console_link(api_url: str, redis_url: str, merchant: demo.DemoMerchant) -> str:
    """A one-time link (ten minutes) that signs the demo merchant in to the console."""

    async def mint() -> str:
        redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            key_id = api_keys.key_id(api_keys.digest(merchant.api_key))
            return await sessions.mint_ticket(redis, merchant.merchant_id, key_id)
        finally:
            await redis.aclose()

    return f"{api_url}/console/signin/link?ticket={asyncio.run(mint())}"


def _banner(
    api_url: str,
    env: dict[str, str],
    redis_url: str,
    driver: demo.Driver | None,
    signin_url: str | None = None,
) -> None:
    lines = [
        "",
        "  tracking hub (dev) is running; Ctrl-C stops it",
        f"  API:            {api_url}   (OpenAPI: {api_url}/openapi.json)",
        f"  console:        {api_url}/console   (sign in with an API key)",
        f"  admin token:    {env['HUB_ADMIN_TOKEN']}",
        f"  redis:          {redis_url}",
        f"  follow events:  HUB_REDIS_URL={redis_url} .venv/bin/hub tail",
    ]
    if driver is not None:
        lines += [
            f"  demo API key:   {driver.merchant.api_key}",
            f"  try:            curl -H 'Authorization: Bearer $KEY' {api_url}/v1/shipments",
            f"  live map:       {driver.tracking_url or '(the first demo shipment is on its way)'}",
            f"  console, signed in as the demo merchant (one click, once, 10 min): {signin_url}",
            "  demo webhooks:  the demo receiver prints each signed webhook it verifies",
        ]
    print("\n".join([*lines, ""]), flush=True)


def _admin_token(data_dir: Path) -> str:
    path = data_dir / "admin-token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()
