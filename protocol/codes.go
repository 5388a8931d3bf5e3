package protocol

// This file is the one table of codes: op codes, error codes, close codes, event kinds, leave
// and end reasons. The JS SDK's copy (client-js/src/codes.ts) is checked against
// testdata/codes.json, which TestCodesJSON regenerates from these tables (go test -update).

// Subprotocol is the WebSocket subprotocol a client must offer.
const Subprotocol = "tickrelay.v1"

// Op is the first element of every message.
type Op uint8

// Client → server ops (1–31).
const (
	OpHello   Op = 1 // [1, req, token|nil, client]           refresh the session token; answered by WELCOME
	OpJoin    Op = 2 // [2, req, match, ticket|nil, meta]      join by match id or seat-reservation ticket
	OpLeave   Op = 3 // [3, req]                               leave the current match; answered by LEFT
	OpInput   Op = 4 // [4, seq, seen, payload]                game input; acked in DELTA
	OpMessage Op = 5 // [5, to|nil, echo, payload]             relay a message to all (nil) or some players
	OpPing    Op = 6 // [6, t]                                 answered by PONG echoing t
	OpResume  Op = 7 // [7, req, session, resumeToken, epoch, tick] take a dropped session back
	OpSync    Op = 8 // [8, req, epoch, tick]                  resend what followed tick (or a snapshot)
)

// Server → client ops (32–63); 42 is server ↔ server only.
const (
	OpWelcome Op = 32 // [32, session, resumeToken, user, serverTime, resumeWindow]
	OpJoined  Op = 33 // [33, req, match, game, pid, epoch, tick, tickRate, state, private, members, schema, ack]
	OpDelta   Op = 34 // [34, epoch, tick, since, changes, events, ack, private, direct]
	OpEvent   Op = 35 // [35, kind, from, data]                a session-level event, outside any match
	OpPong    Op = 36 // [36, t, serverTime]
	OpError   Op = 37 // [37, code, message, refOp, refID]
	OpEnd     Op = 38 // [38, epoch, tick, reason, result]
	OpLeft    Op = 39 // [39, req]
	OpResumed Op = 40 // [40, req, session, resumeToken]
	OpCatchup Op = 41 // [41, req, epoch, tick]               the deltas after tick follow
	OpRelay   Op = 42 // [42, match, epoch, tick, frame, tails] server ↔ server envelope
)

// ErrorCode is carried by ERROR messages and by the HTTP API's JSON errors.
type ErrorCode uint16

const (
	ErrCodeBadRequest    ErrorCode = 1  // malformed or invalid request
	ErrCodeUnauthorized  ErrorCode = 2  // missing, invalid or expired token
	ErrCodeForbidden     ErrorCode = 3  // not allowed (origin, key, ticket for another player)
	ErrCodeNotFound      ErrorCode = 4  // no such match or game
	ErrCodeMatchFull     ErrorCode = 5  // no free seat
	ErrCodeJoinRefused   ErrorCode = 6  // the game refused the join
	ErrCodeNotInMatch    ErrorCode = 7  // the request needs a match and the session has none
	ErrCodeAlreadyJoined ErrorCode = 8  // the session is already in a match
	ErrCodeRateLimited   ErrorCode = 9  // too many messages; the excess was dropped
	ErrCodeInternal      ErrorCode = 10 // a server fault
	ErrCodeUnknownOp     ErrorCode = 11 // the op code is not known
	ErrCodeMalformed     ErrorCode = 12 // the frame is not a valid message
	ErrCodeResumeFailed  ErrorCode = 13 // no such session, wrong token, or the window passed
	ErrCodeMatchEnded    ErrorCode = 14 // the match has ended
	ErrCodeUnavailable   ErrorCode = 15 // overloaded or draining: try again or elsewhere
	ErrCodeTooLarge      ErrorCode = 16 // the request body or frame is too large
	ErrCodeUnsupported   ErrorCode = 17 // the game does not support this request
	ErrCodeTimeout       ErrorCode = 18 // the request timed out
	ErrCodeConflict      ErrorCode = 19 // the resource's state forbids it (a matched ticket, a second live ticket)
	ErrCodeExpired       ErrorCode = 20 // the matchmaking ticket expired before a match was found
)

// CloseCode is a WebSocket close status. 4000–4099 are reconnectable (the SDK reconnects and
// resumes), 4100–4199 are terminal (the SDK stops and reports the reason). Of the standard codes,
// 1001, 1006, 1011, 1012, 1013 and 1014 are reconnectable, the others terminal.
type CloseCode uint16

