// Package failover proves issue 12 with real processes: a redis-server (server/cluster/redistest)
// and tickrelay instances started from the built binary on 127.0.0.1, arena matches all owned by
// instance n1, and bots that follow their match the way the SDK does (close 4003 MOVED → the
// reason's URL; 1006, 4000 and END 6 MOVED → another instance after a full-jitter delay; there
// RESUME, and a JOIN by id when the session is gone or in no match). Faults on n1: kill -9,
// SIGSTOP past its lease then SIGCONT, and SIGTERM (a drain). The Report gives the figures the
// issue asks for and Failures the pass figures missed.
//
// Goroutines: one per bot (Bot.Run owns its state; the gws read loop only hands frames over a
// channel), plus the run's own. Every process is stopped by the PID this package started.
package failover
