-- A page of the timeline and the position it reflects, read atomically.
-- KEYS: 1 blog, 2 pos, 3 entries, 4 order.  ARGV: 1 before key ('' = newest), 2 limit
-- Returns {epoch, offset, next key or '', entry json...} or false if the blog does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local limit = tonumber(ARGV[2])
local start = '+'
if ARGV[1] ~= '' then start = '(' .. ARGV[1] end
local keys = redis.call('ZRANGE', KEYS[4], start, '-', 'BYLEX', 'REV', 'LIMIT', 0, limit + 1)
local result = {redis.call('HGET', KEYS[2], 'epoch') or '', redis.call('HGET', KEYS[2], 'offset') or '0', ''}
if #keys > limit then result[3] = keys[limit] end
local ids = {}
for i = 1, math.min(#keys, limit) do
  ids[i] = string.sub(keys[i], string.find(keys[i], ':', 1, true) + 1)
end
if #ids > 0 then
  local entries = redis.call('HMGET', KEYS[3], unpack(ids))
  for i = 1, #entries do result[3 + i] = entries[i] end
end
return result
