-- One step of indexing the highlights of a blog from before the index existed: up to ARGV[2]
-- timeline entries after order key ARGV[1] ('' = from the oldest), each read as it is now.
-- KEYS: 1 entries, 2 order, 3 pinned, 4 key events.
-- Returns the last order key looked at, or '' when the timeline is done.
-- The rule is apply.lua's: pinned if "pinned" is true, a key event if "key" is in "labels".
local start = '-'
if ARGV[1] ~= '' then start = '(' .. ARGV[1] end
local keys = redis.call('ZRANGE', KEYS[2], start, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #keys do
  local id = string.sub(keys[i], string.find(keys[i], ':', 1, true) + 1)
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local entry = cjson.decode(raw)
    if entry.pinned == true then redis.call('ZADD', KEYS[3], 0, keys[i]) end
    if type(entry.labels) == 'table' then
      for _, label in ipairs(entry.labels) do
        if label == 'key' then redis.call('ZADD', KEYS[4], 0, keys[i]) break end
      end
    end
  end
end
if #keys < tonumber(ARGV[2]) then return '' end
return keys[#keys]
