package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps tickets in a standalone Redis, shared by every instance of a cluster: the
// queues, the one-live-ticket-per-player index and the queue leases with their fencing tokens.
// Every state change is a WATCH/MULTI transaction (a ticket's JSON, its queue's set, its
// players' index), published on one channel that every instance's store subscribes to (Feed):
// long-polls and session pushes work whichever instance the player asks.
//
// Keys (prefix P, default "tickrelay:mm:"): P+"t:"+id the ticket (JSON, expires with the
// retention after its own expiry), P+"q:"+queue the queue's searching ids, P+"live:"+player
// its live ticket, P+"n" the live count, P+"lease:"+queue "owner token", P+"fence:"+queue the
// token counter, P+"changed" the channel. Redis Cluster is not supported (the transactions span
// slots).
//
// Goroutines: one subscriber goroutine (Close stops it); mu guards the waiters.
type RedisStore struct {
	rdb    *redis.Client
	prefix string
	max    int
	retain time.Duration
	log    *slog.Logger
	sub    *redis.PubSub
	done   chan struct{}

	mu       sync.Mutex
	waiters  map[string][]chan struct{}
	onChange func(*Ticket)
}

// NewRedisStore connects a store to rdb (standalone Redis) and starts its subscriber.
func NewRedisStore(rdb *redis.Client, prefix string, maxLive int, retain time.Duration, log *slog.Logger) (*RedisStore, error) {
	if prefix == "" {
		prefix = "tickrelay:mm:"
	}
	if log == nil {
		log = slog.Default()
	}
	s := &RedisStore{rdb: rdb, prefix: prefix, max: maxLive, retain: retain, log: log, done: make(chan struct{}), waiters: map[string][]chan struct{}{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s.sub = rdb.Subscribe(ctx, prefix+"changed")
	if _, err := s.sub.Receive(ctx); err != nil {
		_ = s.sub.Close()
		return nil, fmt.Errorf("matchmaking: redis subscribe: %w", err)
	}
	go s.listen()
	return s, nil
}

// Close stops the subscriber.
func (s *RedisStore) Close() error {
	err := s.sub.Close()
	<-s.done
	return err
}

func (s *RedisStore) listen() {
	defer close(s.done)
	for m := range s.sub.Channel() {
		id := m.Payload
		s.mu.Lock()
		ws := s.waiters[id]
		delete(s.waiters, id)
		fn := s.onChange
		s.mu.Unlock()
		for _, w := range ws {
			close(w)
		}
		if fn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			t, err := s.Get(ctx, id)
			cancel()
			if err == nil {
				fn(t)
			}
		}
	}
}

// OnChange implements Feed.
func (s *RedisStore) OnChange(fn func(*Ticket)) {
	s.mu.Lock()
	s.onChange = fn
	s.mu.Unlock()
}

func (s *RedisStore) tkey(id string) string    { return s.prefix + "t:" + id }
func (s *RedisStore) qkey(q string) string     { return s.prefix + "q:" + q }
func (s *RedisStore) lkey(p string) string     { return s.prefix + "live:" + p }
func (s *RedisStore) leaseKey(q string) string { return s.prefix + "lease:" + q }
func (s *RedisStore) fenceKey(q string) string { return s.prefix + "fence:" + q }
func (s *RedisStore) keep(t *Ticket) time.Duration {
	return max(time.Until(t.Expires), 0) + s.retain + time.Minute
}

func decodeTicket(b []byte) (*Ticket, error) {
	var t Ticket
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("matchmaking: a stored ticket: %w", err)
	}
	return &t, nil
}

// addScript stores a new ticket atomically: KEYS = ticket, queue set, live counter, then each
// member's live key; ARGV = body, ticket ms to keep, id, max live, live-key ms, channel.
var addScript = redis.NewScript(`
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 'live' end
end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then return 'cap' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
for i = 4, #KEYS do redis.call('SET', KEYS[i], ARGV[3], 'PX', ARGV[5]) end
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[6], ARGV[3])
return 'ok'
`)

func (s *RedisStore) Add(ctx context.Context, t *Ticket) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	keys := []string{s.tkey(t.ID), s.qkey(t.Queue), s.prefix + "n"}
	for _, m := range t.Members {
		keys = append(keys, s.lkey(m.ID))
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }
	res, err := addScript.Run(ctx, s.rdb, keys, body, ms(s.keep(t)), t.ID, s.max, ms(time.Until(t.Expires)+time.Minute), s.prefix+"changed").Text()
	switch {
	case err != nil:
		return err
	case res == "live":
		return ErrLiveTicket
	case res == "cap":
		return ErrCapacity
	}
	return nil
}

