package matchmaking

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The open-match board: where a cluster's running matchmaking matches with free seats are
// shared, so that the queue's matcher (on whichever instance holds the lease) can backfill
// matches of every instance. One hash per queue, P{q:QUEUE}:open (in the queue's hash slot):
// field r:ID = an OpenRecord (JSON) of match ID, field m:ID = when the matchmaker made it (ms).
// The placer marks each match it makes for a backfill queue (MarkMade, which also writes its
// first record); each instance then keeps the records of the matches it owns (openPublisher,
// backfill_publish.go); the matcher reads them (ClusterBackfill, backfill_cluster.go).
//
// Only a marked match gets a record: a match a player created with a look-alike label (POST
// /v1/matches takes any label) is never offered. An owner deletes the record of a match that
// ended, with its mark; a match that moved to another instance (END MOVED) keeps its mark, so
// its new owner (epoch + 1) writes its record again.
//
// Times are Redis' own clock (TIME), so the instances' clocks do not matter: a record expires
// LeaseTTL after its owner last wrote it (the owner rewrites it every third of that), so a dead
// owner's matches stop being offered within one lease TTL; readers delete what expired, and the
// marks of matches without a record for markKeep.
//
// Who may write a record: its owner node. The old owner's late write or delete of a match that
// moved does not replace or remove a live record of another node with an epoch at least its own.

// markKeep is how long a mark outlives its match's last record (an owner that died before its
// match ended, or never wrote): past it the reader deletes it.
const markKeep = time.Hour

// OpenRecord is one running match with free seats on the board.
type OpenRecord struct {
	ID     string  `json:"id"`
	Node   string  `json:"node"`  // the owner instance
	Epoch  uint32  `json:"epoch"` // the match's epoch on its owner
	Game   string  `json:"game"`
	Region string  `json:"region,omitempty"` // the region the match was made for
	Skill  float64 `json:"skill"`            // the mean skill of the players it was made for
	Free   int     `json:"free"`             // seats neither taken nor reserved, as the owner last saw
	Max    int     `json:"max"`
	At     int64   `json:"at"`  // when the owner wrote it (Redis time, ms)
	Exp    int64   `json:"exp"` // when it expires unless rewritten (Redis time, ms)
}

func (s *RedisStore) openKey(q string) string { return s.qtag(q) + "open" }

// markScript marks match ARGV[1] as made by the matchmaker (at Redis time) and writes its first
// record ARGV[2] (unless one is there) with a lifetime of ARGV[3] ms.
var markScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'm:' .. ARGV[1], now)
local r = cjson.decode(ARGV[2])
r.at = now
r.exp = now + ttl
redis.call('HSETNX', KEYS[1], 'r:' .. ARGV[1], cjson.encode(r))
redis.call('PEXPIRE', KEYS[1], math.max(2 * ttl, redis.call('PTTL', KEYS[1])))
return now
`)

// putOpenScript writes and deletes node's records in KEYS[1]. ARGV: ttl ms, node, then triples
// (op, id, arg): "p" puts record arg (JSON) if the match is marked; "d" deletes the record of
// epoch arg (the match moved away); "e" deletes it and the mark (the match ended). The key
// expires two TTLs after the last write, so a whole cluster gone leaves nothing behind.
var putOpenScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local node = ARGV[2]
local i = 3
while i <= #ARGV do
  local op, id, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], 'r:' .. id)
  local c = cur and cjson.decode(cur)
  if op == 'p' then
    local r = cjson.decode(v)
    if redis.call('HEXISTS', KEYS[1], 'm:' .. id) == 1 and not (c and c.node ~= node and c.epoch >= r.epoch and c.exp > now) then
      r.at = now
      r.exp = now + ttl
      redis.call('HSET', KEYS[1], 'r:' .. id, cjson.encode(r))
    end
  elseif not c or c.node == node and c.epoch <= tonumber(v) or c.exp <= now then
    redis.call('HDEL', KEYS[1], 'r:' .. id)
    if op == 'e' then redis.call('HDEL', KEYS[1], 'm:' .. id) end
  end
  i = i + 3
end
redis.call('PEXPIRE', KEYS[1], math.max(2 * ttl, redis.call('PTTL', KEYS[1])))
return now
`)

