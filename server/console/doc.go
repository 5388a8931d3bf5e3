// Package console is the operators' web console on the admin listener: a login that exchanges
// the operator key for a short-lived cookie, the instances of the cluster with their figures and
// a chart of the last minutes, the matches of every instance with their members and live state,
// and the actions an operator takes (end a match, kick a player, drain an instance), each
// audited in the log.
//
// The page (static/, embedded) is plain HTML and JavaScript without a build step; it talks to
// the JSON API under /console/api/ with the session cookie (HttpOnly, SameSite=Strict).
//
// Goroutines: one sampler goroutine (Start to Close) reads this instance's figures and the
// other instances' heartbeats into rings; HTTP handlers run on the admin listener's goroutines;
// operator requests from other instances' consoles arrive on the cluster bus's goroutines
// (cluster.Bus.HandleAdmin). mu in sessions, limiter and rings guards their maps; no lock is
// held while calling the server, a match or the bus.
package console
