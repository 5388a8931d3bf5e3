package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps tickets in Redis shared by every instance of a cluster: a standalone Redis
// (*redis.Client) or a Redis Cluster (*redis.ClusterClient). It holds the queues, the
// one-live-ticket-per-player index and the queue leases with their fencing tokens. Every
// change of a queue's tickets is one WATCH/MULTI transaction (or script) within the queue's
// hash slot, appended to the queue's change log (so the matcher reads only what changed: Tail)
// and published on one channel that every instance's store subscribes to (Feed): long-polls
// and session pushes work whichever instance the player asks.
//
// Keys (prefix P, default "tickrelay:mm:", without braces). A queue's keys share the hash tag
// {q:QUEUE}, so each queue lives in one slot of a cluster: P{q:Q}:t:ID a ticket (JSON,
// expiring with the retention after its own expiry; ticket ids name their queue, see
// newTicketID), P{q:Q}:set its live ids, P{q:Q}:seq and P{q:Q}:log the change counter and log
// (a stream of at most about logMax entries, each the changed ticket), P{q:Q}:lease "owner token", P{q:Q}:fence the
// token counter. The live index has the tag {live}: P{live}:p:PLAYER the player's live ticket,
// P{live}:n the live tickets (a sorted set by expiry). Parties: see RedisParties. The channel is
// P+"changed" (the changed ticket's JSON).
//
// The live index and a queue are in different slots: a ticket takes its players' live keys
// first, then enters its queue; it leaves its queue first, then gives them back. An instance
// that dies in between leaves live keys naming a ticket that has ended or never was: they are
// recognised as stale (the ticket they name is not searching) and taken over, and expire anyway.
//
// Goroutines: one subscriber goroutine (Close stops it); mu guards the waiters.
type RedisStore struct {
	rdb    redis.UniversalClient
	leases redis.UniversalClient // a small pool of its own: renewals never wait behind tickets
	work   redis.UniversalClient // the placements' pool: never behind long-polls
	run    redis.UniversalClient // the queue runners' own (reads and claims): never behind placements
	prefix string
	max    int
	retain time.Duration
	log    *slog.Logger
	sub    *redis.PubSub
	done   chan struct{}

	mu        sync.Mutex
	waiters   map[string][]chan struct{}
	followers map[string][]chan *Ticket
	onChange  func(*Ticket)
}

// logMax is about how many changes a queue's log keeps (Redis trims it approximately; each
// entry carries the ticket, ~0.5 KB): a matcher that falls further behind (at 1,000 tickets/s,
// about 7 s) reads its queue again in full.
const logMax = 20000

