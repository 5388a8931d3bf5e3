package cluster

import (
	"errors"
	"fmt"

	"github.com/tickrelay/tickrelay/protocol"
)

// The relay's messages between instances, msgpack arrays [kind, ...]. They travel on two kinds
// of channels (names.go):
//
//   - a match's channel, written only by its owner: the tick deltas (kTick: the shared bytes
//     once plus every remote recipient's tail), and every frame for one remote recipient
//     (kFrame: JOINED, CATCHUP and the catch-up's deltas, END, errors), join answers
//     (kJoinAns), detaches (kDetach) and idle beats (kBeat). All of them carry the channel's
//     sequence number. They share one channel because Redis keeps the order of messages only
//     within a channel: a member's JOINED must reach its instance before the delta that
//     follows it, and its join answer before either.
//   - a node's channel: requests to the instance that owns a match (joins, inputs, leaves,
//     syncs, messages, watches, reservations, info, publishes), operator requests (kAdmin),
//     and the answers to requests that have one (kAnswer).
//
// Frames inside are tickrelay protocol frames, relayed byte for byte.
type kind uint8

const (
	kTick    kind = 1 // match channel: [1, seq, shared, [node, sink, tail, ...]]
	kFrame   kind = 2 // match channel: a whole frame for (node, sink)
	kDetach  kind = 3 // match channel: the match removed (node, sink) with reason A
	kJoinAns kind = 4 // match channel: the answer to (node, sink)'s join: PID or Code+Str
	kBeat    kind = 5 // match channel: nothing new; Seq is the last sequence number sent
	// Every numbered match-channel message but kTick (whose delta names it) carries the
	// owner's epoch in C: a receiver drops what an older epoch (a stale owner) sends.

	kJoin    kind = 10 // node channel: join Match as user Str, name Str2, meta Bin, req A, for (Node, Sink)
	kLeave   kind = 11 // node channel: PID of (Node, Sink) leaves with reason A
	kInput   kind = 12 // node channel: PID's input seq A, seen B, payload Bin
	kMessage kind = 13 // node channel: PID's message to To (echo Flag), payload Bin
	kSync    kind = 14 // node channel: PID of (Node, Sink) syncs from epoch B, tick C, req A
	kWatch   kind = 15 // node channel: (Node, Sink) watches, req A
	kUnwatch kind = 16 // node channel: (Node, Sink) stops watching
	kReserve kind = 17 // node channel, answered: reserve a seat for user Str for A ms
	kInfo    kind = 18 // node channel, answered: the match's Info (JSON in the answer's Bin)
	kPublish kind = 19 // node channel, answered: publish payload Bin
	kAnswer  kind = 20 // node channel: the answer to request RPC: Code (0: ok), Str, Bin
	kTake    kind = 21 // node channel, answered: hand over session Str (token Str2, user in Bin): Str = match, PID
	kAdmin   kind = 22 // node channel, answered: operator request Str (args Bin) for the node's AdminHandler (admin.go)
	kHandoff kind = 23 // node channel, answered: take match Match from its checkpoint of epoch A (a drain); answer Str = address
)

// wmsg is any relay message but kTick (see tickMsg). Unused fields are zero.
type wmsg struct {
	Kind  kind
	Seq   uint64 // match channel sequence number
	RPC   uint64 // request id, for requests that are answered (0: none)
	Node  string // requests: the sender; match channel: the recipient's instance
	Match string
	Sink  uint64 // the recipient's id on its instance
	PID   uint32
	A     uint32
	B     uint32
	C     uint32
	Code  uint32
	Str   string
	Str2  string
	Bin   []byte
	To    []uint32
	Flag  bool
}

const wmsgFields = 16

// Limits on what a relay message may declare (the broker's message limit bounds the rest).
const (
	maxWireString = 4 << 10
	maxWireTo     = 4096
	maxWireTails  = 1 << 16
)

// errWire is wrapped by every decoding failure of a relay message.
var errWire = errors.New("cluster: malformed relay message")

func appendWmsg(b []byte, m *wmsg) []byte {
	b = protocol.AppendArrayHeader(b, wmsgFields)
	b = protocol.AppendUint(b, uint64(m.Kind))
	b = protocol.AppendUint(b, m.Seq)
	b = protocol.AppendUint(b, m.RPC)
	b = protocol.AppendString(b, m.Node)
	b = protocol.AppendString(b, m.Match)
	b = protocol.AppendUint(b, m.Sink)
	b = protocol.AppendUint(b, uint64(m.PID))
	b = protocol.AppendUint(b, uint64(m.A))
	b = protocol.AppendUint(b, uint64(m.B))
	b = protocol.AppendUint(b, uint64(m.C))
	b = protocol.AppendUint(b, uint64(m.Code))
	b = protocol.AppendString(b, m.Str)
	b = protocol.AppendString(b, m.Str2)
	b = protocol.AppendBytes(b, m.Bin)
	b = protocol.AppendArrayHeader(b, len(m.To))
	for _, p := range m.To {
		b = protocol.AppendUint(b, uint64(p))
	}
	return protocol.AppendBool(b, m.Flag)
}

