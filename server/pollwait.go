package server

import (
	"net"
	"reflect"
	"unsafe"
)

// Waiting for readability without a read that finds EAGAIN.
//
// A connection that read less than it asked for has drained its socket: the next read(2)
// would find nothing (EAGAIN) and only then park on the netpoller. At arena 50×10 that is one
// wasted system call per input (10,000 a second, ~2.5 µs each on this kind of VM). The public
// APIs cannot skip it: RawConn.Read (like net.Conn.Read) first clears the descriptor's
// readiness, so "wait, then read" would lose a readiness edge that came after the last read,
// and that frame would wait for the next one.
//
// The runtime's own wait does not clear it: internal/poll.runtime_pollWait (the netpoller's
// park, exported to internal/poll by the runtime and kept stable for the packages that link
// to it: go.dev/issue/67401) returns at once when an edge came since the last wait, and
// otherwise parks until the next one, the read deadline, or Close. So after a short read
// rawReadConn waits with it first (inside RawConn.Control, which holds the descriptor open
// for the wait), then reads as before. A stale edge only costs the EAGAIN read of the old
// path, after which RawConn.Read parks as always: no frame can wait for a later one.
//
// The wait needs the descriptor's poll handle, which net does not expose: pollLayout finds
// its place in net.TCPConn by field names with reflect, once, and checks it against the
// descriptor's number on every connection. If anything differs (another Go version changed
// the structs), pollCtx is 0 and the connection reads exactly as before.

//go:linkname runtimePollWait internal/poll.runtime_pollWait
func runtimePollWait(ctx uintptr, mode int) int

// pollOffsets locate, from a *net.TCPConn, its *netFD (fd) and in it the poll.FD's Sysfd and
// pollDesc.runtimeCtx.
type pollOffsets struct {
	ok          bool
	fd          uintptr // of conn.fd (*netFD) in net.TCPConn
	sysfd, pctx uintptr // of pfd.Sysfd and pfd.pd.runtimeCtx in netFD
}

var pollLayout = findPollLayout()

func findPollLayout() pollOffsets {
	t := reflect.TypeFor[net.TCPConn]()
	if t.NumField() < 1 || t.Field(0).Name != "conn" || t.Field(0).Type.Kind() != reflect.Struct {
		return pollOffsets{}
	}
	conn := t.Field(0)
	fd, ok := conn.Type.FieldByName("fd")
	if !ok || fd.Type.Kind() != reflect.Pointer || fd.Type.Elem().Name() != "netFD" {
		return pollOffsets{}
	}
	pfd, ok := fd.Type.Elem().FieldByName("pfd")
	if !ok || pfd.Type.Name() != "FD" || pfd.Type.PkgPath() != "internal/poll" {
		return pollOffsets{}
	}
	sysfd, ok := pfd.Type.FieldByName("Sysfd")
	if !ok || sysfd.Type.Kind() != reflect.Int {
		return pollOffsets{}
	}
	pd, ok := pfd.Type.FieldByName("pd")
	if !ok || pd.Type.Name() != "pollDesc" || pd.Type.Kind() != reflect.Struct {
		return pollOffsets{}
	}
	ctx, ok := pd.Type.FieldByName("runtimeCtx")
	if !ok || ctx.Type.Kind() != reflect.Uintptr {
		return pollOffsets{}
	}
	return pollOffsets{ok: true, fd: conn.Offset + fd.Offset,
		sysfd: pfd.Offset + sysfd.Offset, pctx: pfd.Offset + pd.Offset + ctx.Offset}
}

// pollCtxOf returns tc's poll handle, or 0 when it cannot be found safely (the layout is not
// the expected one, or it does not name the descriptor fd).
func pollCtxOf(tc *net.TCPConn, fd uintptr) uintptr {
	if !pollLayout.ok {
		return 0
	}
	nfd := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(tc), pollLayout.fd))
	if nfd == nil || *(*int)(unsafe.Add(nfd, pollLayout.sysfd)) != int(fd) {
		return 0
	}
	return *(*uintptr)(unsafe.Add(nfd, pollLayout.pctx))
}
