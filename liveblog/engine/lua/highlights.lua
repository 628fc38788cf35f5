-- Every pinned entry and key event of a blog, newest first, read atomically.
-- KEYS: 1 blog, 2 entries, 3 pinned, 4 key events (order keys; kept by apply.lua).
-- Returns {number of pinned entries, pinned entry json..., key event json...}, or false if the
-- blog does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local result = {0}
for list = 3, 4 do
  local keys = redis.call('ZRANGE', KEYS[list], '+', '-', 'BYLEX', 'REV')
  for i = 1, #keys do
    local id = string.sub(keys[i], string.find(keys[i], ':', 1, true) + 1)
    result[#result + 1] = redis.call('HGET', KEYS[2], id)
  end
  if list == 3 then result[1] = #result - 1 end
end
return result
