-- Take the sandbox's receipts that are due, under a lease: a taken receipt
-- stays in the set, due again when the lease ends, until whoever took it
-- removes it once recorded. A sandbox that dies (or loses Redis) between
-- taking and recording leaves it to the next one; recording twice changes
-- nothing (receipts are idempotent).
--
-- KEYS[1]  pending receipts (sorted set: JSON [reminder id, provider id,
--          status, code] -> when due, epoch ms)
-- ARGV[1]  now, epoch ms: receipts due at or before it are taken
-- ARGV[2]  at most this many
-- ARGV[3]  when the lease ends, epoch ms
-- Returns the receipts taken, earliest first.
local pending = KEYS[1]
local now_ms, limit, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local due = redis.call('ZRANGEBYSCORE', pending, '-inf', now_ms, 'LIMIT', 0, limit)
if #due == 0 then return due end
-- One ZADD for all of them (the limit keeps unpack() within Lua's stack).
local leased = {}
for i, member in ipairs(due) do
  leased[2 * i - 1] = lease_ms
  leased[2 * i] = member
end
redis.call('ZADD', pending, 'XX', unpack(leased))
return due
