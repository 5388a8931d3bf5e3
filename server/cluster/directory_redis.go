package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDirectory is a Directory in Redis (standalone or cluster). A match entry is a hash
// (node, epoch, data = the MatchEntry as JSON) expiring with the lease; its fence is a hash
// (node, epoch) kept for FenceTTL; each bucket has a sorted set of ids (score 0, by id) for
// List. Entry, fence and index share the bucket's hash tag, so the Lua scripts below touch one
// slot and run atomically: no two (node, epoch) can hold one match.
type RedisDirectory struct {
	cfg DirectoryConfig
	rc  RedisConfig
	uni redis.UniversalClient

	onceMu   sync.Mutex
	inflight map[string]*onceCall // UseOnce calls waiting for Redis, by key
	used     map[string]time.Time // keys known used (answered by Redis), until their TTL
}

// onceCall is one UseOnce call to Redis that concurrent calls for the same key wait for.
type onceCall struct {
	done chan struct{}
	err  error
}

// maxUsedCache bounds the keys UseOnce remembers as used (beyond it, Redis answers).
const maxUsedCache = 100000

var _ Directory = (*RedisDirectory)(nil)

// NewRedisDirectory returns a directory over Redis (rc says where; rc.Metrics counts errors).
func NewRedisDirectory(rc RedisConfig, cfg DirectoryConfig) (*RedisDirectory, error) {
	rc, err := rc.withDefaults()
	if err != nil {
		return nil, err
	}
	uni, err := rc.newUniversal()
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Timeout = min(cfg.Timeout, rc.Timeout)
	if cfg.Metrics == nil {
		cfg.Metrics = rc.Metrics
	}
	d := &RedisDirectory{cfg: cfg, rc: rc, uni: uni, inflight: map[string]*onceCall{}, used: map[string]time.Time{}}
	d.warmUp()
	return d, nil
}

// warmUp makes a first keyed call, so that a cluster client has loaded the slot map and the
// command table (COMMAND) before the first burst of real calls queues behind that; errors are
// ignored (Redis may be down now: every call reports it).
func (d *RedisDirectory) warmUp() {
	ctx, cancel := d.call(context.Background())
	defer cancel()
	_ = d.uni.Exists(ctx, d.cfg.Names.NodeIndex()).Err()
}

// takeLua applies the claim rules (Directory's doc) to entries of one bucket.
// KEYS: entry1, fence1, entry2, fence2, ..., index. ARGV: node, leaseMs, fenceMs, strict, then
// (id, epoch, data) per entry. strict=1 (Refresh): a live entry of the same node with another
// epoch is lost rather than replaced. Returns per entry "OK", "TAKEN:<node>" or "FENCED:<epoch>".
var takeLua = redis.NewScript(`
local node, lease, fence, strict = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = (#KEYS - 1) / 2
local index = KEYS[#KEYS]
local out = {}
for i = 1, n do
  local ek, fk = KEYS[2*i-1], KEYS[2*i]
  local id, epoch, data = ARGV[3*i+2], tonumber(ARGV[3*i+3]), ARGV[3*i+4]
  local res = 'OK'
  local cur = redis.call('HMGET', ek, 'node', 'epoch')
  if cur[1] then
    if cur[1] ~= node then
      res = 'TAKEN:' .. cur[1]
    elseif tonumber(cur[2]) > epoch or (strict == '1' and tonumber(cur[2]) ~= epoch) then
      res = 'FENCED:' .. cur[2]
    end
  else
    local f = redis.call('HMGET', fk, 'node', 'epoch')
    if f[1] then
      local fe = tonumber(f[2])
      if epoch < fe or (epoch == fe and f[1] ~= node) then
        res = 'FENCED:' .. f[2]
      end
    end
  end
  if res == 'OK' then
    redis.call('HSET', ek, 'node', node, 'epoch', ARGV[3*i+3], 'data', data)
    redis.call('PEXPIRE', ek, lease)
    redis.call('HSET', fk, 'node', node, 'epoch', ARGV[3*i+3])
    redis.call('PEXPIRE', fk, fence)
    redis.call('ZADD', index, 0, id)
  end
  out[i] = res
end
return out
`)

