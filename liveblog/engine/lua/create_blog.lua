-- Create a blog unless the slug is taken (audit.lua comes first).
-- KEYS: 1 blog, 2 pos, 3.. the blog's other keys (cleared: a new blog starts empty), and last
--       the blog's audit log (kept: it is the record of what happened under this name).
-- ARGV: 1 blog json, 2 epoch, 3 audit event ('' = none), 4 the audit log's oldest id kept
--       (unix ms), 5 its hard cap.  Returns 1 if created, 0 if the slug exists.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('DEL', unpack(KEYS, 2, #KEYS - 1))
  redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'offset', 0)
  audit(KEYS[#KEYS], ARGV[3], ARGV[4], ARGV[5])
  return 1
end
return 0