const (
	CloseNormal      CloseCode = 1000
	CloseGoingAway   CloseCode = 1001
	CloseProtocol    CloseCode = 1002 // set by the transport on WebSocket protocol violations
	CloseUnsupported CloseCode = 1003 // text frame
	CloseTooBig      CloseCode = 1009 // frame above the read limit

	CloseShutdown CloseCode = 4000 // the server is stopping: reconnect (to it or another)
	CloseSlow     CloseCode = 4001 // the client did not read fast enough: reconnect and resume
	// CloseTimeout is the SDK's own reason for dropping a connection that went silent (no
	// WELCOME, nothing received, no RESUMED in time); the server closes a silent connection
	// without a close frame (1006).
	CloseTimeout CloseCode = 4002
	// CloseMoved: this instance is handing the session's match to another one (a drain): reconnect
	// and resume. The close reason is the base URL of the instance that owns the match now (empty
	// when it is not known yet: reconnect to any instance); the match goes on there.
	CloseMoved CloseCode = 4003

	CloseAuth       CloseCode = 4100 // the token was refused or expired
	CloseBadFrames  CloseCode = 4101 // too many malformed or unknown messages
	CloseRateLimit  CloseCode = 4102 // sustained input flood
	CloseIdle       CloseCode = 4103 // connected but never joined a match within the idle timeout
	CloseReplaced   CloseCode = 4104 // the session was resumed on another connection
	CloseKicked     CloseCode = 4105 // removed by the game or an operator
	CloseMatchEnded CloseCode = 4108 // reserved: the match ended and the server ends the session
)

// Reconnectable reports whether a client should reconnect after the close code c.
func Reconnectable(c CloseCode) bool {
	switch {
	case c >= 4000 && c <= 4099:
		return true
	case c >= 4100 && c <= 4999:
		return false
	}
	switch c {
	case 1001, 1006, 1011, 1012, 1013, 1014:
		return true
	}
	return false
}

// EventKind is the first element of an event: [kind, from, data].
type EventKind uint8

const (
	EventJoin    EventKind = 1 // from = pid; data = [user, name]
	EventLeave   EventKind = 2 // from = pid; data = LeaveReason
	EventRejoin  EventKind = 3 // from = pid; data = nil (a dropped player came back)
	EventMessage EventKind = 4 // from = pid; data = the sender's payload
	EventGame    EventKind = 5 // from = 0;   data = [name, payload] emitted by game logic
	EventServer  EventKind = 6 // from = 0;   data = payload published through the HTTP API
	EventNotice  EventKind = 7 // from = 0;   data = [code, text] a session-level notice (OpEvent only)
	EventTicket  EventKind = 8 // from = 0;   data = a matchmaking ticket's status map (OpEvent only)
)

// LeaveReason says why a player left.
type LeaveReason uint8

const (
	LeaveLeft     LeaveReason = 1 // asked to leave
	LeaveDropped  LeaveReason = 2 // connection lost; the seat is held for the reconnect grace
	LeaveTimeout  LeaveReason = 3 // dropped and did not come back within the grace
	LeaveKicked   LeaveReason = 4 // removed by the game or an operator
	LeaveEnded    LeaveReason = 5 // the match ended
	LeaveReplaced LeaveReason = 6 // another connection of the same user took the seat (never in a LEAVE event)
)

// EndReason says why a match ended.
type EndReason uint8

const (
	EndFinished EndReason = 1 // the game ended it; result holds the outcome
	EndEmpty    EndReason = 2 // nobody left in it for the empty timeout
	EndStopped  EndReason = 3 // stopped by an operator or a shutdown
	EndError    EndReason = 4 // the game logic failed (panic); result holds a message
	EndLost     EndReason = 5 // the instance running the match was lost (relayed players learn it here)
	// EndMoved: this copy of the match stopped because another instance owns it now (an owner
	// that lost its lease, e.g. cut off from Redis): the match is not over; resume it on any
	// instance.
	EndMoved EndReason = 6
)

// CodeEntry is one row of the exported code table.
type CodeEntry struct {
	Name  string `json:"name"`
	Value int    `json:"value"`
}

// CodeTable is the whole table, as exported to testdata/codes.json for the JS SDK.
type CodeTable struct {
	Ops         []CodeEntry `json:"ops"`
	Errors      []CodeEntry `json:"errors"`
	Close       []CodeEntry `json:"close"`
	Events      []CodeEntry `json:"events"`
	Leave       []CodeEntry `json:"leave"`
	End         []CodeEntry `json:"end"`
	Reconnect   []int       `json:"reconnectable_standard"`
	ReconnRange [2]int      `json:"reconnectable_range"`
	TermRange   [2]int      `json:"terminal_range"`
}

