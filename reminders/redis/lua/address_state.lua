-- Whether addresses of one shard are opted out, and whether a provider
-- reported them failed: two flags per address, in one call.
--
-- KEYS, per address: the opt-out set of its channel, its failure mark
-- ARGV, per address: its keyed hash (the opt-out set's member)
-- Returns, per address: 1 or 0 (opted out), 1 or 0 (failure mark exists).
local flags = {}
for n = 1, #ARGV do
  flags[2 * n - 1] = redis.call('SISMEMBER', KEYS[2 * n - 1], ARGV[n])
  flags[2 * n] = redis.call('EXISTS', KEYS[2 * n])
end
return flags
