-- Claim due members of the schedule into the lease set, so that two
-- schedulers never release the same member.
--
-- KEYS[1]  the schedule (sorted set: member -> send time, epoch s)
-- KEYS[2]  the lease set (sorted set: member -> lease expiry, epoch s)
-- ARGV[1]  now (epoch s): members scored at or before it are due
-- ARGV[2]  at most this many members
-- ARGV[3]  the lease's expiry (epoch s)
-- Returns the claimed members, earliest first.
local schedule, lease = KEYS[1], KEYS[2]
local now, limit, expiry = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local due = redis.call('ZRANGEBYSCORE', schedule, '-inf', now, 'LIMIT', 0, limit)
if #due == 0 then return due end
local leased = {}
for i, member in ipairs(due) do
  leased[2 * i - 1] = expiry
  leased[2 * i] = member
end
-- unpack() is bounded by Lua's C stack: go in chunks.
for i = 1, #leased, 7000 do
  redis.call('ZADD', lease, unpack(leased, i, math.min(i + 6999, #leased)))
end
for i = 1, #due, 7000 do
  redis.call('ZREM', schedule, unpack(due, i, math.min(i + 6999, #due)))
end
return due
