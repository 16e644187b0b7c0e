"""``hub dev --demo``: the five provider emulators, a demo merchant, and shipments moving.

Everything runs on 127.0.0.1. The poller emulators serve AL Client API, ALOD and all24
(and Alopeyk's order API); the Pusher emulator plays HLD (its channels, and its public
tracking endpoint built from what was triggered). A driver thread keeps two shipments
of each provider in flight: it registers them through the API, posts Alopeyk's webhooks
as Alopeyk would, and triggers HLD's status changes and courier positions on Pusher.
A demo receiver logs every merchant webhook it gets, after verifying its signature.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pusher

from hub.dev.embedded import free_port
from hub.errors import HubError
from hub.model.status import TERMINAL

log = logging.getLogger("hub.dev.demo")

STEP_S = 6.0  # seconds between two status steps of a demo shipment
POSITION_INTERVAL_S = 2.0
ACTIVE_PER_PROVIDER = 2
PUSHER_APP = ("1", "emulator-key", "emulator-secret")  # the Pusher emulator's app id, key, secret
HLD_FLOW = ((1, "OrderPlaced"), (13, "FindingExecutive"), (2, "ExecutiveAssigned"), (24, "ExecutiveComing"),
            (3, "PickedUp"), (25, "On the Way"), (4, "Delivered"))  # fmt: skip
HLD_MOVING = {24, 3, 25}
PICKUP, DROPOFF = (19.0596, 72.8295), (19.0176, 72.8301)  # Bandra, as in HLD's examples


@dataclass
class Ports:
    emulators: dict[str, int] = field(default_factory=dict)
    receiver: int = 0

    @classmethod
    def free(cls) -> Ports:
        names = ("alopeyk", "alclient", "alod", "all24", "pusher")
        return cls({name: free_port() for name in names}, free_port())


def environment(ports: Ports) -> dict[str, str]:
    """Settings that point the hub at the emulators, at a watchable pace."""
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.emulators.items()}
    env = {
        "HUB_ALOPEYK_BASE_URL": url["alopeyk"],
        "HUB_ALOPEYK_TOKEN": "demo",
        "HUB_ALCLIENT_BASE_URL": url["alclient"],
        "HUB_ALCLIENT_MOBILE": "9876543210",
        "HUB_ALCLIENT_PASSWORD": "demo",
        "HUB_ALOD_BASE_URL": url["alod"],
        "HUB_ALOD_AUTHKEY": "demo",
        "HUB_ALOD_USER_ID": "61559a7e1d3f24416428a6c1",
        "HUB_ALL24_BASE_URL": url["all24"],
        "HUB_ALL24_API_KEY": "demo",
        "HUB_HLD_BASE_URL": url["pusher"],
        "HUB_HLD_PUSHER_KEY": PUSHER_APP[1],
        "HUB_HLD_PUSHER_CLUSTER": "demo",
        "HUB_PUSHER_HOST": f"ws://127.0.0.1:{ports.emulators['pusher']}",
        "HUB_POLL_RECONCILE_AFTER_S": "20",
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "HUB_LIVE_TILE_URL": "",  # no network here: the map shows markers and trail on a plain background
    }
    for provider in ("alclient", "alod", "all24", "alopeyk", "hld"):
        env[f"HUB_{provider.upper()}_POLL_INTERVAL_S"] = "3"
        env[f"HUB_{provider.upper()}_POLL_IDLE_INTERVAL_S"] = "3"
    return env


def emulator_commands(ports: Ports) -> list[tuple[str, list[str]]]:
    step = str(STEP_S)
    commands = [
        (f"emulator-{name}", ["emulator", name, "--port", str(port), "--step-s", step])
        for name, port in ports.emulators.items()
    ]
    return commands


@dataclass
class DemoMerchant:
    api_key: str = field(repr=False)
    merchant_id: str
    receiver_url: str
    webhook_secret: str = field(repr=False)

    @classmethod
    def load_or_create(
        cls, api_url: str, admin_token: str, data_dir: Path, receiver_port: int
    ) -> DemoMerchant:
        """The demo merchant survives restarts (its key is kept under the data directory)."""
        path = data_dir / "demo-merchant.json"
        if path.exists():
            merchant = cls(**json.loads(path.read_text()))
        else:
            admin = {"Authorization": f"Bearer {admin_token}"}
            created = httpx.post(f"{api_url}/v1/merchants", json={"name": "Demo shop"}, headers=admin).json()
            merchant = cls(created["api_key"], created["id"], created["alopeyk_webhook_url"], "")
            brand = {"display_name": "Demo shop", "color": "#0b6e4f"}  # its recipients' page shows it
            httpx.put(f"{api_url}/v1/merchant/brand", json=brand, headers=merchant.headers).raise_for_status()
        merchant.subscribe(api_url, receiver_port)
        path.write_text(json.dumps(merchant.__dict__))
        path.chmod(0o600)
        return merchant

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def stop_previous_run(self, api_url: str) -> None:
        """The emulators forgot the last run's shipments: stop tracking those still in flight."""
        headers = self.headers
        listed = httpx.get(f"{api_url}/v1/shipments", params={"limit": "200"}, headers=headers).json()
        for shipment in listed.get("data", []):
            if shipment["tracking"] and shipment.get("status") not in TERMINAL:
                httpx.delete(f"{api_url}/v1/shipments/{shipment['id']}", headers=headers)

    def subscribe(self, api_url: str, receiver_port: int) -> None:
        """One endpoint: the demo receiver on this run's port (the previous run's is removed)."""
        headers = self.headers
        listed = httpx.get(f"{api_url}/v1/webhooks/endpoints", headers=headers).json()
        for endpoint in listed.get("data", []):
            httpx.delete(f"{api_url}/v1/webhooks/endpoints/{endpoint['id']}", headers=headers)
        body = {"url": f"http://127.0.0.1:{receiver_port}/webhooks", "description": "demo receiver"}
        answer = httpx.post(f"{api_url}/v1/webhooks/endpoints", json=body, headers=headers)
        if answer.status_code != 201:
            raise HubError(f"the demo could not subscribe its receiver: {answer.status_code} {answer.text}")
        self.webhook_secret = answer.json()["secret"]


