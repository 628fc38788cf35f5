-- Replace a token only if it is still what the caller read: a revoke (or another edit) in
-- between is never undone (audit.lua comes first).
-- KEYS: 1 tokens, 2 the tokens' audit log.
-- ARGV: 1 hash, 2 the token read, 3 the token to write, 4 publish command, 5 channel,
--       6-8 audit event, its oldest id kept, its cap (see audit.lua).
-- Returns 1 (written), 0 (no such token), -1 (changed meanwhile).
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return 0 end
if stored ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call(ARGV[4], ARGV[5], ARGV[1])
audit(KEYS[2], ARGV[6], ARGV[7], ARGV[8])
return 1
