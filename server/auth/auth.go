package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults and limits for Config.
const (
	DefaultIssuer         = "tickrelay"
	DefaultSessionTTL     = 24 * time.Hour
	DefaultMaxSessionLife = 7 * 24 * time.Hour
	DefaultJoinTTL        = 30 * time.Second
	MaxJoinTTL            = 30 * time.Second
	DefaultLeeway         = 30 * time.Second
	MaxLeeway             = 5 * time.Minute
	DefaultMaxTokenLen    = 4096
	MinMaxTokenLen        = 512
	DefaultMaxUsedTickets = 100_000

	// MinSecretLen is the shortest HS256 secret New accepts.
	MinSecretLen = 32
	// MaxIDLen bounds player ids (sub), match ids and jti, in bytes.
	MaxIDLen = 64
	// MaxNameLen bounds display names, in runes.
	MaxNameLen = 32
	// MaxSeat is the largest seat number a join ticket may carry.
	MaxSeat = math.MaxInt32

	audSession = "session"
	audJoin    = "join"
)

// ErrJoinCapacity means the set of used join tickets is full: no new ticket can be accepted
// (or issued) until some expire. It is a server-side condition (answer UNAVAILABLE), not the
// client's fault, although VerifyJoin's error also wraps ErrInvalidToken.
var ErrJoinCapacity = errors.New("auth: too many join tickets in flight")

// Config configures an Authority. Zero fields take the defaults.
type Config struct {
	// Secret is the HS256 key, at least 32 bytes. It is copied.
	Secret []byte
	// Issuer is the iss claim written and required. Default "tickrelay".
	Issuer string
	// SessionTTL is the lifetime of issued session tokens. Default 24h.
	SessionTTL time.Duration
	// MaxSessionLifetime is the longest a session token may still be valid for when it is
	// verified (exp − now): a token minted with exp years ahead is refused ("lifetime too
	// long"), so a leaked one cannot outlive a rotation of the secret by years. Default 7 days,
	// and never below SessionTTL.
	MaxSessionLifetime time.Duration
	// JoinTTL is the lifetime of issued join tickets. Default and maximum 30s.
	JoinTTL time.Duration
	// Leeway is the clock-skew allowance on exp, nbf and iat. Default 30s, maximum 5m.
	Leeway time.Duration
	// MaxTokenLen is the longest token (bytes) looked at. Default 4096, minimum 512.
	MaxTokenLen int
	// MaxUsedTickets bounds the set of consumed join tickets remembered for replay
	// protection. Default 100000.
	MaxUsedTickets int
	// Now is the clock. Default time.Now. Must be safe for concurrent use.
	Now func() time.Time
}

// Authority issues and verifies tokens. Create it with New. Safe for concurrent use.
type Authority struct {
	secret         []byte
	issuer         string
	sessionTTL     time.Duration
	maxSessionLife time.Duration
	joinTTL        time.Duration
	leeway         time.Duration
	maxTokenLen    int
	now            func() time.Time
	sessionParser  *jwt.Parser
	joinParser     *jwt.Parser
	used           *usedSet
	signatureCheck atomic.Int64 // keyfunc calls: lets tests prove a token was refused before
}

// Session is a verified session token.
type Session struct {
	PlayerID  string
	Name      string // sanitised (see SanitizeName); may be empty for backend-minted tokens
	ExpiresAt time.Time
}

// Join is a verified (and now consumed) join ticket.
type Join struct {
	PlayerID  string
	MatchID   string
	Seat      int
	ExpiresAt time.Time
	ID        string // the ticket's jti: a cluster records it once for every instance
}

// RandomSecret returns 32 bytes from crypto/rand, for a server started without a secret.
// Tokens signed with it die with the process and are not accepted by other processes.
func RandomSecret() []byte {
	b := make([]byte, MinSecretLen)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program if it cannot read)
	return b
}

