package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/tickrelay/tickrelay/protocol"
)

// jsonToMsgpack turns an untrusted JSON value (create params, published data) into msgpack for
// a game, keeping integers integers: a JSON 3 becomes the msgpack integer 3 (so a game decoding
// into an int field works, and a client reading the socket sees 3, as SSE shows it), 3.5 stays a
// float64. Nesting is capped so the result stays decodable under protocol.MaxDepth. Errors wrap
// errBadRequest.
func jsonToMsgpack(raw []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", errBadRequest, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: invalid JSON: more than one value", errBadRequest)
	}
	v, err := integersStay(v, 1)
	if err != nil {
		return nil, err
	}
	b, err := protocol.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return b, nil
}

// maxJSONDepth leaves room for the frame around a payload (protocol.MaxDepth counts the message
// array and the event array it travels in).
const maxJSONDepth = protocol.MaxDepth - 3

func integersStay(v any, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("%w: JSON nests deeper than %d levels", errBadRequest, maxJSONDepth)
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: number %s out of range", errBadRequest, s)
		}
		return f, nil
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = integersStay(e, depth+1); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range x {
			var err error
			if x[k], err = integersStay(e, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}
