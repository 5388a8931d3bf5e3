package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json and testdata/codes.json")

// goldenFile is the format of testdata/golden.json, read by the JS SDK's tests too.
type goldenFile struct {
	Comment string              `json:"comment"`
	Layouts map[string][]string `json:"layouts"` // op name → element names after the op
	Vectors []goldenVector      `json:"vectors"`
}

type goldenVector struct {
	Name    string         `json:"name"`
	Dir     string         `json:"dir"` // "c2s" or "s2c"
	Meaning map[string]any `json:"meaning"`
	Hex     string         `json:"hex"`
}

var layouts = map[Op][]string{
	OpHello:   {"req", "token", "client"},
	OpJoin:    {"req", "match", "ticket", "meta"},
	OpLeave:   {"req"},
	OpInput:   {"seq", "seen", "payload"},
	OpMessage: {"to", "echo", "payload"},
	OpPing:    {"t"},
	OpResume:  {"req", "session", "resume_token", "epoch", "tick"},
	OpSync:    {"req", "epoch", "tick"},
	OpWelcome: {"session", "resume_token", "user", "server_time", "resume_window"},
	OpJoined:  {"req", "match", "game", "pid", "epoch", "tick", "tick_rate", "state", "private", "members", "schema", "ack"},
	OpDelta:   {"epoch", "tick", "since", "changes", "events", "ack", "private", "direct"},
	OpEvent:   {"kind", "from", "data"},
	OpPong:    {"t", "server_time"},
	OpError:   {"code", "message", "ref_op", "ref_id"},
	OpEnd:     {"epoch", "tick", "reason", "result"},
	OpLeft:    {"req"},
	OpResumed: {"req", "session", "resume_token"},
	OpCatchup: {"req", "epoch", "tick"},
	OpRelay:   {"match", "epoch", "tick", "frame", "tails"},
}

