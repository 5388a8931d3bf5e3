// Package checkpoint stores match checkpoints (game.MatchCheckpoint) so that another instance
// can restore a match whose owner died (issue 12, failover).
//
// Writer implements game.CheckpointSink: match goroutines Offer checkpoints without blocking;
// the writer keeps only the newest pending checkpoint of each match (a slow store loses
// intermediate ones, never stalls a tick), refuses those over its size bound, and stores the
// rest from its own goroutine through a Store, counting bytes, write durations, failures by
// reason and the age of the oldest last good checkpoint. Stores are fenced by epoch: a
// checkpoint never replaces one of a later epoch (a stale owner cannot overwrite the match's
// new owner). MemoryStore is for one process and tests; RedisStore keeps them in Redis.
//
// Goroutines and locks: Offer and Forget take the writer's mutex for a map update and a
// non-blocking signal; the writer goroutine (started by NewWriter, stopped by Close) does
// every store call. Stores are safe for concurrent use.
package checkpoint
