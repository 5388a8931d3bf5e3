package protocol

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
)

// The golden vectors describe msgpack values in JSON with a few conventions, so that the Go and
// JS suites can both turn a "meaning" into bytes and back without ambiguity:
//
//	null, true, false, "text"        nil, bool, str
//	integral number (e.g. 3, -7)     the smallest msgpack int
//	non-integral number (e.g. 0.5)   float64
//	{"f32": 12.5} / {"f64": 2}       float32 / float64 explicitly
//	{"bin": "00ff"}                  bin
//	[a, b]                           array
//	{"map": [[k, v], ...]}           map with any keys, in that order
//	any other object {"k": v}        map with str keys, sorted by key
//
// JSONToMsgpack and MsgpackToJSON implement them; they are test and tooling helpers, not for hot
// paths.

// JSONToMsgpack appends the msgpack encoding of a JSON value decoded by encoding/json (numbers
// as float64) following the conventions above.
func JSONToMsgpack(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return AppendNil(b), nil
	case bool:
		return AppendBool(b, x), nil
	case string:
		return AppendString(b, x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return AppendInt(b, int64(x)), nil
		}
		return AppendFloat64(b, x), nil
	case []any:
		b = AppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = JSONToMsgpack(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch k {
				case "f32":
					f, ok := e.(float64)
					if !ok {
						return nil, fmt.Errorf("f32 wants a number")
					}
					return AppendFloat32(b, float32(f)), nil
				case "f64":
					f, ok := e.(float64)
					if !ok {
						return nil, fmt.Errorf("f64 wants a number")
					}
					return AppendFloat64(b, f), nil
				case "bin":
					s, ok := e.(string)
					if !ok {
						return nil, fmt.Errorf("bin wants a hex string")
					}
					p, err := hex.DecodeString(s)
					if err != nil {
						return nil, err
					}
					return AppendBytes(b, p), nil
				case "map":
					pairs, ok := e.([]any)
					if !ok {
						return nil, fmt.Errorf("map wants [[k, v], ...]")
					}
					b = AppendMapHeader(b, len(pairs))
					for _, p := range pairs {
						kv, ok := p.([]any)
						if !ok || len(kv) != 2 {
							return nil, fmt.Errorf("map pair wants [k, v]")
						}
						var err error
						if b, err = JSONToMsgpack(b, kv[0]); err != nil {
							return nil, err
						}
						if b, err = JSONToMsgpack(b, kv[1]); err != nil {
							return nil, err
						}
					}
					return b, nil
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = AppendMapHeader(b, len(keys))
		for _, k := range keys {
			b = AppendString(b, k)
			var err error
			if b, err = JSONToMsgpack(b, x[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("unsupported JSON value %T", v)
}

// MsgpackToJSON decodes one msgpack value (validated as untrusted) into the JSON conventions
// above. Maps whose keys are all strings become plain objects only when the keys are sorted;
// otherwise (and for non-string keys) they become {"map": [...]} so the bytes round-trip.
func MsgpackToJSON(b []byte) (any, error) {
	if err := Validate(b); err != nil {
		return nil, err
	}
	r := NewReader(b)
	return toJSON(&r)
}

func toJSON(r *Reader) (any, error) {
	c, err := r.Peek()
	if err != nil {
		return nil, err
	}
	switch {
	case c == 0xc0:
		r.off++
		return nil, nil
	case c == 0xc2 || c == 0xc3:
		return r.Bool()
	case c == 0xca:
		f, err := r.Float()
		return map[string]any{"f32": f}, err
	case c == 0xcb:
		f, err := r.Float()
		if err == nil && f == math.Trunc(f) {
			return map[string]any{"f64": f}, nil
		}
		return f, err
	case c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3):
		v, err := r.Int()
		if err != nil {
			u, err2 := r.Uint()
			return float64(u), err2
		}
		return float64(v), nil
	case c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb):
		s, err := r.StrBytes()
		return string(s), err
	case c >= 0xc4 && c <= 0xc6:
		p, err := r.BinBytes()
		return map[string]any{"bin": hex.EncodeToString(p)}, err
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		n, err := r.ArrayLen()
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			e, err := toJSON(r)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		n, err := r.MapLen()
		if err != nil {
			return nil, err
		}
		pairs := make([]any, 0, n)
		obj := map[string]any{}
		plain, last := true, ""
		for i := 0; i < n; i++ {
			k, err := toJSON(r)
			if err != nil {
				return nil, err
			}
			v, err := toJSON(r)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, []any{k, v})
			ks, ok := k.(string)
			if !ok || (i > 0 && ks <= last) || ks == "f32" || ks == "f64" || ks == "bin" || ks == "map" {
				plain = false
			}
			last = ks
			obj[ks] = v
		}
		if plain {
			return obj, nil
		}
		return map[string]any{"map": pairs}, nil
	}
	return nil, fmt.Errorf("unsupported msgpack type 0x%02x", c)
}