// New checks cfg, applies the defaults and returns an Authority.
func New(cfg Config) (*Authority, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: secret is %d bytes, need at least %d", len(cfg.Secret), MinSecretLen)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	switch {
	case cfg.SessionTTL < 0:
		return nil, errors.New("auth: negative SessionTTL")
	case cfg.SessionTTL == 0:
		cfg.SessionTTL = DefaultSessionTTL
	}
	switch {
	case cfg.MaxSessionLifetime < 0:
		return nil, errors.New("auth: negative MaxSessionLifetime")
	case cfg.MaxSessionLifetime == 0:
		cfg.MaxSessionLifetime = DefaultMaxSessionLife
	}
	if cfg.MaxSessionLifetime < cfg.SessionTTL {
		cfg.MaxSessionLifetime = cfg.SessionTTL
	}
	switch {
	case cfg.JoinTTL < 0 || cfg.JoinTTL > MaxJoinTTL:
		return nil, fmt.Errorf("auth: JoinTTL %v outside (0, %v]", cfg.JoinTTL, MaxJoinTTL)
	case cfg.JoinTTL == 0:
		cfg.JoinTTL = DefaultJoinTTL
	}
	switch {
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("auth: Leeway %v outside [0, %v]", cfg.Leeway, MaxLeeway)
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	}
	switch {
	case cfg.MaxTokenLen < 0 || (cfg.MaxTokenLen > 0 && cfg.MaxTokenLen < MinMaxTokenLen):
		return nil, fmt.Errorf("auth: MaxTokenLen %d below %d", cfg.MaxTokenLen, MinMaxTokenLen)
	case cfg.MaxTokenLen == 0:
		cfg.MaxTokenLen = DefaultMaxTokenLen
	}
	switch {
	case cfg.MaxUsedTickets < 0:
		return nil, errors.New("auth: negative MaxUsedTickets")
	case cfg.MaxUsedTickets == 0:
		cfg.MaxUsedTickets = DefaultMaxUsedTickets
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	a := &Authority{
		secret:         append([]byte(nil), cfg.Secret...),
		issuer:         cfg.Issuer,
		sessionTTL:     cfg.SessionTTL,
		maxSessionLife: cfg.MaxSessionLifetime,
		joinTTL:        cfg.JoinTTL,
		leeway:         cfg.Leeway,
		maxTokenLen:    cfg.MaxTokenLen,
		now:            cfg.Now,
		used:           newUsedSet(cfg.MaxUsedTickets),
	}
	a.sessionParser = a.newParser(audSession)
	a.joinParser = a.newParser(audJoin)
	return a, nil
}

func (a *Authority) newParser(aud string) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(a.issuer),
		jwt.WithAudience(aud),
		jwt.WithLeeway(a.leeway),
		jwt.WithTimeFunc(a.now),
		jwt.WithStrictDecoding(),
	)
}

// JoinWindow is how long after issue a join ticket can still be accepted (JoinTTL + Leeway):
// hold the seat reservation behind a ticket at least this long.
func (a *Authority) JoinWindow() time.Duration { return a.joinTTL + a.leeway }

// IssueSession signs a session token for playerID (1..64 bytes of printable UTF-8). name is
// passed through SanitizeName and may end up empty.
func (a *Authority) IssueSession(playerID, name string) (token string, expiresAt time.Time, err error) {
	if !validID(playerID) {
		return "", time.Time{}, errors.New("auth: player id must be 1..64 bytes of printable UTF-8")
	}
	now := a.now()
	exp := now.Add(a.sessionTTL).Truncate(time.Second).UTC()
	token, err = a.sign(jwt.MapClaims{
		"iss":  a.issuer,
		"aud":  audSession,
		"sub":  playerID,
		"name": SanitizeName(name),
		"iat":  now.Unix(),
		"exp":  exp.Unix(),
		"jti":  newJTI(),
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// IssueGuest makes a random player id ("guest-" and 12 lowercase base32 characters, 60 random
// bits) and signs a session token for it. The name is sanitised and defaults to "guest".
func (a *Authority) IssueGuest(name string) (token string, s Session, err error) {
	s.PlayerID = "guest-" + strings.ToLower(rand.Text()[:12])
	s.Name = SanitizeName(name)
	if s.Name == "" {
		s.Name = "guest"
	}
	token, s.ExpiresAt, err = a.IssueSession(s.PlayerID, s.Name)
	if err != nil {
		return "", Session{}, err
	}
	return token, s, nil
}

// IssueJoin signs a single-use join ticket for playerID's seat in matchID, valid for JoinTTL.
// It fails with ErrJoinCapacity while the used-ticket set is full (such a ticket could not be
// accepted anyway).
func (a *Authority) IssueJoin(playerID, matchID string, seat int) (token string, expiresAt time.Time, err error) {
	switch {
	case !validID(playerID):
		return "", time.Time{}, errors.New("auth: player id must be 1..64 bytes of printable UTF-8")
	case !validID(matchID):
		return "", time.Time{}, errors.New("auth: match id must be 1..64 bytes of printable UTF-8")
	case seat < 0 || seat > MaxSeat:
		return "", time.Time{}, fmt.Errorf("auth: seat %d outside [0, %d]", seat, MaxSeat)
	}
	now := a.now()
	if a.used.full(now) {
		return "", time.Time{}, ErrJoinCapacity
	}
	exp := now.Add(a.joinTTL).Truncate(time.Second).UTC()
	token, err = a.sign(jwt.MapClaims{
		"iss":   a.issuer,
		"aud":   audJoin,
		"sub":   playerID,
		"match": matchID,
		"seat":  seat,
		"iat":   now.Unix(),
		"exp":   exp.Unix(),
		"jti":   newJTI(),
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

func (a *Authority) sign(c jwt.MapClaims) (string, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return "", fmt.Errorf("auth: signing: %w", err)
	}
	return s, nil
}

// newJTI is 26 base32 characters (130 random bits).
func newJTI() string { return rand.Text() }
