package cluster

import (
	"context"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// Directory is the cluster's shared state: which instances are alive (a heartbeat key per
// node, expiring after NodeTTL), which instance owns each match (an entry under a lease of
// LeaseTTL, fenced by the match's epoch) and single-use keys (tickets).
//
// Lease rules, the same in every implementation (directory_test.go checks them on each):
//   - Claim takes a match that no live lease holds, unless the match's fence (the highest
//     epoch ever claimed, kept for FenceTTL) is newer than e.Epoch, or is the same epoch held
//     by another node: then ErrFenced. A live lease of another node: ErrTaken. The holder's
//     own (node, epoch) again: a refresh. The same node with a newer epoch replaces its entry.
//   - Refresh extends the holder's leases and updates their Info; an entry that expired (or
//     was lost with Redis' data) is taken again if its fence still allows it. It returns the
//     ids the node no longer holds: another node or a newer epoch has them.
//   - Release deletes the entry only for its holder (node, epoch), else ErrFenced; releasing
//     an entry that is gone is not an error. The fence stays, so the old epoch cannot return.
//
// At most one (node, epoch) holds a match at any instant as seen by the directory; an owner
// that cannot refresh within LeaseTTL (Redis lost) must assume it may have lost the lease.
type Directory interface {
	// Heartbeat writes n's registry key with a TTL of NodeTTL (call it every NodeTTL/3).
	Heartbeat(ctx context.Context, n NodeInfo) error
	// Nodes lists the live nodes, by name.
	Nodes(ctx context.Context) ([]NodeInfo, error)
	// Claim takes the lease on e.ID for (e.Node, e.Epoch). Errors: ErrTaken, ErrFenced.
	Claim(ctx context.Context, e MatchEntry) error
	// Refresh extends node's leases on es (each e.Node must be node) and returns the ids lost.
	Refresh(ctx context.Context, node string, es []MatchEntry) (lost []string, err error)
	// Lookup returns id's live entry, or an error wrapping ErrNotFound.
	Lookup(ctx context.Context, id string) (MatchEntry, error)
	// Release gives up the lease held by (node, epoch).
	Release(ctx context.Context, id, node string, epoch uint32) error
	// List returns up to limit (1..MaxListLimit) live entries after cursor ("" to start) and
	// the cursor of the next page ("" after the last). Entries present during the whole walk
	// are returned exactly once; the order is stable but unspecified.
	List(ctx context.Context, cursor string, limit int) ([]MatchEntry, string, error)
	// UseOnce reports whether key was unused, marking it used for ttl: of any number of
	// concurrent calls on every instance, exactly one gets true.
	UseOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Close() error
}

// NodeInfo is one instance in the node registry.
type NodeInfo struct {
	Name     string    `json:"name"`
	Address  string    `json:"address"` // the instance's public base URL
	Version  string    `json:"version"`
	Sessions int       `json:"sessions"`
	Matches  int       `json:"matches"`
	Load     float64   `json:"load"` // 0 idle .. 1 full (the instance's own estimate)
	Started  time.Time `json:"started"`
	// The instance's figures for operators (server.NodeStats; the console shows them). Zero
	// from an instance that does not report them.
	Players  int       `json:"players,omitempty"`
	CPU      float64   `json:"cpu,omitempty"`      // cores used
	Memory   uint64    `json:"memory,omitempty"`   // resident bytes
	TickP99  float64   `json:"tick_p99,omitempty"` // seconds: the worst local match's tick p99
	Overruns uint64    `json:"overruns,omitempty"` // ticks over their interval in running matches
	Health   string    `json:"health,omitempty"`   // "" ok, else why its bus is degraded
	Sampled  time.Time `json:"sampled,omitempty"`  // when the figures were read
}

// MatchEntry is one match in the directory.
type MatchEntry struct {
	ID      string    `json:"id"`
	Game    string    `json:"game"`
	Node    string    `json:"node"`
	Address string    `json:"address"`
	Epoch   uint32    `json:"epoch"`
	Info    game.Info `json:"info"`
}

// Directory timings and limits (zero values in DirectoryConfig pick these).
const (
	DefaultNodeTTL  = 3 * time.Second
	DefaultLeaseTTL = 3 * time.Second
	DefaultFenceTTL = 24 * time.Hour
	MaxListLimit    = 1000
	MaxRefreshBatch = 1000 // entries per Refresh call
)

// DirectoryConfig configures a directory. The zero value is the documented defaults.
type DirectoryConfig struct {
	Names    Names
	NodeTTL  time.Duration    // heartbeat key lifetime, default DefaultNodeTTL
	LeaseTTL time.Duration    // match lease lifetime, default DefaultLeaseTTL
	FenceTTL time.Duration    // how long a match's highest epoch is remembered, default DefaultFenceTTL
	Timeout  time.Duration    // deadline of each Redis call, default DefaultTimeout (≤ 2 s)
	Now      func() time.Time // memory directory's clock (tests step it), default time.Now
	Metrics  *Metrics
}

func (c DirectoryConfig) withDefaults() DirectoryConfig {
	if c.NodeTTL <= 0 {
		c.NodeTTL = DefaultNodeTTL
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.FenceTTL <= 0 {
		c.FenceTTL = DefaultFenceTTL
	}
	if c.Timeout <= 0 || c.Timeout > DefaultTimeout {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
