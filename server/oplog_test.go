package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// syncBuffer is a log sink several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `msg="player dropped"`); {
		if time.Now().After(deadline) {
			t.Fatalf("no drop logged within 5 s:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond) // polling the log
	}
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
	m, _ := ts.srv.Registry().Get(cr.Match.ID)
	for players := 1; players > 0; {
		if err := m.Inspect(context.Background(), func(c *game.Ctx) { players = c.PlayerCount() }); err != nil {
			t.Fatal(err)
		}
	}
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
