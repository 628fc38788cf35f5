-- One change of one blog, atomically: idempotency check, version check, offset, stored state,
-- history, publish. Nothing is written unless every check passes, and nothing after the first
-- write can fail (Redis does not roll a script back).
-- KEYS: 1 blog, 2 pos, 3 entries, 4 versions, 5 order, 6 history, 7 idempotency key
-- ARGV: 1 channel, 2 history size, 3 new epoch (used only if the position was lost),
--       4 idempotency fingerprint ('' = none), 5 idempotency response, 6 idempotency ttl,
--       7 entry id ('' = none), 8 entry json ('' = delete), 9 entry version, 10 order key,
--       11 old order key, 12 expected version ('' = no check), 13 blog json ('' = unchanged),
--       14 publish time (unix seconds; travels on pub/sub only, for latency metrics),
--       15 publish command (PUBLISH; SPUBLISH on a cluster, where the channel shares the slot),
--       16.. the event, split where its id goes
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

local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  -- The position was lost while the blog survived: its history is gone, start a new epoch.
  epoch = ARGV[3]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'offset', 0)
  redis.call('DEL', KEYS[6])
end
local offset = redis.call('HINCRBY', KEYS[2], 'offset', 1)
local id = epoch .. '-' .. offset

if entry_id ~= '' then
  if ARGV[11] ~= '' then redis.call('ZREM', KEYS[5], ARGV[11]) end
  if ARGV[8] == '' then
    redis.call('HDEL', KEYS[3], entry_id)
    redis.call('HDEL', KEYS[4], entry_id)
  else
    redis.call('HSET', KEYS[3], entry_id, ARGV[8])
    redis.call('HSET', KEYS[4], entry_id, ARGV[9])
    redis.call('ZADD', KEYS[5], 0, ARGV[10])
  end
end
if ARGV[13] ~= '' then redis.call('SET', KEYS[1], ARGV[13]) end

local event = table.concat({unpack(ARGV, 16)}, id)
redis.call('XADD', KEYS[6], 'MAXLEN', ARGV[2], offset .. '-0', 'e', event)
redis.call(ARGV[15], ARGV[1], ARGV[14] .. ' ' .. event)
if fingerprint ~= '' then
  redis.call('SET', KEYS[7], fingerprint .. '\n' .. ARGV[5], 'EX', ARGV[6])
end
return {'OK', epoch, offset}
