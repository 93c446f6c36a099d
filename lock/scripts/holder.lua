-- Reads who holds the lock.
-- KEYS[1] lock key, KEYS[2] holder key
-- Returns {0} when free, else {1, pttl, field, value, ...}.
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then
  return {0}
end
local reply = {1, pttl}
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do
  reply[#reply + 1] = v
end
return reply
