package cluster

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// DefaultPrefix starts every channel and key name unless Names.Prefix says otherwise.
const DefaultPrefix = "tickrelay"

// DefaultBuckets is how many hash-tagged buckets the match directory is split into.
const DefaultBuckets = 16

// Names builds the channel and key names. Each name carries one hash tag ({...}): Redis Cluster
// hashes only the tag, so a match's channel (tag m:<id>) and a node's channel (tag n:<name>)
// land on slots spread over the shards, which is what sharded Pub/Sub (SPUBLISH/SSUBSCRIBE)
// needs to share the load. Directory keys use a bucket tag (d:<bucket>) so that one Lua script
// can update an entry, its fence and its bucket's index in one slot; the node registry uses one
// tag (nodes) because it is small and read whole.
//
// The zero value uses DefaultPrefix and DefaultBuckets. Tests give each run its own Prefix.
type Names struct {
	Prefix  string // default DefaultPrefix
	Buckets int    // directory buckets, default DefaultBuckets; all instances must agree
}

func (n Names) prefix() string {
	if n.Prefix == "" {
		return DefaultPrefix
	}
	return n.Prefix
}

func (n Names) buckets() int {
	if n.Buckets <= 0 {
		return DefaultBuckets
	}
	return n.Buckets
}

// Match is match id's channel: its owner publishes each tick's frames there for the
// instances that have members of it.
func (n Names) Match(id string) string { return n.prefix() + ":{m:" + id + "}" }

// Node is the channel of node name: routed joins, inputs, leaves, syncs, messages and answers.
func (n Names) Node(name string) string { return n.prefix() + ":{n:" + name + "}" }

// NodeKey is node name's heartbeat key (expires unless refreshed).
func (n Names) NodeKey(name string) string { return n.prefix() + ":{nodes}:node:" + name }

// NodeIndex is the set of node names that have sent a heartbeat (pruned lazily).
func (n Names) NodeIndex() string { return n.prefix() + ":{nodes}:index" }

// Bucket is the directory bucket of match id.
func (n Names) Bucket(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(n.buckets()))
}

func (n Names) bucketTag(b int) string { return fmt.Sprintf("%s:{d:%02d}", n.prefix(), b) }

// Entry is match id's directory entry key (expires with the owner's lease).
func (n Names) Entry(id string) string { return n.bucketTag(n.Bucket(id)) + ":match:" + id }

// Fence is match id's fence key: the highest epoch claimed and by whom. It outlives the lease
// so that an old epoch cannot take the match back after a newer one claimed it.
func (n Names) Fence(id string) string { return n.bucketTag(n.Bucket(id)) + ":fence:" + id }

// Index is bucket b's sorted set of match ids (all scores 0, ordered by id for cursors).
func (n Names) Index(b int) string { return n.bucketTag(b) + ":index" }

// Once is the single-use key for key (tickets, nonces), tagged by itself to spread them.
func (n Names) Once(key string) string { return n.prefix() + ":{o:" + key + "}" }

// validName refuses names that would break the hash tag or the key layout.
func validName(s string) error {
	if s == "" || len(s) > 256 || strings.ContainsAny(s, "{}\r\n ") {
		return fmt.Errorf("%w: name %q", ErrInvalid, s)
	}
	return nil
}