// watch runs an optimistic transaction, again when a watched key changed meanwhile (at most
// 50 times).
func (s *RedisStore) watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	var err error
	for range 50 {
		if err = s.rdb.Watch(ctx, fn, keys...); !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return err
}

func (s *RedisStore) Get(ctx context.Context, id string) (*Ticket, error) {
	b, err := s.rdb.Get(ctx, s.tkey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoTicket
	}
	if err != nil {
		return nil, err
	}
	return decodeTicket(b)
}

func (s *RedisStore) Live(ctx context.Context, player string) (string, bool, error) {
	id, err := s.rdb.Get(ctx, s.lkey(player)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return id, err == nil, err
}

func (s *RedisStore) Searching(ctx context.Context, queue string) ([]*Ticket, error) {
	ts, err := s.queue(ctx, queue)
	if err != nil {
		return nil, err
	}
	out := ts[:0]
	for _, t := range ts {
		if !t.Placing {
			out = append(out, t)
		}
	}
	return out, nil
}

// queue returns every ticket in queue's set (placing ones too), dropping ids that are gone.
func (s *RedisStore) queue(ctx context.Context, queue string) ([]*Ticket, error) {
	ids, err := s.rdb.SMembers(ctx, s.qkey(queue)).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.tkey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Ticket, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			s.rdb.SRem(ctx, s.qkey(queue), ids[i])
			continue
		}
		t, err := decodeTicket([]byte(str))
		if err != nil {
			return nil, err
		}
		if t.Status == Searching {
			out = append(out, t)
		}
	}
	return out, nil
}

// change runs f on the current tickets ids in one transaction (fenced by f's lease when set):
// f returns the changed tickets, or an error that aborts with nothing written.
func (s *RedisStore) change(ctx context.Context, fence Fence, ids []string, f func(ts []*Ticket) error) ([]*Ticket, error) {
	keys := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		keys = append(keys, s.tkey(id))
	}
	if fence.Token != "" {
		keys = append(keys, s.leaseKey(fence.Queue))
	}
	var out []*Ticket
	err := s.watch(ctx, func(tx *redis.Tx) error {
		if fence.Token != "" {
			holder, err := tx.Get(ctx, s.leaseKey(fence.Queue)).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if holder != fence.Token {
				return ErrFenced
			}
		}
		ts := make([]*Ticket, len(ids))
		for i, id := range ids {
			b, err := tx.Get(ctx, s.tkey(id)).Bytes()
			if errors.Is(err, redis.Nil) {
				return ErrNoTicket
			}
			if err != nil {
				return err
			}
			if ts[i], err = decodeTicket(b); err != nil {
				return err
			}
		}
		if err := f(ts); err != nil {
			out = ts
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, t := range ts {
				t.Version++
				body, err := json.Marshal(t)
				if err != nil {
					return err
				}
				p.Set(ctx, s.tkey(t.ID), body, s.keep(t))
				if t.Status.Terminal() {
					p.SRem(ctx, s.qkey(t.Queue), t.ID)
					for _, m := range t.Members {
						p.Del(ctx, s.lkey(m.ID)) // the index names no other ticket: one live per player
					}
					p.Decr(ctx, s.prefix+"n")
				}
				p.Publish(ctx, s.prefix+"changed", t.ID)
			}
			return nil
		})
		out = ts
		return err
	}, keys...)
	return out, err
}

func (s *RedisStore) Claim(ctx context.Context, f Fence, ids []string) error {
	_, err := s.change(ctx, f, ids, func(ts []*Ticket) error {
		for _, t := range ts {
			if t.Status != Searching || t.Placing {
				return errClaimed
			}
		}
		now := time.Now()
		for _, t := range ts {
			t.Placing, t.Claimed, t.ClaimedBy = true, now, f.Token
		}
		return nil
	})
	if errors.Is(err, redis.TxFailedErr) || errors.Is(err, ErrNoTicket) {
		return errClaimed
	}
	return err
}

