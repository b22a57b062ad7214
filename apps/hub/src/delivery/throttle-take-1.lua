--[[
  Takes the suppressed count of one throttle key for a summary.

  KEYS[1] suppressed set
  Returns the number of suppressed alerts (0 when a later admitted alert already reported them).
]]
local n = redis.call('SCARD', KEYS[1])
redis.call('DEL', KEYS[1])
return n
