-- A blog's presence map, atomically: forget the records whose time is up, put and drop some,
-- and when the set changed, say so on the blog's newsroom channel (the record itself never
-- travels there, nor into any history). Redis's own clock decides expiry, so hosts with
-- skewed clocks agree.
-- KEYS: 1 presence hash (field -> "<expires> <value>").
-- ARGV: 1 channel, 2 publish command, 3 notice, 4 number of puts, 5 number of touches, then
--       per put and per touch: field, ttl seconds, value; then the fields to drop. A touch
--       gives a record more time only if it still holds that value (it never brings one back).
-- Returns {changed (0|1), field, value, ...} of the records held after.
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local changed = false
local live = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local stored = fields[i + 1]
  local sep = string.find(stored, ' ', 1, true)
  if tonumber(string.sub(stored, 1, sep - 1)) <= t then
    redis.call('HDEL', KEYS[1], fields[i])
    changed = true
  else
    live[fields[i]] = string.sub(stored, sep + 1)
  end
end
local at = 6
local longest = 0
local puts = tonumber(ARGV[4])
for i = 1, puts + tonumber(ARGV[5]) do
  local field, ttl, value = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  at = at + 3
  local touch = i > puts
  if not touch or live[field] == value then
    if live[field] ~= value then changed = true end
    live[field] = value
    if ttl > longest then longest = ttl end
    redis.call('HSET', KEYS[1], field, string.format('%.3f', t + ttl) .. ' ' .. value)
  end
end
for i = at, #ARGV do
  if live[ARGV[i]] ~= nil then
    live[ARGV[i]] = nil
    redis.call('HDEL', KEYS[1], ARGV[i])
    changed = true
  end
end
-- The map itself goes when nobody refreshes it (the last console of the blog is gone).
if longest > 0 then
  redis.call('EXPIRE', KEYS[1], math.ceil(longest) + 60)
end
if changed then redis.call(ARGV[2], ARGV[1], ARGV[3]) end
local result = {changed and 1 or 0}
for field, value in pairs(live) do
  result[#result + 1] = field
  result[#result + 1] = value
end
return result
