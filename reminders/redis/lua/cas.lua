-- Compare-and-set of one deadline document, with everything that moves with
-- it, in one step: its coverage counters, its place in the agency's due
-- index, its schedule entries, the lease of the member being handled and
-- its audit events. Every key is in the deadline's shard (one slot).
--
-- KEYS[1]  the deadline document (JSON; "v", its version, comes first)
-- KEYS[2]  the shard's audit stream
-- KEYS[3]  the shard's coverage counters (a hash)
-- KEYS[4]  the shard's part of the agency's due index (tag -> due, epoch s)
-- KEYS[5]  the shard's schedule (member -> send time, epoch s)
-- KEYS[6]  the shard's lease set (member -> lease expiry, epoch s)
-- ARGV[1]  the version the writer read (0: the document must not exist)
-- ARGV[2]  the new document
-- ARGV[3]  the audit stream's approximate length cap
-- ARGV[4]  when (epoch s), for the audit events
-- ARGV[5]  the due time to index the deadline at, or "" when it did not change
-- ARGV[6]  the deadline's tag (the index member)
-- ARGV[7]  the deadline's agency (each audit event names it: callbacks filter on it)
-- ARGV[8]  c, the number of counter changes
-- ARGV[9]  a, the number of schedule entries to add
-- ARGV[10] r, the number of schedule members to remove
-- ARGV[11] l, the number of leases to end (members handled by this step)
-- then: counter name, change (c times); member, send time (a times);
--       member (r times); member (l times);
--       event, deadline tag, detail, actor (per audit event, to the end)
-- Returns 1 when written, 0 when the version no longer matched (nothing written).
local doc_key, audit_key, coverage_key, index_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local schedule_key, lease_key = KEYS[5], KEYS[6]
local expected, doc, audit_maxlen, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local index_due, tag, agency = ARGV[5], ARGV[6], ARGV[7]
local counters, adds = tonumber(ARGV[8]), tonumber(ARGV[9])
local removes, leases = tonumber(ARGV[10]), tonumber(ARGV[11])

local current = redis.call('GET', doc_key)
local version = 0
if current then version = tonumber(string.match(current, '^{"v":(%d+)')) end
if version ~= tonumber(expected) then return 0 end
redis.call('SET', doc_key, doc)
if index_due ~= '' then redis.call('ZADD', index_key, index_due, tag) end
local i = 12
for _ = 1, counters do
  redis.call('HINCRBY', coverage_key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
-- One command each for the schedule's additions, its removals and the leases.
if adds > 0 then
  local entries = {}
  for k = 1, adds do
    entries[2 * k - 1] = ARGV[i + 1]
    entries[2 * k] = ARGV[i]
    i = i + 2
  end
  redis.call("ZADD", schedule_key, unpack(entries))
end
if removes > 0 then
  redis.call('ZREM', schedule_key, unpack(ARGV, i, i + removes - 1))
  i = i + removes
end
if leases > 0 then
  redis.call('ZREM', lease_key, unpack(ARGV, i, i + leases - 1))
  i = i + leases
end
while i <= #ARGV do
  redis.call('XADD', audit_key, 'MAXLEN', '~', audit_maxlen, '*',
    'e', ARGV[i], 'd', ARGV[i + 1], 'x', ARGV[i + 2], 'by', ARGV[i + 3], 'at', at, 'a', agency)
  i = i + 4
end
return 1
