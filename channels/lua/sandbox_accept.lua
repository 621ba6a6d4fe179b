-- The sandbox provider books accepted messages (one, or a batch taken in
-- one call), each exactly once even when the call is retried after a lost
-- reply: a booking is keyed by its message's fresh provider id. During a
-- simulated outage nothing is booked.
--
-- KEYS[1]  accepted messages (hash: provider id -> "<reminder id> <epoch ms>")
-- KEYS[2]  the simulated outage: epoch s until which nothing is accepted
-- KEYS[3]  pending delivery receipts (sorted set by due time, epoch ms)
-- ARGV[1]  now, epoch ms (wall clock, for the figures)
-- ARGV[2]  now, epoch s (the service's clock, for the outage)
-- then, for each message, 4 arguments:
--   the provider id, the reminder id, the delivery receipt to report later
--   (a JSON array), when to report it (epoch ms)
-- Returns 1 when booked (or booked already), 0 during an outage.
local accepted, outage, receipts = KEYS[1], KEYS[2], KEYS[3]
local now_ms = ARGV[1]

local outage_until = redis.call('GET', outage)
if outage_until and tonumber(ARGV[2]) < tonumber(outage_until) then return 0 end
for i = 3, #ARGV, 4 do
  if redis.call('HSETNX', accepted, ARGV[i], ARGV[i + 1] .. ' ' .. now_ms) == 1 then
    redis.call('ZADD', receipts, ARGV[i + 3], ARGV[i + 2])
  end
end
return 1
