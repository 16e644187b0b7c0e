"""The append script (:mod:`hub.streams.append` runs it): one shipment's events, in one atomic step.

KEYS: the shipment's four keys (:func:`hub.keys.shipment_keys`), then on one server
``hub:events`` and the merchant's stream; on a cluster those two live in other slots and
the script leaves each new entry in the shipment's outbox for the caller to publish.
ARGV: now (ms), outbox lease (ms), shipment id, how ``hub:events`` and the merchant's
stream are trimmed (kind, value each), the shipment's merchant and provider (written beside
each event on both streams, so consumers route without parsing), then 13 values per event
(``append._args``).
"""

APPEND = """
local shipment, history, seen, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local events, merchant_events = KEYS[5], KEYS[6]  -- one server only
local now_ms, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local shipment_id, trim_kind, trim_value = ARGV[3], ARGV[4], ARGV[5]
local merchant_trim_kind, merchant_trim_value = ARGV[6], ARGV[7]
local merchant_id, provider = ARGV[8], ARGV[9]  -- beside each event on the streams, for routing
local TERMINAL = {delivered = true, returned = true, cancelled = true, expired = true}  -- hub.statuses

-- Whether the shipment's current code is one of ``codes`` (the flow's codes a change may not follow).
local function current_in(codes, current_code)
  if codes == '' or not current_code then return false end
  for code in string.gmatch(codes, '[^\\31]+') do
    if code == current_code then return true end
  end
  return false
end

local function append(id, head, body, etype, time_ms, status, location, courier, eta, merchant_ref, code,
                      undated, cannot_follow)
  local known = redis.call('HGET', seen, id)
  if known then
    local lease = redis.call('ZSCORE', outbox, known)
    if lease and tonumber(lease) <= now_ms then
      redis.call('ZADD', outbox, now_ms + lease_ms, known)
      local found = redis.call('XRANGE', history, known, known)
      return 'republish', known, found[1][2][2]
    end
    return 'duplicate', known, ''
  end

  -- shipment.delayed is the hub's verdict on the state right now: void once the shipment
  -- finished or its ETA moved (a delivery racing the delay checker wins).
  if etype == 'shipment.delayed' then
    local now_status = redis.call('HGET', shipment, 'status')
    if TERMINAL[now_status or ''] or redis.call('HGET', shipment, 'eta') ~= eta then
      return 'void', '', ''
    end
  end

  -- A status the shipment is already in is no change, whatever time a channel gives it
  -- (HLD's tracking response and its Pusher event can date the same change differently).
  local is_status = etype == 'shipment.status_changed'
  if is_status and code ~= '' and code == redis.call('HGET', shipment, 'status_code') then
    local current = redis.call('HGET', shipment, 'status_entry')
    redis.call('HSET', seen, id, current)
    -- The same change, dated this time (a push after the poll that saw it undated): keep its time.
    if undated ~= '1' and redis.call('HGET', shipment, 'status_undated') == '1'
        and time_ms >= tonumber(redis.call('HGET', shipment, 'status_time_ms') or '-1') then
      redis.call('HSET', shipment, 'status_time_ms', time_ms, 'status_undated', '')
    end
    return 'duplicate', current, ''
  end

  local sequence = redis.call('HINCRBY', shipment, 'sequence', 1)
  local previous = redis.call('HGET', shipment, 'status')
  local stale, applied = 'false', false
  if is_status then
    -- Dated changes are ordered by time. An undated one (time_ms is only a lower bound) is
    -- ordered by the provider's flow: it applies unless the current code is one it cannot
    -- follow, and takes the current status time if that is later. A dated change after an
    -- undated current status must pass both tests. (docs/ordering.md)
    local current_ms = tonumber(redis.call('HGET', shipment, 'status_time_ms') or '-1')
    local current_code = redis.call('HGET', shipment, 'status_code')
    local behind = current_in(cannot_follow, current_code)
    if undated == '1' then
      applied = not behind
      if time_ms < current_ms then time_ms = current_ms end
    else
      applied = time_ms >= current_ms
      if behind and redis.call('HGET', shipment, 'status_undated') == '1' then applied = false end
    end
    if applied then
      redis.call('HSET', shipment, 'status', status, 'status_time_ms', time_ms, 'status_code', code,
        'status_undated', undated)
    else
      stale = 'true'
    end
  elseif etype == 'shipment.location_updated' and location ~= '' then
    local current_ms = tonumber(redis.call('HGET', shipment, 'location_time_ms') or '-1')
    if time_ms >= current_ms then
      redis.call('HSET', shipment, 'location', location, 'location_time_ms', time_ms)
    end
  end
  local latest_ms = tonumber(redis.call('HGET', shipment, 'last_event_ms') or '-1')
  if time_ms >= latest_ms and etype ~= 'shipment.delayed' then  -- the hub's verdict is no news
    redis.call('HSET', shipment, 'last_event_ms', time_ms)
    if courier ~= '' then redis.call('HSET', shipment, 'courier', courier) end
    if eta ~= '' then redis.call('HSET', shipment, 'eta', eta) end
  end
  if merchant_ref ~= '' then redis.call('HSETNX', shipment, 'merchant_ref', merchant_ref) end

  local previous_json = 'null'
  if previous then previous_json = '"' .. previous .. '"' end
  local event = head .. ',"sequence":' .. sequence .. ',"data":' .. body ..
    ',"previous_status":' .. previous_json .. ',"stale":' .. stale .. '}}'
  local entry = redis.call('XADD', history, '*',
    'event', event, 'id', id, 'type', etype, 'sequence', sequence)
  redis.call('HSET', seen, id, entry)
  if applied then redis.call('HSET', shipment, 'status_entry', entry) end
  if events then  -- one server: publish in the same atomic step, to hub:events and the merchant's stream
    local last = redis.call('XREVRANGE', events, '+', '-', 'COUNT', 1)[1]
    local pushed = redis.call('XADD', events, trim_kind, '~', trim_value, '*', 'event', event,
      'shipment', shipment_id, 'type', etype, 'id', id, 'sequence', sequence, 'merchant', merchant_id,
      'provider', provider)
    -- The live readers follow by this message (hub/live/pushes.py); it names the entry before, so a
    -- reader sees an entry nobody published. Refused (no right to publish), they read the stream.
    redis.pcall('PUBLISH', events, (last and last[1] or '0-0') .. '\\n' .. pushed .. '\\n' .. event)
    redis.call('XADD', merchant_events, merchant_trim_kind, '~', merchant_trim_value, '*', 'event', event,
      'shipment', shipment_id, 'type', etype, 'id', id, 'sequence', sequence, 'merchant', merchant_id,
      'provider', provider)
  else  -- a cluster: both streams are in other slots; the caller publishes, the outbox covers a crash
    redis.call('ZADD', outbox, now_ms + lease_ms, entry)
  end
  return 'new', entry, event
end

-- ARGV[10..] holds the shipment's events, FIELDS values each, appended in order.
local FIELDS = 13
local replies = {}
for i = 10, #ARGV, FIELDS do
  local outcome, entry, event = append(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]),
    ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], ARGV[i + 10], ARGV[i + 11], ARGV[i + 12])
  replies[#replies + 1] = outcome
  replies[#replies + 1] = entry
  replies[#replies + 1] = event
end
redis.call('HSET', shipment, 'updated_ms', now_ms)
return replies
"""
