-- Breaks the lock unless its holder is still renewing it.
-- KEYS[1] lock key, KEYS[2] holder key
-- ARGV[1] "1" to break even a renewing holder, ARGV[2] lease ttl (ms) to
-- assume when the holder recorded none
-- A holder renews at ttl/3, so its key's remaining ttl stays above ttl/3;
-- below that it has missed its renewals for 2/3 of a ttl. Measuring this with
-- the key's own PTTL keeps every host's clock out of the decision.
-- Returns {0} when free, {1, pttl, field, value, ...} when broken,
-- {2, pttl, field, value, ...} when refused.
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then
  redis.call('DEL', KEYS[2])
  return {0}
end
local ttl = tonumber(redis.call('HGET', KEYS[2], 'ttl')) or tonumber(ARGV[2])
local reply = {1, pttl}
if ARGV[1] ~= '1' and pttl * 3 > ttl then
  reply[1] = 2
end
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do
  reply[#reply + 1] = v
end
if reply[1] == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return reply
