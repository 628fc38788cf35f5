-- One change of one blog, atomically: idempotency check, version check, schedule claim,
-- offset, stored state, history, publish (to readers and/or to the blog's newsroom stream).
-- Nothing is written unless every check passes, and nothing after the first write can fail
-- (Redis does not roll a script back). audit.lua and search_index.lua come first.
-- KEYS: 1 blog, 2 pos, 3 entries, 4 versions, 5 order, 6 history, 7 idempotency key,
--       8 newsroom pos, 9 newsroom history, 10 pending (entries readers do not see),
--       11 scheduled (entry id by due unix time), 12 pinned, 13 key events (the order keys
--       of the timeline's pinned entries and key events: see highlights.lua),
--       14 search records, 15 search mark, 16 search terms (see search_index.lua),
--       17 the entry's revisions, 18 the blog's deleted entries, 19 the blog's audit log
-- ARGV[1]: the change, one msgpack map (``_ApplyArgs`` in redis.py); a field left out is nil.
--   channel, newsroom_channel, publish (PUBLISH; SPUBLISH on a cluster, where the channel
--     shares the slot), at (publish unix time: on pub/sub only, for latency metrics),
--     history_size, epoch (a new epoch, used only if the position was lost)
--   fingerprint, response, ttl: the Idempotency-Key's check and stored answer
--   entry_id, entry (JSON; nil with an entry_id: delete), version, order_key, old_order_key,
--     expect (the stored version must be this; 0: must not exist; -1: must exist),
--     blog (JSON), pending_key, old_pending_key, due (scheduled for this unix time),
--     claim (true: only if the entry is still scheduled)
--   language, terms: the search index's (see the search block below)
--   revision, kept, audit, audit_minid, audit_cap: the record (its block below)
--   event, newsroom_event: each event's parts, split where its id goes
-- Returns {'OK', epoch, offset}, {'REPLAY', answer, epoch, offset} or {<refusal>, ...}.
local c = cmsgpack.unpack(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOBLOG'} end

-- A stream's epoch (pos, history); a position lost while the blog survived (its history is
-- gone with it) starts a new epoch.
local function epoch_of(pos, history)
  local epoch = redis.call('HGET', pos, 'epoch')
  if not epoch then
    epoch = c.epoch
    redis.call('HSET', pos, 'epoch', epoch, 'offset', 0)
    redis.call('DEL', history)
  end
  return epoch
end

local fingerprint = c.fingerprint
if fingerprint then
  local stored = redis.call('GET', KEYS[7])
  if stored then
    local sep = string.find(stored, '\n', 1, true)
    if string.sub(stored, 1, sep - 1) ~= fingerprint then return {'IDEMPOTENCY'} end
    -- A write (the key's ttl again), so a WAIT after this script also covers the first
    -- request's write: a replayed 2xx is as durable as a first one.
    redis.call('EXPIRE', KEYS[7], c.ttl)
    local epoch = epoch_of(KEYS[2], KEYS[6])
    return {'REPLAY', string.sub(stored, sep + 1), epoch, redis.call('HGET', KEYS[2], 'offset')}
  end
end

local entry_id = c.entry_id
if entry_id and c.expect then
  local current = tonumber(redis.call('HGET', KEYS[4], entry_id) or '0')
  local expected = c.expect
  if expected == -1 and current == 0 then return {'NOENTRY'} end
  if expected ~= -1 and expected ~= current then return {'VERSION', tostring(current)} end
end

if c.claim and not redis.call('ZSCORE', KEYS[11], entry_id) then
  return {'NOTSCHEDULED'}
end

-- The highlights index's view of the entry (index_highlights.lua has the same rule), read
-- before the first write: a decode cannot fail half-way through the change.
local pinned, key_event = false, false
if entry_id and c.entry and c.order_key then
  local entry = cjson.decode(c.entry)
  pinned = entry.pinned == true
  if type(entry.labels) == 'table' then
    for _, label in ipairs(entry.labels) do
      if label == 'key' then key_event = true end
    end
  end
end

-- Stamp an event with the next offset of a stream (pos, history), store and publish it.
local function publish(pos, history, channel, parts)
  local epoch = epoch_of(pos, history)
  local offset = redis.call('HINCRBY', pos, 'offset', 1)
  local event = table.concat(parts, epoch .. '-' .. offset)
  redis.call('XADD', history, 'MAXLEN', c.history_size, offset .. '-0', 'e', event)
  redis.call(c.publish, channel, c.at .. ' ' .. event)
end

if entry_id then
  if c.old_order_key then
    redis.call('ZREM', KEYS[5], c.old_order_key)
    redis.call('ZREM', KEYS[12], c.old_order_key)
    redis.call('ZREM', KEYS[13], c.old_order_key)
  end
  if c.old_pending_key then redis.call('ZREM', KEYS[10], c.old_pending_key) end
  redis.call('ZREM', KEYS[11], entry_id)
  if not c.entry then
    redis.call('HDEL', KEYS[3], entry_id)
    redis.call('HDEL', KEYS[4], entry_id)
  else
    redis.call('HSET', KEYS[3], entry_id, c.entry)
    redis.call('HSET', KEYS[4], entry_id, c.version)
    if c.order_key then
      redis.call('ZADD', KEYS[5], 0, c.order_key)
      if pinned then redis.call('ZADD', KEYS[12], 0, c.order_key) end
      if key_event then redis.call('ZADD', KEYS[13], 0, c.order_key) end
    end
    if c.pending_key then redis.call('ZADD', KEYS[10], 0, c.pending_key) end
    if c.due then redis.call('ZADD', KEYS[11], c.due, entry_id) end
  end
end
if c.blog then redis.call('SET', KEYS[1], c.blog) end

-- >>> search: the index changes with the entry (functions from search_index.lua). language:
-- nil = no terms; with a change of the blog, its language; with a change of an entry, the
-- language of ``terms``, the entry's terms after the change (separated by spaces). An entry
-- changed without terms leaves the index, which is then not complete: the next search
-- indexes it.
local language = c.language
if language then search_language(KEYS[15], language) end
if entry_id then
  local key = c.order_key or c.pending_key
  if c.entry and key and c.terms then
    search_put(KEYS[14], KEYS[16], entry_id, language .. '\n' .. key .. '\n' .. c.terms)
  else
    search_put(KEYS[14], KEYS[16], entry_id, nil)
    if c.entry then redis.call('DEL', KEYS[15]) end  -- kept, but not indexed now
  end
end
-- <<< search

-- === The record: the entry's history and the audit log ===================================
-- revision: a version to append to the entry's history (kept: versions kept per entry, the
-- first and the newest); audit: an event for the audit log (see audit.lua). Plain appends,
-- trims and marks: nothing here can fail.
if entry_id then
  if not c.entry then redis.call('ZADD', KEYS[18], c.at, entry_id)
  else redis.call('ZREM', KEYS[18], entry_id) end
  if c.revision then
    if redis.call('RPUSH', KEYS[17], c.revision) > c.kept then
      -- The first version stays (what was first said), then the newest.
      local first = redis.call('LINDEX', KEYS[17], 0)
      redis.call('LTRIM', KEYS[17], 1 - c.kept, -1)
      redis.call('LPUSH', KEYS[17], first)
    end
  end
end
audit(KEYS[19], c.audit, c.audit_minid, c.audit_cap)
-- === end of the record ===================================================================

if c.event and #c.event > 0 then publish(KEYS[2], KEYS[6], c.channel, c.event) end
if c.newsroom_event and #c.newsroom_event > 0 then
  publish(KEYS[8], KEYS[9], c.newsroom_channel, c.newsroom_event)
end
if fingerprint then
  redis.call('SET', KEYS[7], fingerprint .. '\n' .. c.response, 'EX', c.ttl)
end
return {'OK', redis.call('HGET', KEYS[2], 'epoch') or c.epoch, redis.call('HGET', KEYS[2], 'offset') or 0}
