// Package cluster is everything between tickrelay instances: the substrate (a Broker for
// at-most-once publish/subscribe and a Directory for nodes, match ownership and single-use
// keys, each in memory and over Redis) and, on top of it, the relay and cluster bus that
// implement server.Bus across instances.
//
// # Substrate
//
//	Broker     Publish / Subscribe / Unsubscribe / OnReconnect / Health
//	           MemoryNetwork.Broker (in process, with injectable drops and delays),
//	           NewRedisBroker (standalone PUBLISH/SUBSCRIBE, or Redis Cluster SPUBLISH/SSUBSCRIBE
//	           with one PubSub connection per shard owner)
//	Directory  node registry (heartbeat keys with a TTL), match directory (owner, address and
//	           epoch under a lease fenced by the epoch), single-use keys (SET NX PX)
//	           NewMemoryDirectory, NewRedisDirectory
//
// Names (names.go) put a hash tag in every channel and key: one channel per match and one per
// node, each with its own tag, so Redis Cluster's sharded Pub/Sub spreads them over the shards;
// the directory's keys are grouped into a fixed number of buckets (one tag each) so that the
// Lua scripts that keep an entry and its index consistent touch one slot.
//
// # Delivery contract
//
// Pub/Sub is at-most-once. A subscriber's handler runs on a goroutine of the broker and must
// not block: it hands the message off (a non-blocking send) and counts what it drops. Messages
// lost while a connection was down are not replayed: after a reconnect has resubscribed every
// channel, the broker calls its OnReconnect hooks and subscribers repair (ask for a sync).
// Publish does not keep msg after it returns; a handler may keep the msg it is given.
//
// # Goroutines and locks
//
// Every method of Broker and Directory is safe for concurrent use. A Redis broker runs one
// receive goroutine per PubSub connection (one for standalone Redis, one per shard owner for a
// cluster), one health goroutine (a PING with a deadline every HealthInterval) and one
// supervisor goroutine that reconnects, resubscribes and follows slot moves. Handlers are
// called from the receive goroutines, never with a broker lock held. Close stops them all and
// waits for them.
package cluster
