package failover

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/bench/loadgen"
)

// Faults.
const (
	FaultKill  = "kill9"   // kill -9 the owner of every match
	FaultStop  = "sigstop" // SIGSTOP the owner past its lease, then SIGCONT (split brain)
	FaultDrain = "drain"   // SIGTERM the owner: it hands its matches over and exits
)

// Options is one failover run.
type Options struct {
	Fault     string
	Matches   int           // arena matches, all created on instance n1 (the victim)
	Players   int           // bots per match; bot p of a match connects to instance p mod Spread
	Spread    int           // instances the bots of a match connect to (default Instances; 1: all on the owner, so all reconnect)
	Instances int           // default 3
	Play      time.Duration // of play before the fault (default 3 s)
	StopFor   time.Duration // sigstop: how long the owner stays stopped (default 6 s: past the 3 s lease)
	Outcome   time.Duration // how long every affected bot gets for a definitive outcome (default 10 s)
	Bot       BotConfig
	Bin       string // the tickrelay binary (Build)
	LogDir    string
	Logf      func(format string, args ...any)
}

func (o *Options) defaults() {
	if o.Instances <= 0 {
		o.Instances = 3
	}
	if o.Spread <= 0 || o.Spread > o.Instances {
		o.Spread = o.Instances
	}
	if o.Play <= 0 {
		o.Play = 3 * time.Second
	}
	if o.StopFor <= 0 {
		o.StopFor = 6 * time.Second
	}
	if o.Outcome <= 0 {
		o.Outcome = 10 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Run starts Redis and the instances, puts Matches × Players bots in arena matches owned by
// n1, injects the fault into n1 and measures what issue 12 asks. Everything it started is
// stopped before it returns.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	rig, err := NewRig(o.Bin, o.LogDir, "", 2*time.Minute+o.Play+o.StopFor+o.Outcome)
	if err != nil {
		return nil, err
	}
	defer rig.Stop()
	// n1 alone first: every match is placed there (placement picks the least loaded instance).
	if err := rig.Start(ctx); err != nil {
		return nil, err
	}
	matches, err := createMatches(ctx, rig.API[0], o.Matches, o.Players)
	if err != nil {
		return nil, err
	}
	for i := 1; i < o.Instances; i++ {
		if err := rig.Start(ctx); err != nil {
			return nil, err
		}
	}
	if err := rig.WaitNodes(ctx, o.Instances, 20*time.Second); err != nil {
		return nil, err
	}
	bots, err := makeBots(ctx, rig, matches, o)
	if err != nil {
		return nil, err
	}
	botCtx, stopBots := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, b := range bots {
		wg.Add(1)
		go func(b *Bot) { defer wg.Done(); b.Run(botCtx) }(b)
	}
	defer func() { stopBots(); wg.Wait() }()
	if err := waitAll(ctx, bots, 30*time.Second, func(f BotFigures) bool { return !f.EpochSeen[f.Epoch].BackAt.IsZero() }); err != nil {
		return nil, fmt.Errorf("bots playing before the fault: %w", err)
	}
	o.Logf("%d bots in %d matches on n1 (%s), %d instances: playing", len(bots), len(matches), rig.Inst[0].Addr, o.Instances)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(o.Play):
	}
	epoch0 := map[*Bot]uint32{}
	for _, b := range bots {
		epoch0[b] = b.Figures().Epoch
	}
	rep := &Report{Fault: o.Fault, Matches: len(matches), Bots: len(bots), Instances: o.Instances}
	t0 := time.Now()
	switch o.Fault {
	case FaultKill:
		err = rig.Signal(0, syscall.SIGKILL)
	case FaultStop:
		if err = rig.Signal(0, syscall.SIGSTOP); err == nil {
			select {
			case <-ctx.Done():
			case <-time.After(o.StopFor):
			}
			cont := time.Now()
			for _, b := range bots {
				b.Mark(cont, epoch0[b])
			}
			err = rig.Signal(0, syscall.SIGCONT)
			rep.StoppedS = cont.Sub(t0).Seconds()
		}
	case FaultDrain:
		if err = rig.Signal(0, syscall.SIGTERM); err == nil {
			if rig.WaitExit(0, 30*time.Second) {
				rep.DrainS = time.Since(t0).Seconds()
			} else {
				rep.DrainS = -1
			}
		}
	default:
		err = fmt.Errorf("unknown fault %q", o.Fault)
	}
	if err != nil {
		return nil, err
	}
	// Every bot is affected (all matches were on n1): wait for a definitive outcome each.
	_ = waitAll(ctx, bots, time.Until(t0.Add(o.Outcome)), func(f BotFigures) bool {
		return f.Outcome != Playing || (f.Epoch > epoch0Of(f) && !f.EpochSeen[f.Epoch].BackAt.IsZero())
	})
	rep.OutcomeWaitS = time.Since(t0).Seconds()
	// Mirrors against the server's state: each bot gets a snapshot (the server's state at one
	// tick); every other bot of its match must have had exactly that state at that tick.
	checkMirrors(ctx, bots)
	stopBots()
	wg.Wait()
	rep.fill(t0, bots, epoch0, rig.Restored(), matches)
	return rep, nil
}

