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
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], secret: str
) -> None:
    """A bounded hypothesis run of one operation; raises what the first failing check found."""
    known = {"secret": secret} if "{secret}" in operation.path else None  # reach the real receiver

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=known))
    def run(case: Any) -> None:
        if operation.path == "/ingest/pusher":
            case.validate_response(signed_pusher_call(case, base_url), checks=CHECKS)
        else:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    run()


@pytest.mark.slow
def test_every_operation_answers_as_documented_and_never_with_a_5xx(fuzzed_hub: ServerThread) -> None:
    base_url = fuzzed_hub.url
    created = httpx.post(f"{base_url}/v1/merchants", json={"name": "Fuzz"}, headers=admin_headers())
    assert created.status_code == 201, created.text
    api_key, receiver_url = created.json()["api_key"], created.json()["alopeyk_webhook_url"]
    secret = receiver_url.rsplit("/", 1)[1]
    document = httpx.get(f"{base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25  # every route of the hub, not a silently empty run
    for operation in operations:
        headers = credentials(operation, document, api_key)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, base_url, headers, secret)
            except Unsatisfiable:  # nothing to make invalid: the operation has no parameters or body
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis reports a group of failures
                name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{name}: {failure}"[:3000])
    assert time.monotonic() - started < BUDGET_S
    assert not failures, "\n\n".join(failures)
