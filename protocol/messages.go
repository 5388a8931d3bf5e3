package protocol

// Limits on the strings of protocol messages (bytes). Longer ones are refused with ErrInvalid.
const (
	MaxTokenLen   = 4096 // session tokens and tickets; the server also refuses longer ones before parsing
	MaxIDLen      = 64   // match ids, session ids, user ids, game names
	MaxNameLen    = 128  // client names, resume tokens
	MaxMessageLen = 1024 // error texts
	MaxRecipients = 64   // players a MESSAGE may name
)

// ClientMsg is any client → server message; Op says which fields are set.
//
// Byte-slice fields (Meta, Payload, T) alias the decoded frame: copy them before the frame's
// buffer is reused. To reuses its backing array across decodes, so decoding an INPUT, MESSAGE or
// PING into a reused ClientMsg does not allocate.
type ClientMsg struct {
	Op  Op
	Req uint32 // request id chosen by the client, echoed in replies and errors (HELLO, JOIN, LEAVE, RESUME, SYNC)

	Token  string // HELLO: a fresh session token, or "" to only ask for a WELCOME
	Client string // HELLO: the client's name and version, for logs

	Match  string // JOIN: the match id ("" when Ticket names it)
	Ticket string // JOIN: a seat-reservation join token from the HTTP API
	Meta   []byte // JOIN: msgpack value passed to the game's admission (nil when absent)

	Seq     uint32 // INPUT: the client's input sequence number, increasing from 1
	Seen    uint32 // INPUT: the last tick the client had applied when it sent the input
	Payload []byte // INPUT, MESSAGE: the game-defined msgpack value

	To    []uint32 // MESSAGE: recipient pids; empty means everyone
	ToAll bool     // MESSAGE: To was nil (everyone)
	Echo  bool     // MESSAGE: deliver to the sender too

	T []byte // PING: the client's clock reading (any msgpack number), echoed in PONG

	Session     string // RESUME: the session id from WELCOME
	ResumeToken string // RESUME: the resume token from WELCOME or RESUMED
	Epoch       uint32 // RESUME, SYNC: the epoch of the client's state
	Tick        uint32 // RESUME, SYNC: the last tick the client applied
}

// ServerMsg is any server → client message (and the server ↔ server RELAY); Op says which fields
// are set. Byte-slice fields alias the decoded frame.
type ServerMsg struct {
	Op  Op
	Req uint32 // JOINED, LEFT, RESUMED, CATCHUP: the request answered (0 when unsolicited)

	Session      string // WELCOME, RESUMED
	ResumeToken  string // WELCOME, RESUMED
	User         string // WELCOME: the authenticated user id
	ServerTime   int64  // WELCOME, PONG: server clock, Unix milliseconds
	ResumeWindow uint32 // WELCOME: how long (ms) a dropped session can be resumed

	Match    string // JOINED, RELAY
	Game     string // JOINED
	PID      uint32 // JOINED: your player id in the match
	Epoch    uint32 // JOINED, DELTA, END, CATCHUP, RELAY
	Tick     uint32 // JOINED, DELTA, END, CATCHUP, RELAY
	TickRate uint32 // JOINED: ticks per second
	State    []byte // JOINED: snapshot, map{entity: map{key: value}}
	Private  []byte // JOINED, DELTA: your private fields, map{entity: map{key: value}} or nil
	Members  []byte // JOINED: map{pid: [user, name, connected]}
	Schema   []byte // JOINED: [field names] indexed by key, or nil

	Since   uint32 // DELTA: tick - Since is the tick of the previous delta (the base it applies to)
	Changes []byte // DELTA: [added, updated, removed] or nil
	Events  []byte // DELTA: [[kind, from, data], ...] or nil
	HasAck  bool   // DELTA: Ack is present
	Ack     uint32 // DELTA (when HasAck) and JOINED: the last input seq of yours that the match applied
	Direct  []byte // DELTA: events for you only, or nil

	Kind EventKind // EVENT
	From uint32    // EVENT
	Data []byte    // EVENT

	T []byte // PONG: the client's PING value, verbatim

	Code    ErrorCode // ERROR
	Message string    // ERROR
	RefOp   Op        // ERROR: the op of the message that caused it (0 if unknown)
	RefID   uint32    // ERROR: its request id or input seq (0 if none)

	Reason EndReason // END
	Result []byte    // END: msgpack value the game ended with

	Frame []byte // RELAY: the shared part of an encoded DELTA (or any whole server frame)
	Tails []byte // RELAY: map{pid: bin} per-player tails, or nil
}