// checkMirrors asks every bot for a snapshot (one after the other within a match, so that the
// others' mirrors pass through each snapshot's tick) and compares the others' mirrors with it.
func checkMirrors(ctx context.Context, bots []*Bot) {
	byMatch := map[string][]*Bot{}
	for _, b := range bots {
		byMatch[b.Match] = append(byMatch[b.Match], b)
	}
	var wg sync.WaitGroup
	for _, bs := range byMatch {
		wg.Add(1)
		go func(bs []*Bot) {
			defer wg.Done()
			for _, b := range bs {
				c, cancel := context.WithTimeout(ctx, 3*time.Second)
				select {
				case <-b.GetSnapshot():
				case <-c.Done():
				}
				cancel()
			}
		}(bs)
	}
	wg.Wait()
	// The last snapshot's tick must be in the others' mirrors too: one more tick of play.
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
	compareMirrors(byMatch)
}

// compareMirrors sets every bot's MirrorCheck: "equal" when its mirror had exactly the state of
// every other bot's snapshot at that snapshot's tick (at least one compared), "differ" when one
// did not match.
func compareMirrors(byMatch map[string][]*Bot) {
	for _, bs := range byMatch {
		for _, y := range bs {
			compared, differ := 0, 0
			for _, x := range bs {
				ep, tk, sum, ok := x.Snapshot()
				if x == y || !ok {
					continue
				}
				if got, ok := y.SumAt(ep, tk); ok {
					compared++
					if got != sum {
						differ++
					}
				}
			}
			switch {
			case differ > 0:
				y.SetMirrorCheck("differ")
			case compared > 0:
				y.SetMirrorCheck("equal")
			}
		}
	}
}

// epoch0Of is the first epoch a bot saw (its match's epoch before the fault).
func epoch0Of(f BotFigures) uint32 {
	first := ^uint32(0)
	for e := range f.EpochSeen {
		first = min(first, e)
	}
	return first
}

// createMatches creates n arena matches on instance api (checked: their owner must be it).
func createMatches(ctx context.Context, api *loadgen.API, n, players int) ([]string, error) {
	tok, err := api.Guest(ctx, "creator")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		// +1: the creator's own reservation holds a seat until it expires.
		c, err := api.CreateMatch(ctx, tok, "arena", players+1, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, c.ID)
	}
	return out, nil
}

func makeBots(ctx context.Context, rig *Rig, matches []string, o Options) ([]*Bot, error) {
	addrs := rig.Addrs()
	var bots []*Bot
	for m, id := range matches {
		for p := 0; p < o.Players; p++ {
			at := p % o.Spread
			tok, err := rig.API[at].Guest(ctx, "bot-"+strconv.Itoa(m)+"-"+strconv.Itoa(p))
			if err != nil {
				return nil, err
			}
			bots = append(bots, NewBot(len(bots), tok, id, addrs, at, o.Bot))
		}
	}
	return bots, nil
}

// waitAll polls the bots' figures (every 20 ms) until ok holds for all of them.
func waitAll(ctx context.Context, bots []*Bot, limit time.Duration, ok func(BotFigures) bool) error {
	deadline := time.Now().Add(limit)
	for {
		missing := 0
		for _, b := range bots {
			if !ok(b.Figures()) {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d bots not there after %v", missing, len(bots), limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
