--[[
  Decides whether one alert passes a destination's throttle. Idempotent per
  alert identity (delivery job id and alert uuid): a retried job gets the same
  answer, another alert reusing the uuid gets its own.

  KEYS[1] window key: uuid of the alert that opened the current window (PX = window)
  KEYS[2] suppressed set: identities suppressed since the last admitted alert
  KEYS[3] decision key of this alert (admitted:<dest>:<job id>:<uuid>)
  ARGV[1] alert identity (<job id>:<uuid>)
  ARGV[2] window in ms
  ARGV[3] retention in ms of the suppressed set and of decisions

  Returns:
    n >= 0  admitted; n alerts with this key were suppressed before it (to report)
    -1      suppressed
    -2 - t  suppressed, the first one of this window, which ends in t ms (schedule a summary then)
]]
local decided = redis.call('GET', KEYS[3])
if decided then
  return tonumber(decided)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local added = redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  if added == 1 and redis.call('SCARD', KEYS[2]) == 1 then
    return -2 - math.max(redis.call('PTTL', KEYS[1]), 0)
  end
  return -1
end
local n = redis.call('SCARD', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], n, 'PX', ARGV[3])
return n
