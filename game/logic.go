package game

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Logic is a game: the code that owns a match's rules. The runtime calls it from the match's
// goroutine only, one call at a time, so it needs no locks. Embed Base to get defaults for the
// calls a game does not care about.
//
// Order within a tick: queued joins, leaves, inputs and messages are handed over in the order
// they arrived (Admit+Join, Leave, Input, Message), then dropped players whose grace ran out
// Leave with LeaveTimeout, then Step runs once. Whatever changed in State, and the events
// emitted, go out as one delta at the end of the tick.
type Logic interface {
	// Init prepares a new match. params is the msgpack value given at creation (nil if none);
	// decode it with protocol.Unmarshal. An error refuses the creation.
	Init(ctx *Ctx, params []byte) error
	// Admit decides whether p may join (before a seat is taken). Return a *Refusal (or any
	// error) to refuse; p.Meta holds what the client sent with its JOIN.
	Admit(ctx *Ctx, p *Player) error
	// Join: p took a seat.
	Join(ctx *Ctx, p *Player)
	// Leave: p left (LeaveLeft, LeaveKicked), lost its connection (LeaveDropped: its seat is
	// kept for the reconnect grace and Rejoin may follow), or did not come back in time
	// (LeaveTimeout).
	Leave(ctx *Ctx, p *Player, reason protocol.LeaveReason)
	// Rejoin: a dropped p came back within the grace.
	Rejoin(ctx *Ctx, p *Player)
	// Input: p sent input seq. payload is the raw msgpack value (valid until the call returns).
	Input(ctx *Ctx, p *Player, seq uint32, payload []byte)
	// Message: p sent a message to the players in to (empty: everyone). Base relays it.
	Message(ctx *Ctx, p *Player, to []uint32, echo bool, payload []byte)
	// Step advances the game by one tick.
	Step(ctx *Ctx)
	// End: the match is over (for any reason); last chance to look at the state.
	End(ctx *Ctx, reason protocol.EndReason)
}

// Schemer is implemented by games that name their field keys; the names go to clients in JOINED
// so their mirrors use "x" rather than 0.
type Schemer interface {
	Schema() []string
}

// Base implements every Logic method with a default: admit everyone, relay messages, ignore the
// rest. Embed it and override what your game needs.
type Base struct{}

func (Base) Init(*Ctx, []byte) error                   { return nil }
func (Base) Admit(*Ctx, *Player) error                 { return nil }
func (Base) Join(*Ctx, *Player)                        {}
func (Base) Leave(*Ctx, *Player, protocol.LeaveReason) {}
func (Base) Rejoin(*Ctx, *Player)                      {}
func (Base) Input(*Ctx, *Player, uint32, []byte)       {}
func (Base) Step(*Ctx)                                 {}
func (Base) End(*Ctx, protocol.EndReason)              {}
func (Base) Message(ctx *Ctx, p *Player, to []uint32, echo bool, payload []byte) {
	ctx.Relay(p.PID, to, echo, payload)
}

// Refusal is an error a game returns from Admit to refuse a join with a reason the client sees.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "join refused: " + r.Reason }

// Refuse returns a *Refusal.
func Refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// Options are a match's runtime settings. Zero values mean the defaults in the comments.
type Options struct {
	TickRate       int           // ticks per second; default 20
	MaxPlayers     int           // seats; default 16
	ReconnectGrace time.Duration // how long a dropped player's seat is kept; default 10s, <0 none
	EmptyTimeout   time.Duration // end the match after this long with no players; default 60s, <0 never
	// UnusedTimeout ends a match that no player ever joined after this long with no player and
	// no live reservation (its creator's reservation expired unused); default 10s, <0: only
	// EmptyTimeout applies.
	UnusedTimeout time.Duration
	// TickWhenEmpty keeps calling Step while nobody is in the match. By default a match with no
	// members (connected or dropped), no spectators and nothing queued sleeps: no ticks, no
	// wake-ups, until a request arrives or a reservation or the empty timeout falls due.
	TickWhenEmpty bool
	RingDuration  time.Duration // how much recent delta history is kept for resumes; default 5s
	MaxInbox      int           // members' inputs and messages queued per tick, all together; default 64 + 16×MaxPlayers
	MaxInputsTick int           // inputs and messages per player per tick (its share); default 4
	// MaxInputBytes is the input payload bytes queued per tick, all players together; default
	// 256×MaxInbox. Each player's share is MaxInputBytes/MaxPlayers (at least 1 KiB), except
	// that a player's first input of a tick only needs room in the total.
	MaxInputBytes int
	MaxRequests   int // joins, reservations, watches and publishes queued per tick; default 64 + MaxPlayers
	MaxPerUser    int // of those, joins and reservations per user per tick; default 4
	// RelayBudget is the bytes of message payloads a match relays per tick, all senders
	// together; default 256 KiB. It bounds what one recipient gets in one tick's frame (keep it
	// well under the server's outbound queue) and the memory a tick of messages takes.
	RelayBudget int
	// RelayShare is one sender's part of RelayBudget per tick; default RelayBudget/8. A
	// sender's first message of a tick only needs room in RelayBudget. Messages over either
	// are refused, and the sender is told (an ERROR), never dropped silently.
	RelayShare int
	// CheckpointEvery is how often a match of a game that implements Checkpointer hands a
	// checkpoint to the registry's CheckpointSink (rounded to whole ticks, at least one);
	// default 1s, <0: never.
	CheckpointEvery time.Duration
}

