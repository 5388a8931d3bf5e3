package matchmaking

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// openPublisher keeps this instance's part of the open-match board (backfill_redis.go): every
// Config.BackfillEvery it looks at the running matches here labelled with a backfill queue
// (whichever instance placed them; the board takes only those the matchmaker marked), and
// writes what changed: a match that has free seats (or whose free seats changed) is put, one that is
// full or ended is deleted, and every record is rewritten within a third of its TTL so that it
// lives while this instance does. It runs in one goroutine of its own (run); last is its alone.
type openPublisher struct {
	store  *RedisStore
	reg    *game.Registry
	node   string
	queues []*Queue // the backfill queues
	every  time.Duration
	ttl    time.Duration
	log    *slog.Logger
	m      *Metrics

	last map[string]map[string]published // queue → match id → what was written
}

type published struct {
	rec OpenRecord
	at  time.Time // local time of the write
}

// Label keys the matchmaker gives the matches it creates (Placer.Place): the owner reads the
// queue, region and skill of a match from them.
const (
	labelQueue  = "queue"
	labelRegion = "region"
	labelSkill  = "skill"
)

// matchLabel is the label of a new match for group g of queue q.
func matchLabel(q *Queue, g Group) map[string]string {
	label := map[string]string{labelQueue: q.Name}
	if g.Region != "" {
		label[labelRegion] = g.Region
	}
	if len(g.Tickets) > 0 {
		label[labelSkill] = strconv.FormatFloat(meanSkill(g), 'f', -1, 64)
	}
	return label
}

// meanSkill is the mean skill of g's players (a party counts once per member).
func meanSkill(g Group) float64 {
	var sum float64
	n := 0
	for _, t := range g.Tickets {
		sum += t.Skill * float64(t.Size())
		n += t.Size()
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func (p *openPublisher) run(stop <-chan struct{}, crashed func() bool) {
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			if !crashed() {
				p.withdraw()
			}
			return
		case <-tick.C:
			p.once(time.Now())
		}
	}
}

// once writes what changed since the last pass.
func (p *openPublisher) once(now time.Time) {
	if p.last == nil {
		p.last = map[string]map[string]published{}
	}
	for _, q := range p.queues {
		last := p.last[q.Name]
		if last == nil {
			last = map[string]published{}
			p.last[q.Name] = last
		}
		seen := map[string]bool{}
		var cs []openChange
		for _, info := range p.reg.List(game.Filter{Game: q.Game, Label: map[string]string{labelQueue: q.Name}, IncludePrivate: true}) {
			seen[info.ID] = true
			free := info.MaxPlayers - info.Players - info.Reserved
			old, had := last[info.ID]
			if free <= 0 {
				if had {
					cs = append(cs, openChange{Delete: true, Rec: old.rec})
				}
				continue
			}
			skill := q.Skill.Default
			if v, err := strconv.ParseFloat(info.Label[labelSkill], 64); err == nil {
				skill = v
			}
			rec := OpenRecord{ID: info.ID, Node: p.node, Epoch: info.Epoch, Game: info.Game, Region: info.Label[labelRegion], Skill: skill, Free: free, Max: info.MaxPlayers}
			if had && old.rec == rec && now.Sub(old.at) < p.ttl/3 {
				continue
			}
			cs = append(cs, openChange{Rec: rec})
		}
		for id, old := range last {
			if !seen[id] { // ended (or moved away: its new owner offers it)
				e, ok := p.reg.Ended(id)
				cs = append(cs, openChange{Delete: true, Ended: !ok || e.Reason != protocol.EndMoved, Rec: old.rec})
			}
		}
		if len(cs) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.every+time.Second)
		err := p.store.PutOpen(ctx, q.Name, p.node, p.ttl, cs)
		cancel()
		if err != nil {
			p.m.openWriteErrors.Inc()
			p.log.Warn("matchmaking: cannot write the open matches (backfill) of this instance", "queue", q.Name, "err", err)
			continue // the next pass writes them again
		}
		for _, c := range cs {
			if c.Delete {
				delete(last, c.Rec.ID)
			} else {
				last[c.Rec.ID] = published{c.Rec, now}
			}
		}
	}
}

// withdraw deletes this instance's records (a clean stop; a crash leaves them to expire).
func (p *openPublisher) withdraw() {
	for q, last := range p.last {
		var cs []openChange
		for _, old := range last {
			cs = append(cs, openChange{Delete: true, Rec: old.rec})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.store.PutOpen(ctx, q, p.node, p.ttl, cs)
		cancel()
	}
}