func mp(t testing.TB, j string) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(j), &v); err != nil {
		t.Fatal(err)
	}
	b, err := JSONToMsgpack(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type clientCase struct {
	name string
	m    ClientMsg
}

type serverCase struct {
	name string
	m    ServerMsg
}

func goldenCases(t testing.TB) ([]clientCase, []serverCase) {
	deltaShared := AppendDeltaHead(nil, 1, 11, 1)
	deltaShared = append(deltaShared, mp(t, `[null, {"map": [[1, {"map": [[0, {"f32": 12.5}], [1, {"f32": 40}]]}]]}, null]`)...)
	deltaShared = append(deltaShared, 0xc0)
	c := []clientCase{
		{"hello", ClientMsg{Op: OpHello, Req: 1, Token: "eyJhbGciOiJIUzI1NiJ9.e30.x", Client: "tickrelay-js/0.1.0"}},
		{"hello-no-token", ClientMsg{Op: OpHello, Req: 2, Client: "go"}},
		{"join-by-id", ClientMsg{Op: OpJoin, Req: 1, Match: "m1"}},
		{"join-by-ticket", ClientMsg{Op: OpJoin, Req: 2, Ticket: "tkt", Meta: mp(t, `{"name": "ann", "skill": 1500}`)}},
		{"leave", ClientMsg{Op: OpLeave, Req: 3}},
		{"input-arena", ClientMsg{Op: OpInput, Seq: 1, Seen: 10, Payload: mp(t, `[1, 0]`)}},
		{"input-float", ClientMsg{Op: OpInput, Seq: 300, Seen: 70000, Payload: mp(t, `[0.5, -0.25]`)}},
		{"message-all", ClientMsg{Op: OpMessage, ToAll: true, Payload: mp(t, `"hello"`)}},
		{"message-some-echo", ClientMsg{Op: OpMessage, To: []uint32{2, 3}, Echo: true, Payload: mp(t, `{"text": "hi"}`)}},
		{"ping-int", ClientMsg{Op: OpPing, T: mp(t, `1700000000000`)}},
		{"ping-float", ClientMsg{Op: OpPing, T: mp(t, `1234.5`)}},
		{"resume", ClientMsg{Op: OpResume, Req: 4, Session: "s-1", ResumeToken: "r-1", Epoch: 1, Tick: 200}},
		{"sync", ClientMsg{Op: OpSync, Req: 5, Epoch: 2, Tick: 1000}},
	}
	s := []serverCase{
		{"welcome", ServerMsg{Op: OpWelcome, Session: "s-1", ResumeToken: "r-1", User: "guest-7", ServerTime: 1700000000000, ResumeWindow: 30000}},
		{"joined", ServerMsg{Op: OpJoined, Req: 1, Match: "m1", Game: "arena", PID: 2, Epoch: 1, Tick: 10, TickRate: 20,
			State:   mp(t, `{"map": [[1, {"map": [[0, {"f32": 10}], [1, {"f32": 20}]]}], [2, {"map": [[0, {"f32": 500}], [1, {"f32": 500}]]}]]}`),
			Members: mp(t, `{"map": [[1, ["u1", "ann", true]], [2, ["u2", "bob", true]]]}`),
			Schema:  mp(t, `["x", "y"]`)}},
		{"joined-private", ServerMsg{Op: OpJoined, Req: 0, Match: "c9", Game: "duel", PID: 1, Epoch: 3, Tick: 0, TickRate: 10,
			State:   mp(t, `{"map": [[1, {"map": [[0, 0], [1, "waiting"]]}]]}`),
			Private: mp(t, `{"map": [[100, {"map": [[0, ["rock", "paper"]]]}]]}`),
			Members: mp(t, `{"map": [[1, ["u1", "ann", true]]]}`), Ack: 7}},
		{"delta-arena", ServerMsg{Op: OpDelta, Epoch: 1, Tick: 11, Since: 1,
			Changes: mp(t, `[null, {"map": [[1, {"map": [[0, {"f32": 12.5}], [1, {"f32": 40}]]}]]}, null]`), HasAck: true, Ack: 1}},
		{"delta-full", ServerMsg{Op: OpDelta, Epoch: 1, Tick: 300, Since: 5,
			Changes: mp(t, `[{"map": [[3, {"map": [[0, 1]]}]]}, {"map": [[1, {"map": [[2, "ok"]]}]]}, [2]]`),
			Events:  mp(t, `[[1, 3, ["u3", "cy"]], [2, 2, 1], [5, 0, ["goal", {"team": 1}]]]`),
			Private: mp(t, `{"map": [[100, {"map": [[0, ["rock"]]]}]]}`),
			Direct:  mp(t, `[[4, 1, "psst"]]`)}},
		{"delta-empty", ServerMsg{Op: OpDelta, Epoch: 1, Tick: 12, Since: 1}},
		// Entity 4 removed and spawned again in one tick (it is in removed and added: apply
		// removed first); entity 9 changed hands, so its old owner drops its private fields.
		{"delta-respawn", ServerMsg{Op: OpDelta, Epoch: 1, Tick: 13, Since: 1,
			Changes: mp(t, `[{"map": [[4, {"map": [[1, 2]]}]]}, null, [4]]`),
			Private: mp(t, `{"map": [[9, null]]}`)}},
		{"event-notice", ServerMsg{Op: OpEvent, Kind: EventNotice, From: 0, Data: mp(t, `[4000, "draining"]`)}},
		{"pong", ServerMsg{Op: OpPong, T: mp(t, `1234.5`), ServerTime: 1700000000123}},
		{"error", ServerMsg{Op: OpError, Code: ErrCodeMatchFull, Message: "match is full", RefOp: OpJoin, RefID: 1}},
		{"end", ServerMsg{Op: OpEnd, Epoch: 3, Tick: 90, Reason: EndFinished, Result: mp(t, `{"winner": 1}`)}},
		{"left", ServerMsg{Op: OpLeft, Req: 3}},
		{"resumed", ServerMsg{Op: OpResumed, Req: 4, Session: "s-1", ResumeToken: "r-2"}},
		{"catchup", ServerMsg{Op: OpCatchup, Req: 4, Epoch: 1, Tick: 200}},
		{"relay", ServerMsg{Op: OpRelay, Match: "m1", Epoch: 1, Tick: 11, Frame: deltaShared,
			Tails: mp(t, `{"map": [[2, {"bin": "01c0c0"}]]}`)}},
	}
	return c, s
}

func opName(op Op) string {
	for _, e := range Codes().Ops {
		if e.Value == int(op) {
			return e.Name
		}
	}
	return "?"
}

// meaningOf turns an encoded message into {"op": NAME, field: value...} by the layouts.
func meaningOf(t testing.TB, b []byte) map[string]any {
	t.Helper()
	v, err := MsgpackToJSON(b)
	if err != nil {
		t.Fatalf("MsgpackToJSON: %v", err)
	}
	arr := v.([]any)
	op := Op(arr[0].(float64))
	m := map[string]any{"op": opName(op)}
	for i, name := range layouts[op] {
		m[name] = arr[i+1]
	}
	return m
}

// bytesOf is meaningOf's inverse, through the JSON conventions.
func bytesOf(t testing.TB, m map[string]any) []byte {
	t.Helper()
	var op Op
	for _, e := range Codes().Ops {
		if e.Name == m["op"] {
			op = Op(e.Value)
		}
	}
	arr := []any{float64(op)}
	for _, name := range layouts[op] {
		arr = append(arr, m[name])
	}
	b, err := JSONToMsgpack(nil, arr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func buildGolden(t testing.TB) goldenFile {
	cs, ss := goldenCases(t)
	g := goldenFile{
		Comment: "tickrelay wire vectors: meaning <-> hex. Generated by `go test ./protocol -run TestGolden -update`; " +
			"value conventions in protocol/jsonvalue.go; layouts name the elements after the op.",
		Layouts: map[string][]string{},
	}
	for op, l := range layouts {
		g.Layouts[opName(op)] = l
	}
	for _, c := range cs {
		b := AppendClient(nil, &c.m)
		g.Vectors = append(g.Vectors, goldenVector{c.name, "c2s", meaningOf(t, b), hex.EncodeToString(b)})
	}
	for _, s := range ss {
		b := AppendServer(nil, &s.m)
		g.Vectors = append(g.Vectors, goldenVector{s.name, "s2c", meaningOf(t, b), hex.EncodeToString(b)})
	}
	return g
}

func TestGolden(t *testing.T) {
	want := buildGolden(t)
	path := "testdata/golden.json"
	if *update {
		out, _ := json.MarshalIndent(want, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./protocol -run TestGolden -update)", err)
	}
	var got goldenFile
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Vectors) != len(want.Vectors) {
		t.Fatalf("golden.json has %d vectors, code builds %d: run with -update", len(got.Vectors), len(want.Vectors))
	}
	cs, ss := goldenCases(t)
	seen := map[string]bool{}
	for i, v := range got.Vectors {
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if v.Hex != want.Vectors[i].Hex {
			t.Errorf("%s: file hex %s, encoder gives %s", v.Name, v.Hex, want.Vectors[i].Hex)
		}
		// meaning → bytes and bytes → meaning through the JSON conventions.
		if enc := bytesOf(t, v.Meaning); !bytes.Equal(enc, b) {
			t.Errorf("%s: meaning encodes to %x, want %x", v.Name, enc, b)
		}
		if m := meaningOf(t, b); !reflect.DeepEqual(m, v.Meaning) {
			t.Errorf("%s: bytes mean %v, file says %v", v.Name, m, v.Meaning)
		}
		// bytes → typed message → bytes.
		seen[v.Meaning["op"].(string)] = true
		if v.Dir == "c2s" {
			var m ClientMsg
			if err := DecodeClient(b, &m); err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			exp := cs[i].m
			if exp.To == nil && m.To != nil && len(m.To) == 0 {
				m.To = nil
			}
			if exp.Op == OpMessage && len(exp.To) == 0 {
				exp.ToAll = true
			}
			if !reflect.DeepEqual(m, exp) {
				t.Errorf("%s: decoded %+v, want %+v", v.Name, m, exp)
			}
			if re := AppendClient(nil, &m); !bytes.Equal(re, b) {
				t.Errorf("%s: re-encoded %x, want %x", v.Name, re, b)
			}
		} else {
			var m ServerMsg
			if err := DecodeServer(b, &m); err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			exp := ss[i-len(cs)].m
			if !reflect.DeepEqual(m, exp) {
				t.Errorf("%s: decoded %+v, want %+v", v.Name, m, exp)
			}
			if re := AppendServer(nil, &m); !bytes.Equal(re, b) {
				t.Errorf("%s: re-encoded %x, want %x", v.Name, re, b)
			}
		}
	}
	for op := range layouts {
		if !seen[opName(op)] {
			t.Errorf("no golden vector for %s", opName(op))
		}
	}
}

func TestCodesJSON(t *testing.T) {
	want, _ := json.MarshalIndent(Codes(), "", "  ")
	want = append(want, '\n')
	path := "testdata/codes.json"
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("testdata/codes.json is stale: run go test ./protocol -run TestCodesJSON -update")
	}
}

// The delta split: shared head + tail must be exactly AppendServer's DELTA.
func TestDeltaSplit(t *testing.T) {
	_, ss := goldenCases(t)
	for _, s := range ss {
		if s.m.Op != OpDelta {
			continue
		}
		shared := AppendDeltaHead(nil, s.m.Epoch, s.m.Tick, s.m.Since)
		shared = AppendRaw(shared, s.m.Changes)
		shared = AppendRaw(shared, s.m.Events)
		frame := AppendDeltaTail(shared, s.m.HasAck, s.m.Ack, s.m.Private, s.m.Direct)
		if !bytes.Equal(frame, AppendServer(nil, &s.m)) {
			t.Errorf("%s: split encoding differs", s.name)
		}
	}
	if got := AppendDeltaTail(nil, false, 0, nil, nil); !bytes.Equal(got, NilTail) {
		t.Errorf("nil tail = %x", got)
	}
}
