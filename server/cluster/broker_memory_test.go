package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message in 5 s")
		return ""
	}
}

func TestMemoryBroker(t *testing.T) {
	n := NewMemoryNetwork()
	a, b := n.Broker("a", NewMetrics()), n.Broker("b", nil)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	got := make(chan string, 16)
	if err := b.Subscribe(ctx, "ch", func(ch string, msg []byte) { got <- ch + ":" + string(msg) }); err != nil {
		t.Fatal(err)
	}
	buf := []byte("one")
	if err := a.Publish(ctx, "ch", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "xxx") // Publish does not keep msg
	if m := recv(t, got); m != "ch:one" {
		t.Fatalf("got %q", m)
	}
	// Injected drop, then a delay.
	n.SetFault(func(from, ch string, msg []byte) Fault { return Fault{Drop: string(msg) == "drop"} })
	_ = a.Publish(ctx, "ch", []byte("drop"))
	_ = a.Publish(ctx, "ch", []byte("two"))
	if m := recv(t, got); m != "ch:two" {
		t.Fatalf("got %q, want the message after the dropped one", m)
	}
	n.SetFault(func(from, ch string, msg []byte) Fault { return Fault{Delay: 10 * time.Millisecond} })
	_ = a.Publish(ctx, "ch", []byte("late"))
	if m := recv(t, got); m != "ch:late" {
		t.Fatalf("got %q", m)
	}
	n.SetFault(nil)
	// Cut: degraded, publishes fail, messages lost; Restore runs the hooks.
	hook := make(chan string, 1)
	b.OnReconnect(func() { hook <- "reconnected" })
	b.Cut(errors.New("test cut"))
	if err := b.Health(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("health while cut: %v", err)
	}
	if err := b.Publish(ctx, "ch", []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("publish while cut: %v", err)
	}
	_ = a.Publish(ctx, "ch", []byte("lost"))
	b.Restore()
	recv(t, hook)
	if b.Health() != nil {
		t.Fatalf("health after restore: %v", b.Health())
	}
	_ = a.Publish(ctx, "ch", []byte("three"))
	if m := recv(t, got); m != "ch:three" {
		t.Fatalf("got %q, want three (the message sent while cut is lost)", m)
	}
	if err := b.Unsubscribe(ctx, "ch"); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, "ch", make([]byte, DefaultMaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized publish: %v", err)
	}
	_ = a.Close()
	if err := a.Publish(ctx, "ch", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}
