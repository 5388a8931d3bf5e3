package matchmaking

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// queue is a test queue with the generic rule defaults (window 100 + 100/s up to 1000;
// neighbours after 3 s, any region after 10 s).
func queue(t *testing.T, name string) *Queue {
	t.Helper()
	neighbours := DefaultQueues()[0].Region.Neighbours
	var q Queue
	switch name {
	case "duel":
		q = Queue{Name: "duel", Game: "duel", Players: 2, Teams: 2}
	case "arena":
		q = Queue{Name: "arena", Game: "arena", Players: 10, MinPlayers: 2, StartAfter: Duration(5 * time.Second), Backfill: true}
	default:
		t.Fatalf("no queue %q", name)
	}
	q.Region.Neighbours = neighbours
	q, err := q.withDefaults(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return &q
}

// tk is a ticket created at t0+at with a party of size players.
func tk(id string, skill float64, region string, at time.Duration, size int) *Ticket {
	t := &Ticket{ID: id, Queue: "q", Owner: id, Skill: skill, Region: region, Created: t0.Add(at), Expires: t0.Add(at + time.Minute), Status: Searching}
	for i := range size {
		t.Members = append(t.Members, Member{ID: fmt.Sprintf("%s.%d", id, i)})
	}
	return t
}

// ids renders groups as "a+b|c+d" (teams joined by "/").
func render(r Result) string {
	var gs []string
	for _, g := range r.Groups {
		if g.Teams != nil {
			var ts []string
			for _, team := range g.Teams {
				var ids []string
				for _, t := range team {
					ids = append(ids, t.ID)
				}
				slices.Sort(ids)
				ts = append(ts, strings.Join(ids, "+"))
			}
			slices.Sort(ts)
			gs = append(gs, strings.Join(ts, "/"))
			continue
		}
		var ids []string
		for _, t := range g.Tickets {
			ids = append(ids, t.ID)
		}
		slices.Sort(ids)
		gs = append(gs, strings.Join(ids, "+"))
	}
	for _, b := range r.Backfills {
		var ids []string
		for _, t := range b.Tickets {
			ids = append(ids, t.ID)
		}
		gs = append(gs, b.Match+"<"+strings.Join(ids, "+"))
	}
	for _, t := range r.Expired {
		gs = append(gs, "x"+t.ID)
	}
	return strings.Join(gs, "|")
}

func TestMatchTable(t *testing.T) {
	twoVtwo := Queue{Name: "2v2", Game: "arena", Players: 4, Teams: 2}
	q2, err := twoVtwo.withDefaults(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		queue   *Queue
		tickets []*Ticket
		open    []Open
		at      time.Duration // now = t0 + at
		full    bool          // else every ticket is fresh
		notFull bool          // no ticket is fresh and the run is not full
		want    string
		next    time.Duration // if > 0: Result.Next = t0 + next
	}{
		{name: "duel: close skills match at once", queue: queue(t, "duel"),
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1550, "eu", 0, 1)}, want: "a/b"},
		{name: "duel: far skills wait", queue: queue(t, "duel"),
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1800, "eu", 0, 1)}, want: "", next: time.Second},
		{name: "duel: the window widened after 2 s covers 300", queue: queue(t, "duel"), at: 2 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1800, "eu", 0, 1)}, want: "a/b"},
		{name: "window is mutual: a new ticket's narrow window refuses an old far one", queue: queue(t, "duel"), at: 4 * time.Second,
			tickets: []*Ticket{tk("old", 1500, "eu", 0, 1), tk("new", 1800, "eu", 4*time.Second, 1)}, want: "", next: 5 * time.Second},
		{name: "closest skill is preferred", queue: queue(t, "duel"),
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1580, "eu", 0, 1), tk("c", 1510, "eu", 0, 1)}, want: "a/c"},
		{name: "regions: own region only at first", queue: queue(t, "duel"),
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "na", 0, 1)}, want: "", next: time.Second},
		{name: "regions: neighbours after 3 s", queue: queue(t, "duel"), at: 3 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "na", 0, 1)}, want: "a/b"},
		{name: "regions: not a neighbour before 10 s", queue: queue(t, "duel"), at: 9 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "as", 0, 1)}, want: ""},
		{name: "regions: any after 10 s", queue: queue(t, "duel"), at: 10 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "as", 0, 1)}, want: "a/b"},
		{name: "regions: both must accept (one waited, one is new)", queue: queue(t, "duel"), at: 10 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "as", 10*time.Second, 1)}, want: ""},
		{name: "no region accepts any", queue: queue(t, "duel"),
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "", 0, 1)}, want: "a/b"},
		{name: "expiry: never matched at its expiry", queue: queue(t, "duel"), at: time.Minute,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "eu", 30*time.Second, 1)}, want: "xa"},
		{name: "arena: fills to 10 at once", queue: queue(t, "arena"), tickets: func() []*Ticket {
			var ts []*Ticket
			for i := range 11 {
				ts = append(ts, tk(fmt.Sprintf("p%02d", i), 1500+float64(i), "eu", time.Duration(i)*time.Millisecond, 1))
			}
			return ts
		}(), want: "p00+p01+p02+p03+p04+p05+p06+p07+p08+p09", next: 1010 * time.Millisecond},
		{name: "arena: 3 players wait for more", queue: queue(t, "arena"), at: 4 * time.Second,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "eu", 0, 1), tk("c", 1500, "eu", 0, 1)}, want: "", full: true, next: 5 * time.Second},
		{name: "arena: 3 players start after 5 s", queue: queue(t, "arena"), at: 5 * time.Second, full: true,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "eu", 0, 1), tk("c", 1500, "eu", 0, 1)}, want: "a+b+c"},
		{name: "arena: 1 player never starts alone", queue: queue(t, "arena"), at: 30 * time.Second, full: true,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1)}, want: ""},
		{name: "arena: a party of 4 and 6 solos fill one match", queue: queue(t, "arena"), tickets: []*Ticket{
			tk("party", 1500, "eu", 0, 4), tk("s1", 1500, "eu", 0, 1), tk("s2", 1500, "eu", 0, 1), tk("s3", 1500, "eu", 0, 1),
			tk("s4", 1500, "eu", 0, 1), tk("s5", 1500, "eu", 0, 1), tk("s6", 1500, "eu", 0, 1), tk("s7", 1500, "eu", 0, 1)},
			want: "party+s1+s2+s3+s4+s5+s6"},
		{name: "teams: balanced by skill", queue: &q2, tickets: []*Ticket{
			tk("a", 1000, "eu", 0, 1), tk("b", 1030, "eu", 0, 1), tk("c", 1060, "eu", 0, 1), tk("d", 1090, "eu", 0, 1)},
			want: "a+d/b+c"},
		{name: "teams: a party stays in one team", queue: &q2, tickets: []*Ticket{
			tk("duo", 1000, "eu", 0, 2), tk("b", 1010, "eu", 0, 1), tk("c", 1020, "eu", 0, 1)}, want: "b+c/duo"},
		{name: "teams: a party larger than a team is never matched", queue: queue(t, "duel"), at: 30 * time.Second, full: true,
			tickets: []*Ticket{tk("duo", 1500, "eu", 0, 2), tk("b", 1500, "eu", 0, 1)}, want: ""},
		{name: "teams: two parties of 2 cannot make 2v2 with a third", queue: &q2, tickets: []*Ticket{
			tk("d1", 1000, "eu", 0, 2), tk("s", 1000, "eu", 0, 1), tk("d2", 1000, "eu", 0, 2)}, want: "d1/d2"},
		{name: "backfill: the running match takes the ticket within its window", queue: queue(t, "arena"),
			open:    []Open{{ID: "m1", Free: 2, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1520, "eu", 0, 1), tk("far", 2500, "eu", 0, 1), tk("b", 1450, "eu", time.Millisecond, 1), tk("c", 1500, "eu", 2*time.Millisecond, 1)},
			want:    "m1<a+b"},
		{name: "backfill: fullest match first, a party needs the room", queue: queue(t, "arena"),
			open:    []Open{{ID: "m1", Free: 5, Skill: 1500, Region: "eu"}, {ID: "m2", Free: 1, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("trio", 1500, "eu", 0, 3), tk("a", 1500, "eu", time.Millisecond, 1)},
			want:    "m2<a|m1<trio"},
		{name: "backfill: region preference applies", queue: queue(t, "arena"),
			open:    []Open{{ID: "m1", Free: 5, Skill: 1500, Region: "as"}},
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1)}, want: ""},
		{name: "backfill: a match without free seats takes nothing", queue: queue(t, "arena"),
			open:    []Open{{ID: "m1", Free: 0, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1)}, want: ""},
		{name: "backfill: outside the ticket's skill window, no backfill", queue: queue(t, "arena"),
			open:    []Open{{ID: "m1", Free: 4, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1700, "eu", 0, 1)}, want: ""},
		{name: "backfill: the window widens with waiting (after 2 s: 300)", queue: queue(t, "arena"), at: 2 * time.Second, full: true,
			open:    []Open{{ID: "m1", Free: 4, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1750, "eu", 0, 1)}, want: "m1<a"},
		{name: "backfill: a neighbour's match once the region widened", queue: queue(t, "arena"), at: 4 * time.Second, full: true,
			open:    []Open{{ID: "m1", Free: 4, Skill: 1500, Region: "me"}},
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1)}, want: "m1<a"},
		{name: "backfill: comes before new groups (the running match fills first)", queue: queue(t, "arena"), at: 6 * time.Second, full: true,
			open: []Open{{ID: "m1", Free: 2, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "eu", 0, 1), tk("c", 1500, "eu", time.Millisecond, 1),
				tk("d", 1500, "eu", time.Millisecond, 1)},
			want: "c+d|m1<a+b"},
		{name: "backfill: a queue without backfill ignores open matches", queue: queue(t, "duel"),
			open:    []Open{{ID: "m1", Free: 2, Skill: 1500, Region: "eu"}},
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1)}, want: ""},
		{name: "not fresh and not full: nothing changed, nothing is tried", queue: queue(t, "duel"), notFull: true,
			tickets: []*Ticket{tk("a", 1500, "eu", 0, 1), tk("b", 1500, "eu", 0, 1)}, want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Queue: c.queue, Tickets: c.tickets, Open: c.open, Now: t0.Add(c.at), Full: c.full}
			if !c.full && !c.notFull {
				in.Fresh = map[string]bool{}
				for _, tt := range c.tickets {
					in.Fresh[tt.ID] = true
				}
			}
			r := Match(in)
			if got := render(r); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.next > 0 && !r.Next.Equal(t0.Add(c.next)) {
				t.Errorf("next = %v, want t0+%v", r.Next.Sub(t0), c.next)
			}
			for _, g := range r.Groups {
				if g.Spread > g.Window {
					t.Errorf("group spread %v above its window %v", g.Spread, g.Window)
				}
			}
		})
	}
}

func TestWindowWidens(t *testing.T) {
	q := queue(t, "duel")
	for _, c := range []struct {
		w    time.Duration
		want float64
	}{{0, 100}, {999 * time.Millisecond, 100}, {time.Second, 200}, {4500 * time.Millisecond, 500}, {time.Hour, 1000}, {-time.Second, 100}} {
		if got := q.Window(c.w); got != c.want {
			t.Errorf("Window(%v) = %v, want %v", c.w, got, c.want)
		}
	}
}
