"""How soon to poll a shipment again: often while it changes or nears its ETA, rarely when idle."""

from __future__ import annotations

from hub.settings import PollSettings


def interval_s(
    poll: PollSettings,
    provider: str,
    *,
    now_ms: int,
    changed_ms: int,
    eta_ms: int | None,
) -> float:
    config = poll.provider(provider)
    if eta_ms is not None and -poll.near_eta_s * 1000 <= eta_ms - now_ms <= poll.near_eta_s * 1000:
        return config.near_eta_interval_s
    if now_ms - changed_ms > poll.idle_after_s * 1000:
        return config.idle_interval_s
    return config.interval_s
