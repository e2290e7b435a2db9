"""The Lua scripts of `RedisHub`: each checks, then writes, in one step (Redis runs a script
atomically), so no other process can come between the check and the write.

The owner key holds `{node}:{generation}`; the generation comes from INCR on the session's
`gen` key, so a later owner's is always higher. Every write compares the owner key with the
writer's own `{node}:{generation}` first and returns -1, writing nothing, when it differs.
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

# KEYS owner, log; ARGV owner, cap, ttl, owner ttl, trim min id ('' for none), then
# (entry id, kind, data) per frame. Returns -1 (fenced), else how many frames were refused
# (an id not above the stream's last: never expected, counted rather than failing the batch).
APPEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local failed = 0
for i = 6, #ARGV, 3 do
  local added = redis.pcall(
    'XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], ARGV[i], 'k', ARGV[i + 1], 'd', ARGV[i + 2])
  if type(added) == 'table' and added.err then
    failed = failed + 1
  end
end
if ARGV[5] ~= '' then
  redis.call('XTRIM', KEYS[2], 'MINID', '~', ARGV[5])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return failed
"""

# KEYS owner, state, gen; ARGV owner, state json, seq, generation, save number, ttl.
# Latest wins: within one generation, a snapshot replaces the saved one only if its
# (seq, save number) is higher. Returns -1 (fenced), 0 (older: dropped) or 1 (saved).
SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local saved = redis.call('HMGET', KEYS[2], 'gen', 'seq', 'n')
if saved[1] == ARGV[4] then
  local seq, new_seq = tonumber(saved[2]), tonumber(ARGV[3])
  if seq > new_seq or (seq == new_seq and tonumber(saved[3]) >= tonumber(ARGV[5])) then
    return 0
  end
end
redis.call('HSET', KEYS[2], 'json', ARGV[2], 'seq', ARGV[3], 'gen', ARGV[4], 'n', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[6])
return 1
"""

# KEYS owner, log, state, gen; ARGV owner, state json, seq, generation, save number, ttl.
# Returns -1 (fenced) or 1: the handoff is logged, the state saved, the owner key released.
HANDOFF = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
redis.call('XADD', KEYS[2], ARGV[3] .. '-*', 'k', 'h', 'd', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('HSET', KEYS[3], 'json', ARGV[2], 'seq', ARGV[3], 'gen', ARGV[4], 'n', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('EXPIRE', KEYS[4], ARGV[6])
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS owner, log, state, gen; ARGV owner, ttl, owner ttl. The heartbeat of one session:
# returns 0 when another owner has it, else 1 (its keys live on).
TOUCH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return 1
"""
