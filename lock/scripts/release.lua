-- Deletes the lock if the token still holds it (compare-and-delete).
-- KEYS[1] lock key, KEYS[2] holder key
-- ARGV[1] token
-- Returns 1 when released, 0 when the lock is no longer this token's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
