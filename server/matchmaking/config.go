package matchmaking

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Duration is a time.Duration written as a Go duration string ("5s", "250ms") in config files.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5s\": %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// SkillRule is the skill window: tickets match when their skills differ by at most the window
// of every ticket in the group. A ticket's window starts at Initial and grows by Step every
// Every of waiting, up to Max.
type SkillRule struct {
	Default float64  `json:"default"` // skill of a ticket without one; default 1500
	Initial float64  `json:"initial"` // default 100
	Step    float64  `json:"step"`    // default 100
	Every   Duration `json:"every"`   // default 1s
	Max     float64  `json:"max"`     // default 1000
}

// RegionRule is the region preference: a ticket first accepts only its own region, after
// NeighboursAfter also the regions listed as its neighbours, after AnyAfter any region. Two
// tickets match only if each accepts the other's region. A ticket without a region accepts and
// is accepted by any.
type RegionRule struct {
	Neighbours      map[string][]string `json:"neighbours"`
	NeighboursAfter Duration            `json:"neighbours_after"` // default 3s
	AnyAfter        Duration            `json:"any_after"`        // default 10s
}

// Queue is one matchmaking queue.
type Queue struct {
	Name   string          `json:"name"`
	Game   string          `json:"game"`             // the game type a match is created with
	Params json.RawMessage `json:"params,omitempty"` // the game's parameters (JSON), if any

	Players    int `json:"players"`     // players in a full match
	MinPlayers int `json:"min_players"` // a smaller match of at least this many may start; default Players
	// StartAfter is how long the oldest ticket of a group waits before a smaller match (≥
	// MinPlayers) starts; default 5s when MinPlayers < Players.
	StartAfter Duration `json:"start_after"`
	Teams      int      `json:"teams"`    // 0 or 1: everyone for themselves; else teams of Players/Teams
	Seats      int      `json:"seats"`    // seats in the match (backfill fills them); default Players
	Backfill   bool     `json:"backfill"` // running matches of this queue with free seats take tickets
	TicketTTL  Duration `json:"ticket_ttl"`

	Skill  SkillRule  `json:"skill"`
	Region RegionRule `json:"region"`
}

// Config is the matchmaker's configuration; zero values are the defaults beside them.
type Config struct {
	Queues []Queue `json:"queues"` // default DefaultQueues()

	TicketTTL     Duration `json:"ticket_ttl"`     // default ticket lifetime, if a queue sets none; default 60s
	MaxTickets    int      `json:"max_tickets"`    // live tickets in all; default 100000 (above: UNAVAILABLE)
	MaxProperties int      `json:"max_properties"` // properties per ticket; default 16
	MaxPropBytes  int      `json:"max_prop_bytes"` // length of a property's key or string value; default 64
	MaxPartySize  int      `json:"max_party_size"` // default 10
	MaxParties    int      `json:"max_parties"`    // parties in all; default 50000
	// PartyTTL is how long a party shared in Redis lasts after its last change (created,
	// joined, left, queued); default 1h. A party in memory lasts until its last member leaves.
	PartyTTL      Duration `json:"party_ttl"`
	MaxWait       Duration `json:"max_wait"`       // longest ?wait= of a long-poll; default 30s
	Retain        Duration `json:"retain"`         // how long a finished ticket can still be read; default 5m
	MaxPlacements int      `json:"max_placements"` // concurrent placements per queue; default 256
	// LeaseTTL is how long a queue's lease lasts unless renewed (a shared store: a dead
	// matcher's queue is taken over within it); renewed every third of it. Default 3s.
	LeaseTTL Duration `json:"lease_ttl"`
	// BackfillEvery is how often an instance of a cluster (a shared store) looks at the
	// matchmaking matches it runs for backfill queues and writes their changed free seats to the
	// shared board the queue's matcher reads (a record lives LeaseTTL unless rewritten); default
	// 200ms (or a quarter of LeaseTTL if that is less); it must be under a third of LeaseTTL.
	BackfillEvery Duration `json:"backfill_every"`
	// MaxOpen is how many open matches of a queue one matcher run reads from the shared board
	// (the rest wait for a later run); default 1000.
	MaxOpen int `json:"max_open"`
}

// Errors of the configuration.
var ErrConfig = errors.New("matchmaking: invalid config")

