package protocol

// AppendClient appends the encoding of a client → server message.
func AppendClient(b []byte, m *ClientMsg) []byte {
	switch m.Op {
	case OpHello:
		b = append(b, 0x94, byte(OpHello))
		b = AppendUint(b, uint64(m.Req))
		b = appendOptString(b, m.Token)
		return AppendString(b, m.Client)
	case OpJoin:
		b = append(b, 0x95, byte(OpJoin))
		b = AppendUint(b, uint64(m.Req))
		b = AppendString(b, m.Match)
		b = appendOptString(b, m.Ticket)
		return AppendRaw(b, m.Meta)
	case OpLeave:
		b = append(b, 0x92, byte(OpLeave))
		return AppendUint(b, uint64(m.Req))
	case OpInput:
		return AppendInput(b, m.Seq, m.Seen, m.Payload)
	case OpMessage:
		b = append(b, 0x94, byte(OpMessage))
		if m.ToAll || len(m.To) == 0 {
			b = AppendNil(b)
		} else {
			b = AppendArrayHeader(b, len(m.To))
			for _, p := range m.To {
				b = AppendUint(b, uint64(p))
			}
		}
		b = AppendBool(b, m.Echo)
		return AppendRaw(b, m.Payload)
	case OpPing:
		b = append(b, 0x92, byte(OpPing))
		return AppendRaw(b, m.T)
	case OpResume:
		b = append(b, 0x96, byte(OpResume))
		b = AppendUint(b, uint64(m.Req))
		b = AppendString(b, m.Session)
		b = AppendString(b, m.ResumeToken)
		b = AppendUint(b, uint64(m.Epoch))
		return AppendUint(b, uint64(m.Tick))
	case OpSync:
		b = append(b, 0x94, byte(OpSync))
		b = AppendUint(b, uint64(m.Req))
		b = AppendUint(b, uint64(m.Epoch))
		return AppendUint(b, uint64(m.Tick))
	}
	panic("protocol: AppendClient of a non-client op")
}

// AppendInput appends an INPUT message: [4, seq, seen, payload].
func AppendInput(b []byte, seq, seen uint32, payload []byte) []byte {
	b = append(b, 0x94, byte(OpInput))
	b = AppendUint(b, uint64(seq))
	b = AppendUint(b, uint64(seen))
	return AppendRaw(b, payload)
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return AppendNil(b)
	}
	return AppendString(b, s)
}

// DecodeClient decodes one client → server frame into m, reusing m's storage. It refuses
// anything that is not exactly one valid message (see Reader for the checks) and never
// allocates more than the strings it returns. Elements after the ones this version knows are
// validated and ignored, so newer clients can add fields.
func DecodeClient(b []byte, m *ClientMsg) error {
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
	if op > 0xff { // Op is a byte: 260 must not alias 4
		return r.fail(ErrUnknownOp, "op")
	}
	to := m.To[:0]
	*m = ClientMsg{Op: Op(op), To: to} // keep To's backing array whatever the op, for the next MESSAGE
	var want int
	switch m.Op {
	case OpHello:
		want = 4
	case OpJoin:
		want = 5
	case OpLeave, OpPing:
		want = 2
	case OpInput, OpMessage, OpSync:
		want = 4
	case OpResume:
		want = 6
	default:
		return r.fail(ErrUnknownOp, "op")
	}
	if n < want {
		return r.fail(ErrMalformed, "too few elements")
	}
	switch m.Op {
	case OpHello:
		if m.Req, err = r.Uint32(); err != nil {
			return err
		}
		if m.Token, err = r.OptString(MaxTokenLen); err != nil {
			return err
		}
		if m.Client, err = r.OptString(MaxNameLen); err != nil {
			return err
		}
	case OpJoin:
		if m.Req, err = r.Uint32(); err != nil {
			return err
		}
		if m.Match, err = r.OptString(MaxIDLen); err != nil {
			return err
		}
		if m.Ticket, err = r.OptString(MaxTokenLen); err != nil {
			return err
		}
		if m.Meta, err = r.Raw(2); err != nil {
			return err
		}
		if len(m.Meta) == 1 && m.Meta[0] == 0xc0 {
			m.Meta = nil
		}
	case OpLeave:
		if m.Req, err = r.Uint32(); err != nil {
			return err
		}
	case OpInput:
		if m.Seq, err = r.Uint32(); err != nil {
			return err
		}
		if m.Seen, err = r.Uint32(); err != nil {
			return err
		}
		if m.Payload, err = r.Raw(2); err != nil {
			return err
		}
	case OpMessage:
		if r.TryNil() {
			m.ToAll = true
		} else {
			k, err := r.ArrayLen()
			if err != nil {
				return err
			}
			if k > MaxRecipients {
				return r.fail(ErrInvalid, "too many recipients")
			}
			for i := 0; i < k; i++ {
				p, err := r.Uint32()
				if err != nil {
					return err
				}
				to = append(to, p)
			}
			m.ToAll = k == 0
		}
		m.To = to
		if m.Echo, err = r.Bool(); err != nil {
			return err
		}
		if m.Payload, err = r.Raw(2); err != nil {
			return err
		}
	case OpPing:
		start := r.Offset()
		if _, err = r.Float(); err != nil {
			return err
		}
		m.T = b[start:r.Offset()]
	case OpResume:
		if m.Req, err = r.Uint32(); err != nil {
			return err
		}
		if m.Session, err = r.String(MaxIDLen); err != nil {
			return err
		}
		if m.ResumeToken, err = r.String(MaxNameLen); err != nil {
			return err
		}
		if m.Epoch, err = r.Uint32(); err != nil {
			return err
		}
		if m.Tick, err = r.Uint32(); err != nil {
			return err
		}
	case OpSync:
		if m.Req, err = r.Uint32(); err != nil {
			return err
		}
		if m.Epoch, err = r.Uint32(); err != nil {
			return err
		}
		if m.Tick, err = r.Uint32(); err != nil {
			return err
		}
	}
	for i := want; i < n; i++ { // newer fields: validate, ignore
		if err := r.Skip(2); err != nil {
			return err
		}
	}
	return r.End()
}
