package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	t0         = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
)

// clock is a settable, race-safe Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newAuth(t *testing.T, mod func(*Config)) (*Authority, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	cfg := Config{Secret: testSecret, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

// ---- token crafting -------------------------------------------------------------------

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func macWith(h func() hash.Hash, key []byte) func(string) string {
	return func(in string) string {
		m := hmac.New(h, key)
		m.Write([]byte(in))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
}

var hs256 = macWith(sha256.New, testSecret)

// craft builds header.payload.sig from raw JSON texts.
func craft(header, payload string, sign func(string) string) string {
	in := b64(header) + "." + b64(payload)
	return in + "." + sign(in)
}

const hdrHS256 = `{"alg":"HS256","typ":"JWT"}`

// del marks a claim to drop in sessionPayload/joinPayload.
type delT struct{}

var del = delT{}

func payload(base map[string]any, mods map[string]any) string {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range mods {
		if _, ok := v.(delT); ok {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sessionPayload(mods map[string]any) string {
	return payload(map[string]any{
		"iss": "tickrelay", "aud": "session", "sub": "p1", "name": "ann",
		"iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "jti": "j-session",
	}, mods)
}

func joinPayload(mods map[string]any) string {
	return payload(map[string]any{
		"iss": "tickrelay", "aud": "join", "sub": "p1", "match": "m-1", "seat": 3,
		"iat": t0.Unix(), "exp": t0.Add(30 * time.Second).Unix(), "jti": "j-join",
	}, mods)
}

func signedSession(mods map[string]any) string { return craft(hdrHS256, sessionPayload(mods), hs256) }
func signedJoin(mods map[string]any) string    { return craft(hdrHS256, joinPayload(mods), hs256) }

func reasonOf(err error) string {
	var te *tokenError
	if errors.As(err, &te) {
		return te.reason
	}
	return ""
}

// ---- round trips --------------------------------------------------------------------------

func TestSessionRoundTrip(t *testing.T) {
	a, _ := newAuth(t, nil)
	tok, exp, err := a.IssueSession("user-42", "  Ann \t Smith\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(DefaultSessionTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	s, err := a.VerifySession(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Session{PlayerID: "user-42", Name: "Ann Smith", ExpiresAt: exp}
	if s.PlayerID != want.PlayerID || s.Name != want.Name || !s.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	// The claims are what API.md promises.
	var c map[string]any
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "aud", "sub", "name", "exp", "iat", "jti"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %q missing from %s", k, raw)
		}
	}
	if c["aud"] != "session" || c["iss"] != "tickrelay" {
		t.Errorf("aud/iss = %v/%v", c["aud"], c["iss"])
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(hdr), `"alg":"HS256"`) {
		t.Errorf("header %s", hdr)
	}
}

func TestSessionExpiryAndLeeway(t *testing.T) {
	a, clk := newAuth(t, nil)
	tok, exp, err := a.IssueSession("p1", "ann")
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(exp.Add(DefaultLeeway - time.Second)) // expired, but within leeway
	if _, err := a.VerifySession(tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Set(exp.Add(DefaultLeeway)) // the first instant outside
	if _, err := a.VerifySession(tok); reasonOf(err) != reasonExpired {
		t.Fatalf("beyond leeway: %v", err)
	}
}

func TestGuest(t *testing.T) {
	a, _ := newAuth(t, nil)
	idRE := regexp.MustCompile(`^guest-[a-z2-7]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, s, err := a.IssueGuest("")
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(s.PlayerID) {
			t.Fatalf("guest id %q", s.PlayerID)
		}
		if seen[s.PlayerID] {
			t.Fatalf("duplicate guest id %q", s.PlayerID)
		}
		seen[s.PlayerID] = true
		if s.Name != "guest" || !s.ExpiresAt.Equal(t0.Add(DefaultSessionTTL)) {
			t.Fatalf("guest session %+v", s)
		}
		v, err := a.VerifySession(tok)
		if err != nil || v != s {
			t.Fatalf("verify = %+v, %v; want %+v", v, err, s)
		}
	}
	_, s, err := a.IssueGuest("\u202eann\u200b  ")
	if err != nil || s.Name != "ann" {
		t.Fatalf("name %q, %v", s.Name, err)
	}
}

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("é", 40)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"ann", "ann"},
		{"  ann  ", "ann"},
		{"a\tb\n\nc", "a b c"},
		{"a\u00a0\u00a0b", "a b"},       // non-ASCII spaces collapse too
		{"\u202egnp.exe", "gnp.exe"},    // bidi override dropped
		{"a\u200bb\u200dc", "abc"},      // zero-width characters dropped
		{"a\x00b\x1bc\x7f", "abc"},      // controls dropped
		{"a\xffb\xc3", "ab"},            // invalid UTF-8 dropped
		{long, strings.Repeat("é", 32)}, // 32 runes, not bytes
		{strings.Repeat("x", 31) + " y", strings.Repeat("x", 31)}, // no trailing space at the cut
		{"日本語の名前", "日本語の名前"},
	} {
		if got := SanitizeName(tc.in); got != tc.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	a, _ := newAuth(t, nil)
	if _, _, err := a.IssueSession("", "x"); err == nil {
		t.Error("empty player id accepted")
	}
	if _, _, err := a.IssueSession(strings.Repeat("p", MaxIDLen+1), "x"); err == nil {
		t.Error("overlong player id accepted")
	}
	if _, _, err := a.IssueSession("p\n1", "x"); err == nil {
		t.Error("control character in player id accepted")
	}
	if _, _, err := a.IssueJoin("p1", "", 0); err == nil {
		t.Error("empty match accepted")
	}
	if _, _, err := a.IssueJoin("p1", "m", -1); err == nil {
		t.Error("negative seat accepted")
	}
}

func TestJoinRoundTripAndReplay(t *testing.T) {
	a, clk := newAuth(t, nil)
	tok, exp, err := a.IssueJoin("p1", "m-7", 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(DefaultJoinTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	clk.Advance(DefaultJoinTTL + DefaultLeeway - time.Second) // late, within leeway
	j, err := a.VerifyJoin(tok)
	if err != nil {
		t.Fatal(err)
	}
	if j.ID == "" {
		t.Fatal("no ticket id")
	}
	if j != (Join{PlayerID: "p1", MatchID: "m-7", Seat: 2, ExpiresAt: exp, ID: j.ID}) {
		t.Fatalf("got %+v", j)
	}
	if _, err := a.VerifyJoin(tok); !errors.Is(err, ErrInvalidToken) || reasonOf(err) != reasonUsed {
		t.Fatalf("replay: %v", err)
	}
	if a.JoinWindow() != DefaultJoinTTL+DefaultLeeway {
		t.Fatalf("JoinWindow = %v", a.JoinWindow())
	}
}

func TestJoinExpiresBeyondLeeway(t *testing.T) {
	a, clk := newAuth(t, nil)
	tok, _, err := a.IssueJoin("p1", "m-7", 0)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultJoinTTL + DefaultLeeway)
	if _, err := a.VerifyJoin(tok); reasonOf(err) != reasonExpired {
		t.Fatalf("got %v", err)
	}
	if a.used.len() != 0 {
		t.Fatal("a refused ticket was recorded as used")
	}
}

func TestVerifyJoinForChecksPlayerBeforeConsuming(t *testing.T) {
	a, _ := newAuth(t, nil)
	tok, _, err := a.IssueJoin("owner", "m-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.VerifyJoinFor(tok, "thief"); reasonOf(err) != reasonWrongPlayer {
		t.Fatalf("thief: %v", err)
	}
	if _, err := a.VerifyJoinFor(tok, "owner"); err != nil {
		t.Fatalf("owner after a refused thief: %v", err)
	}
	if _, err := a.VerifyJoinFor(tok, "owner"); reasonOf(err) != reasonUsed {
		t.Fatalf("owner replay: %v", err)
	}
}

func TestBackendMintedSessionAccepted(t *testing.T) {
	// An operator's backend using golang-jwt's defaults: aud serialised as an array, no jti,
	// no iat, no name, an unknown claim.
	a, _ := newAuth(t, nil)
	type backendClaims struct {
		Role string `json:"role"`
		jwt.RegisteredClaims
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, backendClaims{
		Role: "admin",
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "tickrelay", Audience: jwt.ClaimStrings{"session"}, Subject: "acct:991",
			ExpiresAt: jwt.NewNumericDate(t0.Add(time.Minute)),
		},
	}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.VerifySession(tok)
	if err != nil {
		t.Fatal(err)
	}
	if s.PlayerID != "acct:991" || s.Name != "" || !s.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %+v", s)
	}
}

func TestCustomIssuerAndTTLs(t *testing.T) {
	a, _ := newAuth(t, func(c *Config) {
		c.Issuer = "game.example"
		c.SessionTTL = time.Hour
		c.JoinTTL = 10 * time.Second
	})
	tok, exp, err := a.IssueSession("p1", "x")
	if err != nil || !exp.Equal(t0.Add(time.Hour)) {
		t.Fatal(exp, err)
	}
	if _, err := a.VerifySession(tok); err != nil {
		t.Fatal(err)
	}
	def, _ := newAuth(t, nil) // same secret, default issuer
	if _, err := def.VerifySession(tok); reasonOf(err) != reasonIssuer {
		t.Fatalf("other issuer: %v", err)
	}
	_, jexp, err := a.IssueJoin("p1", "m", 0)
	if err != nil || !jexp.Equal(t0.Add(10*time.Second)) {
		t.Fatal(jexp, err)
	}
}

// ---- forgeries ------------------------------------------------------------------------------

func TestForgeriesRefused(t *testing.T) {
	a, _ := newAuth(t, nil)
	other, _ := newAuth(t, func(c *Config) { c.Secret = []byte("ffffffffffffffffffffffffffffffff") })

	valid := signedSession(nil)
	validParts := strings.Split(valid, ".")
	otherValid := signedSession(map[string]any{"sub": "p2"})
	realJoin, _, err := a.IssueJoin("p1", "m-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	realSession, _, err := a.IssueSession("p1", "ann")
	if err != nil {
		t.Fatal(err)
	}
	otherSecretSession, _, err := other.IssueSession("p1", "ann")
	if err != nil {
		t.Fatal(err)
	}
	// The valid signature with its last character changed so that only the unused low bits
	// of the final base64 character differ: the same bytes, a different string.
	sig := validParts[2]
	last := strings.IndexByte(b64Alphabet, sig[len(sig)-1])
	nonCanonical := validParts[0] + "." + validParts[1] + "." + sig[:len(sig)-1] + string(b64Alphabet[last^1])
	// Payload modified after signing: the claims of another subject under valid's signature.
	tampered := validParts[0] + "." + b64(sessionPayload(map[string]any{"sub": "admin"})) + "." + validParts[2]
	hdrTampered := b64(`{"alg":"HS256","typ":"JWT","kid":"x"}`) + "." + validParts[1] + "." + validParts[2]
	none := func(string) string { return "" }
	unsigned := b64(`{"alg":"none"}`) + "." + b64(sessionPayload(nil))

	type forgery struct {
		name   string
		join   bool // verify with VerifyJoin instead of VerifySession
		token  string
		reason string // expected reason; "bad claim" matches any "bad claim: ..."
	}
	cases := []forgery{
		// alg "none" and algorithm confusion
		{name: "alg none, unsigned, trailing dot", token: unsigned + ".", reason: reasonMalformed},
		{name: "alg none, unsigned, no trailing dot", token: unsigned, reason: reasonMalformed},
		{name: "alg none with a signature segment", token: craft(`{"alg":"none"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "alg None", token: craft(`{"alg":"None"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "alg none, join ticket", join: true, token: craft(`{"alg":"none"}`, joinPayload(nil), none) + "x", reason: reasonAlg},
		{name: "HS384 with the same secret", token: craft(`{"alg":"HS384"}`, sessionPayload(nil), macWith(sha512.New384, testSecret)), reason: reasonAlg},
		{name: "HS512 with the same secret", token: craft(`{"alg":"HS512"}`, sessionPayload(nil), macWith(sha512.New, testSecret)), reason: reasonAlg},
		{name: "RS256 header, HMAC-SHA256 signature", token: craft(`{"alg":"RS256"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "ES256 header, HMAC-SHA256 signature", token: craft(`{"alg":"ES256"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: `alg "HS256 "`, token: craft(`{"alg":"HS256 "}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: `alg " HS256"`, token: craft(`{"alg":" HS256"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: `alg "hs256"`, token: craft(`{"alg":"hs256"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: `alg "HS256\u0000"`, token: craft(`{"alg":"HS256\u0000"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "alg missing", token: craft(`{"typ":"JWT"}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "alg as an array", token: craft(`{"alg":["HS256"]}`, sessionPayload(nil), hs256), reason: reasonAlg},
		{name: "crit header", token: craft(`{"alg":"HS256","crit":["exp"]}`, sessionPayload(nil), hs256), reason: reasonCrit},

		// signatures
		{name: "wrong secret", token: otherSecretSession, reason: reasonSignature},
		{name: "signature stripped", token: validParts[0] + "." + validParts[1] + ".", reason: reasonMalformed},
		{name: "signature of another token", token: validParts[0] + "." + validParts[1] + "." + strings.Split(otherValid, ".")[2], reason: reasonSignature},
		{name: "payload modified after signing", token: tampered, reason: reasonSignature},
		{name: "header modified after signing", token: hdrTampered, reason: reasonSignature},
		{name: "signature truncated", token: valid[:len(valid)-3], reason: reasonSignature},
		{name: "signature extended", token: valid + "AAAA", reason: reasonSignature},
		{name: "signature of one byte", token: validParts[0] + "." + validParts[1] + ".AA", reason: reasonSignature},
		{name: "signature non-canonical base64", token: nonCanonical, reason: reasonMalformed},

		// time
		{name: "expired beyond leeway", token: signedSession(map[string]any{"exp": t0.Add(-DefaultLeeway - time.Second).Unix()}), reason: reasonExpired},
		{name: "expired exactly at the leeway", token: signedSession(map[string]any{"exp": t0.Add(-DefaultLeeway).Unix()}), reason: reasonExpired},
		{name: "nbf in the future beyond leeway", token: signedSession(map[string]any{"nbf": t0.Add(DefaultLeeway + time.Second).Unix()}), reason: reasonNotYet},
		{name: "iat in the future beyond leeway", token: signedSession(map[string]any{"iat": t0.Add(DefaultLeeway + time.Second).Unix()}), reason: reasonIssuedFuture},
		{name: "missing exp", token: signedSession(map[string]any{"exp": del}), reason: reasonMissingClaim},
		{name: "exp null", token: signedSession(map[string]any{"exp": nil}), reason: "bad claim"},
		{name: "exp as a string", token: signedSession(map[string]any{"exp": fmt.Sprint(t0.Add(time.Hour).Unix())}), reason: "bad claim"},
		{name: "exp as a bool", token: signedSession(map[string]any{"exp": true}), reason: "bad claim"},
		{name: "exp negative", token: signedSession(map[string]any{"exp": -1}), reason: "bad claim"},
		{name: "exp 1e300", token: craft(hdrHS256, strings.Replace(sessionPayload(nil), `"exp":`, `"exp":1e300,"x":`, 1), hs256), reason: "bad claim"},
		{name: "iat as a string", token: signedSession(map[string]any{"iat": "0"}), reason: "bad claim"},

		// duplicate and odd JSON
		{name: "duplicate exp (expired, then far future)", token: craft(hdrHS256, strings.Replace(sessionPayload(nil), `{`, fmt.Sprintf(`{"exp":%d,`, t0.Add(-time.Hour).Unix()), 1), hs256), reason: "bad claim"},
		{name: `duplicate exp via "\u0065xp"`, token: craft(hdrHS256, strings.Replace(sessionPayload(nil), `{`, `{"\u0065xp":1,`, 1), hs256), reason: "bad claim"},
		{name: "duplicate sub", token: craft(hdrHS256, strings.Replace(sessionPayload(nil), `{`, `{"sub":"admin",`, 1), hs256), reason: "bad claim"},
		{name: "duplicate aud", token: craft(hdrHS256, strings.Replace(sessionPayload(nil), `{`, `{"aud":"join",`, 1), hs256), reason: "bad claim"},
		{name: "claims are a JSON array", token: craft(hdrHS256, `[`+sessionPayload(nil)+`]`, hs256), reason: "bad claim"},
		{name: "claims are null", token: craft(hdrHS256, `null`, hs256), reason: reasonMissingClaim},
		{name: "claims are not JSON", token: craft(hdrHS256, `hello`, hs256), reason: reasonMalformed},
		{name: "claims have trailing garbage", token: craft(hdrHS256, sessionPayload(nil)+`x`, hs256), reason: reasonMalformed},
		{name: "header is not JSON", token: craft(`{alg:HS256}`, sessionPayload(nil), hs256), reason: reasonMalformed},
		{name: "name as an object", token: signedSession(map[string]any{"name": map[string]any{"a": 1}}), reason: "bad claim"},

		// issuer
		{name: "wrong issuer", token: signedSession(map[string]any{"iss": "evil"}), reason: reasonIssuer},
		{name: "issuer differing in case", token: signedSession(map[string]any{"iss": "TickRelay"}), reason: reasonIssuer},
		{name: "missing issuer", token: signedSession(map[string]any{"iss": del}), reason: reasonMissingClaim},
		{name: "issuer as a number", token: signedSession(map[string]any{"iss": 1}), reason: "bad claim"},

		// audience
		{name: "join ticket used as a session token", token: realJoin, reason: reasonAudience},
		{name: "session token used as a join ticket", join: true, token: realSession, reason: reasonAudience},
		{name: `aud ["join"] as a session`, token: signedSession(map[string]any{"aud": []string{"join"}}), reason: reasonAudience},
		{name: `aud ["session","join"] as a session`, token: signedSession(map[string]any{"aud": []string{"session", "join"}}), reason: reasonAudience},
		{name: `aud ["session","join"] as a join`, join: true, token: signedJoin(map[string]any{"aud": []string{"session", "join"}}), reason: reasonAudience},
		{name: `aud ["x","session"]`, token: signedSession(map[string]any{"aud": []string{"x", "session"}}), reason: reasonAudience},
		{name: "aud missing", token: signedSession(map[string]any{"aud": del}), reason: reasonMissingClaim},
		{name: `aud ""`, token: signedSession(map[string]any{"aud": ""}), reason: reasonMissingClaim},
		{name: "aud as a number", token: signedSession(map[string]any{"aud": 1}), reason: "bad claim"},
		{name: "aud array holding a number", token: signedSession(map[string]any{"aud": []any{"session", 1}}), reason: "bad claim"},

		// subject
		{name: "empty subject", token: signedSession(map[string]any{"sub": ""}), reason: reasonSubject},
		{name: "missing subject", token: signedSession(map[string]any{"sub": del}), reason: reasonSubject},
		{name: "overlong subject (65 bytes)", token: signedSession(map[string]any{"sub": strings.Repeat("a", MaxIDLen+1)}), reason: reasonSubject},
		{name: "subject with a newline", token: signedSession(map[string]any{"sub": "p1\nINFO forged log line"}), reason: reasonSubject},
		{name: "subject with a bidi override", token: signedSession(map[string]any{"sub": "p\u202e1"}), reason: reasonSubject},
		{name: "subject as a number", token: signedSession(map[string]any{"sub": 1}), reason: "bad claim"},

		// join-specific claims
		{name: "join: match missing", join: true, token: signedJoin(map[string]any{"match": del}), reason: reasonMatch},
		{name: "join: match empty", join: true, token: signedJoin(map[string]any{"match": ""}), reason: reasonMatch},
		{name: "join: match as a number", join: true, token: signedJoin(map[string]any{"match": 7}), reason: "bad claim"},
		{name: "join: seat missing", join: true, token: signedJoin(map[string]any{"seat": del}), reason: reasonSeat},
		{name: "join: seat as a string", join: true, token: signedJoin(map[string]any{"seat": "1"}), reason: "bad claim"},
		{name: "join: seat 1.5", join: true, token: signedJoin(map[string]any{"seat": 1.5}), reason: "bad claim"},
		{name: "join: seat 1e0", join: true, token: craft(hdrHS256, strings.Replace(joinPayload(nil), `"seat":3`, `"seat":1e0`, 1), hs256), reason: "bad claim"},
		{name: "join: seat negative", join: true, token: signedJoin(map[string]any{"seat": -1}), reason: "bad claim"},
		{name: "join: seat beyond int32", join: true, token: signedJoin(map[string]any{"seat": int64(1) << 40}), reason: "bad claim"},
		{name: "join: jti missing", join: true, token: signedJoin(map[string]any{"jti": del}), reason: reasonJTI},
		{name: "join: lifetime longer than JoinTTL + leeway", join: true, token: signedJoin(map[string]any{"exp": t0.Add(time.Hour).Unix()}), reason: reasonLifetime},
		{name: "join: expired", join: true, token: signedJoin(map[string]any{"exp": t0.Add(-time.Minute).Unix()}), reason: reasonExpired},

		// not JWTs at all
		{name: "empty string", token: "", reason: reasonMalformed},
		{name: "one word", token: "hello", reason: reasonMalformed},
		{name: "dots only", token: "..", reason: reasonMalformed},
		{name: "a.b.c", token: "a.b.c", reason: reasonMalformed},
		{name: "four segments", token: valid + ".x", reason: reasonMalformed},
		{name: "Bearer prefix left in", token: "Bearer " + valid, reason: reasonMalformed},
		{name: "trailing newline", token: valid + "\n", reason: reasonMalformed},
		{name: "leading space", token: " " + valid, reason: reasonMalformed},
		{name: "base64 padding", token: validParts[0] + "=." + validParts[1] + "." + validParts[2], reason: reasonMalformed},
		{name: "standard base64 alphabet", token: strings.NewReplacer("-", "+", "_", "/").Replace(craft(`{"alg":"HS256","x":"??>>"}`, sessionPayload(nil), hs256)), reason: reasonMalformed},
		{name: "non-ASCII", token: "ä.ö.ü", reason: reasonMalformed},
		{name: "JSON instead of a JWT", token: `{"alg":"HS256"}`, reason: reasonMalformed},
	}
	if len(cases) < 15 {
		t.Fatalf("only %d forgeries", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.join {
				_, err = a.VerifyJoin(tc.token)
			} else {
				_, err = a.VerifySession(tc.token)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			got := reasonOf(err)
			if got != tc.reason && !(tc.reason == "bad claim" && strings.HasPrefix(got, "bad claim: ")) {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			if msg := err.Error(); len(tc.token) > 8 && (strings.Contains(msg, tc.token) || strings.Contains(msg, "admin")) {
				t.Errorf("error message leaks token material: %q", msg)
			}
		})
	}
	// The valid tokens the forgeries were derived from are accepted, so each refusal above is
	// down to what was changed.
	if _, err := a.VerifySession(valid); err != nil {
		t.Fatalf("base session token refused: %v", err)
	}
	if _, err := a.VerifySession(signedSession(map[string]any{"aud": []string{"session"}})); err != nil {
		t.Fatalf(`aud ["session"] refused: %v`, err)
	}
	if _, err := a.VerifySession(signedSession(map[string]any{
		"exp": t0.Add(-DefaultLeeway + time.Second).Unix(),
		"nbf": t0.Add(DefaultLeeway).Unix(),
		"iat": t0.Add(DefaultLeeway).Unix(),
	})); err != nil {
		t.Fatalf("exp/nbf/iat within leeway refused: %v", err)
	}
	if _, err := a.VerifyJoin(signedJoin(nil)); err != nil {
		t.Fatalf("base join ticket refused: %v", err)
	}
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestOversizedTokenRefusedBeforeParsing(t *testing.T) {
	a, _ := newAuth(t, nil)
	big, _ := newAuth(t, func(c *Config) { c.MaxTokenLen = 1 << 16 })
	// A correctly signed token that is only wrong in being too long.
	tok := signedSession(map[string]any{"pad": strings.Repeat("x", 4096)})
	if len(tok) <= DefaultMaxTokenLen {
		t.Fatalf("token only %d bytes", len(tok))
	}
	if _, err := big.VerifySession(tok); err != nil {
		t.Fatalf("with a larger limit: %v", err)
	}
	for _, tc := range []struct {
		name  string
		token string
		join  bool
	}{
		{"signed session", tok, false},
		{"signed session as join", tok, true},
		{"1 MiB of garbage", strings.Repeat("\xff", 1<<20), false},
		{"limit + 1", tok[:DefaultMaxTokenLen+1], false},
	} {
		before := a.signatureCheck.Load()
		var err error
		if tc.join {
			_, err = a.VerifyJoin(tc.token)
		} else {
			_, err = a.VerifySession(tc.token)
		}
		if !errors.Is(err, ErrInvalidToken) || reasonOf(err) != reasonTooLong {
			t.Errorf("%s: %v", tc.name, err)
		}
		if n := a.signatureCheck.Load() - before; n != 0 {
			t.Errorf("%s: %d signature checks for an oversized token", tc.name, n)
		}
	}
	// A signed token as close to the limit as base64 allows is accepted.
	var near string
	for n := 2800; ; n++ {
		t := signedSession(map[string]any{"pad": strings.Repeat("x", n)})
		if len(t) > DefaultMaxTokenLen {
			break
		}
		near = t
	}
	if len(near) < DefaultMaxTokenLen-1 {
		t.Fatalf("near-limit token is %d bytes", len(near))
	}
	if _, err := a.VerifySession(near); err != nil {
		t.Fatalf("%d-byte token: %v", len(near), err)
	}
}

func TestJoinCapacityRefusesRatherThanForgets(t *testing.T) {
	a, clk := newAuth(t, func(c *Config) { c.MaxUsedTickets = 2 })
	t1, _, _ := a.IssueJoin("p1", "m", 0)
	t2, _, _ := a.IssueJoin("p2", "m", 1)
	for _, tok := range []string{t1, t2} {
		if _, err := a.VerifyJoin(tok); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(20 * time.Second)
	if _, _, err := a.IssueJoin("p3", "m", 2); !errors.Is(err, ErrJoinCapacity) {
		t.Fatalf("IssueJoin at capacity: %v", err)
	}
	t3 := signedJoin(map[string]any{"sub": "p3", "jti": "j3", "exp": clk.Now().Add(30 * time.Second).Unix()})
	_, err := a.VerifyJoin(t3)
	if !errors.Is(err, ErrJoinCapacity) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("VerifyJoin at capacity: %v", err)
	}
	// Used tickets were not forgotten to make room.
	if _, err := a.VerifyJoin(t1); reasonOf(err) != reasonUsed {
		t.Fatalf("replay at capacity: %v", err)
	}
	// Once t1 and t2 can no longer pass the exp check (exp + leeway = t0+60s), they are
	// forgotten and t3 (refused, so not consumed) is accepted.
	clk.Set(t0.Add(DefaultJoinTTL + DefaultLeeway))
	if _, err := a.VerifyJoin(t3); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := a.used.len(); n != 1 {
		t.Fatalf("used set holds %d, want 1", n)
	}
	if _, _, err := a.IssueJoin("p4", "m", 0); err != nil {
		t.Fatalf("IssueJoin after expiry: %v", err)
	}
}

func TestUsedSetPrunes(t *testing.T) {
	a, clk := newAuth(t, nil)
	for i := 0; i < 500; i++ {
		tok, _, err := a.IssueJoin("p1", "m", i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.VerifyJoin(tok); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			clk.Advance(time.Second)
		}
	}
	if n := a.used.len(); n != 500 {
		t.Fatalf("used = %d", n)
	}
	clk.Advance(DefaultJoinTTL + DefaultLeeway)
	a.used.full(clk.Now())
	if n := a.used.len(); n != 0 {
		t.Fatalf("after expiry used = %d, want 0", n)
	}
}

func TestClockStepBackCannotReviveForgottenTicket(t *testing.T) {
	a, clk := newAuth(t, nil)
	tok, _, _ := a.IssueJoin("p1", "m", 0)
	if _, err := a.VerifyJoin(tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultJoinTTL + DefaultLeeway + time.Second)
	a.used.full(clk.Now()) // forgets the ticket
	if a.used.len() != 0 {
		t.Fatal("not forgotten")
	}
	clk.Set(t0.Add(time.Second)) // wall clock steps back: the ticket's exp check passes again
	if _, err := a.VerifyJoin(tok); err == nil {
		t.Fatal("forgotten ticket accepted after the clock stepped back")
	}
}

func TestConcurrentUse(t *testing.T) {
	a, _ := newAuth(t, nil)
	tok, _, err := a.IssueJoin("p1", "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := a.IssueSession("p1", "ann")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.VerifyJoin(tok); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if reasonOf(err) != reasonUsed {
				t.Error(err)
			}
			if _, err := a.VerifySession(sess); err != nil {
				t.Error(err)
			}
			if _, _, err := a.IssueGuest("x"); err != nil {
				t.Error(err)
			}
			own, _, err := a.IssueJoin("p1", "m", 1)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := a.VerifyJoin(own); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("ticket accepted %d times", wins)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no secret", Config{}},
		{"31-byte secret", Config{Secret: testSecret[:31]}},
		{"JoinTTL above 30s", Config{Secret: testSecret, JoinTTL: 31 * time.Second}},
		{"negative JoinTTL", Config{Secret: testSecret, JoinTTL: -time.Second}},
		{"negative SessionTTL", Config{Secret: testSecret, SessionTTL: -time.Second}},
		{"negative Leeway", Config{Secret: testSecret, Leeway: -time.Second}},
		{"huge Leeway", Config{Secret: testSecret, Leeway: time.Hour}},
		{"tiny MaxTokenLen", Config{Secret: testSecret, MaxTokenLen: 100}},
		{"negative MaxUsedTickets", Config{Secret: testSecret, MaxUsedTickets: -1}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	a, err := New(Config{Secret: RandomSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if a.issuer != DefaultIssuer || a.sessionTTL != DefaultSessionTTL || a.joinTTL != DefaultJoinTTL ||
		a.leeway != DefaultLeeway || a.maxTokenLen != DefaultMaxTokenLen || a.used.max != DefaultMaxUsedTickets {
		t.Fatalf("defaults not applied: %+v", a)
	}
	// The secret is copied.
	secret := append([]byte(nil), testSecret...)
	b, _ := New(Config{Secret: secret, Now: func() time.Time { return t0 }})
	tok, _, _ := b.IssueSession("p1", "x")
	secret[0] ^= 1
	if _, err := b.VerifySession(tok); err != nil {
		t.Fatalf("caller's secret buffer changed the key: %v", err)
	}
}

func TestRandomSecret(t *testing.T) {
	s1, s2 := RandomSecret(), RandomSecret()
	if len(s1) != 32 || string(s1) == string(s2) {
		t.Fatalf("RandomSecret: %x %x", s1, s2)
	}
}
