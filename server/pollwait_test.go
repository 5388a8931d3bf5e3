package server

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// After a short read the next one waits first and then finds data: no read(2) that returns
// EAGAIN per frame (the old path made one for every input).
func TestRawReadConnWaitsBeforeReading(t *testing.T) {
	if !pollLayout.ok {
		t.Fatal("net.TCPConn's layout is not the one pollwait.go expects: update pollLayout for this Go version")
	}
	sc, cl := tcpPair(t)
	rc := newRawReadConn(sc, false).(*rawReadConn)
	if rc.pollCtx == 0 {
		t.Fatal("no poll handle found for a TCP connection")
	}
	buf := make([]byte, 64)
	for i := range 50 {
		got := make(chan error, 1)
		go func() {
			n, err := rc.Read(buf)
			if err == nil && (n != 3 || buf[0] != byte(i)) {
				err = errors.New("wrong bytes")
			}
			got <- err
		}()
		if i%2 == 1 {
			time.Sleep(time.Millisecond) // let the reader park first, half of the time
		}
		if _, err := cl.Write([]byte{byte(i), 2, 3}); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if rc.eagain > 1 { // the first read of all may find the socket empty
		t.Fatalf("%d reads found the socket empty in 50 frames", rc.eagain)
	}
}

// The wait-first path keeps net.Conn's behaviour: the read deadline, the peer's close (EOF)
// and our Close all end a wait on a drained socket.
func TestRawReadConnWaitFirstEnds(t *testing.T) {
	drained := func(t *testing.T) (*rawReadConn, net.Conn) {
		sc, cl := tcpPair(t)
		rc := newRawReadConn(sc, false).(*rawReadConn)
		if _, err := cl.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if n, err := rc.Read(make([]byte, 8)); n != 1 || err != nil || !rc.drained {
			t.Fatalf("first read: %d %v drained=%v", n, err, rc.drained)
		}
		return rc, cl
	}
	t.Run("deadline", func(t *testing.T) {
		rc, _ := drained(t)
		_ = rc.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if _, err := rc.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("past the deadline: %v", err)
		}
	})
	t.Run("eof", func(t *testing.T) {
		rc, cl := drained(t)
		done := make(chan error, 1)
		go func() { _, err := rc.Read(make([]byte, 8)); done <- err }()
		cl.Close()
		if err := <-done; err != io.EOF {
			t.Fatalf("after the peer closed: %v", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		rc, _ := drained(t)
		done := make(chan error, 1)
		go func() { _, err := rc.Read(make([]byte, 8)); done <- err }()
		time.Sleep(5 * time.Millisecond) // not synchronisation: the Read must end whether it waits yet or not
		rc.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	})
}

// No frame waits for a later one: a sender writing bursts and single frames at random gaps,
// a reader with a small buffer (full reads and short reads mixed) gets every byte, each
// burst without waiting for the next (the sender waits for the reader's echo before going on).
func TestRawReadConnLosesNoWakeup(t *testing.T) {
	sc, cl := tcpPair(t)
	rc := newRawReadConn(sc, false).(*rawReadConn)
	go func() {
		buf := make([]byte, 16)
		for {
			n, err := rc.Read(buf)
			if err != nil {
				return
			}
			if _, err := rc.Write(buf[:n]); err != nil { // echo
				return
			}
		}
	}()
	_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second)) // a lost wake-up fails, never hangs
	r := rand.New(rand.NewPCG(1, 2))
	out, in := make([]byte, 100), make([]byte, 100)
	for i := range 400 {
		n := 1 + r.IntN(len(out))
		for j := range n {
			out[j] = byte(i + j)
		}
		if _, err := cl.Write(out[:n]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cl, in[:n]); err != nil {
			t.Fatalf("burst %d (%d bytes): %v", i, n, err)
		}
		if string(in[:n]) != string(out[:n]) {
			t.Fatalf("burst %d: wrong bytes", i)
		}
		if r.IntN(4) == 0 {
			time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond) // vary when the next write lands
		}
	}
}
