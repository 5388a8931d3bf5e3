package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeScript writes changed tickets if the fence still holds and no ticket changed since it
// was read (compare and set: each ticket's stored JSON must still be the one read; a missing
// one never is), in one round trip. The lease is checked here rather than watched: its renewals
// (every third of its TTL) would otherwise make every write in flight start over. KEYS: lease,
// seq, log, queue set, then the tickets; ARGV: token (empty: unfenced), log length, channel, then
// per ticket id, the JSON read, the new JSON, ms to keep, '1' if ended. Answers 'ok', 'fenced'
// or 'conflict'.
var writeScript = redis.NewScript(`
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'fenced' end
local n = (#ARGV - 3) / 5
for i = 0, n - 1 do
  if redis.call('GET', KEYS[5 + i]) ~= ARGV[5 + i * 5] then return 'conflict' end
end
for i = 0, n - 1 do
  local id, body = ARGV[4 + i * 5], ARGV[6 + i * 5]
  redis.call('SET', KEYS[5 + i], body, 'PX', ARGV[7 + i * 5])
  if ARGV[8 + i * 5] == '1' then redis.call('SREM', KEYS[4], id) end
  local s = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], s .. '-1', 'id', id, 'e', ARGV[8 + i * 5], 'b', body)
  redis.call('PUBLISH', ARGV[3], body)
end
return 'ok'
`)

// liveReleaseAllScript gives back the live keys of several ended tickets at once: KEYS[1] the
// live set, then each ticket's players' live keys; ARGV: per ticket its id and how many of the
// keys are its. A key is deleted only while it still names its ticket.
var liveReleaseAllScript = redis.NewScript(`
local k = 2
for i = 1, #ARGV, 2 do
  local id, n = ARGV[i], tonumber(ARGV[i + 1])
  for j = 0, n - 1 do
    if redis.call('GET', KEYS[k + j]) == id then redis.call('DEL', KEYS[k + j]) end
  end
  k = k + n
  redis.call('ZREM', KEYS[1], id)
end
return 1
`)

// watch runs an optimistic transaction, again when a watched key changed meanwhile (at most
// 50 times).
func watch(ctx context.Context, c redis.UniversalClient, fn func(*redis.Tx) error, keys ...string) error {
	var err error
	for range 50 {
		if err = c.Watch(ctx, fn, keys...); !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return err
}

// change runs f on the current tickets ids (all of one queue) in one transaction (fenced by
// fence's lease when set): f returns an error that aborts with nothing written, or changes the
// tickets, which are then stored, logged and published. The players of tickets that ended get
// their live keys back afterwards.
func (s *RedisStore) change(ctx context.Context, fence Fence, ids []string, f func(ts []*Ticket) error, only ...func(*Ticket) bool) ([]*Ticket, error) {
	c := s.rdb
	if fence.Token != "" {
		c = s.workFor(ctx) // the matcher's own writes
	}
	return s.changeOn(ctx, c, fence, ids, f, only...)
}

// changeOn is change over client c (one of the store's pools): a read of the tickets, then
// writeScript (compare and set), again from the read when one changed meanwhile (at most 50
// times, then redis.TxFailedErr), then one script for the live keys of those that ended: three
// round trips at most, whatever the number of tickets.
func (s *RedisStore) changeOn(ctx context.Context, c redis.UniversalClient, fence Fence, ids []string, f func(ts []*Ticket) error, only ...func(*Ticket) bool) ([]*Ticket, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	queue := queueOf(ids[0])
	keys := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		if queueOf(id) != queue || queue == "" {
			return nil, fmt.Errorf("%w: tickets %s of several queues in one change", ErrNoTicket, strings.Join(ids, ","))
		}
		keys = append(keys, s.tkey(id))
	}
	if fence.Token != "" && fence.Queue != queue {
		return nil, fmt.Errorf("%w: queue %s's fence for a ticket of %s", ErrFenced, fence.Queue, queue)
	}
	for range 50 {
		out, written, err := s.changeOnce(ctx, c, fence, queue, ids, keys, f, only...)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil || !written {
			return out, err
		}
		var ended []*Ticket
		for _, t := range out {
			if t.Status.Terminal() {
				ended = append(ended, t)
			}
		}
		if len(ended) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			if rerr := s.releaseAll(rctx, c, ended); rerr != nil {
				s.log.Warn("matchmaking: live keys not given back (they are stale, and expire)", "tickets", len(ended), "err", rerr)
			}
			cancel()
		}
		return out, nil
	}
	return nil, redis.TxFailedErr
}

