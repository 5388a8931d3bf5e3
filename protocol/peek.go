package protocol

// PeekRef reads what an ERROR about a client frame that failed to decode should name: the op
// (the first element, if the frame is a msgpack array starting with a small uint) and the
// request id (the second element when it is a uint: req for most ops, seq for INPUT). Anything
// it cannot read is 0: a str frame "hello" is refOp 0, not the byte 'h'. It reads at most
// three values and allocates nothing but the reader's own error on a bad frame.
func PeekRef(frame []byte) (Op, uint32) {
	r := NewReader(frame)
	n, err := r.ArrayLen()
	if err != nil && len(frame) >= 2 && frame[0] > 0x90 && frame[0] <= 0x9f && frame[1] < 0x80 {
		return Op(frame[1]), 0 // a truncated fixarray: its op is still readable
	}
	if err != nil || n < 1 {
		return 0, 0
	}
	op, err := r.Uint()
	if err != nil || op > 0xff {
		return 0, 0
	}
	if n < 2 || !refersByReq(Op(op)) {
		return Op(op), 0
	}
	ref, err := r.Uint32()
	if err != nil {
		return Op(op), 0
	}
	return Op(op), ref
}

// refersByReq reports whether op's second element is its req (or, for INPUT, its seq).
func refersByReq(op Op) bool {
	switch op {
	case OpHello, OpJoin, OpLeave, OpInput, OpResume, OpSync:
		return true
	}
	return false
}