// releaseLua: KEYS entry, index; ARGV node, epoch, id.
var releaseLua = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'node', 'epoch')
if not cur[1] then return 'GONE' end
if cur[1] ~= ARGV[1] or tonumber(cur[2]) ~= tonumber(ARGV[2]) then return 'FENCED:' .. cur[1] .. ':' .. cur[2] end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 'OK'
`)

// listLua: KEYS index; ARGV entry key prefix, cursor ("" from the start), n. Scans up to n ids
// after cursor, drops index members whose entry expired, returns {scanned, last, id1, data1, ...}.
var listLua = redis.NewScript(`
local start = '-'
if ARGV[2] ~= '' then start = '(' .. ARGV[2] end
local ids = redis.call('ZRANGE', KEYS[1], start, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {#ids, ids[#ids] or ''}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', ARGV[1] .. id, 'data')
  if data then
    out[#out+1] = id
    out[#out+1] = data
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

func (d *RedisDirectory) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.Timeout)
}

func (d *RedisDirectory) fail(op string, err error) error {
	d.cfg.Metrics.redisError(op)
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// Heartbeat implements Directory.
func (d *RedisDirectory) Heartbeat(ctx context.Context, n NodeInfo) error {
	if err := validName(n.Name); err != nil {
		return err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	names := d.cfg.Names
	_, err = d.uni.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, names.NodeKey(n.Name), data, d.cfg.NodeTTL)
		p.SAdd(ctx, names.NodeIndex(), n.Name)
		return nil
	})
	if err != nil {
		return d.fail("heartbeat", err)
	}
	return nil
}

// Nodes implements Directory.
func (d *RedisDirectory) Nodes(ctx context.Context) ([]NodeInfo, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	names := d.cfg.Names
	members, err := d.uni.SMembers(ctx, names.NodeIndex()).Result()
	if err != nil {
		return nil, d.fail("nodes", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = names.NodeKey(m)
	}
	vals, err := d.uni.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, d.fail("nodes", err)
	}
	out := make([]NodeInfo, 0, len(vals))
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		var n NodeInfo
		if !ok || json.Unmarshal([]byte(s), &n) != nil {
			gone = append(gone, members[i])
			continue
		}
		out = append(out, n)
	}
	if len(gone) > 0 {
		_ = d.uni.SRem(ctx, names.NodeIndex(), gone...).Err() // a racing heartbeat re-adds itself
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// take runs takeLua for es, grouped by bucket; it returns the reply per entry id.
func (d *RedisDirectory) take(ctx context.Context, op, node string, es []MatchEntry, strict bool) (map[string]string, error) {
	names := d.cfg.Names
	byBucket := map[int][]MatchEntry{}
	for _, e := range es {
		b := names.Bucket(e.ID)
		byBucket[b] = append(byBucket[b], e)
	}
	st := "0"
	if strict {
		st = "1"
	}
	out := make(map[string]string, len(es))
	for b, group := range byBucket {
		keys := make([]string, 0, 2*len(group)+1)
		args := []any{node, d.cfg.LeaseTTL.Milliseconds(), d.cfg.FenceTTL.Milliseconds(), st}
		for _, e := range group {
			data, err := json.Marshal(e)
			if err != nil {
				return nil, err
			}
			keys = append(keys, names.Entry(e.ID), names.Fence(e.ID))
			args = append(args, e.ID, e.Epoch, data)
		}
		keys = append(keys, names.Index(b))
		res, err := takeLua.Run(ctx, d.uni, keys, args...).StringSlice()
		if err != nil {
			return nil, d.fail(op, err)
		}
		for i, e := range group {
			if i < len(res) {
				out[e.ID] = res[i]
			}
		}
	}
	return out, nil
}

// Claim implements Directory.
func (d *RedisDirectory) Claim(ctx context.Context, e MatchEntry) error {
	if err := validEntry(e); err != nil {
		return err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.take(ctx, "claim", e.Node, []MatchEntry{e}, false)
	if err != nil {
		return err
	}
	switch r := res[e.ID]; {
	case r == "OK":
		return nil
	case strings.HasPrefix(r, "TAKEN:"):
		return fmt.Errorf("%w: %s by %s", ErrTaken, e.ID, r[len("TAKEN:"):])
	default:
		return fmt.Errorf("%w: %s epoch %d (%s)", ErrFenced, e.ID, e.Epoch, r)
	}
}

// Refresh implements Directory.
func (d *RedisDirectory) Refresh(ctx context.Context, node string, es []MatchEntry) ([]string, error) {
	if err := validRefresh(node, es); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, nil
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.take(ctx, "refresh", node, es, true)
	if err != nil {
		return nil, err
	}
	var lost []string
	for _, e := range es {
		if res[e.ID] != "OK" {
			lost = append(lost, e.ID)
		}
	}
	return lost, nil
}

// Lookup implements Directory.
func (d *RedisDirectory) Lookup(ctx context.Context, id string) (MatchEntry, error) {
	if err := validName(id); err != nil {
		return MatchEntry{}, fmt.Errorf("%w: match %q", ErrNotFound, id)
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	data, err := d.uni.HGet(ctx, d.cfg.Names.Entry(id), "data").Bytes()
	if errors.Is(err, redis.Nil) {
		return MatchEntry{}, fmt.Errorf("%w: match %q", ErrNotFound, id)
	}
	if err != nil {
		return MatchEntry{}, d.fail("lookup", err)
	}
	var e MatchEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return MatchEntry{}, fmt.Errorf("directory entry of %q: %w", id, err)
	}
	return e, nil
}

// Release implements Directory.
func (d *RedisDirectory) Release(ctx context.Context, id, node string, epoch uint32) error {
	if err := validName(id); err != nil {
		return err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	names := d.cfg.Names
	r, err := releaseLua.Run(ctx, d.uni, []string{names.Entry(id), names.Index(names.Bucket(id))}, node, epoch, id).Text()
	if err != nil {
		return d.fail("release", err)
	}
	if strings.HasPrefix(r, "FENCED") {
		return fmt.Errorf("%w: %s held by %s", ErrFenced, id, r[len("FENCED:"):])
	}
	return nil
}

// List implements Directory. The cursor is "<bucket>:<last id>".
func (d *RedisDirectory) List(ctx context.Context, cursor string, limit int) ([]MatchEntry, string, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, "", fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	names := d.cfg.Names
	nb := names.buckets()
	b, after := 0, ""
	if cursor != "" {
		bs, a, ok := strings.Cut(cursor, ":")
		n, err := strconv.Atoi(bs)
		if !ok || err != nil || n < 0 || n >= nb {
			return nil, "", fmt.Errorf("%w: cursor %q", ErrInvalid, cursor)
		}
		b, after = n, a
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	var out []MatchEntry
	for b < nb && len(out) < limit {
		need := limit - len(out)
		res, err := listLua.Run(ctx, d.uni, []string{names.Index(b)}, fmt.Sprintf("%s:match:", names.bucketTag(b)), after, need).Slice()
		if err != nil {
			return nil, "", d.fail("list", err)
		}
		if len(res) < 2 {
			return nil, "", d.fail("list", errors.New("short reply"))
		}
		scanned, _ := res[0].(int64)
		last, _ := res[1].(string)
		for i := 2; i+1 < len(res); i += 2 {
			s, _ := res[i+1].(string)
			var e MatchEntry
			if json.Unmarshal([]byte(s), &e) == nil {
				out = append(out, e)
			}
		}
		if int(scanned) < need {
			b, after = b+1, ""
		} else {
			after = last
		}
	}
	if b >= nb {
		return out, "", nil
	}
	return out, fmt.Sprintf("%d:%s", b, after), nil
}

// UseOnce implements Directory (SET NX PX). Concurrent calls for one key on this instance
// share one Redis call: while it is in flight the others wait for it, and once Redis answered
// (whoever won) the key is known used here until its TTL, so a storm of replays of one ticket
// costs one round trip per instance. Only Redis ever says true, so exactly one call in the
// cluster gets it.
func (d *RedisDirectory) UseOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || ttl <= 0 {
		return false, fmt.Errorf("%w: key %q ttl %v", ErrInvalid, key, ttl)
	}
	for {
		d.onceMu.Lock()
		if exp, ok := d.used[key]; ok && time.Now().Before(exp) {
			d.onceMu.Unlock()
			return false, nil
		}
		c := d.inflight[key]
		if c == nil {
			break // ours to ask (onceMu still held)
		}
		d.onceMu.Unlock()
		select {
		case <-c.done:
			if c.err != nil {
				return false, c.err
			}
		case <-ctx.Done():
			return false, fmt.Errorf("%w: use_once: %w", ErrUnavailable, ctx.Err())
		}
	}
	c := &onceCall{done: make(chan struct{})}
	d.inflight[key] = c
	d.onceMu.Unlock()

	cctx, cancel := d.call(ctx)
	ok, err := d.uni.SetNX(cctx, d.cfg.Names.Once(key), 1, ttl).Result()
	cancel()
	d.onceMu.Lock()
	delete(d.inflight, key)
	if err == nil {
		now := time.Now()
		if len(d.used) >= maxUsedCache {
			for k, exp := range d.used {
				if !now.Before(exp) {
					delete(d.used, k)
				}
			}
		}
		if len(d.used) < maxUsedCache {
			d.used[key] = now.Add(ttl)
		}
	}
	d.onceMu.Unlock()
	if err != nil {
		c.err = d.fail("use_once", err)
	}
	close(c.done)
	return ok, c.err
}

// Close implements Directory.
func (d *RedisDirectory) Close() error { return d.uni.Close() }
