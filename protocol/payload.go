package protocol

// The payload depth budget.
//
// A game payload (a MESSAGE or INPUT payload, an event published through the HTTP API, match
// params, a game event's payload, a field value) travels inside frames at different depths, and
// every frame is decoded with the MaxDepth limit. A payload that fits where the client sent it
// can still be too deep where the server puts it: a MESSAGE payload at level 2 of the client's
// frame sits at level 4 of the recipients' DELTA (frame → direct → event → data), and every
// recipient would refuse that DELTA, losing the tick's state changes with it.
//
// So the server accepts a payload only if it would decode at the deepest place a payload can
// sit in any frame the server sends, whatever the game does with it. These levels are the
// single source of that rule; PayloadDepth is what it leaves a payload.
const (
	// LevelClientPayload is where INPUT and MESSAGE payloads and JOIN meta sit in a client
	// frame: [op, …, payload].
	LevelClientPayload = 2
	// LevelEventData is where an event's data sits in a DELTA:
	// [34, …, events|direct = [[kind, from, data], …], …]. MESSAGE payloads (EventMessage) and
	// published events (EventServer) are event data.
	LevelEventData = 4
	// LevelDeepest is the deepest level a payload sits at in any server frame: a GAME event's
	// payload inside its data [name, payload], and a field value in a DELTA's changes
	// [34, …, [added|updated = {entity: {key: value}}, …]].
	LevelDeepest = 5
	// PayloadDepth is the payload depth budget: the levels a payload may span, counting the
	// payload itself as one and each scalar as one (so 7 is depth 1, [7] depth 2, [] depth 1).
	PayloadDepth = MaxDepth - LevelDeepest + 1
)

// CheckPayload validates b as one payload within the payload depth budget (see PayloadDepth).
// Errors wrap ErrTooDeep when it nests too deeply, and the codec's other sentinels when b is not
// a valid msgpack value at all.
func CheckPayload(b []byte) error { return CheckAt(b, LevelDeepest) }

// CheckAt validates b as one msgpack value placed at level of a frame (1 for the frame itself):
// nothing in it may sit deeper than MaxDepth.
func CheckAt(b []byte, level int) error {
	r := NewReader(b)
	if err := r.skip(level); err != nil {
		return err
	}
	return r.End()
}
