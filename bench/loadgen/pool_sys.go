//go:build linux

package loadgen

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// The epoll pool's system calls. read, write, close and epoll_ctl never block (the sockets
// are non-blocking) and go through syscall.RawSyscall: no entersyscall/exitsyscall, no P
// handed to another thread. The epoll wait can block, so it goes through syscall.Syscall6
// and the scheduler may run other goroutines (the run's timers, /metrics reads) meanwhile.

const sysEpollPwait2 = 441 // epoll_pwait2(2), Linux ≥ 5.11: a timeout in nanoseconds

// rawRead is recvfrom(2) without an address: read(2)'s result, without its file-position lock
// (fdget_pos was 6% of a profile).
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(r), e
}

// rawWrite is sendto(2) without an address and with MSG_NOSIGNAL (a peer that is gone gives
// EPIPE, no SIGPIPE).
func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	return int(r), e
}

func rawClose(fd int) { syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0) }

// rawEpollCtl registers fd with data idx (the pool's index of the connection).
func rawEpollCtl(epfd, op, fd int, events uint32, idx int32) syscall.Errno {
	ev := syscall.EpollEvent{Events: events, Fd: idx}
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	return e
}

// rawEpollWait waits up to timeoutNs for events (0: only polls, without the scheduler).
func rawEpollWait(epfd int, evs []syscall.EpollEvent, timeoutNs int64, pwait2 *bool) (int, syscall.Errno) {
	if timeoutNs <= 0 {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
		return int(r), e
	}
	if *pwait2 {
		t := syscall.NsecToTimespec(timeoutNs)
		r, _, e := syscall.Syscall6(sysEpollPwait2, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)),
			uintptr(unsafe.Pointer(&t)), 0, 0)
		if e != syscall.ENOSYS {
			return int(r), e
		}
		*pwait2 = false
	}
	ms := (timeoutNs + 999_999) / 1_000_000
	r, _, e := syscall.Syscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(ms), 0, 0)
	return int(r), e
}

// detach ends the setup: it returns a non-blocking duplicate of the socket's descriptor (the
// net.Conn is closed: the socket lives on in the duplicate, out of Go's netpoller) and the
// bytes already read after the last frame handled.
func (s *rawSetup) detach() (int, []byte, error) {
	tc, ok := s.conn.(*net.TCPConn)
	if !ok {
		return -1, nil, errors.New("not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = syscall.Dup(int(fd))
	}); err != nil {
		return -1, nil, err
	}
	if derr != nil {
		return -1, nil, derr
	}
	syscall.CloseOnExec(nfd)
	if err := syscall.SetNonblock(nfd, true); err != nil {
		rawClose(nfd)
		return -1, nil, err
	}
	_ = s.conn.Close()
	return nfd, s.buf, nil
}
