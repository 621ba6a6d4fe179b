-- The sandbox provider books one accepted message, exactly once even when
-- the call is retried after a lost reply: the booking is keyed by the
-- message's fresh provider id.
--
-- KEYS[1]  marker of this provider id (string, expires after a day)
-- KEYS[2]  accepted messages per reminder id (hash)
-- KEYS[3]  when each reminder id was first accepted, epoch ms (hash)
-- ARGV[1]  the reminder id
-- ARGV[2]  now, epoch ms
-- Returns 1.
local marker, sends, first_ms = KEYS[1], KEYS[2], KEYS[3]
local reminder_id, now_ms = ARGV[1], ARGV[2]

if redis.call('SET', marker, '1', 'NX', 'EX', 86400) then
  redis.call('HINCRBY', sends, reminder_id, 1)
  redis.call('HSETNX', first_ms, reminder_id, now_ms)
end
return 1