// tickMsg is a kTick: the tick's shared bytes once, and the tails of every remote recipient.
type tickMsg struct {
	Seq    uint64
	Shared []byte
	Tails  []wireTail
}

type wireTail struct {
	Node string
	Sink uint64
	Tail []byte
}

// peekKind returns a message's kind without decoding the rest.
func peekKind(b []byte) (kind, error) {
	r := protocol.NewReader(b)
	if _, err := r.ArrayLen(); err != nil {
		return 0, fmt.Errorf("%w: %v", errWire, err)
	}
	k, err := r.Uint()
	if err != nil || k > 255 {
		return 0, fmt.Errorf("%w: kind", errWire)
	}
	return kind(k), nil
}

// decodeWmsg decodes a non-tick message; byte slices point into b.
func decodeWmsg(b []byte, m *wmsg) error {
	r := protocol.NewReader(b)
	n, err := r.ArrayLen()
	if err != nil || n != wmsgFields {
		return fmt.Errorf("%w: %d fields", errWire, n)
	}
	u := func(max uint64) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		if v, err = r.Uint(); err == nil && v > max {
			err = fmt.Errorf("%w: value out of range", errWire)
		}
		return v
	}
	s := func() string {
		if err != nil {
			return ""
		}
		var v string
		v, err = r.String(maxWireString)
		return v
	}
	m.Kind = kind(u(255))
	m.Seq = u(^uint64(0))
	m.RPC = u(^uint64(0))
	m.Node = s()
	m.Match = s()
	m.Sink = u(^uint64(0))
	m.PID = uint32(u(1<<32 - 1))
	m.A = uint32(u(1<<32 - 1))
	m.B = uint32(u(1<<32 - 1))
	m.C = uint32(u(1<<32 - 1))
	m.Code = uint32(u(1<<32 - 1))
	m.Str = s()
	m.Str2 = s()
	if err == nil {
		m.Bin, err = r.BinBytes()
	}
	var nTo int
	if err == nil {
		nTo, err = r.ArrayLen()
	}
	if err == nil && nTo > maxWireTo {
		err = fmt.Errorf("%w: %d recipients", errWire, nTo)
	}
	m.To = m.To[:0]
	for i := 0; i < nTo && err == nil; i++ {
		m.To = append(m.To, uint32(u(1<<32-1)))
	}
	if err == nil {
		m.Flag, err = r.Bool()
	}
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	return nil
}

func appendTick(b []byte, seq uint64, shared []byte, tails []wireTail) []byte {
	b = protocol.AppendArrayHeader(b, 4)
	b = protocol.AppendUint(b, uint64(kTick))
	b = protocol.AppendUint(b, seq)
	b = protocol.AppendBytes(b, shared)
	b = protocol.AppendArrayHeader(b, 3*len(tails))
	for _, t := range tails {
		b = protocol.AppendString(b, t.Node)
		b = protocol.AppendUint(b, t.Sink)
		b = protocol.AppendBytes(b, t.Tail)
	}
	return b
}

// decodeTick decodes a kTick; byte slices point into b.
func decodeTick(b []byte, t *tickMsg) error {
	r := protocol.NewReader(b)
	n, err := r.ArrayLen()
	if err != nil || n != 4 {
		return fmt.Errorf("%w: tick of %d fields", errWire, n)
	}
	if k, err := r.Uint(); err != nil || kind(k) != kTick {
		return fmt.Errorf("%w: not a tick", errWire)
	}
	if t.Seq, err = r.Uint(); err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	if t.Shared, err = r.BinBytes(); err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	if n, err = r.ArrayLen(); err != nil || n%3 != 0 || n/3 > maxWireTails {
		return fmt.Errorf("%w: tails", errWire)
	}
	t.Tails = t.Tails[:0]
	for i := 0; i < n/3; i++ {
		var wt wireTail
		if wt.Node, err = r.String(maxWireString); err != nil {
			return fmt.Errorf("%w: %v", errWire, err)
		}
		if wt.Sink, err = r.Uint(); err != nil {
			return fmt.Errorf("%w: %v", errWire, err)
		}
		if wt.Tail, err = r.BinBytes(); err != nil {
			return fmt.Errorf("%w: %v", errWire, err)
		}
		t.Tails = append(t.Tails, wt)
	}
	if err := r.End(); err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	return nil
}

// deltaHead reads the (epoch, tick, since) of a DELTA's shared part; ok is false for any other
// frame.
func deltaHead(frame []byte) (epoch, tick, since uint32, ok bool) {
	if len(frame) < 2 || frame[0] != 0x99 || frame[1] != byte(protocol.OpDelta) {
		return 0, 0, 0, false
	}
	r := protocol.NewReader(frame[2:])
	var err error
	if epoch, err = r.Uint32(); err != nil {
		return 0, 0, 0, false
	}
	if tick, err = r.Uint32(); err != nil {
		return 0, 0, 0, false
	}
	if since, err = r.Uint32(); err != nil {
		return 0, 0, 0, false
	}
	return epoch, tick, since, true
}
