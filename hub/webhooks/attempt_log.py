"""Each delivery's attempts as people read them: status, latency and a short, safe excerpt of the answer.

The engine records up to ``HUB_WEBHOOK_RESPONSE_CAP_BYTES`` of each answer; a log shows at
most :data:`EXCERPT_BYTES` of it, cut on a character boundary, with control characters (other
than newlines and tabs) replaced, so any answer can be shown as text. HTML escaping is the
page's (Jinja2's autoescape); JSON carries it as a plain string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub import keys
from hub.webhooks.delivery import Delivery

EXCERPT_BYTES = 512
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def excerpt(text: str, limit_bytes: int = EXCERPT_BYTES) -> str:
    """At most ``limit_bytes`` of ``text`` in UTF-8 (whole characters), controls shown as U+FFFD."""
    cleaned = _CONTROL.sub("\ufffd", text)
    encoded = cleaned.encode("utf-8")
    if len(encoded) <= limit_bytes:
        return cleaned
    return encoded[:limit_bytes].decode("utf-8", "ignore") + "\u2026"


@dataclass(frozen=True)
class LoggedAttempt:
    number: int
    started_ms: int
    latency_ms: int
    status: int | None
    error: str | None
    timed_out: bool
    excerpt: str

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "started_ms": self.started_ms,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "error": self.error,
            "timed_out": self.timed_out,
            "excerpt": self.excerpt,
        }


def logged(record: dict[str, Any], position: int) -> LoggedAttempt:
    """One recorded attempt (the engine's JSON), read leniently: a missing field is shown empty."""
    status = record.get("status")
    error = record.get("error")
    return LoggedAttempt(
        number=_int(record.get("attempt"), position),
        started_ms=_int(record.get("started_ms"), 0),
        latency_ms=_int(record.get("latency_ms"), 0),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        error=excerpt(error) if isinstance(error, str) and error else None,
        timed_out=record.get("timed_out") is True,
        excerpt=excerpt(str(record.get("body") or "")),
    )


async def attempt_logs(redis: Any, deliveries: Sequence[Delivery]) -> list[list[LoggedAttempt]]:
    """Every attempt of each delivery, oldest first, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for delivery in deliveries:
        pipe.lrange(keys.webhook_attempts(delivery.endpoint_id, delivery.id), 0, -1)
    found: list[list[LoggedAttempt]] = []
    for records in await pipe.execute() if deliveries else []:
        found.append([logged(_record(raw), i + 1) for i, raw in enumerate(records)])
    return found


def _record(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