// errConflict: a ticket changed between changeOnce's read and its write (nothing was written).
var errConflict = errors.New("matchmaking: a ticket changed meanwhile")

// changeOnce is one attempt of changeOn: errConflict when a ticket changed after the read
// (nothing was written: try again); written is false when f changed nothing to write.
func (s *RedisStore) changeOnce(ctx context.Context, c redis.UniversalClient, fence Fence, queue string, ids, keys []string,
	f func(ts []*Ticket) error, only ...func(*Ticket) bool) (out []*Ticket, written bool, err error) {
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, false, err
	}
	ts := make([]*Ticket, len(ids))
	read := make(map[*Ticket]string, len(ids))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			return nil, false, ErrNoTicket
		}
		if ts[i], err = decodeTicket([]byte(str)); err != nil {
			return nil, false, err
		}
		read[ts[i]] = str
	}
	if err := f(ts); err != nil {
		return ts, false, err
	}
	if len(only) > 0 { // write only the tickets f changed as only says
		kept := ts[:0:0]
		for _, t := range ts {
			if only[0](t) {
				kept = append(kept, t)
			}
		}
		ts = kept
		if len(ts) == 0 {
			return ts, false, nil
		}
	}
	wkeys := []string{s.leaseKey(queue), s.seqKey(queue), s.logKey(queue), s.qkey(queue)}
	args := []any{fence.Token, logMax, s.prefix + "changed"}
	for _, t := range ts {
		old := read[t]
		t.Version++
		body, err := json.Marshal(t)
		if err != nil {
			return nil, false, err
		}
		ended := "0"
		if t.Status.Terminal() {
			ended = "1"
		}
		wkeys = append(wkeys, s.tkey(t.ID))
		args = append(args, t.ID, old, body, ms(s.keep(t)), ended)
	}
	res, err := writeScript.Run(ctx, c, wkeys, args...).Text()
	switch {
	case err != nil:
		return nil, false, err
	case res == "fenced":
		return ts, false, ErrFenced
	case res == "conflict":
		return nil, false, errConflict
	}
	return ts, true, nil
}

