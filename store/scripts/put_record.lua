-- Stores a profile's completion record unless one with a fence at least as
-- high is stored (one key: atomic on every topology).
-- KEYS[1] record key
-- ARGV[1] fence, ARGV[2] version, ARGV[3] hash algorithm, ARGV[4] run id,
-- ARGV[5] time (unix ms)
-- Returns 1 when stored, 0 when fenced off.
local f = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if f >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'version', ARGV[2], 'hashAlgo', ARGV[3], 'runId', ARGV[4], 'at', ARGV[5])
return 1
