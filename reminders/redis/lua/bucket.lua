-- A token bucket: take `cost` tokens if there are enough, else say how long
-- until there will be. Tokens refill continuously at `rate` per second up to
-- `burst`. Time comes from the caller (milliseconds), so every web process
-- shares one bucket per agency whatever its own clock.
--
-- KEYS[1]  the bucket (hash: tokens, at_ms)
-- ARGV[1]  now, epoch ms
-- ARGV[2]  rate, tokens per second (> 0)
-- ARGV[3]  burst, the bucket's size (>= cost)
-- ARGV[4]  cost of this request
-- Returns {1, 0} when taken, {0, wait_ms} when not.
local bucket = KEYS[1]
local now_ms, rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local state = redis.call('HMGET', bucket, 'tokens', 'at_ms')
local tokens = math.min(burst, tonumber(state[1]) or burst)
local at_ms = tonumber(state[2]) or now_ms
if now_ms > at_ms then
  tokens = math.min(burst, tokens + (now_ms - at_ms) * rate / 1000)
end
local ttl_ms = math.ceil(burst / rate * 1000) + 1000
if tokens >= cost then
  redis.call('HSET', bucket, 'tokens', tostring(tokens - cost), 'at_ms', math.max(now_ms, at_ms))
  redis.call('PEXPIRE', bucket, ttl_ms)
  return {1, 0}
end
redis.call('HSET', bucket, 'tokens', tostring(tokens), 'at_ms', math.max(now_ms, at_ms))
redis.call('PEXPIRE', bucket, ttl_ms)
return {0, math.ceil((cost - tokens) * 1000 / rate)}
