package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	t.Cleanup(func() { cl.Close(); sc.Close() })
	return sc.(*net.TCPConn), cl
}

// rawReadConn reads like net.TCPConn: data as it comes (parking while there is none), the read
// deadline as a timeout error, EOF when the peer closes, an error after Close.
func TestRawReadConn(t *testing.T) {
	sc, cl := tcpPair(t)
	rc := newRawReadConn(sc, false)
	if _, ok := rc.(*rawReadConn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", rc)
	}
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 64)
		n, err := rc.Read(buf) // parks: nothing sent yet
		if err != nil {
			t.Error(err)
		}
		got <- buf[:n]
	}()
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "hello" {
		t.Fatalf("read %q", b)
	}

	_ = rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := rc.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	_ = rc.SetReadDeadline(time.Time{})

	cl.Close()
	if _, err := rc.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("after the peer closed: %v", err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if p, _ := net.Pipe(); newRawReadConn(p, false) != p {
		t.Fatal("a pipe was wrapped")
	}
}
