-- The entries of a blog that match a query, newest first: a page of them strictly older than
-- a cursor, how many match in all, and the position the page reflects, read atomically.
-- The index is search_index.lua's. Sorted sets of order keys at one score are in key order,
-- so ZRANGE BYLEX walks them in timeline order, and ZINTER and ZUNION answer in it.
-- KEYS: 1 blog, 2 pos, 3 entries, 4 order, 5 search terms, 6 search mark
-- ARGV: 1 before key ('' = newest), 2 limit, 3 '1' = entries of every status (else the
--       published ones, those in order), 4 prefix ('' = none), 5 the prefix word's own term,
--       6 at most this many terms that begin with the prefix, 7.. terms each entry must hold
-- Returns {epoch, offset, next key or '', total, the language the index is complete in or '',
-- entry json...} or false if the blog does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local limit = tonumber(ARGV[2])
local mark = redis.call('GET', KEYS[6]) or ''
if string.sub(mark, 1, 1) == '~' then mark = '' end
local result = {redis.call('HGET', KEYS[2], 'epoch') or '', redis.call('HGET', KEYS[2], 'offset') or '0', '', 0, mark}

local keys = {}
for i = 7, #ARGV do keys[#keys + 1] = KEYS[5] .. ':' .. ARGV[i] end
-- The last word of a query may begin longer words: its own term or any term that begins with
-- it (ordered by byte, so every term that begins with it sorts below it followed by 0xFF).
local prefixed = nil
if ARGV[4] ~= '' then
  prefixed = {}
  local seen = {}
  local function add(term)
    if not seen[term] then
      seen[term] = true
      prefixed[#prefixed + 1] = KEYS[5] .. ':' .. term
    end
  end
  if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[5] .. ':' .. ARGV[5]) == 1 then add(ARGV[5]) end
  local terms = redis.call('ZRANGE', KEYS[5], '[' .. ARGV[4], '[' .. ARGV[4] .. '\255', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[6]))
  for _, term in ipairs(terms) do add(term) end
  if #prefixed == 0 then return result end
  if #prefixed == 1 then
    keys[#keys + 1] = prefixed[1]
    prefixed = nil
  end
end
if ARGV[3] ~= '1' then keys[#keys + 1] = KEYS[4] end

-- The members of a sorted list that are also in the sorted set `key`, in order.
local function members_in(list, key)
  local kept = {}
  for first = 1, #list, 1000 do
    local chunk = {unpack(list, first, math.min(first + 999, #list))}
    local scores = redis.call('ZMSCORE', key, unpack(chunk))
    for i = 1, #chunk do
      if scores[i] then kept[#kept + 1] = chunk[i] end
    end
  end
  return kept
end

-- Whether a < b byte by byte, as Redis orders members (Lua's < follows the locale).
local function below(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- A page of the keys below the cursor, newest first, from the members of `ranked` (ascending).
local function page_of(ranked)
  local stop = #ranked
  if ARGV[1] ~= '' then
    local low, high = 1, #ranked + 1  -- the first key >= before
    while low < high do
      local middle = math.floor((low + high) / 2)
      if below(ranked[middle], ARGV[1]) then low = middle + 1 else high = middle end
    end
    stop = low - 1
  end
  local keys = {}
  for i = stop, math.max(1, stop - limit + 1), -1 do keys[#keys + 1] = ranked[i] end
  return keys, stop - limit > 0
end

local page, more
if not prefixed then
  -- Every word is one sorted set: count them all in C, and walk the smallest set down from
  -- the cursor, keeping what the others hold too, until the page is full. A word in every
  -- entry costs a page, not the blog.
  local cards = {}
  for _, key in ipairs(keys) do cards[key] = redis.call('ZCARD', key) end
  table.sort(keys, function(a, b) return cards[a] < cards[b] end)
  if cards[keys[1]] == 0 then return result end
  if #keys == 1 then result[4] = cards[keys[1]] else
    result[4] = redis.call('ZINTERCARD', #keys, unpack(keys))
  end
  page = {}
  local start, step = '+', 64
  if ARGV[1] ~= '' then start = '(' .. ARGV[1] end
  while #page <= limit do
    local candidates = redis.call('ZRANGE', keys[1], start, '-', 'BYLEX', 'REV', 'LIMIT', 0, step)
    if #candidates == 0 then break end
    local held = {}
    for i = 1, #candidates do held[i] = true end
    for k = 2, #keys do
      local scores = redis.call('ZMSCORE', keys[k], unpack(candidates))
      for i = 1, #candidates do
        if not scores[i] then held[i] = false end
      end
    end
    for i = 1, #candidates do
      if held[i] then page[#page + 1] = candidates[i] end
      if #page > limit then break end
    end
    if #candidates < step then break end
    start = '(' .. candidates[#candidates]
    step = math.min(step * 2, 1000)
  end
  more = #page > limit
  page[limit + 1] = nil
else
  -- The last word stands for several: their union, then what the other words hold too.
  local ranked = redis.call('ZUNION', #prefixed, unpack(prefixed))
  if #keys == 1 then
    ranked = members_in(ranked, keys[1])
  elseif #keys > 1 then
    local others = redis.call('ZINTER', #keys, unpack(keys))
    local small, large = others, ranked
    if #small > #large then small, large = large, small end
    local set = {}
    for _, key in ipairs(small) do set[key] = true end
    ranked = {}
    for _, key in ipairs(large) do
      if set[key] then ranked[#ranked + 1] = key end
    end
  end
  result[4] = #ranked
  page, more = page_of(ranked)
end

if more then result[3] = page[#page] end
local ids = {}
for i, key in ipairs(page) do ids[i] = string.sub(key, string.find(key, ':', 1, true) + 1) end
if #ids > 0 then
  local entries = redis.call('HMGET', KEYS[3], unpack(ids))
  for i = 1, #ids do result[5 + i] = entries[i] end
end
return result
