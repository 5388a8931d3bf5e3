package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// syncBuffer is a log sink several goroutines write; seen signals when a line is written.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	waits []logWait
}

type logWait struct {
	sub string
	ch  chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	kept := s.waits[:0]
	for _, w := range s.waits {
		if bytes.Contains(p, []byte(w.sub)) {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	s.waits = kept
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// seen is closed once a line containing sub has been written (at once if one was).
func (s *syncBuffer) seen(sub string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(s.b.String(), sub) {
		close(ch)
	} else {
		s.waits = append(s.waits, logWait{sub: sub, ch: ch})
	}
	return ch
}

// await waits (at most 5 s) for a line containing sub.
func (s *syncBuffer) await(t *testing.T, sub string) {
	t.Helper()
	select {
	case <-s.seen(sub):
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s logged within 5 s:\n%s", sub, s.String())
	}
}

// Joins, drops, resumes and leaves are one info line each, with reasons as names.
func TestJoinsLeavesResumesLoggedAtInfo(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ann, tok := ts.connect("ann")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	ann.join("", cr.Reservation.Ticket)
	_ = ann.conn.NetConn().Close() // dropped without a close frame
	<-ann.done
	// The client saw its socket close; the server notices the drop a moment later. A RESUME
	// sent before that takes over a live session (no "player dropped" line): wait for the drop.
	logs.await(t, `msg="player dropped"`)
	again, _, err := ts.dial(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	again.expect(protocol.OpWelcome)
	again.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 2, Session: ann.welcome.Session, ResumeToken: ann.welcome.ResumeToken})
	again.expect(protocol.OpResumed)
	again.send(protocol.ClientMsg{Op: protocol.OpLeave, Req: 3})
	again.expect(protocol.OpLeft)
	again.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 4, Session: "s-nope", ResumeToken: "x"})
	again.expect(protocol.OpError)
	// LEFT answers at once; the match frees the seat (and logs it) at its next tick.
	logs.await(t, `msg="player left"`)
	out := logs.String()
	for _, want := range []string{
		`level=INFO msg="player joined" match=` + cr.Match.ID,
		`level=INFO msg="player dropped"`, "reason=DROPPED",
		`level=INFO msg="session resumed"`,
		`level=INFO msg="player left"`, "reason=LEFT",
		`level=INFO msg="resume refused"`, "reason=RESUME_FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `msg="player joined"`); n != 1 {
		t.Errorf("%d join lines, want 1", n)
	}
}
