-- Compare-and-set of deadline documents of one shard, each with everything
-- that moves with it, in one step: its coverage counters, its place in the
-- agency's due index, its schedule entries, the leases of the members being
-- handled and its audit events. Every key is in the shard (one slot).
-- Each write stands alone: one whose version no longer matches writes
-- nothing and the others still go ahead (two writes of one deadline in a
-- call: the second finds the first's version and is refused).
--
-- KEYS[1]  the shard's audit stream
-- KEYS[2]  the shard's coverage counters (a hash)
-- KEYS[3]  the shard's schedule (member -> send time, epoch s)
-- KEYS[4]  the shard's lease set (member -> lease expiry, epoch s)
-- KEYS[5]  the shard's packed coverage counters (agency|month -> little-endian
--          int32 per counter; see reminders/redis/counters.py)
-- then, per write: its document (JSON; "v", its version, comes first), and
--                  the shard's part of its agency's due index (tag -> due)
-- ARGV[1]  the audit stream's approximate length cap
-- ARGV[2]  the length of a packed counters value (a new one is zero-filled to it)
-- then, per write, 11 fields:
--   the version the writer read (0: the document must not exist),
--   the new document, when (epoch s, for the audit events), the due time to
--   index the deadline at ("" when it did not change), the deadline's tag
--   (the index member), its agency (each audit event names it: callbacks
--   filter on it), and c, a, r, l, e: how many counter changes, schedule
--   entries to add, schedule members to remove, leases to end (members
--   handled by this step) and audit events follow;
--   then: agency|month, counter index, change (c times; index -1: the first
--   is a counter's whole name, kept in KEYS[2]); member, send time (a times);
--   member (r times); member (l times); event, deadline tag, detail, actor
--   (e times).
-- Returns, per write: 1 when written, 0 when its version no longer matched.
local audit_key, coverage_key, schedule_key, lease_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local packed_key = KEYS[5]
local audit_maxlen = ARGV[1]
local packed_size = tonumber(ARGV[2])
local results = {}
local i = 3
local w = 0
while i <= #ARGV do
  w = w + 1
  local doc_key, index_key = KEYS[4 + 2 * w], KEYS[5 + 2 * w]
  local expected, doc, at = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local index_due, tag, agency = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local counters, adds = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7])
  local removes, leases = tonumber(ARGV[i + 8]), tonumber(ARGV[i + 9])
  local events = tonumber(ARGV[i + 10])
  local first = i + 11
  local after = first + 3 * counters + 2 * adds + removes + leases + 4 * events
  local current = redis.call('GET', doc_key)
  local version = 0
  if current then version = tonumber(string.match(current, '^{"v":(%d+)')) end
  if version ~= tonumber(expected) then
    results[w] = 0
  else
    results[w] = 1
    redis.call('SET', doc_key, doc)
    if index_due ~= '' then redis.call('ZADD', index_key, index_due, tag) end
    i = first
    -- A value packs one agency and month's counters: read once, written once.
    local packs, groups = {}, {}
    for _ = 1, counters do
      local group, slot = ARGV[i], tonumber(ARGV[i + 1])
      if slot < 0 then
        redis.call('HINCRBY', coverage_key, group, ARGV[i + 2])
      else
        local packed = packs[group]
        if not packed then
          packed = redis.call('HGET', packed_key, group) or ''
          groups[#groups + 1] = group
        end
        local at = 4 * slot + 1
        local short = math.max(packed_size, at + 3) - #packed
        if short > 0 then packed = packed .. string.rep('\0', short) end
        local value = struct.unpack('<i4', packed, at) + tonumber(ARGV[i + 2])
        packs[group] = string.sub(packed, 1, at - 1) .. struct.pack('<i4', value)
          .. string.sub(packed, at + 4)
      end
      i = i + 3
    end
    if #groups > 0 then
      local fields = {}
      for k, group in ipairs(groups) do
        fields[2 * k - 1] = group
        fields[2 * k] = packs[group]
      end
      redis.call('HSET', packed_key, unpack(fields))
    end
    -- One command each for the schedule's additions, its removals and the leases.
    if adds > 0 then
      local entries = {}
      for k = 1, adds do
        entries[2 * k - 1] = ARGV[i + 1]
        entries[2 * k] = ARGV[i]
        i = i + 2
      end
      redis.call('ZADD', schedule_key, unpack(entries))
    end
    if removes > 0 then
      redis.call('ZREM', schedule_key, unpack(ARGV, i, i + removes - 1))
      i = i + removes
    end
    if leases > 0 then
      redis.call('ZREM', lease_key, unpack(ARGV, i, i + leases - 1))
      i = i + leases
    end
    for _ = 1, events do
      redis.call('XADD', audit_key, 'MAXLEN', '~', audit_maxlen, '*',
        'e', ARGV[i], 'd', ARGV[i + 1], 'x', ARGV[i + 2], 'by', ARGV[i + 3], 'at', at, 'a', agency)
      i = i + 4
    end
  end
  i = after
end
return results
