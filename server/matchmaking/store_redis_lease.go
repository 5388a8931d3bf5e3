package matchmaking

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseScript acquires or renews KEYS[1] for owner ARGV[1]: a new holder gets the next token of
// KEYS[2]; the value is "owner token". Answers the token, or "" when another owner holds it.
var leaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local owner, token = string.match(v, '^(%S+) (%S+)$')
  if owner == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return token
  end
  return ''
end
local token = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
`)

// releaseScript deletes KEYS[1] if it still says ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Lease implements Leaser. The fence's token is "owner token": writes check the lease key
// still holds exactly it.
func (s *RedisStore) Lease(ctx context.Context, queue, owner string, ttl time.Duration) (Fence, bool, error) {
	tok, err := leaseScript.Run(ctx, s.leases, []string{s.leaseKey(queue), s.fenceKey(queue)}, owner, strconv.FormatInt(ttl.Milliseconds(), 10)).Text()
	if err != nil || tok == "" {
		return Fence{}, false, err
	}
	return Fence{Queue: queue, Token: owner + " " + tok}, true, nil
}

func (s *RedisStore) ReleaseLease(ctx context.Context, f Fence) error {
	return releaseScript.Run(ctx, s.leases, []string{s.leaseKey(f.Queue)}, f.Token).Err()
}

// RequeueStale implements Leaser: tickets claimed under another fence (that holder lost the
// lease: its Finish would be refused) or longer ago than stale go back to the search.
func (s *RedisStore) RequeueStale(ctx context.Context, f Fence, stale time.Duration) (int, error) {
	ts, _, err := s.Snapshot(ctx, f.Queue)
	if err != nil {
		return 0, err
	}
	ids := staleClaims(ts, f, stale, time.Now())
	return len(ids), s.Requeue(ctx, ids)
}

// staleClaims are the tickets of ts claimed under another fence than f or longer ago than stale.
func staleClaims(ts []*Ticket, f Fence, stale time.Duration, now time.Time) []string {
	var ids []string
	for _, t := range ts {
		if t.Status == Searching && t.Placing && (t.ClaimedBy != f.Token || now.Sub(t.Claimed) > stale) {
			ids = append(ids, t.ID)
		}
	}
	return ids
}
