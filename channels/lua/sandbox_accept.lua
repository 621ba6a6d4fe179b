-- The sandbox provider books one accepted message, exactly once even when
-- the call is retried after a lost reply: the booking is keyed by the
-- message's fresh provider id. During a simulated outage nothing is booked.
--
-- KEYS[1]  accepted messages (hash: provider id -> "<reminder id> <epoch ms>")
-- KEYS[2]  the simulated outage: epoch s until which nothing is accepted
-- KEYS[3]  pending delivery receipts (sorted set by due time, epoch ms)
-- ARGV[1]  the provider id
-- ARGV[2]  the reminder id
-- ARGV[3]  now, epoch ms (wall clock, for the figures)
-- ARGV[4]  now, epoch s (the service's clock, for the outage)
-- ARGV[5]  the delivery receipt to report later (a JSON array)
-- ARGV[6]  when to report it, epoch ms
-- Returns 1 when booked (or booked already), 0 during an outage.
local accepted, outage, receipts = KEYS[1], KEYS[2], KEYS[3]
local provider_id, reminder_id, now_ms = ARGV[1], ARGV[2], ARGV[3]

local outage_until = redis.call('GET', outage)
if outage_until and tonumber(ARGV[4]) < tonumber(outage_until) then return 0 end
if redis.call('HSETNX', accepted, provider_id, reminder_id .. ' ' .. now_ms) == 1 then
  redis.call('ZADD', receipts, ARGV[6], ARGV[5])
end
return 1
