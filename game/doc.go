// Package game is tickrelay's match runtime: one goroutine per match owns the match's state,
// ticks it at a fixed rate, applies the players' inputs, and hands every member one frame per
// tick with what changed. It never touches a socket, a clock it cannot replace, or Redis, so a
// match can be tested tick by tick (ManualClock).
//
// # The pieces
//
//   - Logic is a game (embed Base for defaults); Catalog registers game types by name;
//     Registry runs matches, finds and lists them, and stops them all at shutdown.
//   - State holds entities with small-integer field keys; game code changes it only through
//     Spawn, Remove and Entity.Set/SetPrivate, which record the change. At the end of a tick
//     the runtime encodes the delta (added entities, changed fields, removed ids) once.
//   - Sink is the output seam: the server's sessions and the cluster bus implement it. Each
//     member gets the delta's shared bytes plus a small tail of its own (its input ack, its
//     private fields, events addressed to it) as one frame. A Group (group.go) is a set of
//     sinks reached with one delivery per tick (the shared bytes plus its members' tails): the
//     cluster relay is one group per match, so a remote instance costs one publish per tick.
//   - A ring of recent deltas lets a member that reconnects (Match.Sync) get exactly the deltas
//     it missed; beyond the ring it gets a snapshot. Mirror is the reference client that applies
//     those frames, used by the tests, the load generator and Go clients.
//
// # Goroutines and safety
//
// Match methods (Join, Input, Leave, Sync, Publish, Watch, Stop, Inspect, Info) are safe from
// any goroutine: they enqueue typed messages on the match's bounded inbox without blocking
// (each message kind has a stated overflow policy, see inbox.go) and requests wait on a reply
// channel with the caller's context. Everything else of a match — its State, its players, the
// Logic — belongs to the match goroutine: game code runs there, one call at a time, and needs no
// locks. Ctx and State must not be kept or used outside Logic callbacks (or Match.Inspect).
// A panic in game code ends that match (members get END with EndError) and nothing else.
// Registry and Catalog are safe for concurrent use; every match goroutine is accounted for and
// Registry.Shutdown waits for them.
package game
