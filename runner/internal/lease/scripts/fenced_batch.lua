-- A batch of writes fenced by the lock: runs the commands only while the
-- lock key (KEYS[1]) holds this run's token (ARGV[1]). The commands follow
-- in ARGV, each as its argument count and its arguments; the reply is the
-- list of their replies. A script runs atomically: nothing else runs
-- between the check and the writes.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED the lock is no longer held by this run')
end
local out = {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return out
