// Package server is tickrelay's network shell around the match runtime: the WebSocket
// transport (github.com/lxzan/gws), sessions with bounded writers, auth (server/auth), the HTTP
// API (API.md), Server-Sent Events, Prometheus metrics, and the Bus through which it reaches
// matches (in memory for one instance; a cluster bus later). server/cmd/tickrelay is the binary.
//
// # Data path
//
//	socket → gws read loop → session.handle → protocol.DecodeClient → match inbox (bounded)
//	match goroutine, each tick → session.Deliver(shared, tail) → writer queue (≤ 1 MiB) → socket
//
// Reads take no scheduler system-call path and no read(2) that finds EAGAIN (rawconn.go,
// pollwait.go: after a short read the read loop waits on the netpoller first, then reads).
//
// # Goroutines and locks
//
// Per connection: the gws read loop (calls session.handle, one frame at a time, in order), and
// a writer goroutine that exists only while the session has queued frames. Match goroutines call
// Deliver and Detached, which never block: a client that cannot keep up is closed with 4001.
// The idle timer runs as a time.AfterFunc callback; pings come from one ping wheel for the whole
// server (pinger.go), not a timer per session. The server's own goroutines (HTTP serve, janitor,
// ping wheel, read loops, SSE streams) are counted in Server.wg, and Shutdown waits for them.
//
// Locks: session.mu guards a session's match, pid, id and resume token; hub.mu guards the
// session index; writer.mu guards the outbound queue. Lock order: hub.mu before session.mu
// (hub.take and hub.rename read a session under the hub lock; session code never calls the hub
// while holding its own lock). No lock is held while calling into a match or writing to a socket.
package server
