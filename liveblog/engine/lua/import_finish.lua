-- Renew an import's lease, or end the import (ARGV[3] = ''): a fresh epoch, so a reader who
-- watched the blog fill reloads it whole, and the import's audit event (audit.lua comes
-- first).
-- KEYS: 1 the import's lease, 2 pos, 3 history, 4 the blog's audit log
-- ARGV: 1 lease id, 2 new epoch, 3 the lease's new end ('' = finish), 4 audit event ('' =
--       none), 5 the audit log's oldest id kept (unix ms), 6 its hard cap
-- Returns 1, or 0 if the lease is no longer this import's.
local lease = redis.call('GET', KEYS[1])
if not lease or string.sub(lease, 1, string.find(lease, ' ', 1, true) - 1) ~= ARGV[1] then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3])
  return 1
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HSET', KEYS[2], 'epoch', ARGV[2])
audit(KEYS[4], ARGV[4], ARGV[5], ARGV[6])
return 1
