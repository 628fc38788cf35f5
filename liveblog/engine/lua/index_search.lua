-- One step of indexing the entries from before the index (or of another language): each
-- entry's record in place of the one indexed, if the entry is still at that version (a change
-- since then indexed it itself). Functions from search_index.lua.
-- KEYS: 1 versions, 2 search records, 3 search terms.
-- ARGV: triples of entry id, version, record ('<language>\n<order key>\n<terms>').
for i = 1, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    search_put(KEYS[2], KEYS[3], ARGV[i], ARGV[i + 2])
  end
end
return 1
