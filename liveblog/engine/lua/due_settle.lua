-- After a scheduler claimed a blog's due entries: index its next due time (ARGV[3], '' =
-- none). If nothing scheduled meanwhile (the mark is still ARGV[2]), that is the truth; if
-- something did, only an earlier time may replace the index's.
-- KEYS: 1 due, 2 marks. ARGV: 1 slug, 2 the mark read, 3 the next due time.
if (redis.call('HGET', KEYS[2], ARGV[1]) or '0') == ARGV[2] then
  if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
  else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
elseif ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1])
end