class Driver(threading.Thread):
    """Keeps shipments of every provider moving; a daemon thread of ``hub dev``."""

    def __init__(self, api_url: str, merchant: DemoMerchant, ports: Ports) -> None:
        super().__init__(name="demo-driver", daemon=True)
        self.api_url = api_url
        self.merchant = merchant
        self.ports = ports
        self.stopping = threading.Event()
        self.active: dict[str, list[dict[str, Any]]] = {}
        self.first_tracking_url = threading.Event()
        self.tracking_url = ""
        host, port = "127.0.0.1", ports.emulators["pusher"]
        app_id, key, secret = PUSHER_APP
        self.pusher = pusher.Pusher(app_id=app_id, key=key, secret=secret, host=host, port=port, ssl=False)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.stopping.wait(POSITION_INTERVAL_S):
                try:
                    self._tick(http)
                except (httpx.HTTPError, ValueError, KeyError) as exc:  # the demo goes on
                    log.warning("demo driver: %s", exc)

    def _tick(self, http: httpx.Client) -> None:
        for provider in ("alopeyk", "hld", "alclient", "alod", "all24"):
            running = [s for s in self.active.get(provider, []) if time.time() - s["started_s"] < 10 * STEP_S]
            while len(running) < ACTIVE_PER_PROVIDER:
                running.append(self._register(http, provider))
            self.active[provider] = running
        for shipment in self.active["alopeyk"]:
            self._alopeyk_webhook(http, shipment)
        for shipment in self.active["hld"]:
            self._hld_pusher(shipment)

    def _register(self, http: httpx.Client, provider: str) -> dict[str, Any]:
        ref = _demo_ref(provider)
        headers = self.merchant.headers
        body = {"provider": provider, "provider_ref": ref, "merchant_ref": f"DEMO-{ref[-6:]}"}
        shipment: dict[str, Any] = http.post(
            f"{self.api_url}/v1/shipments", json=body, headers=headers
        ).json()
        shipment["started_s"] = time.time()
        shipment["sent_step"] = -1
        if not self.tracking_url and provider == "hld":
            self.tracking_url = shipment["tracking_url"]
            self.first_tracking_url.set()
        return shipment

    def _alopeyk_webhook(self, http: httpx.Client, shipment: dict[str, Any]) -> None:
        base = f"http://127.0.0.1:{self.ports.emulators['alopeyk']}"
        headers = {"Authorization": "Bearer demo", "X-Requested-With": "XMLHttpRequest"}
        answer = http.get(f"{base}/api/v2/orders/{shipment['provider_ref']}", headers=headers)
        if answer.status_code == 200:
            http.post(self.merchant.receiver_url, json={"order": answer.json()["object"]})

    def _hld_pusher(self, shipment: dict[str, Any]) -> None:
        channel = f"hld.order.{shipment['provider_ref']}"
        elapsed_s = time.time() - shipment["started_s"]
        step = min(int(elapsed_s // STEP_S), len(HLD_FLOW) - 1)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        code, text = HLD_FLOW[step]
        if step > shipment["sent_step"]:
            shipment["sent_step"] = step
            order = {"id": shipment["provider_ref"], "status": code, "status_text": text}
            data = {"order": order, "tracking_entry": {"status": code, "timestamp": now}, "timestamp": now}
            self.pusher.trigger(channel, "hld.order.status_changed", data)
        if code in HLD_MOVING:
            moving = [i for i, (c, _) in enumerate(HLD_FLOW) if c in HLD_MOVING]
            share = min(1.0, (elapsed_s - moving[0] * STEP_S) / (len(moving) * STEP_S))
            lat = PICKUP[0] + (DROPOFF[0] - PICKUP[0]) * share
            lng = PICKUP[1] + (DROPOFF[1] - PICKUP[1]) * share
            data = {"order_id": shipment["provider_ref"], "executive_id": "EXC-001",
                    "location": {"lat": round(lat, 6), "lng": round(lng, 6)}, "timestamp": now}  # fmt: skip
            self.pusher.trigger(channel, "executive.location_updated", data)


def _demo_ref(provider: str) -> str:
    stamp = f"{time.time_ns() // 1000:x}"
    return {
        "alopeyk": str(int(time.time() * 1000) % 10**9),
        "hld": f"HLD{stamp.upper()}",
        "alclient": str(int(time.time() * 1000) % 10**8),
        "alod": f"{stamp:0>24}"[-24:],
        "all24": f"HS{stamp.upper()[-8:]}",
    }[provider]


def receiver_app(secret: str) -> Any:
    """The demo merchant's endpoint: verifies each webhook (Standard Webhooks) and prints it."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    verifier = Webhook(secret)

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            event = verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            print(f"demo receiver: REFUSED a webhook: {exc}", flush=True)
            return JSONResponse({"error": "bad signature"}, status_code=401)
        data = event.get("data", {})
        print(
            f"demo receiver: verified {request.headers['webhook-id']} {event['type']} "
            f"{data.get('provider')}/{data.get('shipment_id')} {data.get('status')}",
            flush=True,
        )
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/webhooks", receive, methods=["POST"])])
