"""`hub dev` runs with its own embedded server and keeps every event across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hub.dev.embedded import free_port
from tests.conftest import ROOT
from tests.servers import wait_until
from tests.test_alopeyk_receiver import webhook_body


@contextmanager
def hub_dev(data_dir: Path, port: int, redis_port: int, **extra: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **extra}
    command = [sys.executable, "-m", "hub", "dev", "--port", str(port), "--redis-port", str(redis_port)]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _ready(url), 60, "hub dev to answer /readyz")
            yield url
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            assert process.wait(timeout=30) in (0, 130)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_hub_dev_keeps_every_event_across_a_restart(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    with hub_dev(tmp_path, port, redis_port) as url:
        admin = {"Authorization": f"Bearer {(tmp_path / 'admin-token').read_text().strip()}"}
        merchant = httpx.post(f"{url}/v1/merchants", json={"name": "Dev shop"}, headers=admin).json()
        posted = httpx.post(merchant["alopeyk_webhook_url"], json=webhook_body(), timeout=10)
        assert posted.status_code == 202
        key = {"Authorization": f"Bearer {merchant['api_key']}"}

        def listed() -> list[dict[str, Any]]:
            return list(httpx.get(f"{url}/v1/shipments", headers=key).json()["data"])

        wait_until(lambda: [s["status"] for s in listed()] == ["courier_assigned"], 30, "its events")
        shipment_id = listed()[0]["id"]
        before = httpx.get(f"{url}/v1/shipments/{shipment_id}", headers=key).json()
    assert (tmp_path / "redis" / "appendonlydir").is_dir()

    with hub_dev(tmp_path, port, redis_port) as url:
        after = httpx.get(f"{url}/v1/shipments/{shipment_id}", headers=key).json()
    provider_events = [e for e in before["history"] if e["type"] != "shipment.delayed"]
    assert len(provider_events) == 4
    kept = after["history"][: len(before["history"])]
    assert kept == before["history"]  # nothing lost or changed; the hub may since have found it late
    assert {e["type"] for e in after["history"][len(kept) :]} <= {"shipment.delayed"}
    assert after["status"] == "courier_assigned"


class _Hooks(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_hub_dev_delivers_webhooks_to_plain_http_on_this_machine(tmp_path: Path) -> None:
    """A developer's receiver on http://127.0.0.1 works under `hub dev` with no setting (no demo here)."""
    port, redis_port = free_port(), free_port()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    # Alopeyk configured (at a port nothing listens on): `hub dev` runs without its demo.
    alopeyk = {"HUB_ALOPEYK_TOKEN": "t", "HUB_ALOPEYK_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    try:
        with hub_dev(tmp_path, port, redis_port, **alopeyk) as url:
            admin = {"Authorization": f"Bearer {(tmp_path / 'admin-token').read_text().strip()}"}
            merchant = httpx.post(f"{url}/v1/merchants", json={"name": "Dev shop"}, headers=admin).json()
            key = {"Authorization": f"Bearer {merchant['api_key']}"}
            hook = f"http://127.0.0.1:{receiver.server_port}/hooks"
            created = httpx.post(f"{url}/v1/webhooks/endpoints", json={"url": hook}, headers=key)
            assert created.status_code == 201, created.text
            posted = httpx.post(merchant["alopeyk_webhook_url"], json=webhook_body(), timeout=10)
            assert posted.status_code == 202
            wait_until(lambda: len(_Hooks.received) >= 4, 60, "the four events at the developer's receiver")
    finally:
        receiver.shutdown()
        receiver.server_close()
    shipment_url = _Hooks.received[0]["data"]["tracking_url"]
    assert shipment_url.startswith(f"http://127.0.0.1:{port}/track/")
