"""Scripted shipment timelines: a shipment walks its provider's real status flow on a clock.

Each emulated shipment starts when it is first asked about (or created explicitly) and
reaches step ``i`` of its flow ``i * step_s`` seconds later. Between pickup and drop-off
the courier moves along a straight line, so every poll in motion sees a new position.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone


@dataclass(frozen=True)
class Step:
    code: str  # the provider's own status code or word
    text: str
    moving: bool = False  # the courier is on the road during this step


@dataclass(frozen=True)
class Reached:
    step: Step
    index: int
    at: datetime  # aware UTC


PICKUP = (35.7567, 51.4112)
DROPOFF = (35.7585, 51.4425)


@dataclass
class Scripted:
    ref: str
    flow: tuple[Step, ...]
    step_s: float
    started_s: float
    advanced_s: list[float] = field(default_factory=list)  # steps revealed early by advance()

    def advance(self) -> None:
        """Reach the next step now, ahead of the clock (tests and demos with a slow clock)."""
        self.advanced_s.append(time.time())

    def reached(self, now_s: float | None = None) -> list[Reached]:
        """The steps reached so far, oldest first."""
        count = min(len(self.flow), self._by_clock(now_s) + len(self.advanced_s))
        return [Reached(step, i, self.time_of(i)) for i, step in enumerate(self.flow[:count])]

    def _by_clock(self, now_s: float | None = None) -> int:
        elapsed_s = (time.time() if now_s is None else now_s) - self.started_s
        return int(elapsed_s // self.step_s) + 1 if elapsed_s >= 0 else 0

    def current(self, now_s: float | None = None) -> Reached:
        reached = self.reached(now_s)
        return reached[-1] if reached else Reached(self.flow[0], 0, self.time_of(0))

    def time_of(self, index: int) -> datetime:
        by_clock = self._by_clock()
        if self.advanced_s and index >= by_clock:
            early = self.advanced_s[min(index - by_clock, len(self.advanced_s) - 1)]
            return datetime.fromtimestamp(early, UTC)
        return datetime.fromtimestamp(self.started_s + index * self.step_s, UTC)

    def position(self, now_s: float | None = None) -> tuple[float, float]:
        """Where the courier is: at pickup before moving, at drop-off after, on the line between."""
        now_s = time.time() if now_s is None else now_s
        moving = [i for i, step in enumerate(self.flow) if step.moving]
        if not moving:
            return PICKUP
        start_s = self.started_s + moving[0] * self.step_s
        end_s = self.started_s + (moving[-1] + 1) * self.step_s
        share = min(1.0, max(0.0, (now_s - start_s) / (end_s - start_s)))
        return (
            round(PICKUP[0] + (DROPOFF[0] - PICKUP[0]) * share, 6),
            round(PICKUP[1] + (DROPOFF[1] - PICKUP[1]) * share, 6),
        )


def local(at: datetime, offset_h: float) -> datetime:
    return at.astimezone(timezone(timedelta(hours=offset_h)))
