"""The Lua scripts of `RedisHub`: each checks, then writes, in one step (Redis runs a script
atomically), so no other process can come between the check and the write.

The owner key holds `{node}:{generation}`; the generation comes from INCR on the session's
`gen` key, so a later owner's is always higher. Every write first checks that the writer still
owns the session (`OWNS` below) and returns -1, writing nothing, when it does not.

Every write script takes KEYS owner, gen, ... and ARGV token (`{node}:{generation}`),
generation, owner ttl, ttl, ...
"""

# The owner key is ours; or it is gone (expired while Redis did not hear from us, or Redis
# lost its data) and nobody has opened the session since — an open always raises `gen` — so
# it is ours again.
OWNS = """
local function owns()
  local owner = redis.call('GET', KEYS[1])
  if owner then
    return owner == ARGV[1]
  end
  local last = redis.call('GET', KEYS[2])
  if last and last ~= ARGV[2] then
    return false
  end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
  return true
end
"""

# KEYS owner, gen, log, state; ARGV node, node key prefix, owner ttl, ttl, state json, seq.
# Returns the new generation, or 0 when a live process (or this one) owns the session.
OPEN = """
local owner = redis.call('GET', KEYS[1])
if owner then
  local node = string.match(owner, '^(.*):%d+$') or owner
  if node == ARGV[1] or redis.call('EXISTS', ARGV[2] .. node) == 1 then
    return 0
  end
end
local generation = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. generation, 'EX', ARGV[3])
-- The previous owner's handoff ended its part of the log; ours follows without it.
local markers = redis.call('XRANGE', KEYS[3], ARGV[6] .. '-1', ARGV[6] .. '-18446744073709551615')
for _, entry in ipairs(markers) do
  redis.call('XDEL', KEYS[3], entry[1])
end
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], 'json', ARGV[5], 'seq', ARGV[6], 'gen', generation, 'n', 0)
redis.call('EXPIRE', KEYS[4], ARGV[4])
return generation
"""

# KEYS owner, gen, log; ARGV token, generation, owner ttl, ttl, cap, trim min id ('' for
# none), then (entry id, kind, data) per frame. Returns -1 (fenced), else how many frames
# were refused (an id not above the stream's last: counted rather than failing the batch).
APPEND = (
    OWNS
    + """
if not owns() then
  return -1
end
local failed = 0
for i = 7, #ARGV, 3 do
  local added = redis.pcall(
    'XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], ARGV[i], 'k', ARGV[i + 1], 'd', ARGV[i + 2])
  if type(added) == 'table' and added.err then
    failed = failed + 1
  end
end
if ARGV[6] ~= '' then
  redis.call('XTRIM', KEYS[3], 'MINID', '~', ARGV[6])
end
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return failed
"""
)

# KEYS owner, gen, state; ARGV token, generation, owner ttl, ttl, state json, seq, save number.
# Latest wins: within one generation, a snapshot replaces the saved one only if its
# (seq, save number) is higher. Returns -1 (fenced), 0 (older: dropped) or 1 (saved).
SAVE = (
    OWNS
    + """
if not owns() then
  return -1
end
local saved = redis.call('HMGET', KEYS[3], 'gen', 'seq', 'n')
if saved[1] == ARGV[2] then
  local seq, new_seq = tonumber(saved[2]), tonumber(ARGV[6])
  if seq > new_seq or (seq == new_seq and tonumber(saved[3]) >= tonumber(ARGV[7])) then
    return 0
  end
end
redis.call('HSET', KEYS[3], 'json', ARGV[5], 'seq', ARGV[6], 'gen', ARGV[2], 'n', ARGV[7])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""
)

# KEYS owner, gen, log, state; ARGV token, generation, owner ttl, ttl, state json, seq, save
# number. Returns -1 (fenced) or 1: the handoff is logged, the state saved, the owner key gone.
HANDOFF = (
    OWNS
    + """
if not owns() then
  return -1
end
redis.call('XADD', KEYS[3], ARGV[6] .. '-*', 'k', 'h', 'd', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[4], 'json', ARGV[5], 'seq', ARGV[6], 'gen', ARGV[2], 'n', ARGV[7])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[1])
return 1
"""
)

# KEYS owner, gen, log, state; ARGV token, generation, owner ttl, ttl. One session's
# heartbeat: -1 when another owner has it, else 1 (its keys live on).
TOUCH = (
    OWNS
    + """
if not owns() then
  return -1
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return 1
"""
)
