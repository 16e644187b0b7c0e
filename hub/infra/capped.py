"""A hash field added only while the hash holds fewer than a cap: counted and written in one step.

Checking ``HLEN`` and then writing lets concurrent requests pass the cap together; the script
cannot be interleaved.
"""

from __future__ import annotations

from typing import Any

_ADD_UNDER_CAP = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


async def hset_under_cap(redis: Any, key: str, field: str, value: str, cap: int) -> bool:
    """``True`` when added; ``False`` when the hash already holds ``cap`` fields."""
    return bool(await redis.eval(_ADD_UNDER_CAP, 1, key, field, value, cap))
