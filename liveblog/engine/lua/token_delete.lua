-- Revoke a token and tell every process (audit.lua comes first).
-- KEYS: 1 tokens, 2 the tokens' audit log.
-- ARGV: 1 hash, 2 publish command, 3 channel, 4-6 audit event, its oldest id kept, its cap.
-- Returns 1 if there was such a token, else 0.
local deleted = redis.call('HDEL', KEYS[1], ARGV[1])
if deleted == 1 then
  redis.call(ARGV[2], ARGV[3], ARGV[1])
  audit(KEYS[2], ARGV[4], ARGV[5], ARGV[6])
end
return deleted
