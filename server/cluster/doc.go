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
// # Relay and bus
//
// Bus (bus.go) implements server.Bus: local matches are claimed in the directory (Announce),
// their leases refreshed with the node's heartbeat (every second, with its load: sessions /
// Capacity, which placement compares), released when they end (Withdraw). Matches owned
// elsewhere are found in the directory (Locate) and reached through a remoteHandle
// (relay_handle.go).
//
//	owner (relay_owner.go)                         relaying instance (relay_remote.go)
//	match goroutine ─DeliverGroup─▶ ownerRelay ─▶ match channel ─▶ remoteMatch ─▶ local sinks
//	match inbox ◀── handleRequest ◀── node channel ◀── remoteHandle ◀── sessions
//
// The owner's relay is one game.Group per match: one publish per tick, carrying the shared
// bytes once and the tails of every remote recipient (the same shared bytes local players
// get). Every message on a match channel is numbered; frames for one recipient travel on the
// same channel, so Redis keeps them in order with the deltas (wire.go says why). The relaying
// side checks the numbers (a gap repairs every local recipient of the match) and each
// recipient's delta chain (a delta goes to a sink only on the base it names), repairs through
// the owner (a SYNC on the player's behalf: CATCHUP from the ring, swallowed, or a JOINED), asks
// again after RepairRetry when that is lost too, and repairs everything after a broker
// reconnect. A node is judged dead only after it has been missing from registry reads that
// succeeded for a whole NodeTTL: its relayed matches end with END LOST; its players on owners
// here are dropped (their seats kept for the reconnect grace: they may resume elsewhere, see
// resume.go).
//
// # Failover (issue 12)
//
// With a checkpoint store (BusConfig.Checkpoints), a match whose lease is gone is claimed by the
// first instance that needs it, in epoch + 1 (the fence lets exactly one win), and restored
// from its checkpoint (failover.go); instances relaying it follow the new owner instead of
// ending it, and drop frames of older epochs (failover_relay.go); their members take their seats
// back in the new copy with a JOIN as their user, which seats them anew when the checkpoint
// predates their join, or ends the match LOST for them when no seat is free
// (failover_reseat.go, server.Reseater); a drain hands every local
// match to another instance (handoff.go); a process that did not run for half a lease holds
// its matches until its leases are checked (lease_guard.go); an owner whose refresh finds a
// lease lost stops that copy with END MOVED.
//
// # Goroutines and locks
//
// Every method of Broker and Directory is safe for concurrent use. A Redis broker runs one
// receive goroutine per PubSub connection (one for standalone Redis, one per shard owner for a
// cluster), one health goroutine (a PING with a deadline every HealthInterval) and one
// supervisor goroutine that reconnects, resubscribes and follows slot moves. Handlers are
// called from the receive goroutines, never with a broker lock held. Close stops them all and
// waits for them.
//
// The bus runs Shards publisher goroutines and Shards receiver goroutines (a match's traffic
// always uses the same shard, which keeps its order), one loop for heartbeats, liveness and
// repair retries, and the lease guard's watchdog; every other goroutine it starts is counted (goTracked) and Close waits for
// all of them. Locks: Bus.mu guards its maps; ownerRelay.mu its sequence and proxies;
// remoteMatch.mu its recipients. Order: Bus.mu is never held while taking the others, and
// sinks (sessions) are called with remoteMatch.mu held: their Deliver and Detached never
// block and never call back into the bus.
package cluster
