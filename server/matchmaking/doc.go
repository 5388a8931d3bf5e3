// Package matchmaking is tickrelay's matchmaker: players (alone or in a party) open a ticket in a
// queue with properties such as skill and region; the matcher groups compatible tickets into
// matches, which are placed on an instance with every player's seat reserved at once.
//
// # Parts
//
//   - Queue (config.go): a game, sizes, teams and the rules that widen with waiting time (skill
//     window, region preference, smaller matches after a while, expiry, backfill). Queues come
//     from a JSON or YAML file (Load) or the built-in defaults (DefaultQueues).
//   - Match (matcher.go): the matcher, a pure function from (queue, open tickets, running
//     matches with free seats, now) to groups, backfills and expiries, plus the time at which
//     its answer would next change (the next widening or expiry). It is table-tested and
//     property-tested and knows nothing of time except the now it is given.
//   - Store (store.go): where tickets live: in memory for one instance (store_memory.go), or in
//     Redis shared by a cluster, standalone or Redis Cluster (store_redis*.go), with a lease
//     per queue fenced by a token so that one instance at a time runs a queue's matcher, a
//     change feed for every instance, and a change log per queue (Tail) so that the matcher
//     reads only what changed.
//   - Placer (placement.go): creates a match for a group and reserves every seat, all or none
//     (placement_local.go: this instance; placement_cluster.go: the least loaded instance).
//   - Backfill across a cluster (backfill*.go): each instance writes its running matches of
//     backfill queues with free seats to a per-queue board in Redis (backfill_publish.go,
//     backfill_redis.go), records expiring with the lease TTL; the queue's matcher reads the
//     board and reserves the seats on the match's owner over the cluster bus, all or none
//     (ClusterBackfill, backfill_cluster.go); the owner's match refuses a seat sold meanwhile.
//   - Matchmaker (matchmaker.go): one goroutine per queue runs the matcher when tickets arrive
//     (no fixed interval: a ticket that fits is matched at once) and on a timer only for the
//     next widening or expiry; placements run beside it.
//   - Parties (party.go: PartyStore, in memory; party_redis.go: shared in Redis beside the
//     tickets) and the HTTP API (http.go, fixed in server/API.md).
//
// # Goroutines and locks
//
// With a Redis store and backfill queues, one openPublisher goroutine per instance writes the
// board (it alone owns its last-written map); ClusterBackfill.mu guards its pending seats.
// Each queue has one runner goroutine (runner.run) that alone calls the matcher for that queue,
// owns its copy of the queue (runner.cache, with a Tail store) and claims tickets (with a shared store only while it holds the queue's lease, which a goroutine
// of its own renews; runner.leaseMu guards the fence); placement goroutines (at most
// Config.MaxPlacements at once per queue) resolve or requeue the tickets they claimed. The Redis
// store's subscriber goroutine hands every changed ticket to the long-polls following it
// (Follower: a long-poll reads its ticket once, then takes the changes from the feed) and to the
// matchmaker (Feed). The Redis store keeps four connection pools so that no side waits for a
// connection behind another: the HTTP handlers', the placements', the runners' (a context marked
// with asRunner) and the lease renewals'. The memory store's mu guards every ticket and the
// per-player index; parties.mu guards parties. Locks are never held while calling the placer, the
// store from the store, or the notifier. HTTP handlers only call the store, the parties and the
// queues' kick (a non-blocking send).
package matchmaking
