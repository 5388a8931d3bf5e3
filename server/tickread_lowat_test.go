package server

import (
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// What the tick reader relies on from the kernel's SO_RCVLOWAT (Linux TCP): bytes below it
// queue without an epoll wake-up, a non-blocking read still returns them, and lowering it
// signals what is queued (the read loop reads once unconditionally after a hand-back anyway).
// The descriptor is a dup, in an epoll set of the test's own, edge-triggered like Go's.
func TestRcvlowatSemantics(t *testing.T) {
	sc, cl := tcpPair(t)
	f, err := sc.File() // a dup in blocking mode: set it back to non-blocking
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | (-syscall.EPOLLET & 0xffffffff), Fd: int32(fd)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		t.Fatal(err)
	}
	events := make([]syscall.EpollEvent, 4)
	ready := func() int {
		n, err := syscall.EpollWait(ep, events, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, tickLowat); err != nil {
		t.Fatal(err)
	}
	ready() // whatever was pending before
	if _, err := cl.Write(make([]byte, 30)); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); inq(t, fd) != 30; {
		if time.Now().After(end) {
			t.Fatalf("%d bytes queued, want 30", inq(t, fd))
		}
		time.Sleep(100 * time.Microsecond) // polling the kernel's count
	}
	if n := ready(); n != 0 {
		t.Fatalf("30 bytes below SO_RCVLOWAT %d woke epoll", tickLowat)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1); err != nil {
		t.Fatal(err)
	}
	if n := ready(); n != 1 {
		t.Fatal("lowering SO_RCVLOWAT did not signal the queued bytes")
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, tickLowat); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := syscall.Read(fd, buf); n != 30 || err != nil {
		t.Fatalf("a non-blocking read below SO_RCVLOWAT: %d, %v; want the 30 bytes", n, err)
	}
}

func inq(t *testing.T, fd int) int {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	return int(n)
}
