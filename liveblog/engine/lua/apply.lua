-- One change of one blog, atomically: idempotency check, version check, schedule claim,
-- offset, stored state, history, publish (to readers and/or to the blog's newsroom stream).
-- Nothing is written unless every check passes, and nothing after the first write can fail
-- (Redis does not roll a script back).
-- KEYS: 1 blog, 2 pos, 3 entries, 4 versions, 5 order, 6 history, 7 idempotency key,
--       8 newsroom pos, 9 newsroom history, 10 pending (entries readers do not see),
--       11 scheduled (entry id by due unix time), 12 pinned, 13 key events (the order keys
--       of the timeline's pinned entries and key events: see highlights.lua)
--       14 search records, 15 search mark, 16 search terms (see search_index.lua)
-- ARGV: 1 channel, 2 history size, 3 new epoch (used only if the position was lost),
--       4 idempotency fingerprint ('' = none), 5 idempotency response, 6 idempotency ttl,
--       7 entry id ('' = none), 8 entry json ('' = delete), 9 entry version, 10 order key,
--       11 old order key, 12 expected version ('' = no check), 13 blog json ('' = unchanged),
--       14 publish time (unix seconds; travels on pub/sub only, for latency metrics),
--       15 publish command (PUBLISH; SPUBLISH on a cluster, where the channel shares the slot),
--       16 newsroom channel, 17 pending key, 18 old pending key, 19 due time ('' = not
--       scheduled), 20 claim ('1': only if the entry is still scheduled),
--       21 search terms (see the search block below),
--       22 the readers' event's part count (0 = none), then its parts, then the newsroom
--       event's parts (none = no newsroom event); events are split where their id goes
-- The record (its own block below) adds KEYS 17-19 and ARGV 23-27, before the events' parts,
-- which therefore start at ARGV[EVENTS] (28).
local EVENTS = 28
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOBLOG'} end

local fingerprint = ARGV[4]
if fingerprint ~= '' then
  local stored = redis.call('GET', KEYS[7])
  if stored then
    local sep = string.find(stored, '\n', 1, true)
    if string.sub(stored, 1, sep - 1) ~= fingerprint then return {'IDEMPOTENCY'} end
    -- A write (the key's ttl again), so a WAIT after this script also covers the first
    -- request's write: a replayed 2xx is as durable as a first one.
    redis.call('EXPIRE', KEYS[7], ARGV[6])
    return {'REPLAY', string.sub(stored, sep + 1)}
  end
end

local entry_id = ARGV[7]
if entry_id ~= '' and ARGV[12] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[4], entry_id) or '0')
  local expected = tonumber(ARGV[12])
  if expected == -1 and current == 0 then return {'NOENTRY'} end
  if expected ~= -1 and expected ~= current then return {'VERSION', tostring(current)} end
end

if ARGV[20] == '1' and not redis.call('ZSCORE', KEYS[11], entry_id) then
  return {'NOTSCHEDULED'}
end

-- The highlights index's view of the entry (index_highlights.lua has the same rule), read
-- before the first write: a decode cannot fail half-way through the change.
local pinned, key_event = false, false
if entry_id ~= '' and ARGV[8] ~= '' and ARGV[10] ~= '' then
  local entry = cjson.decode(ARGV[8])
  pinned = entry.pinned == true
  if type(entry.labels) == 'table' then
    for _, label in ipairs(entry.labels) do
      if label == 'key' then key_event = true end
    end
  end
end

-- Stamp an event with the next offset of a stream (pos, history), store and publish it.
local function publish(pos, history, channel, first, last)
  local epoch = redis.call('HGET', pos, 'epoch')
  if not epoch then
    -- The position was lost while the blog survived: its history is gone, start a new epoch.
    epoch = ARGV[3]
    redis.call('HSET', pos, 'epoch', epoch, 'offset', 0)
    redis.call('DEL', history)
  end
  local offset = redis.call('HINCRBY', pos, 'offset', 1)
  local event = table.concat({unpack(ARGV, first, last)}, epoch .. '-' .. offset)
  redis.call('XADD', history, 'MAXLEN', ARGV[2], offset .. '-0', 'e', event)
  redis.call(ARGV[15], channel, ARGV[14] .. ' ' .. event)
end

if entry_id ~= '' then
  if ARGV[11] ~= '' then
    redis.call('ZREM', KEYS[5], ARGV[11])
    redis.call('ZREM', KEYS[12], ARGV[11])
    redis.call('ZREM', KEYS[13], ARGV[11])
  end
  if ARGV[18] ~= '' then redis.call('ZREM', KEYS[10], ARGV[18]) end
  redis.call('ZREM', KEYS[11], entry_id)
  if ARGV[8] == '' then
    redis.call('HDEL', KEYS[3], entry_id)
    redis.call('HDEL', KEYS[4], entry_id)
  else
    redis.call('HSET', KEYS[3], entry_id, ARGV[8])
    redis.call('HSET', KEYS[4], entry_id, ARGV[9])
    if ARGV[10] ~= '' then
      redis.call('ZADD', KEYS[5], 0, ARGV[10])
      if pinned then redis.call('ZADD', KEYS[12], 0, ARGV[10]) end
      if key_event then redis.call('ZADD', KEYS[13], 0, ARGV[10]) end
    end
    if ARGV[17] ~= '' then redis.call('ZADD', KEYS[10], 0, ARGV[17]) end
    if ARGV[19] ~= '' then redis.call('ZADD', KEYS[11], ARGV[19], entry_id) end
  end
end
if ARGV[13] ~= '' then redis.call('SET', KEYS[1], ARGV[13]) end

-- >>> search: the index changes with the entry (functions from search_index.lua, which the
-- engine puts before this script). ARGV[21]: '' = no terms; '<language>' with a change of the
-- blog; '<language>\n<terms separated by spaces>' with a change of an entry: its terms after
-- the change. An entry changed without terms leaves the index, which is then not complete:
-- the next search indexes it.
local search = ARGV[21]
local split = string.find(search, '\n', 1, true)
local language = split and string.sub(search, 1, split - 1) or search
if language ~= '' then search_language(KEYS[15], language) end
if entry_id ~= '' then
  local key = ARGV[10] ~= '' and ARGV[10] or ARGV[17]
  if ARGV[8] ~= '' and key ~= '' and split then
    local record = language .. '\n' .. key .. '\n' .. string.sub(search, split + 1)
    search_put(KEYS[14], KEYS[16], entry_id, record)
  else
    search_put(KEYS[14], KEYS[16], entry_id, nil)
    if ARGV[8] ~= '' then redis.call('DEL', KEYS[15]) end  -- kept, but not indexed now
  end
end
-- <<< search

-- === The record: the entry's history and the audit log ===================================
-- KEYS: 17 the entry's revisions (a list, oldest first), 18 the blog's deleted entries (id by
--       when), 19 the blog's audit log (a stream, ids by the time of writing)
-- ARGV: 23 the revision ('' = none), 24 versions kept per entry (the first and the newest),
--       25 the audit event ('' = none), 26 the audit log's oldest id kept (unix ms), 27 its
--       hard cap. Plain appends, trims and marks: nothing here can fail.
if entry_id ~= '' then
  if ARGV[8] == '' then redis.call('ZADD', KEYS[18], ARGV[14], entry_id)
  else redis.call('ZREM', KEYS[18], entry_id) end
  if ARGV[23] ~= '' then
    local kept = tonumber(ARGV[24])
    if redis.call('RPUSH', KEYS[17], ARGV[23]) > kept then
      -- The first version stays (what was first said), then the newest.
      local first = redis.call('LINDEX', KEYS[17], 0)
      redis.call('LTRIM', KEYS[17], 1 - kept, -1)
      redis.call('LPUSH', KEYS[17], first)
    end
  end
end
if ARGV[25] ~= '' then
  redis.call('XADD', KEYS[19], 'MINID', '~', ARGV[26], '*', 'e', ARGV[25])
  redis.call('XTRIM', KEYS[19], 'MAXLEN', '~', ARGV[27])
end
-- === end of the record ===================================================================

local parts = tonumber(ARGV[22])
if parts > 0 then publish(KEYS[2], KEYS[6], ARGV[1], EVENTS, EVENTS - 1 + parts) end
if #ARGV > EVENTS - 1 + parts then
  publish(KEYS[8], KEYS[9], ARGV[16], EVENTS + parts, #ARGV)
end
if fingerprint ~= '' then
  redis.call('SET', KEYS[7], fingerprint .. '\n' .. ARGV[5], 'EX', ARGV[6])
end
return {'OK', redis.call('HGET', KEYS[2], 'epoch') or ARGV[3], redis.call('HGET', KEYS[2], 'offset') or 0}
