-- A blog has an entry due at ARGV[2] (after the write that scheduled it): bump its mark, so a
-- scheduler that read the index before cannot drop it.
-- KEYS: 1 due, 2 marks. ARGV: 1 slug, 2 due time (unix seconds).
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
