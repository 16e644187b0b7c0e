"""Pusher Channels protocol 7: frames, close codes and reconnect delays.

Pusher wraps every event as ``{"event", "channel", "data"}`` where ``data`` is usually a
JSON *string* inside the JSON frame (and sometimes an object). Close and error codes
come in ranges that tell the client what to do next.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from enum import Enum
from typing import Any

from hub.model import safejson

PROTOCOL = 7
CLIENT = "tracking-hub"
VERSION = "0.1.0"
HLD_CHANNEL_PREFIX = "hld.order."


class FrameError(ValueError):
    """A WebSocket message that is not a Pusher frame."""


@dataclass(frozen=True)
class Frame:
    event: str
    data: Any = None
    channel: str | None = None

    def encode(self) -> str:
        frame: dict[str, Any] = {"event": self.event, "data": self.data}
        if self.channel is not None:
            frame["channel"] = self.channel
        return json.dumps(frame, separators=(",", ":"))

    def decoded_data(self) -> Any:
        """``data`` as a JSON value, whether it came as a JSON string or as an object."""
        if isinstance(self.data, str):
            try:
                return safejson.loads(self.data, safejson.PROVIDER_LIMITS, expect=None)
            except safejson.Refusal:
                return self.data
        return self.data

    def data_bytes(self) -> bytes:
        """``data`` as the JSON bytes a normalizer parses (a non-JSON string is passed as is)."""
        if isinstance(self.data, str):  # a lone surrogate is kept (and refused by the normalizer), not fatal
            return self.data.encode("utf-8", "surrogatepass")
        return json.dumps(self.data, separators=(",", ":")).encode()


def decode(message: str | bytes) -> Frame:
    try:
        frame = safejson.loads(message, safejson.PROVIDER_LIMITS, expect=None)
    except safejson.Refusal as refused:
        if refused.code != safejson.LONE_SURROGATE:
            raise FrameError(f"not a readable frame ({refused.code}): {refused.message}") from None
        # Depth and numbers passed: the frame is read, and the event carrying the surrogate goes on
        # to be refused by the normalizer's reader and kept as a dead letter, not dropped here.
        frame = json.loads(message)

    if not isinstance(frame, dict) or not isinstance(frame.get("event"), str):
        raise FrameError("a Pusher frame is an object with a string 'event'")
    channel = frame.get("channel")
    return Frame(frame["event"], frame.get("data"), channel if isinstance(channel, str) else None)


def url(host: str, key: str) -> str:
    """``host`` is ``ws(s)://name[:port]``; the key and protocol go in the path and query."""
    return f"{host.rstrip('/')}/app/{key}?protocol={PROTOCOL}&client={CLIENT}&version={VERSION}"


def cluster_host(cluster: str) -> str:
    return f"wss://ws-{cluster}.pusher.com"


def hld_channel(token: str) -> str:
    return f"{HLD_CHANNEL_PREFIX}{token}"


def hld_token(channel: str) -> str | None:
    """The tracking token of ``hld.order.{token}`` (also behind ``private-``/``presence-``), else None."""
    for prefix in ("", "private-", "presence-"):
        if channel.startswith(prefix + HLD_CHANNEL_PREFIX):
            token = channel[len(prefix + HLD_CHANNEL_PREFIX) :]
            return token or None
    return None


class Next(Enum):
    """What to do after a close or a ``pusher:error``."""

    GIVE_UP = "give_up"  # 4000-4099: the same request would fail again (bad key, app disabled ...)
    BACK_OFF = "back_off"  # 4100-4199: over capacity; wait before trying again
    RECONNECT_NOW = "reconnect_now"  # 4200-4299: server going away; reconnect at once
    RETRY = "retry"  # anything else (network, 1006 ...): jittered exponential backoff


def next_step(code: int | None) -> Next:
    if code is None:
        return Next.RETRY
    if 4000 <= code <= 4099:
        return Next.GIVE_UP
    if 4100 <= code <= 4199:
        return Next.BACK_OFF
    if 4200 <= code <= 4299:
        return Next.RECONNECT_NOW
    return Next.RETRY


def backoff_s(attempt: int, min_ms: int, max_ms: int) -> float:
    """Full-jitter exponential backoff: uniform in [min, min * 2**attempt], capped at ``max_ms``."""
    ceiling_ms = min(max_ms, min_ms * 2 ** min(attempt, 20))
    return random.uniform(min_ms, max(min_ms, ceiling_ms)) / 1000