// DefaultQueues are the queues of the built-in games.
func DefaultQueues() []Queue {
	neighbours := map[string][]string{
		"eu": {"me", "na"}, "na": {"eu", "sa"}, "sa": {"na"}, "me": {"eu", "as"}, "as": {"me", "oc"}, "oc": {"as"},
	}
	// A duel is quick to start and short: its windows widen four times as fast as the defaults
	// (a ticket 3 standard deviations out still finds a partner within a second at 1,000/s).
	fast := SkillRule{Initial: 100, Step: 100, Every: Duration(250 * time.Millisecond), Max: 800}
	return []Queue{
		{Name: "duel", Game: "duel", Players: 2, Teams: 2, Skill: fast,
			Region: RegionRule{Neighbours: neighbours, NeighboursAfter: Duration(500 * time.Millisecond), AnyAfter: Duration(2 * time.Second)}},
		{Name: "arena", Game: "arena", Players: 10, MinPlayers: 2, StartAfter: Duration(5 * time.Second), Backfill: true,
			Region: RegionRule{Neighbours: neighbours}},
		{Name: "relay", Game: "relay", Players: 8, MinPlayers: 2, StartAfter: Duration(3 * time.Second), Backfill: true,
			Seats: 16, Region: RegionRule{Neighbours: neighbours}},
	}
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Queues) == 0 {
		c.Queues = DefaultQueues()
	}
	def := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	defD := func(p *Duration, d time.Duration) {
		if *p <= 0 {
			*p = Duration(d)
		}
	}
	defD(&c.TicketTTL, 60*time.Second)
	def(&c.MaxTickets, 100000)
	def(&c.MaxProperties, 16)
	def(&c.MaxPropBytes, 64)
	def(&c.MaxPartySize, 10)
	def(&c.MaxParties, 50000)
	defD(&c.PartyTTL, time.Hour)
	defD(&c.MaxWait, 30*time.Second)
	defD(&c.Retain, 5*time.Minute)
	def(&c.MaxPlacements, 256)
	defD(&c.LeaseTTL, 3*time.Second)
	defD(&c.BackfillEvery, min(200*time.Millisecond, c.LeaseTTL.D()/4))
	def(&c.MaxOpen, 1000)
	if c.BackfillEvery.D() >= c.LeaseTTL.D()/3 {
		return c, fmt.Errorf("%w: backfill_every %s must be under a third of lease_ttl %s (the open matches' records would expire between rewrites)", ErrConfig, c.BackfillEvery.D(), c.LeaseTTL.D())
	}
	seen := map[string]bool{}
	qs := make([]Queue, len(c.Queues))
	for i, q := range c.Queues {
		q, err := q.withDefaults(c.TicketTTL.D())
		if err != nil {
			return c, err
		}
		if seen[q.Name] {
			return c, fmt.Errorf("%w: queue %q is defined twice", ErrConfig, q.Name)
		}
		seen[q.Name] = true
		qs[i] = q
	}
	c.Queues = qs
	return c, nil
}

func (q Queue) withDefaults(ttl time.Duration) (Queue, error) {
	bad := func(f string, a ...any) (Queue, error) {
		return q, fmt.Errorf("%w: queue %q: %s", ErrConfig, q.Name, fmt.Sprintf(f, a...))
	}
	if q.Name == "" || len(q.Name) > 32 || strings.ContainsAny(q.Name, "/?# ") {
		return bad("a queue needs a name of 1-32 characters without / ? # or spaces")
	}
	if q.Game == "" {
		return bad("game is required")
	}
	if q.Players < 1 || q.Players > 1000 {
		return bad("players must be 1-1000")
	}
	if q.MinPlayers <= 0 {
		q.MinPlayers = q.Players
	}
	if q.MinPlayers > q.Players {
		return bad("min_players %d above players %d", q.MinPlayers, q.Players)
	}
	if q.MinPlayers < q.Players && q.StartAfter <= 0 {
		q.StartAfter = Duration(5 * time.Second)
	}
	if q.Teams < 0 || q.Teams > 1 && q.Players%q.Teams != 0 {
		return bad("players %d cannot be split into %d teams", q.Players, q.Teams)
	}
	if q.Teams > 1 && q.MinPlayers < q.Teams {
		return bad("min_players %d is below the number of teams %d", q.MinPlayers, q.Teams)
	}
	if q.Backfill && q.Teams > 1 {
		return bad("backfill is for queues without teams")
	}
	if q.Seats <= 0 {
		q.Seats = q.Players
	}
	if q.Seats < q.Players {
		return bad("seats %d below players %d", q.Seats, q.Players)
	}
	if q.TicketTTL <= 0 {
		q.TicketTTL = Duration(ttl)
	}
	s := &q.Skill
	if s.Default == 0 {
		s.Default = 1500
	}
	if s.Initial <= 0 {
		s.Initial = 100
	}
	if s.Step <= 0 {
		s.Step = 100
	}
	if s.Every <= 0 {
		s.Every = Duration(time.Second)
	}
	if s.Max <= 0 {
		s.Max = 1000
	}
	if s.Max < s.Initial {
		s.Max = s.Initial
	}
	r := &q.Region
	if r.NeighboursAfter <= 0 {
		r.NeighboursAfter = Duration(3 * time.Second)
	}
	if r.AnyAfter <= 0 {
		r.AnyAfter = Duration(10 * time.Second)
	}
	if r.AnyAfter < r.NeighboursAfter {
		return bad("region.any_after is before region.neighbours_after")
	}
	return q, nil
}

// TeamSize is the players per team (Players when there are no teams).
func (q *Queue) TeamSize() int {
	if q.Teams > 1 {
		return q.Players / q.Teams
	}
	return q.Players
}

// Load reads a config file: JSON, or YAML (by the .yaml/.yml extension). Unknown fields are
// refused, so a typo does not silently leave a default in force.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(b, filepath.Ext(path))
}

// Parse parses and validates a config (ext ".yaml" or ".yml" for YAML, else JSON); zero values
// stay zero (New applies the defaults).
func Parse(b []byte, ext string) (Config, error) {
	if ext == ".yaml" || ext == ".yml" {
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		b = j
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if _, err := c.withDefaults(); err != nil { // validate now; New applies the defaults
		return Config{}, err
	}
	return c, nil
}
