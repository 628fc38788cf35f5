-- Store a new token (audit.lua comes first).
-- KEYS: 1 tokens, 2 the tokens' audit log. ARGV: 1 hash, 2 token, 3-5 audit event, its oldest
-- id kept, its cap (see audit.lua).
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
audit(KEYS[2], ARGV[3], ARGV[4], ARGV[5])