// withLimits fills the limit fields o leaves zero from l (RegistryConfig.Limits).
func (o Options) withLimits(l Options) Options {
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&o.MaxInbox, l.MaxInbox)
	set(&o.MaxInputsTick, l.MaxInputsTick)
	set(&o.MaxInputBytes, l.MaxInputBytes)
	set(&o.MaxRequests, l.MaxRequests)
	set(&o.MaxPerUser, l.MaxPerUser)
	set(&o.RelayBudget, l.RelayBudget)
	set(&o.RelayShare, l.RelayShare)
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = l.CheckpointEvery // the server's --checkpoint-every for games that set none
	}
	return o
}

func (o Options) withDefaults() Options {
	if o.TickRate <= 0 {
		o.TickRate = 20
	}
	if o.MaxPlayers <= 0 {
		o.MaxPlayers = 16
	}
	if o.ReconnectGrace == 0 {
		o.ReconnectGrace = 10 * time.Second
	}
	if o.EmptyTimeout == 0 {
		o.EmptyTimeout = 60 * time.Second
	}
	if o.UnusedTimeout == 0 {
		o.UnusedTimeout = 10 * time.Second
	}
	if o.RingDuration <= 0 {
		o.RingDuration = 5 * time.Second
	}
	if o.MaxInbox <= 0 {
		o.MaxInbox = 64 + 16*o.MaxPlayers
	}
	if o.MaxInputsTick <= 0 {
		o.MaxInputsTick = 4
	}
	if o.MaxInputBytes <= 0 {
		o.MaxInputBytes = 256 * o.MaxInbox
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 64 + o.MaxPlayers
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = 4
	}
	if o.RelayBudget <= 0 {
		o.RelayBudget = 256 << 10
	}
	if o.RelayShare <= 0 {
		o.RelayShare = o.RelayBudget / 8
	}
	o.RelayShare = min(o.RelayShare, o.RelayBudget)
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = time.Second
	}
	return o
}

// inboxLimits are the inbox's budgets from the (defaulted) options.
func (o Options) inboxLimits() inboxLimits {
	return inboxLimits{
		maxMsgs: o.MaxInbox, maxBytes: o.MaxInputBytes, maxPer: o.MaxInputsTick,
		perBytes: max(o.MaxInputBytes/o.MaxPlayers, 1024),
		maxReqs:  o.MaxRequests, perSource: o.MaxPerUser,
		relayBudget: o.RelayBudget, relayShare: o.RelayShare,
	}
}

// Factory makes a new Logic for one match.
type Factory func() Logic

// GameType is a registered kind of game.
type GameType struct {
	Name     string
	New      Factory
	Defaults Options // per-game defaults; creation may override MaxPlayers
}

// Catalog is the registry of game types by name. It is safe for concurrent use.
type Catalog struct {
	mu    sync.RWMutex
	types map[string]GameType
}

// ErrUnknownGame is returned for a game name not in the catalog.
var ErrUnknownGame = errors.New("game: unknown game type")

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{types: map[string]GameType{}} }

// Register adds a game type; it panics on a duplicate or empty name (a programming error).
func (c *Catalog) Register(t GameType) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("game: Register needs a name and a factory")
	}
	if _, ok := c.types[t.Name]; ok {
		panic("game: duplicate game type " + t.Name)
	}
	c.types[t.Name] = t
}

// Lookup returns the type named name.
func (c *Catalog) Lookup(name string) (GameType, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.types[name]
	return t, ok
}

// Names lists the registered games, sorted.
func (c *Catalog) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.types))
	for n := range c.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
