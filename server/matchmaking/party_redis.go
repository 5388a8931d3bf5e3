package matchmaking

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisParties keeps parties in Redis (standalone or Cluster), shared by every instance: a
// party created on one is joined with its invite code on any other, and its leader's ticket
// (opened anywhere) carries every member. Every change is a WATCH/MULTI transaction over the
// party's keys, which share the hash tag {party} (one slot); every key of a party expires TTL
// after its last change, so a party nobody touches ends by itself.
//
// A party's lock names its live ticket. The ticket's end unlocks it (from the store's change
// feed, on every instance); a lock whose ticket has ended or is gone (a lost feed message, a
// dead instance) is taken as released the next time someone needs the party.
//
// Keys (prefix P): P{party}:p:ID the party (JSON), P{party}:code:CODE its id, P{party}:of:PLAYER
// the player's party id, P{party}:n the parties (a sorted set by expiry).
type RedisParties struct {
	rdb     redis.UniversalClient
	prefix  string
	max     int
	maxSize int
	ttl     time.Duration
	ended   func(ctx context.Context, ticket string) bool
}

// NewRedisParties keeps at most max parties of at most maxSize players, each for ttl after its
// last change, in rdb under prefix (as the ticket store's); tickets says which tickets have
// ended (RedisStore).
func NewRedisParties(rdb redis.UniversalClient, prefix string, max, maxSize int, ttl time.Duration, tickets *RedisStore) *RedisParties {
	if prefix == "" {
		prefix = "tickrelay:mm:"
	}
	return &RedisParties{rdb: rdb, prefix: prefix, max: max, maxSize: maxSize, ttl: ttl, ended: tickets.ended}
}

func (ps *RedisParties) pkey(id string) string   { return ps.prefix + "{party}:p:" + id }
func (ps *RedisParties) ckey(code string) string { return ps.prefix + "{party}:code:" + code }
func (ps *RedisParties) okey(pl string) string   { return ps.prefix + "{party}:of:" + pl }
func (ps *RedisParties) nkey() string            { return ps.prefix + "{party}:n" }

// watch runs fn as an optimistic transaction over keys, again when one changed meanwhile.
func (ps *RedisParties) watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	return watch(ctx, ps.rdb, fn, keys...)
}

// read is party id (nil when gone).
func (ps *RedisParties) read(ctx context.Context, c redis.Cmdable, id string) (*Party, error) {
	b, err := c.Get(ctx, ps.pkey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Party
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("matchmaking: a stored party: %w", err)
	}
	return &p, nil
}

// of is player's party id as the index says ("" when none).
func (ps *RedisParties) of(ctx context.Context, c redis.Cmdable, player string) (string, error) {
	id, err := c.Get(ctx, ps.okey(player)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, err
}

func (p *Party) member(player string) bool {
	for _, m := range p.Members {
		if m.ID == player {
			return true
		}
	}
	return false
}

// busy reports whether p's lock names a ticket still live (a stale lock is cleared in p).
func (ps *RedisParties) busy(ctx context.Context, p *Party) bool {
	if p.Ticket != "" && ps.ended(ctx, p.Ticket) {
		p.Ticket = ""
	}
	return p.Ticket != ""
}

// write stores p with fresh TTLs on all its keys (inside a MULTI).
func (ps *RedisParties) write(ctx context.Context, pipe redis.Pipeliner, p *Party) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	pipe.Set(ctx, ps.pkey(p.ID), b, ps.ttl)
	pipe.Set(ctx, ps.ckey(p.Code), p.ID, ps.ttl)
	for _, m := range p.Members {
		pipe.Set(ctx, ps.okey(m.ID), p.ID, ps.ttl)
	}
	pipe.ZAdd(ctx, ps.nkey(), redis.Z{Score: float64(time.Now().Add(ps.ttl).UnixMilli()), Member: p.ID})
	return nil
}

// Create implements PartyStore.
func (ps *RedisParties) Create(ctx context.Context, leader Member) (*Party, error) {
	p := &Party{ID: "p-" + rand.Text()[:16], Leader: leader.ID, Members: []Member{leader}, Created: time.Now().UTC(), Code: newCode()}
	err := ps.watch(ctx, func(tx *redis.Tx) error {
		if id, err := ps.of(ctx, tx, leader.ID); err != nil {
			return err
		} else if id != "" {
			if q, err := ps.read(ctx, tx, id); err != nil {
				return err
			} else if q != nil && q.member(leader.ID) {
				return ErrInParty
			}
		}
		if n, err := tx.Exists(ctx, ps.ckey(p.Code)).Result(); err != nil {
			return err
		} else if n > 0 {
			p.Code = newCode()
			return redis.TxFailedErr // try again with another code
		}
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		if err := tx.ZRemRangeByScore(ctx, ps.nkey(), "-inf", now).Err(); err != nil {
			return err
		}
		if n, err := tx.ZCard(ctx, ps.nkey()).Result(); err != nil {
			return err
		} else if int(n) >= ps.max {
			return fmt.Errorf("%w: %d parties", ErrCapacity, ps.max)
		}
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error { return ps.write(ctx, pipe, p) })
		return err
	}, ps.okey(leader.ID), ps.ckey(p.Code))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Join implements PartyStore.
