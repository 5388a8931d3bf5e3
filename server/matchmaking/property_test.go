package matchmaking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestMatchProperties drives the matcher with random ticket streams the way the Matchmaker
// does (fresh tickets on arrival, a full run when Next comes), with random cancels and backfill
// matches, and checks after every run: no player in two matches, no party split across
// matches or teams, team sizes right, the skill spread within the window then in force, regions
// mutually accepted; and at the end that every ticket reached exactly one outcome.
func TestMatchProperties(t *testing.T) {
	twoVtwo, _ := (Queue{Name: "2v2", Game: "arena", Players: 4, Teams: 2, MinPlayers: 2, StartAfter: Duration(2 * time.Second)}).withDefaults(20 * time.Second)
	queues := []*Queue{queue(t, "duel"), queue(t, "arena"), &twoVtwo}
	regions := []string{"eu", "na", "sa", "me", "as", "oc", ""}
	for seed := uint64(1); seed <= 30; seed++ {
		for _, q := range queues {
			t.Run(fmt.Sprintf("%s/seed%d", q.Name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				simulate(t, q, rng, regions)
			})
		}
	}
}

type openSim struct {
	Open
	n int // players seated
}

func simulate(t *testing.T, q *Queue, rng *rand.Rand, regions []string) {
	now := t0
	ttl := 20 * time.Second
	var all []*Ticket
	live := map[string]*Ticket{}
	outcome := map[string]string{} // ticket → its one outcome
	seated := map[string]string{}  // player → match
	var opens []*openSim
	fresh := map[string]bool{}
	var next time.Time
	matchN := 0
	settle := func(t0 *Ticket, out string) {
		if prev, ok := outcome[t0.ID]; ok {
			t.Fatalf("ticket %s has two outcomes: %s and %s", t0.ID, prev, out)
		}
		outcome[t0.ID] = out
		delete(live, t0.ID)
	}
	seat := func(tt *Ticket, match string) {
		for _, m := range tt.Members {
			if prev, ok := seated[m.ID]; ok {
				t.Fatalf("player %s in two matches: %s and %s", m.ID, prev, match)
			}
			seated[m.ID] = match
		}
	}
	arrivals := 150 + rng.IntN(150)
	for step := 0; arrivals > 0 || len(live) > 0; step++ {
		if step > 100000 {
			t.Fatal("the simulation did not end")
		}
		now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		// arrivals
		for k := rng.IntN(4); k > 0 && arrivals > 0; k-- {
			arrivals--
			size := 1
			if q.TeamSize() > 1 && rng.IntN(4) == 0 {
				size = 1 + rng.IntN(min(3, q.TeamSize()))
			}
			tt := tk(fmt.Sprintf("t%d", len(all)), math.Round(1500+rng.NormFloat64()*300), regions[rng.IntN(len(regions))], now.Sub(t0), size)
			tt.Expires = now.Add(ttl)
			all = append(all, tt)
			live[tt.ID] = tt
			fresh[tt.ID] = true
		}
		// cancels
		if rng.IntN(10) == 0 && len(live) > 0 {
			for id, tt := range live {
				settle(tt, "cancelled")
				delete(fresh, id)
				break
			}
		}
		// a backfill match loses a player now and then
		for _, o := range opens {
			if o.n > 0 && rng.IntN(20) == 0 {
				o.n--
				o.Free++
			}
		}
		full := !next.IsZero() && !now.Before(next)
		if len(fresh) == 0 && !full {
			continue
		}
		var in Input
		in.Queue, in.Now, in.Fresh, in.Full = q, now, fresh, full
		for _, tt := range live {
			in.Tickets = append(in.Tickets, tt)
		}
		for _, o := range opens {
			if o.Free > 0 {
				in.Open = append(in.Open, o.Open)
			}
		}
		r := Match(in)
		fresh, next = map[string]bool{}, r.Next
		for _, tt := range r.Expired {
			if now.Before(tt.Expires) {
				t.Fatalf("%s expired before its time", tt.ID)
			}
			settle(tt, "expired")
		}
		for _, g := range r.Groups {
			matchN++
			id := fmt.Sprintf("m%d", matchN)
			checkGroup(t, q, g, now)
			for _, tt := range g.Tickets {
				settle(tt, "matched "+id)
				seat(tt, id)
			}
			if q.Backfill {
				var sum float64
				for _, tt := range g.Tickets {
					sum += tt.Skill * float64(tt.Size())
				}
				opens = append(opens, &openSim{Open: Open{ID: id, Free: q.Seats - g.Players, Skill: sum / float64(g.Players), Region: g.Region}, n: g.Players})
			}
		}
		for _, b := range r.Backfills {
			var o *openSim
			for _, x := range opens {
				if x.ID == b.Match {
					o = x
				}
			}
			if o == nil {
				t.Fatalf("backfill into unknown match %s", b.Match)
			}
			for _, tt := range b.Tickets {
				w := now.Sub(tt.Created)
				if d := math.Abs(tt.Skill - o.Skill); d > q.Window(w) {
					t.Fatalf("backfill of %s into %s: skill gap %v above its window %v", tt.ID, o.ID, d, q.Window(w))
				}
				if !q.accepts(tt.Region, q.RegionLevel(w), o.Region) {
					t.Fatalf("backfill of %s (%s) into a %s match", tt.ID, tt.Region, o.Region)
				}
				o.Free -= tt.Size()
				o.n += tt.Size()
				settle(tt, "matched "+o.ID)
				seat(tt, o.ID)
			}
			if o.Free < 0 {
				t.Fatalf("backfill overfilled %s", o.ID)
			}
		}
		if len(r.Groups)+len(r.Backfills)+len(r.Expired) == 0 && len(live) > 0 && r.Next.IsZero() {
			t.Fatalf("tickets left searching with no next run")
		}
	}
	for _, tt := range all {
		if _, ok := outcome[tt.ID]; !ok {
			t.Fatalf("ticket %s ended in no outcome", tt.ID)
		}
	}
	if matchN == 0 {
		t.Fatalf("no match at all from %d tickets", len(all))
	}
}

