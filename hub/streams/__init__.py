"""Append: events into Redis streams, atomic and idempotent."""