// releaseAll gives back the live keys of ended tickets ts in one round trip.
func (s *RedisStore) releaseAll(ctx context.Context, c redis.UniversalClient, ts []*Ticket) error {
	keys := []string{s.nkey()}
	var args []any
	for _, t := range ts {
		for _, m := range t.Members {
			keys = append(keys, s.lkey(m.ID))
		}
		args = append(args, t.ID, len(t.Members))
	}
	return liveReleaseAllScript.Run(ctx, c, keys, args...).Err()
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

// ClaimGroups implements GroupClaimer: one transaction claims every group whose tickets are
// all still searching and unclaimed (the others are refused with errClaimed).
func (s *RedisStore) ClaimGroups(ctx context.Context, f Fence, groups [][]string) ([]error, error) {
	var all []string
	for _, g := range groups {
		all = append(all, g...)
	}
	errs := make([]error, len(groups))
	var claimed map[string]bool // this attempt's (change runs f again on a conflict)
	_, err := s.change(ctx, f, all, func(ts []*Ticket) error {
		claimed = map[string]bool{}
		byID := make(map[string]*Ticket, len(ts))
		for _, t := range ts {
			byID[t.ID] = t
		}
		now := time.Now()
		for i, g := range groups {
			errs[i] = nil
			for _, id := range g {
				if t := byID[id]; t.Status != Searching || t.Placing {
					errs[i] = errClaimed
				}
			}
			if errs[i] == nil {
				for _, id := range g {
					t := byID[id]
					t.Placing, t.Claimed, t.ClaimedBy = true, now, f.Token
					claimed[id] = true
				}
			}
		}
		return nil
	}, func(t *Ticket) bool { return claimed[t.ID] })
	if errors.Is(err, ErrNoTicket) {
		// One is gone (forgotten): claim the groups one by one.
		for i, g := range groups {
			errs[i] = s.Claim(ctx, f, g)
		}
		return errs, nil
	}
	if err != nil {
		return nil, err
	}
	return errs, nil
}

func (s *RedisStore) Requeue(ctx context.Context, ids []string) error {
	for _, id := range ids {
		_, err := s.changeOn(ctx, s.workFor(ctx), Fence{}, []string{id}, func(ts []*Ticket) error {
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
	if queueOf(id) == "" {
		return nil, ErrNoTicket
	}
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

func (s *RedisStore) Searching(ctx context.Context, queue string) ([]*Ticket, error) {
	ts, _, err := s.Snapshot(ctx, queue)
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

// Snapshot implements Tail: every searching ticket of queue (placing ones too) and the log
// position it is complete as of.
func (s *RedisStore) Snapshot(ctx context.Context, queue string) ([]*Ticket, uint64, error) {
	var seq *redis.StringCmd
	var members *redis.StringSliceCmd
	_, err := s.workFor(ctx).TxPipelined(ctx, func(p redis.Pipeliner) error {
		seq = p.Get(ctx, s.seqKey(queue))
		members = p.SMembers(ctx, s.qkey(queue))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, err
	}
	cursor, _ := strconv.ParseUint(seq.Val(), 10, 64)
	ids := members.Val()
	ts, gone, err := s.load(ctx, queue, ids)
	if err != nil {
		return nil, 0, err
	}
	if len(gone) > 0 {
		s.workFor(ctx).SRem(ctx, s.qkey(queue), gone)
	}
	out := ts[:0]
	for _, t := range ts {
		if t.Status == Searching {
			out = append(out, t)
		}
	}
	return out, cursor, nil
}

// load reads tickets ids of queue: those found, and the ids of those gone.
func (s *RedisStore) load(ctx context.Context, queue string, ids []string) ([]*Ticket, []any, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.qtag(queue) + "t:" + id
	}
	vals, err := s.workFor(ctx).MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, err
	}
	out := make([]*Ticket, 0, len(vals))
	var gone []any
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		t, err := decodeTicket([]byte(str))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, t)
	}
	return out, gone, nil
}

// errGap: the log no longer holds every change since the cursor (read a Snapshot).
var errGap = errors.New("matchmaking: the change log was trimmed past the cursor")

// Since implements Tail: the tickets of queue changed after cursor as they are now and the new
// cursor, in one read of the log (its entries carry the tickets). A ticket whose last entry says
// it ended (field e) is answered among the gone ones, without decoding it: the runner only
// forgets it.
func (s *RedisStore) Since(ctx context.Context, queue string, cursor uint64) ([]*Ticket, []string, uint64, error) {
	last := map[string]string{} // id → its newest JSON
	ended := map[string]bool{}  // id → its newest entry says it ended
	var order []string
	for {
		const batch = 4096
		es, err := s.workFor(ctx).XRangeN(ctx, s.logKey(queue), strconv.FormatUint(cursor+1, 10)+"-0", "+", batch).Result()
		if err != nil {
			return nil, nil, cursor, err
		}
		for i, e := range es {
			n, err := strconv.ParseUint(strings.TrimSuffix(e.ID, "-1"), 10, 64)
			if err != nil || i == 0 && n != cursor+1 {
				return nil, nil, cursor, errGap
			}
			cursor = n
			id, _ := e.Values["id"].(string)
			b, _ := e.Values["b"].(string)
			if id == "" || b == "" {
				return nil, nil, cursor, fmt.Errorf("matchmaking: change log entry %s of queue %s without a ticket", e.ID, queue)
			}
			if _, seen := last[id]; !seen {
				order = append(order, id)
			}
			last[id] = b
			ended[id] = e.Values["e"] == "1"
		}
		if len(es) < batch {
			break
		}
	}
	ts := make([]*Ticket, 0, len(order))
	var gone []string
	for _, id := range order {
		if ended[id] {
			gone = append(gone, id)
			continue
		}
		t, err := decodeTicket([]byte(last[id]))
		if err != nil {
			return nil, nil, cursor, err
		}
		ts = append(ts, t)
	}
	return ts, gone, cursor, nil
}
