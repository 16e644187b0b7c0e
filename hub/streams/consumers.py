"""How far behind a merchant's own stream consumers are (``XINFO GROUPS`` on its stream).

The groups are the merchant's (made with its stream credentials); the hub only reads what
Redis knows of them: members, entries delivered but not acknowledged, and the lag (entries
not yet delivered to the group; None when Redis cannot tell, e.g. after a trim past it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from hub import keys

MAX_GROUPS = 100  # shown per merchant; Redis keeps any number


@dataclass(frozen=True)
class GroupLag:
    name: str
    consumers: int
    pending: int
    lag: int | None
    last_delivered_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "consumers": self.consumers,
            "pending": self.pending,
            "lag": self.lag,
            "last_delivered_id": self.last_delivered_id,
        }


@dataclass(frozen=True)
class StreamLag:
    stream: str
    length: int
    last_id: str | None
    groups: list[GroupLag]

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "length": self.length,
            "last_id": self.last_id,
            "groups": [group.to_json() for group in self.groups],
        }


async def lag(redis: Any, merchant_id: str) -> StreamLag:
    """The merchant's stream and each of its consumer groups (none while the stream is empty)."""
    stream = keys.merchant_events(merchant_id)
    try:
        info = await redis.xinfo_stream(stream)
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no stream yet: nothing was published for the merchant
        return StreamLag(stream, 0, None, [])
    found = [_group(raw) for raw in groups[:MAX_GROUPS]]
    return StreamLag(stream, int(info.get("length") or 0), _text(info.get("last-generated-id")), found)


def _group(raw: dict[str, Any]) -> GroupLag:
    lagging = raw.get("lag")
    return GroupLag(
        name=_text(raw.get("name")) or "",
        consumers=int(raw.get("consumers") or 0),
        pending=int(raw.get("pending") or 0),
        lag=int(lagging) if lagging is not None else None,
        last_delivered_id=_text(raw.get("last-delivered-id")) or "0-0",
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