func (s *RedisStore) Requeue(ctx context.Context, ids []string) error {
	for _, id := range ids {
		_, err := s.change(ctx, Fence{}, []string{id}, func(ts []*Ticket) error {
			if !ts[0].Placing || ts[0].Status != Searching {
				return errNotSearching
			}
			ts[0].Placing = false
			ts[0].Attempts++
			return nil
		})
		if err != nil && !errors.Is(err, errNotSearching) && !errors.Is(err, ErrNoTicket) {
			return err
		}
	}
	return nil
}

func (s *RedisStore) Finish(ctx context.Context, f Fence, id string, o Outcome) (*Ticket, error) {
	ts, err := s.change(ctx, f, []string{id}, func(ts []*Ticket) error {
		t := ts[0]
		if t.Status != Searching {
			return errNotSearching
		}
		t.Status, t.Reason, t.Seats, t.Window, t.Ended, t.Placing = o.Status, o.Reason, o.Seats, o.Window, o.At, false
		return nil
	})
	if len(ts) == 0 {
		return nil, err
	}
	return ts[0], err
}

func (s *RedisStore) FinishAll(ctx context.Context, f Fence, ids []string, os []Outcome) ([]*Ticket, error) {
	ts, err := s.change(ctx, f, ids, func(ts []*Ticket) error {
		for _, t := range ts {
			if t.Status != Searching {
				return errNotSearching
			}
		}
		for i, t := range ts {
			o := os[i]
			t.Status, t.Reason, t.Seats, t.Window, t.Ended, t.Placing = o.Status, o.Reason, o.Seats, o.Window, o.At, false
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ts, nil
}

func (s *RedisStore) Cancel(ctx context.Context, id, player string) (*Ticket, error) {
	ts, err := s.change(ctx, Fence{}, []string{id}, func(ts []*Ticket) error {
		t := ts[0]
		switch {
		case !t.Has(player):
			return ErrNotYours
		case t.Status != Searching:
			return ErrFinished
		case t.Placing:
			return ErrPlacing
		}
		t.Status, t.Reason, t.Ended = Cancelled, "cancelled by "+player, time.Now()
		return nil
	})
	if errors.Is(err, redis.TxFailedErr) {
		err = ErrPlacing // it changed under us: a placement claimed it; ask again
	}
	if len(ts) == 0 || errors.Is(err, ErrNotYours) {
		return nil, err
	}
	return ts[0], err
}

func (s *RedisStore) Changed(ctx context.Context, id string, version uint64) (<-chan struct{}, error) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	t, err := s.Get(ctx, id) // after registering: a change in between is not missed
	if err != nil {
		s.drop(id, ch)
		return nil, err
	}
	if t.Version != version {
		s.drop(id, ch)
		c := make(chan struct{})
		close(c)
		return c, nil
	}
	return ch, nil
}

func (s *RedisStore) drop(id string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[id]
	for i, w := range ws {
		if w == ch {
			s.waiters[id] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[id]) == 0 {
		delete(s.waiters, id)
	}
}

// Sweep is done by Redis (every key has a TTL).
func (s *RedisStore) Sweep(time.Time, time.Duration) {}

func (s *RedisStore) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, _ := s.rdb.Get(ctx, s.prefix+"n").Int()
	return n
}

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
	tok, err := leaseScript.Run(ctx, s.rdb, []string{s.leaseKey(queue), s.fenceKey(queue)}, owner, strconv.FormatInt(ttl.Milliseconds(), 10)).Text()
	if err != nil || tok == "" {
		return Fence{}, false, err
	}
	return Fence{Queue: queue, Token: owner + " " + tok}, true, nil
}

func (s *RedisStore) ReleaseLease(ctx context.Context, f Fence) error {
	return releaseScript.Run(ctx, s.rdb, []string{s.leaseKey(f.Queue)}, f.Token).Err()
}

// RequeueStale implements Leaser: tickets claimed under another fence (that holder lost the
// lease: its Finish would be refused) or longer ago than stale go back to the search.
func (s *RedisStore) RequeueStale(ctx context.Context, f Fence, stale time.Duration) (int, error) {
	ts, err := s.queue(ctx, f.Queue)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, t := range ts {
		if t.Placing && (t.ClaimedBy != f.Token || time.Since(t.Claimed) > stale) {
			ids = append(ids, t.ID)
		}
	}
	return len(ids), s.Requeue(ctx, ids)
}
