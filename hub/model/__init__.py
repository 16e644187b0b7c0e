"""The core values: events, observations, statuses, times (pure, no I/O)."""
