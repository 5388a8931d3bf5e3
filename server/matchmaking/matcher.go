package matchmaking

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Open is a running match of a queue with free seats: a backfill candidate.
type Open struct {
	ID     string
	Free   int     // seats neither taken nor reserved
	Skill  float64 // the mean skill of its players
	Region string  // the region it was made for
}

// Input is what the matcher sees.
type Input struct {
	Queue   *Queue
	Tickets []*Ticket // the queue's searching tickets that no placement holds, in any order
	Open    []Open    // running matches with free seats (used when the queue backfills)
	Now     time.Time
	// Fresh names the tickets that arrived since the last run. Only they start new groups
	// (the others could not form one at the last run, and nothing about them changed since),
	// unless Full is set: after a widening, an expiry or a failed placement every ticket does.
	Fresh map[string]bool
	Full  bool
}

// Group is a match the matcher found.
type Group struct {
	Tickets []*Ticket
	Teams   [][]*Ticket // when the queue has teams: each team's tickets (a party is in one team)
	Players int
	Window  float64 // the skill window in force: the narrowest window of its tickets
	Spread  float64 // the highest skill minus the lowest
	Region  string  // the region most of its players asked for ("" if none did)
	Small   bool    // fewer than Queue.Players: started after StartAfter
}

// Backfill is tickets to seat in a running match.
type Backfill struct {
	Match   string
	Tickets []*Ticket
}

// Result is the matcher's answer. Every input ticket is in at most one of Groups, Backfills
// and Expired; the others stay searching.
type Result struct {
	Groups    []Group
	Backfills []Backfill
	Expired   []*Ticket
	// Next is when the answer could change with no new ticket (the next widening, expiry or
	// smaller-match start of a ticket left searching); zero when nothing is left.
	Next time.Time
}

type entry struct {
	t       *Ticket
	size    int
	skill   float64
	window  float64
	level   int
	waited  time.Duration
	created int64 // t.Created in ns
	used    bool
}

// Match groups tickets. It is a pure function of its input: the rules, in order —
//
//  1. a ticket whose expiry has come expires (it is never matched at or after its expiry);
//  2. backfill (if the queue has it): running matches, fullest first, take the oldest tickets
//     that fit their free seats, whose window covers the match's mean skill and whose region
//     preference accepts the match's region;
//  3. new groups, oldest anchor first: the anchor takes the tickets closest to its skill that
//     keep the group's spread within every member's window and whose regions every member
//     accepts (and who accept theirs), until the group is full; a group that cannot fill starts
//     smaller (≥ MinPlayers, divisible into the teams) once its oldest ticket waited StartAfter;
//  4. teams are balanced by skill: parties largest first, each to the team with the lowest total
//     skill that has room. A party is never split.
func Match(in Input) Result {
	q, now := in.Queue, in.Now
	var res Result
	pool := make([]*entry, 0, len(in.Tickets))
	for _, t := range in.Tickets {
		if !now.Before(t.Expires) {
			res.Expired = append(res.Expired, t)
			continue
		}
		w := now.Sub(t.Created)
		pool = append(pool, &entry{t: t, size: t.Size(), skill: t.Skill, window: q.Window(w), level: q.RegionLevel(w), waited: w, created: t.Created.UnixNano()})
	}
	// Oldest first (ties by id); by skill, ties oldest first. slices.SortFunc on plain keys:
	// a pass over a long queue is mostly these two sorts.
	byAge := func(a, b *entry) int {
		if c := cmp.Compare(a.created, b.created); c != 0 {
			return c
		}
		return strings.Compare(a.t.ID, b.t.ID)
	}
	bySkill := append([]*entry(nil), pool...)
	slices.SortFunc(bySkill, func(a, b *entry) int {
		if c := cmp.Compare(a.skill, b.skill); c != 0 {
			return c
		}
		return byAge(a, b)
	})
	// Anchors: every ticket, oldest first, in a full run (and for backfill); else the fresh.
	anchors := pool
	if !in.Full {
		anchors = make([]*entry, 0, len(in.Fresh))
		for _, e := range pool {
			if in.Fresh[e.t.ID] {
				anchors = append(anchors, e)
			}
		}
	}
	if in.Full || q.Backfill && len(in.Open) > 0 {
		slices.SortFunc(pool, byAge)
	}
	slices.SortFunc(anchors, byAge)
	if q.Backfill && len(in.Open) > 0 {
		res.Backfills = backfill(q, pool, in.Open)
	}
	for _, a := range anchors {
		if a.used {
			continue
		}
		if g, ok := grow(q, a, bySkill); ok {
			res.Groups = append(res.Groups, g)
		}
	}
	res.Next = next(q, pool)
	return res
}

