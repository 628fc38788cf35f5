-- One server process's readers per blog in one minute (the peak it saw), in the hash every
-- process shares; the fields of minutes before ARGV[3] go (once a minute: the hash holds an
-- hour of minutes for each process, never more).
-- KEYS: 1 readers hash (field "<minute>:<process>" -> {"slug": readers, ...}).
-- ARGV: 1 field, 2 counts, 3 the oldest minute to keep ('' = no trimming now).
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then
  local oldest = tonumber(ARGV[3])
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local minute = tonumber(string.match(field, '^(%d+):'))
    if minute == nil or minute < oldest then redis.call('HDEL', KEYS[1], field) end
  end
end
return 1
