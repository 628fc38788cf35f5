-- The store is behind what readers saw: a new epoch.
-- KEYS: 1 pos, 2 history. ARGV: 1 the epoch seen, 2 the offset seen, 3 a new epoch.
-- Returns {epoch, offset} after.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
if epoch == ARGV[1] and offset < tonumber(ARGV[2]) then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
return {epoch, offset}
