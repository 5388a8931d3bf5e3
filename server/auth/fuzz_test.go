package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: no input panics, every refusal wraps ErrInvalidToken, and anything accepted
// carries a valid subject (and, for join tickets, a match).
func FuzzVerify(f *testing.F) {
	a, err := New(Config{Secret: testSecret, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	sess, _, _ := a.IssueSession("p1", "ann")
	join, _, _ := a.IssueJoin("p1", "m-1", 0)
	for _, s := range []string{sess, join, signedSession(nil), signedJoin(nil), "", "a.b.c", "..",
		craft(`{"alg":"none"}`, sessionPayload(nil), hs256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if s, err := a.VerifySession(tok); err == nil {
			if !validID(s.PlayerID) || len([]rune(s.Name)) > MaxNameLen {
				t.Fatalf("accepted %+v", s)
			}
		} else if !strings.HasPrefix(err.Error(), ErrInvalidToken.Error()+": ") {
			t.Fatalf("error %v", err)
		}
		if j, err := a.VerifyJoin(tok); err == nil {
			if !validID(j.PlayerID) || !validID(j.MatchID) || j.Seat < 0 {
				t.Fatalf("accepted %+v", j)
			}
		} else if !strings.HasPrefix(err.Error(), ErrInvalidToken.Error()+": ") {
			t.Fatalf("error %v", err)
		}
	})
}

// FuzzClaimsJSON: the strict claims decoder never panics, and accepts only JSON objects that
// encoding/json also decodes as an object.
func FuzzClaimsJSON(f *testing.F) {
	for _, s := range []string{sessionPayload(nil), joinPayload(nil), `{}`, `[]`, `null`, `{"exp":"1"}`,
		`{"exp":1,"exp":2}`, `{"\u0065xp":1,"exp":2}`, `{"aud":["a",1]}`, `{"seat":1e0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) { // encoding/json validates before calling UnmarshalJSON
			return
		}
		var c claims
		if err := c.UnmarshalJSON(b); err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			t.Fatalf("strict decoder accepted %q, encoding/json: %v", b, err)
		}
		if c.seat < 0 || c.seat > MaxSeat {
			t.Fatalf("seat %d", c.seat)
		}
	})
}
