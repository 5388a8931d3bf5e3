package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// fdReserveListener keeps one file descriptor in reserve for when the process runs out
// (EMFILE/ENFILE): it then frees the reserve, accepts the waiting connection, answers it
// "503 Service Unavailable" at once and closes it, and takes the reserve back. Without it a
// newcomer sat in the accept backlog for seconds while every retry logged an accept error.
// Errors are counted (tickrelay_limit_refusals_total{limit="fds"}) and logged at most once a
// second.
type fdReserveListener struct {
	net.Listener
	srv *Server

	mu      sync.Mutex
	reserve *os.File
	logged  time.Time
}

func newFDReserveListener(ln net.Listener, srv *Server) *fdReserveListener {
	l := &fdReserveListener{Listener: ln, srv: srv}
	l.reserve, _ = os.Open(os.DevNull)
	return l
}

var fdFull = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 79\r\n\r\n" +
	`{"error":{"code":15,"name":"UNAVAILABLE","message":"server out of resources"}}` + "\n")

func (l *fdReserveListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil || !(errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) {
			return c, err
		}
		l.shed()
	}
}

// shed answers one waiting connection with 503 using the reserve descriptor.
func (l *fdReserveListener) shed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.srv.metrics.limited.WithLabelValues("fds").Inc()
	if now := time.Now(); now.Sub(l.logged) > time.Second {
		l.logged = now
		l.srv.log.Warn("out of file descriptors: answering new connections 503 (raise the limit: ulimit -n)")
	}
	if l.reserve == nil {
		time.Sleep(10 * time.Millisecond) // no reserve to spend: do not spin on accept
		l.reserve, _ = os.Open(os.DevNull)
		return
	}
	_ = l.reserve.Close()
	l.reserve = nil
	if c, err := l.Listener.Accept(); err == nil {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(fdFull)
		_ = c.Close()
	}
	l.reserve, _ = os.Open(os.DevNull)
}

func (l *fdReserveListener) Close() error {
	l.mu.Lock()
	if l.reserve != nil {
		_ = l.reserve.Close()
		l.reserve = nil
	}
	l.mu.Unlock()
	return l.Listener.Close()
}
