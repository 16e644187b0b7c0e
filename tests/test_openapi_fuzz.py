"""schemathesis against the hub's own /openapi.json, served by a real uvicorn on 127.0.0.1 (issue 12).

Every operation gets generated requests (valid and invalid), with a real merchant API key or
the admin token as its security asks: no answer is a 5xx, and every answer is one the document
describes (status, content type, body schema).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from redis.asyncio import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.api.app import create_app
from hub.settings import Secret, Settings
from tests.conftest import ADMIN_TOKEN, admin_headers
from tests.servers import ServerThread

EXAMPLES_PER_OPERATION = 25  # in each mode, valid and invalid requests
BUDGET_S = 90.0  # the whole run; typically ~20 s
PUSHER_KEY, PUSHER_SECRET = "fuzz-key", "fuzz-secret"
UVICORN_REFUSAL = b"Invalid HTTP request received."
RECEIVER_URL = "https://127.0.0.1:9/fuzz"  # nothing listens; no worker runs here to deliver anyway
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def credentials(operation: Any, document: dict[str, Any], api_key: str) -> dict[str, str]:
    """The bearer the operation's first security requirement names (none for public ones)."""
    security = operation.definition.raw.get("security", document.get("security", []))
    schemes = {name for requirement in security[:1] for name in requirement}
    if "metricsToken" in schemes:
        return {"Authorization": "Bearer fuzz-metrics"}
    if "adminToken" in schemes:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if "apiKey" in schemes:
        return {"Authorization": f"Bearer {api_key}"}
    return {}


@pytest.fixture
def fuzzed_hub(settings: Settings, redis: Redis) -> Iterator[ServerThread]:
    """Every optional route configured, so that each is reached rather than a 404."""
    configured = settings.replace(
        pusher_webhook_key=PUSHER_KEY,
        pusher_webhook_secret=Secret(PUSHER_SECRET),
        metrics_token=Secret("fuzz-metrics"),
        live_pusher_secret=Secret("fuzz-live"),
        webhook_allow_networks=("127.0.0.0/8",),
    )
    with ServerThread(lambda url: create_app(configured.replace(public_url=url))) as server:
        yield server


def signed_pusher_call(case: Any, base_url: str) -> httpx.Response:
    """POST the case's body to /ingest/pusher signed as the Pusher app would, so it gets past the HMAC."""
    body = case.body
    if isinstance(body, dict) and case.meta and case.meta.generation.mode is GenerationMode.POSITIVE:
        body = {**body, "time_ms": int(time.time() * 1000)}  # fresh, or it is only ever refused as stale
    raw = json.dumps(body).encode() if isinstance(body, dict | list | str | int | float) else b""
    headers = {
        "X-Pusher-Key": PUSHER_KEY,
        "X-Pusher-Signature": hmac.new(PUSHER_SECRET.encode(), raw, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{base_url}/ingest/pusher", content=raw, headers=headers, timeout=10)


def exercise(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], known: dict[str, str]
) -> None:
    """A bounded hypothesis run of one operation; raises what the first failing check found.

    Path parameters in ``known`` (real ids, the receiver's secret) are used in valid requests, so
    those reach past a 404; invalid ones keep generated ids, but for the receiver's secret.
    """
    pinned = {
        name: value
        for name, value in known.items()
        if f"{{{name}}}" in operation.path and (mode is GenerationMode.POSITIVE or name == "secret")
    }

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=pinned or None))
    def run(case: Any) -> None:
        if operation.path == "/ingest/pusher":
            case.validate_response(signed_pusher_call(case, base_url), checks=CHECKS)
            return
        if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
            case.body = {**case.body, "url": RECEIVER_URL}  # saving a URL resolves its host: loopback only
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        # A request the HTTP server itself cannot parse (a header name with a space, say) never
        # reaches the hub: uvicorn answers 400 in plain text. Only "no 5xx" applies to it.
        server_refused = response.status_code == 400 and response.content == UVICORN_REFUSAL
        case.validate_response(response, checks=[not_a_server_error] if server_refused else CHECKS)

    run()


def real_ids(base_url: str, api_key: str) -> dict[str, str]:
    """A shipment, a webhook endpoint and a delivery of the merchant, for the operations on one."""
    auth = {"Authorization": f"Bearer {api_key}"}
    shipment = httpx.post(
        f"{base_url}/v1/shipments", json={"provider": "hld", "provider_ref": "FUZZ1"}, headers=auth
    )
    endpoint = httpx.post(f"{base_url}/v1/webhooks/endpoints", json={"url": RECEIVER_URL}, headers=auth)
    assert (shipment.status_code, endpoint.status_code) == (201, 201), shipment.text + endpoint.text
    endpoint_id = endpoint.json()["id"]
    delivery = httpx.post(f"{base_url}/v1/webhooks/endpoints/{endpoint_id}/test", headers=auth)
    assert delivery.status_code == 202, delivery.text
    return {
        "shipment_id": shipment.json()["id"],
        "token": shipment.json()["tracking_token"],
        "endpoint_id": endpoint_id,
        "delivery_id": delivery.json()["id"],
    }


@pytest.mark.slow
def test_every_operation_answers_as_documented_and_never_with_a_5xx(fuzzed_hub: ServerThread) -> None:
    base_url = fuzzed_hub.url
    created = httpx.post(f"{base_url}/v1/merchants", json={"name": "Fuzz"}, headers=admin_headers())
    assert created.status_code == 201, created.text
    api_key, receiver_url = created.json()["api_key"], created.json()["alopeyk_webhook_url"]
    known = {"secret": receiver_url.rsplit("/", 1)[1], **real_ids(base_url, api_key)}
    document = httpx.get(f"{base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")  # the real ids live on
    assert len(operations) >= 25  # every route of the hub, not a silently empty run
    for operation in operations:
        headers = credentials(operation, document, api_key)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, base_url, headers, known)
            except Unsatisfiable:  # nothing to make invalid: the operation has no parameters or body
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis reports a group of failures
                name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{name}: {failure}"[:3000])
    assert time.monotonic() - started < BUDGET_S
    assert not failures, "\n\n".join(failures)
