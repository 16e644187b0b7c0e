"""Fault knobs every provider emulator shares, and the request log tests count with.

Knobs are counters: ``{"rate_limit": 3}`` answers the next three requests with 429. They
are set by ``POST /_emulator/faults`` (JSON), so a test or a demo can break a provider
on purpose while the hub polls it over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.responses import Response

# Knobs consumed one per request, in this order of precedence.
COUNTED = (
    "timeout",
    "unauthorized",
    "rate_limit",
    "server_error",
    "malformed",
    "wrong_encoding",
    "lone_surrogate",
)


@dataclass
class Faults:
    latency_ms: float = 0.0  # added to every answer
    retry_after_s: float = 1.0  # sent with each 429
    hang_s: float = 30.0  # how long a "timeout" request hangs before answering
    timeout: int = 0
    unauthorized: int = 0
    rate_limit: int = 0
    server_error: int = 0
    malformed: int = 0
    wrong_encoding: int = 0
    lone_surrogate: int = 0  # the real answer, with a JSON-escaped lone surrogate in `surrogate_field`
    surrogate_field: str = "event_name"  # every string under this key gets "\ud800" appended
    expire_tokens: int = 0  # forget every issued token this many times (AL Client API)

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}; expected one of {sorted(known)}")
            setattr(self, name, type(getattr(self, name))(value))

    def take(self) -> str | None:
        """The fault this request suffers, if any (each counter is used up one at a time)."""
        for name in COUNTED:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return name
        return None


@dataclass
class RequestLog:
    """Every request's arrival time (epoch s) and fault, for tests to count."""

    times_s: list[float]
    faults: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"requests": len(self.times_s), "times_s": self.times_s, "faults": self.faults}


class Knobs:
    """Faults plus the request log, safe to touch from the server thread and a test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults = Faults()
        self.log = RequestLog([], {})

    def arrive(self) -> tuple[str | None, Faults]:
        with self.lock:
            fault = self.faults.take()
            self.log.times_s.append(time.time())
            if fault:
                self.log.faults[fault] = self.log.faults.get(fault, 0) + 1
            return fault, Faults(**asdict(self.faults))

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return RequestLog(list(self.log.times_s), dict(self.log.faults)).to_json()


async def apply(fault: str | None, faults: Faults, content_type: str) -> Response | None:
    """The faulty answer for ``fault`` (``None``: answer normally)."""
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if fault == "timeout":
        await asyncio.sleep(faults.hang_s)
        return Response(status_code=504)
    if fault == "unauthorized":
        return Response(b'{"message":"Unauthenticated."}', 401, media_type="application/json")
    if fault == "rate_limit":
        headers = {"Retry-After": str(int(faults.retry_after_s))}
        return Response(b'{"message":"Too Many Attempts."}', 429, headers, media_type="application/json")
    if fault == "server_error":
        return Response(b"<html><body>502 Bad Gateway</body></html>", 502, media_type="text/html")
    if fault == "malformed":
        return Response(b'{"status": "success", "object": {"id": ', 200, media_type=content_type)
    if fault == "wrong_encoding":
        return Response("وضعیت".encode("utf-16"), 200, media_type=content_type)
    return None


def with_lone_surrogate(response: Response, field: str) -> Response:
    """Valid JSON a provider could send: ``"\\ud800"`` escapes appended to every ``field`` string."""

    def spoil(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (v + "\ud800" if k == field and isinstance(v, str) else spoil(v)) for k, v in value.items()
            }
        if isinstance(value, list):
            return [spoil(item) for item in value]
        return value

    body = json.dumps(spoil(json.loads(bytes(response.body)))).encode()  # ensure_ascii: "\ud800" on the wire
    return Response(body, response.status_code, media_type=response.media_type)
