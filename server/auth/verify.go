package auth

import (
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every verification failure. The error's message adds a short
// fixed reason; it never contains the token or claim values.
var ErrInvalidToken = errors.New("auth: invalid token")

// ErrWrongMatch is wrapped (with ErrInvalidToken) when a join ticket is for another match than
// the one the JOIN names; the ticket is not consumed.
var ErrWrongMatch = errors.New("auth: ticket for another match")

// Fixed refusal reasons (the text after "auth: invalid token: ").
const (
	reasonTooLong       = "too long"
	reasonMalformed     = "malformed"
	reasonAlg           = "algorithm not allowed"
	reasonCrit          = "unsupported critical header"
	reasonSignature     = "bad signature"
	reasonExpired       = "expired"
	reasonNotYet        = "not valid yet"
	reasonIssuedFuture  = "issued in the future"
	reasonMissingClaim  = "missing required claim"
	reasonIssuer        = "wrong issuer"
	reasonAudience      = "wrong audience"
	reasonSubject       = "bad subject"
	reasonMatch         = "bad match"
	reasonSeat          = "missing seat"
	reasonJTI           = "bad jti"
	reasonLifetime      = "lifetime too long"
	reasonUsed          = "already used"
	reasonWrongPlayer   = "wrong player"
	reasonWrongMatch    = "ticket for another match"
	reasonCapacity      = "too many join tickets in flight"
	reasonInvalidClaims = "invalid claims"
)

// tokenError is a refusal: errors.Is(err, ErrInvalidToken) holds, and cause (if any, e.g.
// ErrJoinCapacity) is reachable too.
type tokenError struct {
	reason string
	cause  error
}

func (e *tokenError) Error() string        { return ErrInvalidToken.Error() + ": " + e.reason }
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }
func (e *tokenError) Unwrap() error        { return e.cause }

func invalid(reason string) error { return &tokenError{reason: reason} }

var errCrit = errors.New("crit header")

// VerifySession checks a session token (see the package doc for the rules).
func (a *Authority) VerifySession(token string) (Session, error) {
	c, err := a.parse(token, a.sessionParser)
	if err != nil {
		return Session{}, err
	}
	if c.exp.Time.After(a.now().Add(a.maxSessionLife + a.leeway)) {
		return Session{}, invalid(reasonLifetime)
	}
	return Session{PlayerID: c.sub, Name: SanitizeName(c.name), ExpiresAt: c.exp.Time.UTC()}, nil
}

// VerifyJoin checks a join ticket and consumes it: a second VerifyJoin of the same ticket (its
// jti) fails with reason "already used". Call it only when about to take the seat.
func (a *Authority) VerifyJoin(token string) (Join, error) {
	return a.verifyJoin(token, "", false, "")
}

// VerifyJoinFor is VerifyJoin for a connection already authenticated as playerID: a ticket
// issued to another player is refused (reason "wrong player") WITHOUT being consumed, so a
// leaked ticket cannot be used from someone else's session and its owner can still use it.
func (a *Authority) VerifyJoinFor(token, playerID string) (Join, error) {
	return a.verifyJoin(token, playerID, true, "")
}

// VerifyJoinForMatch is VerifyJoinFor for a JOIN that also names its match: a ticket for
// another match is refused (reason "ticket for another match") WITHOUT being consumed, so a
// client that sends the wrong match id can still use its ticket. matchID "" accepts any match.
func (a *Authority) VerifyJoinForMatch(token, playerID, matchID string) (Join, error) {
	return a.verifyJoin(token, playerID, true, matchID)
}

func (a *Authority) verifyJoin(token, playerID string, checkPlayer bool, matchID string) (Join, error) {
	c, err := a.parse(token, a.joinParser)
	if err != nil {
		return Join{}, err
	}
	switch {
	case !validID(c.match):
		return Join{}, invalid(reasonMatch)
	case !c.hasSeat:
		return Join{}, invalid(reasonSeat)
	case !validID(c.jti):
		return Join{}, invalid(reasonJTI)
	}
	now := a.now()
	// Bounding the lifetime bounds how long the jti must be remembered.
	if c.exp.Time.After(now.Add(a.joinTTL + a.leeway)) {
		return Join{}, invalid(reasonLifetime)
	}
	if checkPlayer && c.sub != playerID {
		return Join{}, invalid(reasonWrongPlayer)
	}
	if matchID != "" && c.match != matchID {
		return Join{}, &tokenError{reason: reasonWrongMatch, cause: ErrWrongMatch}
	}
	if err := a.used.use(c.jti, c.exp.Time.Add(a.leeway), now); err != nil {
		return Join{}, err
	}
	return Join{PlayerID: c.sub, MatchID: c.match, Seat: int(c.seat), ExpiresAt: c.exp.Time.UTC(), ID: c.jti}, nil
}

// parse runs the checks common to both token types.
func (a *Authority) parse(token string, p *jwt.Parser) (*claims, error) {
	if len(token) > a.maxTokenLen {
		return nil, invalid(reasonTooLong) // before any decoding or signature work
	}
	if !wellFormed(token) {
		return nil, invalid(reasonMalformed)
	}
	c := new(claims)
	t, err := p.ParseWithClaims(token, c, a.keyfunc)
	if err != nil {
		return nil, invalid(classify(t, err))
	}
	// golang-jwt accepts any aud list containing the expected value; a token must have one
	// type only, so a list holding both "session" and "join" is refused.
	if len(c.aud) != 1 {
		return nil, invalid(reasonAudience)
	}
	if !validID(c.sub) {
		return nil, invalid(reasonSubject)
	}
	return c, nil
}

func (a *Authority) keyfunc(t *jwt.Token) (any, error) {
	a.signatureCheck.Add(1)
	if t.Method != jwt.SigningMethodHS256 { // already enforced by WithValidMethods
		return nil, errors.New("unexpected signing method")
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 4.1.11: extensions we do not understand must not be ignored.
		return nil, errCrit
	}
	return a.secret, nil
}

// wellFormed: three non-empty segments of unpadded base64url. Cheap, and it keeps
// whitespace, "Bearer " prefixes and padding variants away from the decoder.
func wellFormed(token string) bool {
	dots, segLen := 0, 0
	for i := 0; i < len(token); i++ {
		switch ch := token[i]; {
		case ch == '.':
			if segLen == 0 {
				return false
			}
			dots++
			segLen = 0
		case ch >= 'A' && ch <= 'Z', ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}

// classify maps a golang-jwt error to a fixed reason (its own messages can quote header
// values, so they are not passed on).
func classify(t *jwt.Token, err error) string {
	if ce, ok := asClaimError(err); ok {
		return "bad claim: " + string(ce)
	}
	if t != nil && t.Method != nil && t.Method != jwt.SigningMethodHS256 {
		return reasonAlg
	}
	switch {
	case errors.Is(err, errCrit):
		return reasonCrit
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return reasonAlg // alg missing, not a string, or unknown ("HS256 ", "hs256")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return reasonSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return reasonMissingClaim
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYet
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reasonIssuedFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reasonAudience
	}
	return reasonInvalidClaims
}
