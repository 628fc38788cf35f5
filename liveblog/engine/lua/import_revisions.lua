-- Replace an entry's history (an import).
-- KEYS: 1 its revisions, 2 the blog's deleted entries.
-- ARGV: 1 entry id, 2 when it was deleted ('' = it was not), 3.. its revisions, oldest first.
redis.call('DEL', KEYS[1])
if #ARGV > 2 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) end
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
