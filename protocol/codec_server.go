package protocol

import (
	"math"
	"strings"
	"unicode/utf8"
)

// DELTA frames are written in two parts so that a match encodes the shared part once per tick
// and each member gets it with a small tail of its own:
//
//	shared: 0x99, 34, epoch, tick, since, changes, events   (same bytes for every member)
//	tail:   ack, private, direct                             (per member; 3 bytes of nil for most)
//
// The frame a member receives is shared followed by its tail: one msgpack array of 9 elements.

// NilTail is the tail of a member that has no ack, private fields or direct events this tick.
var NilTail = []byte{0xc0, 0xc0, 0xc0}

// AppendDeltaHead appends the start of a DELTA's shared part; the caller then appends changes
// and events (two msgpack values, nil when empty) to complete it.
func AppendDeltaHead(b []byte, epoch, tick, since uint32) []byte {
	b = append(b, 0x99, byte(OpDelta))
	b = AppendUint(b, uint64(epoch))
	b = AppendUint(b, uint64(tick))
	return AppendUint(b, uint64(since))
}

// AppendDeltaTail appends a member's tail. private and direct are encoded msgpack values or nil.
func AppendDeltaTail(b []byte, hasAck bool, ack uint32, private, direct []byte) []byte {
	if hasAck {
		b = AppendUint(b, uint64(ack))
	} else {
		b = AppendNil(b)
	}
	b = AppendRaw(b, private)
	return AppendRaw(b, direct)
}

// AppendServer appends the encoding of a server → client (or RELAY) message.
func AppendServer(b []byte, m *ServerMsg) []byte {
	switch m.Op {
	case OpWelcome:
		b = append(b, 0x96, byte(OpWelcome))
		b = AppendString(b, m.Session)
		b = AppendString(b, m.ResumeToken)
		b = AppendString(b, m.User)
		b = AppendInt(b, m.ServerTime)
		return AppendUint(b, uint64(m.ResumeWindow))
	case OpJoined:
		b = append(b, 0x9d, byte(OpJoined))
		b = AppendUint(b, uint64(m.Req))
		b = AppendString(b, m.Match)
		b = AppendString(b, m.Game)
		b = AppendUint(b, uint64(m.PID))
		b = AppendUint(b, uint64(m.Epoch))
		b = AppendUint(b, uint64(m.Tick))
		b = AppendUint(b, uint64(m.TickRate))
		if len(m.State) == 0 {
			b = append(b, 0x80)
		} else {
			b = append(b, m.State...)
		}
		b = AppendRaw(b, m.Private)
		if len(m.Members) == 0 {
			b = append(b, 0x80)
		} else {
			b = append(b, m.Members...)
		}
		b = AppendRaw(b, m.Schema)
		return AppendUint(b, uint64(m.Ack))
	case OpDelta:
		b = AppendDeltaHead(b, m.Epoch, m.Tick, m.Since)
		b = AppendRaw(b, m.Changes)
		b = AppendRaw(b, m.Events)
		return AppendDeltaTail(b, m.HasAck, m.Ack, m.Private, m.Direct)
	case OpEvent:
		b = append(b, 0x94, byte(OpEvent))
		b = AppendUint(b, uint64(m.Kind))
		b = AppendUint(b, uint64(m.From))
		return AppendRaw(b, m.Data)
	case OpPong:
		b = append(b, 0x93, byte(OpPong))
		b = AppendRaw(b, m.T)
		return AppendInt(b, m.ServerTime)
	case OpError:
		b = append(b, 0x95, byte(OpError))
		b = AppendUint(b, uint64(m.Code))
		b = AppendString(b, m.Message)
		b = AppendUint(b, uint64(m.RefOp))
		return AppendUint(b, uint64(m.RefID))
	case OpEnd:
		b = append(b, 0x95, byte(OpEnd))
		b = AppendUint(b, uint64(m.Epoch))
		b = AppendUint(b, uint64(m.Tick))
		b = AppendUint(b, uint64(m.Reason))
		return AppendRaw(b, m.Result)
	case OpLeft:
		b = append(b, 0x92, byte(OpLeft))
		return AppendUint(b, uint64(m.Req))
	case OpResumed:
		b = append(b, 0x94, byte(OpResumed))
		b = AppendUint(b, uint64(m.Req))
		b = AppendString(b, m.Session)
		return AppendString(b, m.ResumeToken)
	case OpCatchup:
		b = append(b, 0x94, byte(OpCatchup))
		b = AppendUint(b, uint64(m.Req))
		b = AppendUint(b, uint64(m.Epoch))
		return AppendUint(b, uint64(m.Tick))
	case OpRelay:
		b = append(b, 0x96, byte(OpRelay))
		b = AppendString(b, m.Match)
		b = AppendUint(b, uint64(m.Epoch))
		b = AppendUint(b, uint64(m.Tick))
		b = AppendBytes(b, m.Frame)
		return AppendRaw(b, m.Tails)
	}
	panic("protocol: AppendServer of a non-server op")
}

