package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// MatchHandle is how sessions and the HTTP API talk to a match, wherever it runs: the memory
// bus wraps a local *game.Match; a cluster bus relays to the owner on another instance.
//
// Every method takes a context and returns an error; none blocks longer than its context
// (and a cluster bus bounds each call by its own deadline). Requests are always answered:
// Join calls done exactly once; Sync and Watch answer on the sink (CATCHUP+DELTAs, or JOINED),
// and when they cannot, return an error or deliver an ERROR frame answering req.
type MatchHandle interface {
	ID() string
	// Owner names the instance running the match.
	Owner() Owner
	// Info describes the match (for a remote match, as its owner last announced it).
	Info(ctx context.Context) (game.Info, error)
	// Join queues a join of userID with sink and returns at once (a read loop never waits on
	// a match). done is called exactly once, on any goroutine, with the seat's pid or why the
	// join failed; when it succeeds, done runs before the member's first frame (JOINED) is
	// delivered to sink. done must not block. An error from Join itself means done will not
	// be called.
	Join(ctx context.Context, j JoinRequest, done func(pid uint32, err error)) error
	// Reserve holds a seat for userID for ttl (a seat reservation).
	Reserve(ctx context.Context, userID string, ttl time.Duration) error
	Leave(ctx context.Context, pid uint32, sink game.Sink, reason protocol.LeaveReason) error
	// Input and Message never block; they return ErrDropped when the input was dropped.
	Input(ctx context.Context, pid, seq, seen uint32, payload []byte) error
	Message(ctx context.Context, pid uint32, to []uint32, echo bool, payload []byte) error
	Sync(ctx context.Context, pid uint32, sink game.Sink, req, epoch, tick uint32) error
	Publish(ctx context.Context, payload []byte) error
	Watch(ctx context.Context, sink game.Sink, req uint32) error
	Unwatch(ctx context.Context, sink game.Sink) error
}

// JoinRequest is a JOIN as the match sees it.
type JoinRequest struct {
	UserID, Name string
	Meta         []byte
	Sink         game.Sink
	Req          uint32
}

// Owner names the instance that runs a match.
type Owner struct {
	Node    string `json:"node"`
	Address string `json:"address"` // its public base URL ("" when unknown: use the one you asked)
}

// MatchInfo is a match's description with its owner, as listings show it.
type MatchInfo struct {
	game.Info
	Owner Owner    `json:"owner"`
	End   *endJSON `json:"end,omitempty"` // set once the match ended (server/ended.go)
}

// NodeLoad is one instance of the cluster as placement sees it.
type NodeLoad struct {
	Node    string  `json:"node"`
	Address string  `json:"address"`
	Load    float64 `json:"load"`
}

// SeatPlacer is a Bus whose placement also counts the seats it placed itself since the
// instances' last heartbeats, so that the matches placed between two heartbeats do not all go
// to the instance that was the least loaded at the last one. PlaceSeats picks the instance for
// a new match of seats players and counts them there.
type SeatPlacer interface {
	PlaceSeats(ctx context.Context, seats int) (NodeLoad, error)
}

// Bus is the seam between this instance and the others. The server reaches matches only
// through it: the in-memory bus (one instance, no Redis) finds them in the local registry; the
// cluster bus (server/cluster) also finds matches owned by other instances and relays their
// traffic.
type Bus interface {
	// Locate finds match id, here or elsewhere. Errors wrap ErrNoMatch when there is none.
	Locate(ctx context.Context, id string) (MatchHandle, error)
	// List returns a page of matches (all instances' for a cluster bus) passing f, at most
	// f.Limit, after the page that ended at cursor ("" the first); next is "" after the last page.
	// Cursors are opaque to clients (each bus encodes its own).
	List(ctx context.Context, f game.Filter, cursor string) (page []MatchInfo, next string, err error)
	// Announce tells the cluster that local match id started (before its creator returns it
	// to anyone); Withdraw that it ended (called for every match that ends, never blocks).
	Announce(ctx context.Context, id string) error
	Withdraw(id string)
	// Place picks the instance a new match should run on: this one (Node == ours) or the
	// least loaded live one.
	Place(ctx context.Context) (NodeLoad, error)
	// Tickets decides that a join ticket is used once across every instance; nil when this
	// instance's own memory suffices (one instance).
	Tickets() TicketLedger
	// TakeSession finds session id (dropped from another instance) and takes it over: its
	// seat, for a RESUME on this instance. Errors wrap ErrResume when no instance has it.
	TakeSession(ctx context.Context, id, token, user string) (SessionSeat, error)
	// Health is nil when the bus works (a cluster bus reports a lost Redis here).
	Health() error
	Close() error
}

// SessionSeat is the seat of a session handed over between instances (MatchID "" when the
// session was in no match).
type SessionSeat struct {
	MatchID string
	PID     uint32
}

// TicketLedger records single-use keys for every instance (Redis SET NX with a TTL).
type TicketLedger interface {
	// UseOnce reports true the first time key is used within ttl, false after.
	UseOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// BusEnv is what a bus gets from the server that runs it.
type BusEnv struct {
	Registry  *game.Registry
	Node      string // this instance's name
	PublicURL string // this instance's base URL for clients and other instances ("" unknown)
	Log       *slog.Logger
	Metrics   prometheus.Registerer // the server's registry: a bus adds its metrics here
	Sessions  func() int            // open sessions, for the load a cluster bus reports
	// TakeSession hands over a session of this instance to another one where its client
	// resumes (false: no such session, or the token or user is wrong).
	TakeSession func(id, token, user string) (SessionSeat, bool)
	Stats       func() NodeStats // the instance's figures, for a cluster bus's heartbeats (nil: none)
}

// BusFactory builds the bus when the server starts (Config.Bus).
type BusFactory func(BusEnv) (Bus, error)

// Drainer is implemented by a bus that can hand this instance's matches to other instances
// at shutdown (a cluster bus with checkpoints). Shutdown calls Drain after it stopped
// accepting connections and before it ends the matches left.
type Drainer interface {
	// Drain hands every local match it can to another live instance: for each one, once the
	// new owner runs it, moved(id, address) is called (address: the new owner's base URL)
	// and then the local copy stops. It returns when every hand-off finished or failed, or
	// ctx is done; the matches still here are then ended by the registry's shutdown.
	Drain(ctx context.Context, moved func(matchID, address string))
}

// LeaseHolder is implemented by a bus whose local matches hold leases that may lapse.
// Holding reports that no match may tick now (game.RegistryConfig.Hold): the instance was not
// running for a while (a SIGSTOP) and does not know yet whether its leases were taken.
type LeaseHolder interface {
	Holding() bool
}
