"""The delivery queue's Lua scripts: every change of a delivery's place in the queue is one of these.

Each script touches the keys of one queue partition only (one hash tag, see :mod:`hub.keys`),
so it runs atomically on one server and on one Redis Cluster node alike.
"""

from __future__ import annotations

from hub import keys

CREATE = """
local delivery, listing, lane, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, member, sequence = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now_ms, oldest_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', delivery) == 1 then return 0 end
redis.call('HSET', delivery, unpack(ARGV, 6))
redis.call('ZADD', listing, now_ms, id)
redis.call('ZREMRANGEBYSCORE', listing, '-inf', oldest_ms)
redis.call('ZADD', lane, sequence, id)
if redis.call('ZCARD', lane) == 1 then redis.call('ZADD', due, now_ms, member) end
return 1
"""

# The throttle keys are named from patterns (endpoint ids are only known in the loop); they
# share the due set's hash tag. Returns the partition's earliest due time after the claim
# (so the caller knows how long it may sleep), then the claimed members.
CLAIM = """
local due = KEYS[1]
local now_ms, limit, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_in_flight, max_per_s = tonumber(ARGV[4]), tonumber(ARGV[5])
local in_flight_key, rate_key, recheck_ms = ARGV[6], ARGV[7], tonumber(ARGV[8])
local claimed = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now_ms, 'LIMIT', 0, limit)) do
  local endpoint, id = string.match(member, '^([^/]+)/(.+)$')
  local in_flight = string.format(in_flight_key, endpoint)
  redis.call('ZREMRANGEBYSCORE', in_flight, '-inf', now_ms)
  local second = math.floor(now_ms / 1000)
  local rate = string.format(rate_key, endpoint) .. ':' .. second
  if max_in_flight > 0 and redis.call('ZCARD', in_flight) >= max_in_flight then
    redis.call('ZADD', due, now_ms + recheck_ms, member)
  elseif max_per_s > 0 and tonumber(redis.call('GET', rate) or '0') >= max_per_s then
    redis.call('ZADD', due, (second + 1) * 1000, member)
  else
    redis.call('INCR', rate)
    redis.call('PEXPIRE', rate, 2000)
    redis.call('ZADD', in_flight, now_ms + lease_ms, id)
    redis.call('ZADD', due, now_ms + lease_ms, member)
    claimed[#claimed + 1] = member
  end
end
local head = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')[2] or ''
return {head, unpack(claimed)}
"""

# One server only (a cluster refuses keys of several slots in one script): every partition's
# earliest due time, '' for an empty one, in one command rather than one per partition.
HEADS = """
local heads = {}
for i, due in ipairs(KEYS) do
  heads[i] = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')[2] or ''
end
return heads
"""

FINISH = """
local due, in_flight, lane, delivery, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local endpoint, id, outcome = ARGV[1], ARGV[2], ARGV[3]
local next_ms, now_ms, retention_s = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local attempt = ARGV[7]
local member = endpoint .. '/' .. id
redis.call('ZREM', in_flight, id)
if redis.call('EXISTS', delivery) == 0 then
  redis.call('ZREM', due, member)
  redis.call('ZREM', lane, id)
  return 0
end
if attempt ~= '' then redis.call('RPUSH', attempts, attempt) end
if #ARGV > 7 then redis.call('HSET', delivery, unpack(ARGV, 8)) end
if outcome == 'retry' then
  redis.call('ZADD', due, next_ms, member)
  return 1
end
redis.call('ZREM', due, member)
redis.call('EXPIRE', delivery, retention_s)
redis.call('EXPIRE', attempts, retention_s)
-- Finished before (a late or repeated finish): the lane moved on already, and its head may be
-- leased to a worker right now; making it due again would send it twice.
if redis.call('ZREM', lane, id) == 0 then return 1 end
local following = redis.call('ZRANGE', lane, 0, 0)[1]
if following then redis.call('ZADD', due, 'NX', now_ms, endpoint .. '/' .. following) end
return 1
"""


def finish_keys(endpoint_id: str, lane: str, ident: str) -> list[str]:
    """The keys :data:`FINISH` takes, in its order."""
    return [
        keys.webhook_due(keys.webhook_partition(endpoint_id)),
        keys.webhook_in_flight(endpoint_id),
        keys.webhook_lane(endpoint_id, lane),
        keys.webhook_delivery(endpoint_id, ident),
        keys.webhook_attempts(endpoint_id, ident),
    ]


# A delivery failed on its data once more (see hub.poison): how often so far, 0 when it is gone.
COUNT_POISON = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'poison_attempts', 1)
"""

REQUEUE = """
local due, lane, delivery, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local endpoint, id, sequence, now_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local member = endpoint .. '/' .. id
if redis.call('EXISTS', delivery) == 0 then return 0 end
local done = redis.call('HGET', delivery, 'attempts')
redis.call('HSET', delivery, 'status', 'pending', 'cycle_start', done, 'next_attempt_ms', now_ms)
redis.call('PERSIST', delivery)
redis.call('PERSIST', attempts)
redis.call('ZADD', lane, sequence, id)
if redis.call('ZCARD', lane) == 1 or redis.call('ZSCORE', due, member) then
  redis.call('ZADD', due, now_ms, member)
end
return 1
"""