func checkGroup(t *testing.T, q *Queue, g Group, now time.Time) {
	t.Helper()
	n := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	minW := math.Inf(1)
	for _, tt := range g.Tickets {
		n += tt.Size()
		lo, hi = math.Min(lo, tt.Skill), math.Max(hi, tt.Skill)
		w := now.Sub(tt.Created)
		minW = math.Min(minW, q.Window(w))
		for _, o := range g.Tickets {
			if !q.accepts(tt.Region, q.RegionLevel(w), o.Region) {
				t.Fatalf("%s (%s, waited %v) does not accept %s (%s)", tt.ID, tt.Region, w, o.ID, o.Region)
			}
		}
	}
	if n != g.Players || n > q.Players || n < q.MinPlayers {
		t.Fatalf("group of %d players (says %d) in a %d-%d queue", n, g.Players, q.MinPlayers, q.Players)
	}
	if n < q.Players {
		oldest := time.Duration(0)
		for _, tt := range g.Tickets {
			oldest = max(oldest, now.Sub(tt.Created))
		}
		if oldest < q.StartAfter.D() {
			t.Fatalf("small group started after %v, before start_after %v", oldest, q.StartAfter.D())
		}
	}
	if hi-lo > minW+1e-9 || g.Window != minW {
		t.Fatalf("spread %v, window in force %v (group says %v)", hi-lo, minW, g.Window)
	}
	if q.Teams > 1 {
		if len(g.Teams) != q.Teams {
			t.Fatalf("%d teams, want %d", len(g.Teams), q.Teams)
		}
		inTeam := map[string]int{}
		for i, team := range g.Teams {
			size := 0
			for _, tt := range team {
				if _, dup := inTeam[tt.ID]; dup {
					t.Fatalf("party %s split across teams", tt.ID)
				}
				inTeam[tt.ID] = i
				size += tt.Size()
			}
			if size != n/q.Teams {
				t.Fatalf("team %d has %d players, want %d", i, size, n/q.Teams)
			}
		}
		if len(inTeam) != len(g.Tickets) {
			t.Fatalf("teams hold %d tickets, the group %d", len(inTeam), len(g.Tickets))
		}
	}
}
