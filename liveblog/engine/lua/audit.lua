-- The audit log's append, shared by the scripts that write an audit event in the same step as
-- their change (apply.lua, the token_*.lua scripts, create_blog.lua, import_finish.lua): the
-- engine puts this file before each of them (so this is a local function of those scripts).

-- Append ``event`` ('' or nil: none) to the stream ``key``, trimmed by age (``minid``, the
-- oldest id kept, unix ms) and by a hard cap (``cap``).
local function audit(key, event, minid, cap)
  if event == nil or event == '' then return end
  redis.call('XADD', key, 'MINID', '~', minid, '*', 'e', event)
  redis.call('XTRIM', key, 'MAXLEN', '~', cap)
end

