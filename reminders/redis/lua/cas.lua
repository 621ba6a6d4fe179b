-- Compare-and-set of one deadline document, with its coverage counters and
-- audit events, in one step (every key carries the deadline's slot when the
-- counters and the audit are sharded).
--
-- KEYS[1]  the deadline document (JSON; "v", its version, comes first)
-- KEYS[2]  the audit stream
-- KEYS[3]  the coverage counters (a hash)
-- ARGV[1]  the version the writer read (0: the document must not exist)
-- ARGV[2]  the new document
-- ARGV[3]  the audit stream's approximate length cap
-- ARGV[4]  when (epoch s), for the audit events
-- ARGV[5]  n, the number of counter changes that follow
-- ARGV[6 .. 5+2n]          counter name, change; n times
-- ARGV[6+2n ..]            event, deadline tag, detail, actor; per audit event
-- Returns 1 when written, 0 when the version no longer matched (nothing written).
local doc_key, audit_key, coverage_key = KEYS[1], KEYS[2], KEYS[3]
local expected, doc, audit_maxlen, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local counters = tonumber(ARGV[5])

local current = redis.call('GET', doc_key)
local version = 0
if current then version = tonumber(string.match(current, '^{"v":(%d+)')) end
if version ~= tonumber(expected) then return 0 end
redis.call('SET', doc_key, doc)
local i = 6
while i < 6 + 2 * counters do
  redis.call('HINCRBY', coverage_key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('XADD', audit_key, 'MAXLEN', '~', audit_maxlen, '*',
    'e', ARGV[i], 'd', ARGV[i + 1], 'x', ARGV[i + 2], 'by', ARGV[i + 3], 'at', at)
  i = i + 4
end
return 1
