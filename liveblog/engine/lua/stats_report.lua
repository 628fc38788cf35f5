-- Store one server process's report in the shared hash, stamped with its expiry.
-- Redis's own clock decides expiry, so hosts with skewed clocks agree.
-- KEYS: 1 reports hash.  ARGV: 1 process id, 2 ttl seconds, 3 report
local now = redis.call('TIME')
local expires = tonumber(now[1]) + tonumber(now[2]) / 1e6 + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.3f', expires) .. ' ' .. ARGV[3])
return 1