func (ps *RedisParties) Join(ctx context.Context, code string, m Member) (*Party, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	id, err := ps.rdb.Get(ctx, ps.ckey(code)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: no party has this code", ErrNoParty)
	}
	if err != nil {
		return nil, err
	}
	var out *Party
	err = ps.watch(ctx, func(tx *redis.Tx) error {
		p, err := ps.read(ctx, tx, id)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%w: no party has this code", ErrNoParty)
		}
		if p.member(m.ID) {
			out = p
			return nil
		}
		if other, err := ps.of(ctx, tx, m.ID); err != nil {
			return err
		} else if other != "" {
			if q, err := ps.read(ctx, tx, other); err != nil {
				return err
			} else if q != nil && q.member(m.ID) {
				return ErrInParty
			}
		}
		switch {
		case ps.busy(ctx, p):
			return ErrPartyBusy
		case len(p.Members) >= ps.maxSize:
			return fmt.Errorf("%w: at most %d players", ErrPartyFull, ps.maxSize)
		}
		p.Members = append(p.Members, m)
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error { return ps.write(ctx, pipe, p) })
		out = p
		return err
	}, ps.pkey(id), ps.okey(m.ID))
	return out, err
}

// Leave implements PartyStore.
func (ps *RedisParties) Leave(ctx context.Context, id, player string) error {
	return ps.watch(ctx, func(tx *redis.Tx) error {
		p, err := ps.read(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case p == nil:
			return ErrNoParty
		case !p.member(player):
			return ErrNotYours
		case ps.busy(ctx, p):
			return fmt.Errorf("%w: cancel ticket %s first", ErrPartyBusy, p.Ticket)
		}
		for i, m := range p.Members {
			if m.ID == player {
				p.Members = append(p.Members[:i], p.Members[i+1:]...)
				break
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, ps.okey(player))
			if len(p.Members) == 0 {
				pipe.Del(ctx, ps.pkey(p.ID), ps.ckey(p.Code))
				pipe.ZRem(ctx, ps.nkey(), p.ID)
				return nil
			}
			if p.Leader == player {
				p.Leader = p.Members[0].ID
			}
			return ps.write(ctx, pipe, p)
		})
		return err
	}, ps.pkey(id), ps.okey(player))
}

// Get implements PartyStore.
func (ps *RedisParties) Get(ctx context.Context, id, player string) (*Party, error) {
	p, err := ps.read(ctx, ps.rdb, id)
	switch {
	case err != nil:
		return nil, err
	case p == nil:
		return nil, ErrNoParty
	case !p.member(player):
		return nil, ErrNotYours
	}
	ps.busy(ctx, p) // show a stale lock as released
	return p, nil
}

// Lock implements PartyStore.
func (ps *RedisParties) Lock(ctx context.Context, player, ticket string) (*Party, error) {
	id, err := ps.of(ctx, ps.rdb, player)
	if err != nil || id == "" {
		return nil, err
	}
	var out *Party
	err = ps.watch(ctx, func(tx *redis.Tx) error {
		p, err := ps.read(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case p == nil || !p.member(player):
			out = nil // the index was stale: in no party
			return nil
		case p.Leader != player:
			return ErrNotLeader
		case p.Ticket == ticket:
			out = p
			return nil
		case ps.busy(ctx, p):
			return ErrLiveTicket
		}
		p.Ticket = ticket
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error { return ps.write(ctx, pipe, p) })
		out = p
		return err
	}, ps.pkey(id))
	return out, err
}

// Unlock implements PartyStore.
func (ps *RedisParties) Unlock(ctx context.Context, id, ticket string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = ps.watch(ctx, func(tx *redis.Tx) error {
		p, err := ps.read(ctx, tx, id)
		if err != nil || p == nil || p.Ticket != ticket {
			return err
		}
		p.Ticket = ""
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error { return ps.write(ctx, pipe, p) })
		return err
	}, ps.pkey(id))
}

// Len implements PartyStore (parties not yet expired).
func (ps *RedisParties) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, _ := ps.rdb.ZCount(ctx, ps.nkey(), strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf").Result()
	return int(n)
}
