package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps checkpoints in Redis, one hash per match under Prefix + "cp:{" + id + "}"
// (one hash slot per match, so it works on a Redis Cluster too), with a TTL so that the
// checkpoints of matches nobody forgot (an instance died and no other restored them) vanish.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewRedisStore returns a RedisStore on c; ttl ≤ 0: 10 minutes.
func NewRedisStore(c redis.UniversalClient, prefix string, ttl time.Duration) *RedisStore {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	return &RedisStore{c: c, prefix: prefix, ttl: ttl}
}

func (s *RedisStore) key(match string) string { return s.prefix + "cp:{" + match + "}" }

// put writes the hash unless a later epoch is stored or the match ended at this epoch or a
// later one (its tombstone): 1 written, 0 fenced.
var put = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'epoch', 'ended')
if v[1] and tonumber(v[1]) > tonumber(ARGV[1]) then return 0 end
if v[2] and tonumber(v[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'tick', ARGV[2], 'game', ARGV[3], 'taken', ARGV[4], 'data', ARGV[5])
redis.call('HDEL', KEYS[1], 'ended')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`)

// del replaces the checkpoint by a tombstone (the match ended in epoch ARGV[1]) unless a later
// epoch is stored: a Put of that epoch still in flight cannot bring the checkpoint back, so a
// match that ended is never restored elsewhere.
var del = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'epoch')
if e and tonumber(e) > tonumber(ARGV[1]) then return 1 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ended', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

func (s *RedisStore) Put(ctx context.Context, r Record) error {
	n, err := put.Run(ctx, s.c, []string{s.key(r.Match)}, r.Epoch, r.Tick, r.Game, r.Taken.UnixMilli(), r.Data, s.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("checkpoint: put %s: %w", r.Match, err)
	}
	if n == 0 {
		return ErrFenced
	}
	return nil
}

func (s *RedisStore) Get(ctx context.Context, match string) (Record, error) {
	v, err := s.c.HMGet(ctx, s.key(match), "epoch", "tick", "game", "taken", "data").Result()
	if err != nil {
		return Record{}, fmt.Errorf("checkpoint: get %s: %w", match, err)
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	if v[0] == nil || v[4] == nil {
		return Record{}, ErrNotFound
	}
	epoch, err1 := strconv.ParseUint(str(0), 10, 32)
	tick, err2 := strconv.ParseUint(str(1), 10, 32)
	taken, err3 := strconv.ParseInt(str(3), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Record{}, fmt.Errorf("checkpoint: get %s: %w", match, err)
	}
	return Record{Match: match, Game: str(2), Epoch: uint32(epoch), Tick: uint32(tick), Taken: time.UnixMilli(taken), Data: []byte(str(4))}, nil
}

func (s *RedisStore) Delete(ctx context.Context, match string, epoch uint32) error {
	if err := del.Run(ctx, s.c, []string{s.key(match)}, epoch, s.ttl.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("checkpoint: delete %s: %w", match, err)
	}
	return nil
}