func backfill(q *Queue, pool []*entry, open []Open) []Backfill {
	open = append([]Open(nil), open...)
	sort.Slice(open, func(i, j int) bool {
		if open[i].Free != open[j].Free {
			return open[i].Free < open[j].Free
		}
		return open[i].ID < open[j].ID
	})
	var out []Backfill
	for _, o := range open {
		free := o.Free
		var took []*Ticket
		for _, e := range pool {
			if free <= 0 {
				break
			}
			if e.used || e.size > free || math.Abs(e.skill-o.Skill) > e.window || !q.accepts(e.t.Region, e.level, o.Region) {
				continue
			}
			e.used = true
			free -= e.size
			took = append(took, e.t)
		}
		if len(took) > 0 {
			out = append(out, Backfill{Match: o.ID, Tickets: took})
		}
	}
	return out
}

func compatible(q *Queue, a, b *entry) bool {
	return q.accepts(a.t.Region, a.level, b.t.Region) && q.accepts(b.t.Region, b.level, a.t.Region)
}

// maxScan bounds the tickets one anchor looks at (the nearest in skill first), so a run costs
// O(anchors × maxScan) however long the queue is.
const maxScan = 256

// grow builds the best group anchor a can lead, if any can start now: it takes the tickets
// nearest to a's skill first (walking outward from a in bySkill), each if the group stays
// within every member's window and region preference and within the queue's size.
func grow(q *Queue, a *entry, bySkill []*entry) (Group, bool) {
	if a.size > q.TeamSize() {
		return Group{}, false // refused at admission; never matched
	}
	group := []*entry{a}
	n, low, high, win := a.size, a.skill, a.skill, a.window
	oldest := a.waited
	p := sort.Search(len(bySkill), func(i int) bool { return bySkill[i].skill >= a.skill })
	l, r := p-1, p
	for scanned := 0; n < q.Players && scanned < maxScan; scanned++ {
		var c *entry
		switch {
		case l >= 0 && r < len(bySkill):
			if a.skill-bySkill[l].skill <= bySkill[r].skill-a.skill {
				c, l = bySkill[l], l-1
			} else {
				c, r = bySkill[r], r+1
			}
		case l >= 0:
			c, l = bySkill[l], l-1
		case r < len(bySkill):
			c, r = bySkill[r], r+1
		}
		if c == nil || math.Abs(c.skill-a.skill) > win {
			break // nearest first: everything further is outside the window too
		}
		if c == a || c.used || n+c.size > q.Players || c.size > q.TeamSize() {
			continue
		}
		nl, nh, nw := math.Min(low, c.skill), math.Max(high, c.skill), math.Min(win, c.window)
		if nh-nl > nw {
			continue
		}
		ok := true
		for _, m := range group {
			if !compatible(q, m, c) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		group = append(group, c)
		n, low, high, win = n+c.size, nl, nh, nw
		oldest = max(oldest, c.waited)
	}
	small := n < q.Players
	if small && (n < q.MinPlayers || oldest < q.StartAfter.D()) {
		return Group{}, false
	}
	var teams [][]*Ticket
	if q.Teams > 1 {
		if n%q.Teams != 0 {
			return Group{}, false
		}
		var ok bool
		if teams, ok = partition(group, q.Teams, n/q.Teams); !ok {
			return Group{}, false
		}
	}
	g := Group{Teams: teams, Players: n, Window: win, Spread: high - low, Small: small}
	regions := map[string]int{}
	for _, e := range group {
		e.used = true
		g.Tickets = append(g.Tickets, e.t)
		if e.t.Region != "" {
			regions[e.t.Region] += e.size
			if c := regions[e.t.Region]; c > regions[g.Region] || c == regions[g.Region] && e.t.Region < g.Region {
				g.Region = e.t.Region
			}
		}
	}
	return g, true
}

// partition splits a group into teams of size players each, balancing their total skill.
func partition(group []*entry, teams, size int) ([][]*Ticket, bool) {
	order := append([]*entry(nil), group...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].size != order[j].size {
			return order[i].size > order[j].size
		}
		return order[i].skill > order[j].skill
	})
	out := make([][]*Ticket, teams)
	sums := make([]float64, teams)
	counts := make([]int, teams)
	for _, e := range order {
		best := -1
		for i := range out {
			if counts[i]+e.size > size {
				continue
			}
			if best < 0 || sums[i] < sums[best] || sums[i] == sums[best] && counts[i] < counts[best] {
				best = i
			}
		}
		if best < 0 {
			return nil, false
		}
		out[best] = append(out[best], e.t)
		sums[best] += e.skill * float64(e.size)
		counts[best] += e.size
	}
	return out, true
}

// next is the earliest time after which a ticket left searching could match differently.
func next(q *Queue, pool []*entry) time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, e := range pool {
		if e.used {
			continue
		}
		c := e.t.Created
		consider(e.t.Expires)
		if e.window < q.Skill.Max {
			every := q.Skill.Every.D()
			consider(c.Add((e.waited/every + 1) * every))
		}
		switch e.level {
		case RegionOwn:
			consider(c.Add(q.Region.NeighboursAfter.D()))
		case RegionNeighbours:
			consider(c.Add(q.Region.AnyAfter.D()))
		}
		if q.MinPlayers < q.Players && e.waited < q.StartAfter.D() {
			consider(c.Add(q.StartAfter.D()))
		}
	}
	return at
}
