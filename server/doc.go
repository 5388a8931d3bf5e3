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
// Tick mode (Config.ReadMode "tick", the binary's default; plain TCP without compression):
// while its player is in a running local match, a connection is read by the match itself,
// just before each tick (tickread.go, through game.PreTicker):
//
//	match goroutine, each tick: for each parked member, one non-blocking read(2) → complete
//	  INPUT frames: decode, rate limit, Input (applied in this tick); pongs: handled
//	  anything else (other messages, control frames, bad frames, EOF, errors, a passed read
//	  deadline, a full read buffer) → handed back: the read loop wakes and gws gets those
//	  bytes first, then the socket, and handles them as in loop mode
//
// Between two frames the read loop parks on a channel instead of the netpoller, with the
// socket's SO_RCVLOWAT at 4 KiB, so an input wakes no thread; inputs, messages and everything
// else keep the order they were sent in. Messages other than INPUT are read at the match's
// next tick rather than on arrival (at most one tick interval later; a PING's PONG too).
// A change of the session's match (LEAVE, Detached, END, a takeover), Close, 16 polls in a row
// that read nothing (a silent player goes back to the netpoller), and the janitor's watchdog
// (a match that stopped ticking: frozen, held) hand back.
//
// # Goroutines and locks
//
// Per connection: the gws read loop (calls session.handle, one frame at a time, in order; in
// tick mode the match goroutine reads the socket and handles INPUTs while the loop is parked), and
// a writer goroutine that exists only while the session has queued frames. Match goroutines call
// Deliver and Detached, which never block: a client that cannot keep up is closed with 4001.
// The idle timer runs as a time.AfterFunc callback; pings come from one ping wheel for the whole
// server (pinger.go), not a timer per session. The server's own goroutines (HTTP serve, janitor,
// ping wheel, read loops, SSE streams) are counted in Server.wg, and Shutdown waits for them.
//
// Locks: tickReader.mu guards the hand-over of a socket between its read loop and its match
// (before session.mu); session.mu guards a session's match, pid, id and resume token; hub.mu guards the
// session index; writer.mu guards the outbound queue. Lock order: hub.mu before session.mu
// (hub.take and hub.rename read a session under the hub lock; session code never calls the hub
// while holding its own lock). No lock is held while calling into a match or writing to a socket.
package server
