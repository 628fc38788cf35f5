-- Start a new epoch unless one was started meanwhile (the blog survived its position).
-- KEYS: 1 pos, 2 history. ARGV: 1 the new epoch.
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'offset', 0)
  redis.call('DEL', KEYS[2])
end
