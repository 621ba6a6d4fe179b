-- Return expired leases to the schedule, due now. A member re-planned
-- meanwhile (already back in the schedule) keeps its own time.
--
-- KEYS[1]  the schedule (sorted set: member -> send time, epoch s)
-- KEYS[2]  the lease set (sorted set: member -> lease expiry, epoch s)
-- ARGV[1]  now (epoch s): leases that expired at or before it go back
-- ARGV[2]  at most this many members
-- Returns how many members went back.
local schedule, lease = KEYS[1], KEYS[2]
local now, limit = ARGV[1], tonumber(ARGV[2])

local expired = redis.call('ZRANGEBYSCORE', lease, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(expired) do
  redis.call('ZADD', schedule, 'NX', now, member)
  redis.call('ZREM', lease, member)
end
return #expired
