-- Compare-and-set of one deadline document, with its coverage counters, its
-- place in the agency's due index and its audit events, in one step.
--
-- KEYS[1]  the deadline document (JSON; "v", its version, comes first)
-- KEYS[2]  the audit stream
-- KEYS[3]  the coverage counters (a hash)
-- KEYS[4]  the agency's due index (sorted set: deadline tag -> due, epoch s)
-- ARGV[1]  the version the writer read (0: the document must not exist)
-- ARGV[2]  the new document
-- ARGV[3]  the audit stream's approximate length cap
-- ARGV[4]  when (epoch s), for the audit events
-- ARGV[5]  the due time to index the deadline at, or "" when it did not change
-- ARGV[6]  the deadline's tag (the index member)
-- ARGV[7]  the deadline's agency (each audit event names it: callbacks filter on it)
-- ARGV[8]  n, the number of counter changes that follow
-- ARGV[9 .. 8+2n]          counter name, change; n times
-- ARGV[9+2n ..]            event, deadline tag, detail, actor; per audit event
-- Returns 1 when written, 0 when the version no longer matched (nothing written).
local doc_key, audit_key, coverage_key, index_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local expected, doc, audit_maxlen, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local index_due, tag, agency = ARGV[5], ARGV[6], ARGV[7]
local counters = tonumber(ARGV[8])

local current = redis.call('GET', doc_key)
local version = 0
if current then version = tonumber(string.match(current, '^{"v":(%d+)')) end
if version ~= tonumber(expected) then return 0 end
redis.call('SET', doc_key, doc)
if index_due ~= '' then redis.call('ZADD', index_key, index_due, tag) end
local i = 9
while i < 9 + 2 * counters do
  redis.call('HINCRBY', coverage_key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('XADD', audit_key, 'MAXLEN', '~', audit_maxlen, '*',
    'e', ARGV[i], 'd', ARGV[i + 1], 'x', ARGV[i + 2], 'by', ARGV[i + 3], 'at', at, 'a', agency)
  i = i + 4
end
return 1
