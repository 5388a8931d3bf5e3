package server

import (
	"io"
	"testing"
	"time"
)

// The per-frame paths allocate nothing: a read of a frame that is there (rawReadConn) and the
// writer's fast path (one non-blocking write of a delta). Each used to allocate the closure it
// passes to RawConn: ~20,000 allocations a second at arena 50×10, a GC every ~3 s.
func TestHotPathsDoNotAllocate(t *testing.T) {
	sc, cl := tcpPair(t)
	rc := newRawReadConn(sc, false)
	one, buf := []byte{1}, make([]byte, 64)
	if a := testing.AllocsPerRun(200, func() {
		if _, err := cl.Write(one); err != nil {
			t.Fatal(err)
		}
		if n, err := rc.Read(buf); err != nil || n != 1 {
			t.Fatalf("read %d, %v", n, err)
		}
	}); a != 0 {
		t.Fatalf("rawReadConn.Read: %.1f allocations per read", a)
	}

	w := &writer{nc: sc, max: 1 << 20, timeout: time.Second, onSlow: func() {}}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	w.raw, w.writeFn = raw, w.writeOnce
	shared, tail := make([]byte, 40), []byte{0xc0, 0xc0, 0xc0}
	frame := make([]byte, 2+len(shared)+len(tail))
	if a := testing.AllocsPerRun(200, func() {
		if !w.enqueue(shared, tail) {
			t.Fatal("enqueue refused")
		}
		if _, err := io.ReadFull(cl, frame); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("writer fast path: %.1f allocations per frame", a)
	}
	if frame[0] != 0x82 || int(frame[1]) != len(shared)+len(tail) {
		t.Fatalf("frame header % x", frame[:2])
	}
}