// NewRedisStore connects a store to rdb (a standalone Redis or a Redis Cluster) and starts its
// subscriber.
func NewRedisStore(rdb redis.UniversalClient, prefix string, maxLive int, retain time.Duration, log *slog.Logger) (*RedisStore, error) {
	if prefix == "" {
		prefix = "tickrelay:mm:"
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("%w: the Redis key prefix %q may not contain braces (the store sets the hash tags)", ErrConfig, prefix)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &RedisStore{rdb: rdb, leases: clientLike(rdb, 4), work: clientLike(rdb, 64), run: clientLike(rdb, 8), prefix: prefix, max: maxLive, retain: retain, log: log, done: make(chan struct{}), waiters: map[string][]chan struct{}{}, followers: map[string][]chan *Ticket{}}
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

// clientLike is a client like rdb with a pool of its own of size connections. The store has
// four: rdb for the HTTP handlers (reads, long-polls, new tickets, cancels); work for the
// placements and run for the queues' runners, so that thousands of long-polls waking at once
// cannot make the matcher wait for a connection, nor can hundreds of placements; leases for the lease renewals, which must never wait
// (a lease not renewed within its TTL moves to another instance, whose fence then refuses
// every placement in flight here).
func clientLike(rdb redis.UniversalClient, size int) redis.UniversalClient {
	switch c := rdb.(type) {
	case *redis.Client:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns = size, 1
		return redis.NewClient(&o)
	case *redis.ClusterClient:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns = size, 1
		return redis.NewClusterClient(&o)
	}
	return rdb
}

// runnerKey marks a queue runner's context (asRunner).
type runnerKey struct{}

// asRunner marks ctx as a queue runner's: the Redis store sends its commands on the runners' own
// connections, so that a run never waits for a connection behind the placements it started.
func asRunner(ctx context.Context) context.Context { return context.WithValue(ctx, runnerKey{}, true) }

// workFor is the pool for the matcher side's commands made with ctx: the runners' or the
// placements'.
func (s *RedisStore) workFor(ctx context.Context) redis.UniversalClient {
	if ctx.Value(runnerKey{}) != nil {
		return s.run
	}
	return s.work
}

// Close stops the subscriber and the lease client.
func (s *RedisStore) Close() error {
	err := s.sub.Close()
	<-s.done
	for _, c := range []redis.UniversalClient{s.leases, s.work, s.run} {
		if c != s.rdb {
			_ = c.Close()
		}
	}
	return err
}

func (s *RedisStore) listen() {
	defer close(s.done)
	for m := range s.sub.Channel() {
		t, err := decodeTicket([]byte(m.Payload))
		if err != nil {
			s.log.Warn("matchmaking: an undecodable ticket change", "err", err)
			continue
		}
		s.mu.Lock()
		ws := s.waiters[t.ID]
		delete(s.waiters, t.ID)
		for _, f := range s.followers[t.ID] {
			// This goroutine alone sends: after taking a stale change out, the send succeeds.
			select {
			case f <- t:
			default:
				select {
				case <-f:
				default:
				}
				f <- t
			}
		}
		fn := s.onChange
		s.mu.Unlock()
		for _, w := range ws {
			close(w)
		}
		if fn != nil {
			fn(t)
		}
	}
}

// OnChange implements Feed.
func (s *RedisStore) OnChange(fn func(*Ticket)) {
	s.mu.Lock()
	s.onChange = fn
	s.mu.Unlock()
}

// newTicketID is a ticket id naming its queue ("t-QUEUE-RANDOM"): the Redis store finds the
// ticket's slot from it.
func newTicketID(queue, random string) string { return "t-" + queue + "-" + random }

// queueOf is the queue a ticket id names ("" when it names none).
func queueOf(id string) string {
	i := strings.LastIndexByte(id, '-')
	if !strings.HasPrefix(id, "t-") || i <= 2 || i == len(id)-1 {
		return ""
	}
	return id[2:i]
}

func (s *RedisStore) qtag(q string) string      { return s.prefix + "{q:" + q + "}:" }
func (s *RedisStore) tkey(id string) string     { return s.qtag(queueOf(id)) + "t:" + id }
func (s *RedisStore) qkey(q string) string      { return s.qtag(q) + "set" }
func (s *RedisStore) seqKey(q string) string    { return s.qtag(q) + "seq" }
func (s *RedisStore) logKey(q string) string    { return s.qtag(q) + "log" }
func (s *RedisStore) leaseKey(q string) string  { return s.qtag(q) + "lease" }
func (s *RedisStore) fenceKey(q string) string  { return s.qtag(q) + "fence" }
func (s *RedisStore) lkey(player string) string { return s.prefix + "{live}:p:" + player }
func (s *RedisStore) nkey() string              { return s.prefix + "{live}:n" }
func (s *RedisStore) keep(t *Ticket) time.Duration {
	return max(time.Until(t.Expires), 0) + s.retain + time.Minute
}

func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

func decodeTicket(b []byte) (*Ticket, error) {
	var t Ticket
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("matchmaking: a stored ticket: %w", err)
	}
	return &t, nil
}

// claimLiveLua is the claim both scripts below make (n: how many live keys follow KEYS[1]):
// the tickets that hold some of KEYS[2..n+1] already, 'cap' when ARGV[2] tickets are live,
// else it takes them for ticket ARGV[1] (for ARGV[3] ms) and counts it in the sorted set
// KEYS[1] by its expiry ARGV[4] (ms), and goes on.
const claimLiveLua = `
local busy = {}
for i = 2, n + 1 do
  local v = redis.call('GET', KEYS[i])
  if v and v ~= ARGV[1] then busy[#busy + 1] = v end
end
if #busy > 0 then return busy end
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t[1] * 1000 + math.floor(t[2] / 1000))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'cap' end
for i = 2, n + 1 do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[3]) end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
`

// liveClaimScript takes the live keys KEYS[2..] for ticket ARGV[1] (for ARGV[3] ms), all or
// none, and counts it in the sorted set KEYS[1] by its expiry ARGV[4] (ms): it answers the
// tickets that hold some of them already, 'cap' when ARGV[2] tickets are live, or 'ok'.
var liveClaimScript = redis.NewScript(`local n = #KEYS - 1` + claimLiveLua + `return 'ok'`)

// liveReleaseScript gives back the live keys KEYS[2..] that still name ticket ARGV[1] and
// uncounts it.
var liveReleaseScript = redis.NewScript(`
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return redis.call('ZREM', KEYS[1], ARGV[1])
`)

// addScript enters a ticket in its queue: KEYS = ticket, queue set, seq, log; ARGV = body,
// ms to keep, id, log length, channel.
var addScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local s = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], s .. '-1', 'id', ARGV[3], 'b', ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[1])
return s
`)

// addLiveScript is liveClaimScript and addScript in one (a standalone Redis): KEYS = the live
// set, ARGV[5] live keys, then the ticket, queue set, seq and log; ARGV = id, cap, ms to keep the
// live keys, expiry (ms), number of live keys, body, ms to keep the ticket, log length, channel.
// Answers as liveClaimScript (the ticket is entered only on 'ok').
var addLiveScript = redis.NewScript(`local n = tonumber(ARGV[5])` + claimLiveLua + `
local k = n + 2
redis.call('SET', KEYS[k], ARGV[6], 'PX', ARGV[7])
redis.call('SADD', KEYS[k + 1], ARGV[1])
local s = redis.call('INCR', KEYS[k + 2])
redis.call('XADD', KEYS[k + 3], 'MAXLEN', '~', ARGV[8], s .. '-1', 'id', ARGV[1], 'b', ARGV[6])
redis.call('PUBLISH', ARGV[9], ARGV[6])
return 'ok'
`)

func (s *RedisStore) liveKeys(ms []Member) []string {
	keys := []string{s.nkey()}
	for _, m := range ms {
		keys = append(keys, s.lkey(m.ID))
	}
	return keys
}

func (s *RedisStore) release(ctx context.Context, id string, members []Member) error {
	return s.releaseOn(ctx, s.rdb, id, members)
}

func (s *RedisStore) releaseOn(ctx context.Context, c redis.UniversalClient, id string, members []Member) error {
	return liveReleaseScript.Run(ctx, c, s.liveKeys(members), id).Err()
}

func (s *RedisStore) Add(ctx context.Context, t *Ticket) error {
	if queueOf(t.ID) != t.Queue {
		return fmt.Errorf("%w: ticket id %q does not name its queue %q", ErrInvalid, t.ID, t.Queue)
	}
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	keys := s.liveKeys(t.Members)
	qkeys := []string{s.tkey(t.ID), s.qkey(t.Queue), s.seqKey(t.Queue), s.logKey(t.Queue)}
	// One standalone Redis holds every key: the live keys and the queue entry in one script
	// (one round trip). A Redis Cluster has them in two slots: two scripts, in that order.
	_, standalone := s.rdb.(*redis.Client)
	for attempt := 0; ; attempt++ {
		var res any
		var err error
		if standalone {
			res, err = addLiveScript.Run(ctx, s.rdb, append(append([]string{}, keys...), qkeys...), t.ID, s.max,
				ms(time.Until(t.Expires)+time.Minute), t.Expires.UnixMilli(), len(t.Members), body, ms(s.keep(t)), logMax, s.prefix+"changed").Result()
		} else {
			res, err = liveClaimScript.Run(ctx, s.rdb, keys, t.ID, s.max, ms(time.Until(t.Expires)+time.Minute), t.Expires.UnixMilli()).Result()
		}
		if err != nil {
			return err
		}
		if res == "ok" {
			break
		}
		if res == "cap" {
			return ErrCapacity
		}
		busy, _ := res.([]any)
		stale := attempt == 0
		for _, b := range busy {
			id, _ := b.(string)
			if !stale || !s.ended(ctx, id) {
				return ErrLiveTicket
			}
		}
		for _, b := range busy { // left by an instance that died between two steps
			if err := s.release(ctx, b.(string), t.Members); err != nil {
				return err
			}
		}
	}
	if standalone {
		return nil
	}
	err = addScript.Run(ctx, s.rdb, qkeys, body, ms(s.keep(t)), t.ID, logMax, s.prefix+"changed").Err()
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = s.release(rctx, t.ID, t.Members)
		cancel()
	}
	return err
}

// ended reports whether ticket id is known not to be live (gone, or with its outcome).
func (s *RedisStore) ended(ctx context.Context, id string) bool {
	t, err := s.Get(ctx, id)
	return errors.Is(err, ErrNoTicket) || err == nil && t.Status.Terminal()
}

func (s *RedisStore) Get(ctx context.Context, id string) (*Ticket, error) {
	if queueOf(id) == "" {
		return nil, ErrNoTicket
	}
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
	if err != nil {
		return "", false, err
	}
	if s.ended(ctx, id) {
		_ = s.release(ctx, id, []Member{{ID: player}})
		return "", false, nil
	}
	return id, true, nil
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

// Follow implements Follower: the feed's copy of each change of ticket id.
func (s *RedisStore) Follow(id string) (<-chan *Ticket, func()) {
	ch := make(chan *Ticket, 1)
	s.mu.Lock()
	s.followers[id] = append(s.followers[id], ch)
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		unlist(s.followers, id, ch)
	}
}

func (s *RedisStore) drop(id string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlist(s.waiters, id, ch)
}

// unlist removes ch from m[id], and the entry once it is empty.
func unlist[C comparable](m map[string][]C, id string, ch C) {
	if i := slices.Index(m[id], ch); i >= 0 {
		m[id] = slices.Delete(m[id], i, i+1)
	}
	if len(m[id]) == 0 {
		delete(m, id)
	}
}

// Sweep is done by Redis (every key has a TTL).
func (s *RedisStore) Sweep(time.Time, time.Duration) {}

// Len is the live tickets (counted until they end or expire).
func (s *RedisStore) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, _ := s.rdb.ZCount(ctx, s.nkey(), strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf").Result()
	return int(n)
}
