-- Takes the lock if it is free, draws the next fence and records the holder.
-- KEYS[1] lock key, KEYS[2] holder key, KEYS[3] fence counter (never expires)
-- ARGV[1] token, ARGV[2] ttl (ms), ARGV[3] now (unix ms), ARGV[4] run id,
-- ARGV[5] host, ARGV[6] image
-- Returns {1, fence} when acquired, else {0, pttl, field, value, ...}: the
-- lock key's remaining ttl and the current holder's metadata.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[3])
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'runId', ARGV[4], 'host', ARGV[5], 'image', ARGV[6],
    'fence', fence, 'since', ARGV[3], 'renewed', ARGV[3], 'ttl', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return {1, fence}
end
local reply = {0, redis.call('PTTL', KEYS[1])}
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do
  reply[#reply + 1] = v
end
return reply
