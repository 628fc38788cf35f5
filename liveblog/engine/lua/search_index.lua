-- The search index's writes, shared by apply.lua and index_search.lua: the engine puts this
-- file before each of them (so these are local functions of those scripts).
-- Per blog: a record per entry, what was indexed of it ('<language>\n<order key>\n<terms
-- separated by spaces>'); per term T, the sorted set '<terms key>:T' of the order keys of the
-- entries (of every status) that hold it, all at score 0; the terms key itself lists every
-- term in use (score 0: by prefix); and a mark, the language the index is complete in
-- ('~<language>' while the entries from before the index are being indexed). Every key
-- carries the blog's hash tag: on a cluster they share its slot.

-- language, order key, terms (a string) of a record
local function search_parse(record)
  local first = string.find(record, '\n', 1, true)
  local second = string.find(record, '\n', first + 1, true)
  return string.sub(record, 1, first - 1), string.sub(record, first + 1, second - 1),
    string.sub(record, second + 1)
end

-- the terms of a record as a list and as a set
local function search_terms(terms)
  local list, set = {}, {}
  for term in string.gmatch(terms, '%S+') do
    if not set[term] then
      list[#list + 1] = term
      set[term] = true
    end
  end
  return list, set
end

-- A variadic command over a list, in calls of at most 1,000 arguments (unpack has a limit).
local function search_many(command, key, list)
  for first = 1, #list, 1000 do
    redis.call(command, key, unpack(list, first, math.min(first + 999, #list)))
  end
end

-- Put an entry's record (nil: none) in place of the one indexed: only the terms that differ
-- are written when the order key stays.
local function search_put(records, dictionary, id, record)
  local old = redis.call('HGET', records, id)
  if not old and not record then return end
  local old_key, old_list, old_set, new_key, new_list, new_set = '', {}, {}, '', {}, {}
  if old then
    local _, key, terms = search_parse(old)
    old_key = key
    old_list, old_set = search_terms(terms)
  end
  if record then
    local _, key, terms = search_parse(record)
    new_key = key
    new_list, new_set = search_terms(terms)
  end
  local same = old_key == new_key
  local gone = {}  -- terms no entry holds any more
  for _, term in ipairs(old_list) do
    if not (same and new_set[term]) then
      local set = dictionary .. ':' .. term
      redis.call('ZREM', set, old_key)
      if redis.call('EXISTS', set) == 0 then gone[#gone + 1] = term end
    end
  end
  local added = {}  -- score, term, score, term...: the terms list in one call
  for _, term in ipairs(new_list) do
    if not (same and old_set[term]) then
      redis.call('ZADD', dictionary .. ':' .. term, 0, new_key)
      added[#added + 1] = 0
      added[#added + 1] = term
    end
  end
  search_many('ZREM', dictionary, gone)
  search_many('ZADD', dictionary, added)
  if record then redis.call('HSET', records, id, record) else redis.call('HDEL', records, id) end
end

-- A change made in another language than the index's: the index is no longer complete.
local function search_language(mark, language)
  local current = redis.call('GET', mark)
  if current and current ~= language and current ~= '~' .. language then
    redis.call('DEL', mark)
  end
end

