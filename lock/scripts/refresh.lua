-- Extends the lease if the token still holds the lock (compare-and-extend).
-- KEYS[1] lock key, KEYS[2] holder key
-- ARGV[1] token, ARGV[2] ttl (ms), ARGV[3] now (unix ms)
-- Returns 1 when extended, 0 when the lock is no longer this token's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], 'renewed', ARGV[3], 'ttl', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