// Codes returns the code table.
func Codes() CodeTable {
	return CodeTable{
		Ops: []CodeEntry{
			{"HELLO", int(OpHello)}, {"JOIN", int(OpJoin)}, {"LEAVE", int(OpLeave)},
			{"INPUT", int(OpInput)}, {"MESSAGE", int(OpMessage)}, {"PING", int(OpPing)},
			{"RESUME", int(OpResume)}, {"SYNC", int(OpSync)},
			{"WELCOME", int(OpWelcome)}, {"JOINED", int(OpJoined)}, {"DELTA", int(OpDelta)},
			{"EVENT", int(OpEvent)}, {"PONG", int(OpPong)}, {"ERROR", int(OpError)},
			{"END", int(OpEnd)}, {"LEFT", int(OpLeft)}, {"RESUMED", int(OpResumed)},
			{"CATCHUP", int(OpCatchup)}, {"RELAY", int(OpRelay)},
		},
		Errors: []CodeEntry{
			{"BAD_REQUEST", int(ErrCodeBadRequest)}, {"UNAUTHORIZED", int(ErrCodeUnauthorized)},
			{"FORBIDDEN", int(ErrCodeForbidden)}, {"NOT_FOUND", int(ErrCodeNotFound)},
			{"MATCH_FULL", int(ErrCodeMatchFull)}, {"JOIN_REFUSED", int(ErrCodeJoinRefused)},
			{"NOT_IN_MATCH", int(ErrCodeNotInMatch)}, {"ALREADY_JOINED", int(ErrCodeAlreadyJoined)},
			{"RATE_LIMITED", int(ErrCodeRateLimited)}, {"INTERNAL", int(ErrCodeInternal)},
			{"UNKNOWN_OP", int(ErrCodeUnknownOp)}, {"MALFORMED", int(ErrCodeMalformed)},
			{"RESUME_FAILED", int(ErrCodeResumeFailed)}, {"MATCH_ENDED", int(ErrCodeMatchEnded)},
			{"UNAVAILABLE", int(ErrCodeUnavailable)}, {"TOO_LARGE", int(ErrCodeTooLarge)},
			{"UNSUPPORTED", int(ErrCodeUnsupported)}, {"TIMEOUT", int(ErrCodeTimeout)},
			{"CONFLICT", int(ErrCodeConflict)}, {"EXPIRED", int(ErrCodeExpired)},
		},
		Close: []CodeEntry{
			{"NORMAL", int(CloseNormal)}, {"GOING_AWAY", int(CloseGoingAway)},
			{"PROTOCOL", int(CloseProtocol)}, {"UNSUPPORTED", int(CloseUnsupported)},
			{"TOO_BIG", int(CloseTooBig)},
			{"SHUTDOWN", int(CloseShutdown)}, {"SLOW", int(CloseSlow)}, {"TIMEOUT", int(CloseTimeout)}, {"MOVED", int(CloseMoved)},
			{"AUTH", int(CloseAuth)}, {"BAD_FRAMES", int(CloseBadFrames)},
			{"RATE_LIMIT", int(CloseRateLimit)}, {"IDLE", int(CloseIdle)},
			{"REPLACED", int(CloseReplaced)}, {"KICKED", int(CloseKicked)},
			{"MATCH_ENDED", int(CloseMatchEnded)},
		},
		Events: []CodeEntry{
			{"JOIN", int(EventJoin)}, {"LEAVE", int(EventLeave)}, {"REJOIN", int(EventRejoin)},
			{"MESSAGE", int(EventMessage)}, {"GAME", int(EventGame)}, {"SERVER", int(EventServer)},
			{"NOTICE", int(EventNotice)}, {"TICKET", int(EventTicket)},
		},
		Leave: []CodeEntry{
			{"LEFT", int(LeaveLeft)}, {"DROPPED", int(LeaveDropped)}, {"TIMEOUT", int(LeaveTimeout)},
			{"KICKED", int(LeaveKicked)}, {"ENDED", int(LeaveEnded)},
			{"REPLACED", int(LeaveReplaced)},
		},
		End: []CodeEntry{
			{"FINISHED", int(EndFinished)}, {"EMPTY", int(EndEmpty)}, {"STOPPED", int(EndStopped)},
			{"ERROR", int(EndError)}, {"LOST", int(EndLost)}, {"MOVED", int(EndMoved)},
		},
		Reconnect:   []int{1001, 1006, 1011, 1012, 1013, 1014},
		ReconnRange: [2]int{4000, 4099},
		TermRange:   [2]int{4100, 4999},
	}
}
