-- KEYS: 1 blog, 2 pos, 3.. the blog's other keys (cleared: a new blog starts empty).
-- ARGV: 1 blog json, 2 epoch.  Returns 1 if created, 0 if the slug exists.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('DEL', unpack(KEYS, 2))
  redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'offset', 0)
  return 1
end
return 0
