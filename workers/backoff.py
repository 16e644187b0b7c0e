"""Exponential backoff with full jitter, so shipments failing together retry apart."""

from __future__ import annotations

import random


def delay_s(failures: int, base_s: float, max_s: float) -> float:
    """How long to wait after ``failures`` consecutive failures (1 for the first)."""
    ceiling_s = min(max_s, base_s * 2 ** max(0, failures - 1))
    return random.uniform(ceiling_s / 2, ceiling_s)