// listOpenScript answers Redis' time (ms), the number of live records and at most ARGV[1] of
// them (JSON); expired records, and marks without a record older than ARGV[2] ms, are deleted
// on the way.
var listOpenScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local recs, marks = {}, {}
for i = 1, #all, 2 do
  local kind, id = string.sub(all[i], 1, 2), string.sub(all[i], 3)
  if kind == 'r:' then recs[id] = all[i + 1] elseif kind == 'm:' then marks[id] = tonumber(all[i + 1]) end
end
local out = {tostring(now), 0}
local live = 0
for id, v in pairs(recs) do
  local c = cjson.decode(v)
  if c.exp <= now or not marks[id] then
    redis.call('HDEL', KEYS[1], 'r:' .. id)
    recs[id] = nil
  else
    live = live + 1
    if live <= max then out[#out + 1] = v end
  end
end
for id, at in pairs(marks) do
  if not recs[id] and now - at > keep then redis.call('HDEL', KEYS[1], 'm:' .. id) end
end
out[2] = live
return out
`)

// openChange is one write of PutOpen: a record to put, or (Delete) the record of ID with
// Epoch to remove, and with Ended its mark too.
type openChange struct {
	Delete, Ended bool
	Rec           OpenRecord
}

// MarkMade marks rec's match as made by the matchmaker for queue (only marked matches are
// offered) and writes its first record, which lives ttl unless its owner rewrites it.
func (s *RedisStore) MarkMade(ctx context.Context, queue string, rec OpenRecord, ttl time.Duration) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := markScript.Run(ctx, s.work, []string{s.openKey(queue)}, rec.ID, string(b), strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)).Err(); err != nil {
		return fmt.Errorf("matchmaking: open board of %s: %w", queue, err)
	}
	return nil
}

// PutOpen writes node's changes to queue's board; records live ttl from now (Redis time).
func (s *RedisStore) PutOpen(ctx context.Context, queue, node string, ttl time.Duration, cs []openChange) error {
	if len(cs) == 0 {
		return nil
	}
	args := make([]any, 0, 2+3*len(cs))
	args = append(args, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10), node)
	for _, c := range cs {
		if c.Delete {
			op := "d"
			if c.Ended {
				op = "e"
			}
			args = append(args, op, c.Rec.ID, strconv.FormatUint(uint64(c.Rec.Epoch), 10))
			continue
		}
		r := c.Rec
		r.Node = node
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		args = append(args, "p", r.ID, string(b))
	}
	if err := putOpenScript.Run(ctx, s.work, []string{s.openKey(queue)}, args...).Err(); err != nil {
		return fmt.Errorf("matchmaking: open board of %s: %w", queue, err)
	}
	return nil
}

// ListOpen reads queue's live records: at most limit of them, how many are live in all, and
// Redis' time (ms) at the read.
func (s *RedisStore) ListOpen(ctx context.Context, queue string, limit int) ([]OpenRecord, int, int64, error) {
	vs, err := listOpenScript.Run(ctx, s.work, []string{s.openKey(queue)}, limit, markKeep.Milliseconds()).Slice()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("matchmaking: open board of %s: %w", queue, err)
	}
	if len(vs) < 2 {
		return nil, 0, 0, fmt.Errorf("matchmaking: open board of %s: a short answer (%d values)", queue, len(vs))
	}
	now, _ := strconv.ParseInt(fmt.Sprint(vs[0]), 10, 64)
	live, _ := vs[1].(int64)
	out := make([]OpenRecord, 0, len(vs)-2)
	for _, v := range vs[2:] {
		str, _ := v.(string)
		var r OpenRecord
		if err := json.Unmarshal([]byte(str), &r); err != nil {
			continue // not ours: never offered
		}
		out = append(out, r)
	}
	return out, int(live), now, nil
}
