-- Raises the fence counter to at least a floor, never lowers it.
-- KEYS[1] fence counter, ARGV[1] floor
-- Returns the counter's value afterwards.
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if cur < floor then
  redis.call('SET', KEYS[1], floor)
  return floor
end
return cur
