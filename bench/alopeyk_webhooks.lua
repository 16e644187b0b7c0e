-- wrk script: Alopeyk webhooks for many orders, each moving through its status flow.
-- Request i is order (i % orders) at step (i / orders): new orders, status changes and resends.
local orders = tonumber(os.getenv("BENCH_ORDERS") or "500")
local steps = {
  {"new", ""},
  {"searching", ',"launched_at":"2026-04-04T10:30:05+03:30"'},
  {"accepted", ',"launched_at":"2026-04-04T10:30:05+03:30","accepted_at":"2026-04-04T10:31:00+03:30"'},
  {"picking", ',"launched_at":"2026-04-04T10:30:05+03:30","accepted_at":"2026-04-04T10:31:00+03:30","picking_at":"2026-04-04T10:40:00+03:30"'},
}
local counter = 0
request = function()
  local order = 900000 + (counter % orders)
  local step = steps[(math.floor(counter / orders) % #steps) + 1]
  counter = counter + 1
  local body = '{"order":{"id":' .. order .. ',"invoice_number":"B' .. order .. '","status":"' .. step[1] ..
    '","created_at":"2026-04-04T10:30:00+03:30","updated_at":"2026-04-04T10:45:00+03:30"' .. step[2] ..
    ',"courier":{"phone":"09120000000","firstname":"Ali","lastname":"R","last_position":{"lat":35.7' ..
    (counter % 97) .. ',"lng":51.41}},"extra_params":{"order_id":"SHOP-' .. order .. '"}}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
