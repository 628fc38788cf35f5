-- The entries just newer than an order key, and how many newer ones remain above them, with the
-- position they reflect, read atomically (a reader page landing on an old entry fills the gap
-- above it a page at a time).
-- KEYS: 1 blog, 2 pos, 3 entries, 4 order.  ARGV: 1 after key, 2 limit
-- Returns {epoch, offset, remaining, entry json... (newest first)} or false if no such blog.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local limit = tonumber(ARGV[2])
local above = '(' .. ARGV[1]
local keys = redis.call('ZRANGE', KEYS[4], above, '+', 'BYLEX', 'LIMIT', 0, limit)
local total = redis.call('ZLEXCOUNT', KEYS[4], above, '+')
local result = {redis.call('HGET', KEYS[2], 'epoch') or '', redis.call('HGET', KEYS[2], 'offset') or '0', total - #keys}
local ids = {}
for i = #keys, 1, -1 do
  ids[#ids + 1] = string.sub(keys[i], string.find(keys[i], ':', 1, true) + 1)
end
if #ids > 0 then
  local entries = redis.call('HMGET', KEYS[3], unpack(ids))
  for i = 1, #entries do result[3 + i] = entries[i] end
end
return result
