-- Create a blog for an import that holds it under a lease, or take over the blog of an import
-- whose lease is over (it never finished): the blog is emptied and starts again.
-- KEYS: 1 blog, 2 pos, 3 the import's lease, 4.. the blog's other keys (cleared)
-- ARGV: 1 blog json, 2 epoch, 3 lease id, 4 now (unix seconds), 5 the lease's end (unix s)
-- Returns 'OK', 'EXISTS' (a blog that no import holds) or 'BUSY' (an import holds it).
if redis.call('EXISTS', KEYS[1]) == 1 then
  local lease = redis.call('GET', KEYS[3])
  if not lease then return 'EXISTS' end
  local sep = string.find(lease, ' ', 1, true)
  if tonumber(string.sub(lease, sep + 1)) > tonumber(ARGV[4]) then return 'BUSY' end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', unpack(KEYS, 4))
redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'offset', 0)
redis.call('SET', KEYS[3], ARGV[3] .. ' ' .. ARGV[5])
return 'OK'
