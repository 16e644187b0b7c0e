"""What the chaos test asserts and the soak prints: lost, duplicated, reordered, missed."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from tests.webhooks.conftest import Received

# Each webhook of an order carries the courier at a longitude of its own (see traffic.step_body).
LNG_BASE = 51.0
LNG_STEP = 1e-4


@dataclass
class Figures:
    webhooks_accepted: int = 0
    events: int = 0
    events_lost: int = 0  # an accepted webhook's courier position never became an event
    events_duplicated: int = 0  # the same event id twice in hub:events
    events_out_of_order: int = 0  # a shipment's positions or sequences not in the order they were sent
    deliveries_missing: int = 0  # an event no delivery brought to the merchant
    deliveries_duplicated: int = 0  # an event the merchant received more than once
    deliveries_out_of_order: int = 0  # a shipment's first arrivals not in sequence order
    deliveries_in_flight_at_kills: int = 0  # the duplicates the at-least-once contract allows
    deliveries_unverified: int = 0  # requests whose signature did not verify
    live_frames_missed: int = 0  # status, stop and delay events the live subscriber never got
    live_positions_coalesced: int = 0  # positions replaced by newer ones for a slow socket (docs/live.md)
    live_frames_duplicated: int = 0
    live_unrecovered: int = 0  # reconnects answered with a snapshot instead of what was missed
    inbox_lag_max: int = 0  # payloads accepted but not yet normalized, at most
    inbox_lag_max_s: float = 0.0  # the oldest such payload's age, at most
    server_errors: int = 0  # 5xx other than 503
    unavailable: int = 0  # 503: Redis unreachable, the one 5xx allowed (the sender retries)

    def report(self) -> str:
        return "\n".join(f"{name:32} {value}" for name, value in asdict(self).items())


def check_events(
    figures: Figures, entries: list[tuple[str, dict[str, str]]], sent: set[tuple[str, int]]
) -> None:
    """``sent``: (order id, step) of every accepted webhook."""
    events = [json.loads(fields["event"]) for _, fields in entries]
    figures.events = len(events)
    figures.events_duplicated = sum(n - 1 for n in Counter(e["id"] for e in events).values())
    seen: set[tuple[str, int]] = set()
    last_step: dict[str, int] = {}
    last_sequence: dict[str, int] = {}
    for event in events:
        data, shipment = event["data"], event["partitionkey"]
        if event["sequence"] <= last_sequence.get(shipment, 0):
            figures.events_out_of_order += 1
        last_sequence[shipment] = max(event["sequence"], last_sequence.get(shipment, 0))
        if event["type"] != "shipment.location_updated" or not data.get("location"):
            continue
        key = (str(data["provider_ref"]), round((data["location"]["lng"] - LNG_BASE) / LNG_STEP))
        seen.add(key)
        if key[1] < last_step.get(key[0], -1):
            figures.events_out_of_order += 1
        last_step[key[0]] = max(key[1], last_step.get(key[0], -1))
    figures.events_lost = len(sent - seen)


def check_deliveries(
    figures: Figures, entries: list[tuple[str, dict[str, str]]], received: list[Received]
) -> None:
    wanted = {json.loads(fields["event"])["id"] for _, fields in entries}
    arrivals = Counter(r.event["id"] for r in received)
    figures.deliveries_missing = len(wanted - set(arrivals))
    figures.deliveries_duplicated = sum(n - 1 for n in arrivals.values())
    first: dict[str, list[int]] = {}
    done: set[str] = set()
    for r in received:
        if r.event["id"] in done:
            continue
        done.add(r.event["id"])
        first.setdefault(r.event.get("partitionkey") or "", []).append(int(r.event.get("sequence") or 0))
    figures.deliveries_out_of_order = sum(
        sum(1 for a, b in itertools.pairwise(seqs) if b <= a) for seqs in first.values()
    )


def check_live(figures: Figures, entries: list[tuple[str, Any]], offsets: list[str]) -> None:
    figures.live_frames_duplicated = sum(n - 1 for n in Counter(offsets).values())
    received = set(offsets)
    missed = [fields for entry_id, fields in entries if entry_id not in received]
    positions = [fields for fields in missed if fields.get("type") == "shipment.location_updated"]
    figures.live_positions_coalesced = len(positions)  # the slow-client contract allows these
    figures.live_frames_missed = len(missed) - len(positions)
