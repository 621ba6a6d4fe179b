-- The sandbox provider books one accepted message, exactly once even when
-- the call is retried after a lost reply: the booking is keyed by the
-- message's fresh provider id. During a simulated outage nothing is booked.
--
-- KEYS[1]  marker of this provider id (string, expires after a day)
-- KEYS[2]  accepted messages per reminder id (hash)
-- KEYS[3]  when each reminder id was first accepted, epoch ms (hash)
-- KEYS[4]  the simulated outage: epoch s until which nothing is accepted
-- KEYS[5]  pending delivery receipts (sorted set by due time, epoch ms)
-- ARGV[1]  the reminder id
-- ARGV[2]  now, epoch ms (wall clock, for the figures)
-- ARGV[3]  now, epoch s (the service's clock, for the outage)
-- ARGV[4]  the delivery receipt to report later (a JSON array)
-- ARGV[5]  when to report it, epoch ms
-- Returns 1 when booked (or booked already), 0 during an outage.
local marker, sends, first_ms, outage = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local receipts = KEYS[5]
local reminder_id, now_ms, now_s = ARGV[1], ARGV[2], tonumber(ARGV[3])

local outage_until = redis.call('GET', outage)
if outage_until and now_s < tonumber(outage_until) then return 0 end
if redis.call('SET', marker, '1', 'NX', 'EX', 86400) then
  redis.call('HINCRBY', sends, reminder_id, 1)
  redis.call('HSETNX', first_ms, reminder_id, now_ms)
  redis.call('ZADD', receipts, ARGV[5], ARGV[4])
end
return 1
