package server

import (
	"fmt"
	"strconv"

	"github.com/tickrelay/tickrelay/protocol"
)

func decodeSchema(b []byte) []string {
	var names []string
	if len(b) > 0 {
		_ = protocol.Unmarshal(b, &names)
	}
	return names
}

// plain converts msgpack to everyday JSON: maps become objects with string keys, float32/64
// plain numbers, bin a hex string.
func plain(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	v, err := protocol.MsgpackToJSON(b)
	if err != nil {
		return nil
	}
	return plainValue(v)
}

func plainValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch k {
				case "f32", "f64", "bin":
					return e
				case "map":
					out := map[string]any{}
					pairs, _ := e.([]any)
					for _, p := range pairs {
						kv, _ := p.([]any)
						if len(kv) == 2 {
							out[keyString(kv[0])] = plainValue(kv[1])
						}
					}
					return out
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainValue(e)
		}
		return out
	}
	return v
}

func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(k)
}

// plainEntities turns map{entity: map{key: value}} into {"id": {"name": value}} using the schema.
func plainEntities(b []byte, schema []string) any {
	if len(b) == 0 {
		return map[string]any{}
	}
	v, err := protocol.MsgpackToJSON(b)
	if err != nil {
		return nil
	}
	return plainEntitiesValue(v, schema)
}

func plainEntitiesValue(v any, schema []string) any {
	ents, ok := plainValue(v).(map[string]any)
	if !ok {
		return nil
	}
	for id, fields := range ents {
		fm, ok := fields.(map[string]any)
		if !ok {
			continue
		}
		named := make(map[string]any, len(fm))
		for k, val := range fm {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < len(schema) {
				k = schema[i]
			}
			named[k] = val
		}
		ents[id] = named
	}
	return ents
}

// sseEnd is the one shape of an "end" event: reason from the END table (0 when only this stream
// ended, not the match), its name, the game's result as JSON (null when none), and a message.
func sseEnd(reason protocol.EndReason, result []byte, message string) map[string]any {
	name := ""
	if reason != 0 {
		name = reason.String()
	}
	return map[string]any{"reason": int(reason), "reason_name": name, "result": plain(result), "message": message}
}
