-- The reports that have not expired, as a flat {process, report, ...} list; expired ones are
-- deleted here, so a crashed process leaves nothing behind for long.
-- KEYS: 1 reports hash
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local fields = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #fields, 2 do
  local value = fields[i + 1]
  local sep = string.find(value, ' ', 1, true)
  if tonumber(string.sub(value, 1, sep - 1)) <= t then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    live[#live + 1] = fields[i]
    live[#live + 1] = string.sub(value, sep + 1)
  end
end
return live
