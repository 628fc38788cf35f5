-- Blogs due by ARGV[1] (unix seconds), with their marks.
-- KEYS: 1 due, 2 marks. Returns {slug, mark, ...}.
local slugs = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, 1000)
local result = {}
for i = 1, #slugs do
  result[#result + 1] = slugs[i]
  result[#result + 1] = redis.call('HGET', KEYS[2], slugs[i]) or '0'
end
return result
