//go:build linux

package floor

import (
	"syscall"
	"unsafe"
)

// The epoll floor's system calls, all made with syscall.RawSyscall: the Go scheduler never
// hears of them (no entersyscall/exitsyscall, no P handed to another thread while one blocks),
// which is the point of this floor. Only the floor's one goroutine makes them.

const sysEpollPwait2 = 441 // epoll_pwait2(2), Linux ≥ 5.11: a timeout in nanoseconds

func rawRead(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func rawClose(fd int) { syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0) }

// rawAccept accepts one connection, non-blocking and close-on-exec.
func rawAccept(lfd int) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(lfd), 0, 0, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	return int(r), e
}

func rawNoDelay(fd int) {
	one := int32(1)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
}

func rawEpollCtl(epfd, op, fd int, events uint32) syscall.Errno {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	return e
}

// rawEpollWait waits up to timeoutNs (< 0: forever) for events. It blocks this thread without
// the runtime knowing, so nothing else of the process runs meanwhile but the runtime's own
// monitor thread, and a signal (GC preemption) ends the wait with EINTR.
func rawEpollWait(epfd int, evs []syscall.EpollEvent, timeoutNs int64, pwait2 *bool) (int, syscall.Errno) {
	if *pwait2 {
		var ts *syscall.Timespec
		var t syscall.Timespec
		if timeoutNs >= 0 {
			t = syscall.NsecToTimespec(timeoutNs)
			ts = &t
		}
		r, _, e := syscall.RawSyscall6(sysEpollPwait2, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)),
			uintptr(unsafe.Pointer(ts)), 0, 0)
		if e != syscall.ENOSYS {
			return int(r), e
		}
		*pwait2 = false
	}
	ms := int64(-1)
	if timeoutNs >= 0 {
		ms = (timeoutNs + 999_999) / 1_000_000
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)),
		uintptr(ms), 0, 0)
	return int(r), e
}