// ErrorFrame returns an encoded ERROR message. msg is made valid UTF-8 and cut to
// MaxMessageLen bytes on a rune boundary, so that the frame always decodes.
func ErrorFrame(code ErrorCode, msg string, refOp Op, refID uint32) []byte {
	msg = OneLine(strings.ToValidUTF8(msg, "\uFFFD"))
	if len(msg) > MaxMessageLen {
		cut := MaxMessageLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return AppendServer(nil, &ServerMsg{Op: OpError, Code: code, Message: msg, RefOp: refOp, RefID: refID})
}

// OneLine makes an error text one line: each line break (of errors.Join's, say) becomes ": ".
func OneLine(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	lines := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' })
	return strings.Join(lines, ": ")
}

// DecodeServer decodes one server → client frame (or a RELAY envelope) into m. Clients must treat
// server bytes as untrusted too, so it applies the same limits as DecodeClient.
func DecodeServer(b []byte, m *ServerMsg) error {
	r := NewReader(b)
	n, err := r.ArrayLen()
	if err != nil {
		return err
	}
	if n < 1 {
		return r.fail(ErrMalformed, "empty message")
	}
	op, err := r.Uint()
	if err != nil {
		return err
	}
	if op > 0xff { // Op is a byte: 290 must not alias 34
		return r.fail(ErrUnknownOp, "op")
	}
	*m = ServerMsg{Op: Op(op)}
	var want int
	switch m.Op {
	case OpWelcome, OpRelay:
		want = 6
	case OpJoined:
		want = 12 // a 13th element, ack, is read when present
	case OpDelta:
		want = 9
	case OpEvent, OpResumed, OpCatchup:
		want = 4
	case OpPong:
		want = 3
	case OpError, OpEnd:
		want = 5
	case OpLeft:
		want = 2
	default:
		return r.fail(ErrUnknownOp, "op")
	}
	if n < want {
		return r.fail(ErrMalformed, "too few elements")
	}
	u32 := func(p *uint32) {
		if err == nil {
			*p, err = r.Uint32()
		}
	}
	// narrow reads a uint32 into a field whose Go type is narrower (codes, kinds, reasons):
	// out-of-range values are refused rather than silently truncated.
	narrow := func(p *uint32, max uint32) {
		u32(p)
		if err == nil && *p > max {
			err = r.fail(ErrInvalid, "value out of range")
		}
	}
	str := func(p *string, max int) {
		if err == nil {
			*p, err = r.String(max)
		}
	}
	raw := func(p *[]byte) {
		if err == nil {
			*p, err = r.Raw(2)
			if err == nil && len(*p) == 1 && (*p)[0] == 0xc0 {
				*p = nil
			}
		}
	}
	// rawMap is raw for a field that must be a map and is never nil (JOINED state and members):
	// AppendServer writes an empty map for them, so a nil would not survive a round trip.
	rawMap := func(p *[]byte) {
		if err != nil {
			return
		}
		var c byte
		if c, err = r.Peek(); err == nil && c&0xf0 != 0x80 && c != 0xde && c != 0xdf {
			err = r.fail(ErrType, "map")
		}
		raw(p)
	}
	switch m.Op {
	case OpWelcome:
		str(&m.Session, MaxIDLen)
		str(&m.ResumeToken, MaxNameLen)
		str(&m.User, MaxIDLen)
		if err == nil {
			m.ServerTime, err = r.Int()
		}
		u32(&m.ResumeWindow)
	case OpJoined:
		u32(&m.Req)
		str(&m.Match, MaxIDLen)
		str(&m.Game, MaxIDLen)
		u32(&m.PID)
		u32(&m.Epoch)
		u32(&m.Tick)
		u32(&m.TickRate)
		rawMap(&m.State)
		raw(&m.Private)
		rawMap(&m.Members)
		raw(&m.Schema)
		if n > 12 {
			u32(&m.Ack)
			want = 13
		}
	case OpDelta:
		u32(&m.Epoch)
		u32(&m.Tick)
		u32(&m.Since)
		raw(&m.Changes)
		raw(&m.Events)
		if err == nil && !r.TryNil() {
			m.HasAck = true
			u32(&m.Ack)
		}
		raw(&m.Private)
		raw(&m.Direct)
	case OpEvent:
		var k uint32
		narrow(&k, math.MaxUint8)
		m.Kind = EventKind(k)
		u32(&m.From)
		raw(&m.Data)
	case OpPong:
		if err == nil {
			start := r.Offset()
			if _, err = r.Float(); err == nil {
				m.T = b[start:r.Offset()]
			}
		}
		if err == nil {
			m.ServerTime, err = r.Int()
		}
	case OpError:
		var c, ref uint32
		narrow(&c, math.MaxUint16)
		m.Code = ErrorCode(c)
		str(&m.Message, MaxMessageLen)
		narrow(&ref, math.MaxUint8)
		m.RefOp = Op(ref)
		u32(&m.RefID)
	case OpEnd:
		var reason uint32
		u32(&m.Epoch)
		u32(&m.Tick)
		narrow(&reason, math.MaxUint8)
		m.Reason = EndReason(reason)
		raw(&m.Result)
	case OpLeft:
		u32(&m.Req)
	case OpResumed:
		u32(&m.Req)
		str(&m.Session, MaxIDLen)
		str(&m.ResumeToken, MaxNameLen)
	case OpCatchup:
		u32(&m.Req)
		u32(&m.Epoch)
		u32(&m.Tick)
	case OpRelay:
		str(&m.Match, MaxIDLen)
		u32(&m.Epoch)
		u32(&m.Tick)
		if err == nil {
			m.Frame, err = r.BinBytes()
		}
		raw(&m.Tails)
	}
	if err != nil {
		return err
	}
	for i := want; i < n; i++ {
		if err := r.Skip(2); err != nil {
			return err
		}
	}
	return r.End()
}
