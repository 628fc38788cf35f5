-- The search index is complete in ARGV[1] now, unless a change in another language undid the
-- '~<language>' mark meanwhile (see search_index.lua).
-- KEYS: 1 search mark. Returns 1 or 0.
local mark = redis.call('GET', KEYS[1])
if mark == ARGV[1] then return 1 end
if mark ~= '~' .. ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
