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
// matches of every instance. One hash per queue, P{q:QUEUE}:open (in the queue's hash slot),
// field = match id, value = an OpenRecord (JSON). Each instance writes the records of the
// matches it owns (openPublisher, backfill_publish.go); the matcher reads them (ClusterBackfill,
// backfill_cluster.go).
//
// Times are Redis' own clock (TIME), so the instances' clocks do not matter: a record expires
// LeaseTTL after its owner last wrote it (the owner rewrites it every third of that), so a dead
// owner's matches stop being offered within one lease TTL; readers delete what expired.
//
// Who may write a record: its owner node. A match restored on another instance (epoch + 1) is
// written by its new owner; the old owner's late write or delete of the same id does not
// replace or remove a live record of another node with an epoch at least its own.

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

// putOpenScript writes and deletes node's records in KEYS[1]. ARGV: ttl ms, node, then triples
// (op "p" put | "d" delete, id, record JSON | epoch). The key itself expires two TTLs after the
// last write, so a whole cluster gone leaves nothing behind.
var putOpenScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local node = ARGV[2]
local i = 3
while i <= #ARGV do
  local op, id, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], id)
  local c = cur and cjson.decode(cur)
  if op == 'p' then
    local r = cjson.decode(v)
    if not (c and c.node ~= node and c.epoch >= r.epoch and c.exp > now) then
      r.at = now
      r.exp = now + ttl
      redis.call('HSET', KEYS[1], id, cjson.encode(r))
    end
  elseif c and (c.node == node and c.epoch <= tonumber(v) or c.exp <= now) then
    redis.call('HDEL', KEYS[1], id)
  end
  i = i + 3
end
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return now
`)

// listOpenScript answers Redis' time (ms), the number of live records and at most ARGV[1] of
// them (JSON); expired records are deleted on the way.
var listOpenScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local out = {tostring(now), 0}
local live = 0
for i = 1, #all, 2 do
  local c = cjson.decode(all[i + 1])
  if c.exp <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    live = live + 1
    if live <= max then out[#out + 1] = all[i + 1] end
  end
end
out[2] = live
return out
`)

// openChange is one write of PutOpen: a record to put, or (Delete) the record of ID with
// Epoch to remove.
type openChange struct {
	Delete bool
	Rec    OpenRecord
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
			args = append(args, "d", c.Rec.ID, strconv.FormatUint(uint64(c.Rec.Epoch), 10))
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
	vs, err := listOpenScript.Run(ctx, s.work, []string{s.openKey(queue)}, limit).Slice()
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
