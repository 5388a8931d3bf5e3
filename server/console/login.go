package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// cookieName is the console session's cookie (Path /console, HttpOnly, SameSite=Strict).
const cookieName = "tickrelay_console"

// maxSessions bounds the live console sessions; a login over it ends the oldest.
const maxSessions = 256

// operator is a logged-in console session: who (the name typed at login, for the audit log),
// from where, until when.
type operator struct {
	Name    string
	IP      string
	ID      string // a short public id of the session, for the audit log (never the cookie)
	Expires time.Time
}

type sessions struct {
	mu   sync.Mutex
	byTk map[string]*operator // guarded by mu: cookie value → session
}

func newSessions() *sessions { return &sessions{byTk: map[string]*operator{}} }

func (s *sessions) create(op operator) (token string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = hex.EncodeToString(b[:])
	var id [4]byte
	_, _ = rand.Read(id[:])
	op.ID = hex.EncodeToString(id[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byTk) >= maxSessions {
		var oldest string
		for k, v := range s.byTk {
			if oldest == "" || v.Expires.Before(s.byTk[oldest].Expires) {
				oldest = k
			}
		}
		delete(s.byTk, oldest)
	}
	s.byTk[token] = &op
	return token
}

// get returns the live session of token (expired ones are deleted).
func (s *sessions) get(token string, now time.Time) (operator, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.byTk[token]
	if !ok {
		return operator{}, false
	}
	if !now.Before(op.Expires) {
		delete(s.byTk, token)
		return operator{}, false
	}
	return *op, true
}

func (s *sessions) remove(token string) {
	s.mu.Lock()
	delete(s.byTk, token)
	s.mu.Unlock()
}

// keyEqual compares the typed key with the operator key in constant time (over their SHA-256,
// so neither the content nor the length leaks through timing).
func keyEqual(given, key string) bool {
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && key != ""
}

// failures limits failed logins: at most perIP per client IP and 4×perIP in all within window
// (a distributed guess is slowed too). A success does not reset the count: it is a window.
type failures struct {
	mu     sync.Mutex
	perIP  int
	window time.Duration
	byIP   map[string]*failWindow // guarded by mu
	all    failWindow             // guarded by mu
}

type failWindow struct {
	start time.Time
	n     int
}

func newFailures(perIP int, window time.Duration) *failures {
	return &failures{perIP: perIP, window: window, byIP: map[string]*failWindow{}}
}

func (w *failWindow) count(now time.Time, window time.Duration) int {
	if now.Sub(w.start) >= window {
		w.start, w.n = now, 0
	}
	return w.n
}

// blocked reports whether ip may not try now, and when it may again.
func (f *failures) blocked(ip string, now time.Time) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.all.count(now, f.window) >= 4*f.perIP {
		return true, f.all.start.Add(f.window).Sub(now)
	}
	if w := f.byIP[ip]; w != nil && w.count(now, f.window) >= f.perIP {
		return true, w.start.Add(f.window).Sub(now)
	}
	return false, 0
}

func (f *failures) failed(ip string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.byIP) > 10000 { // sweep the windows that are over
		for k, w := range f.byIP {
			if now.Sub(w.start) >= f.window {
				delete(f.byIP, k)
			}
		}
	}
	w := f.byIP[ip]
	if w == nil {
		w = &failWindow{start: now}
		f.byIP[ip] = w
	}
	w.count(now, f.window)
	w.n++
	f.all.count(now, f.window)
	f.all.n++
}

// retryAfter is a Retry-After value in whole seconds (at least 1).
func retryAfter(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(s, 1))
}

// peerIP is the request's TCP peer (the admin listener is not meant to sit behind a proxy).
func peerIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// cleanName is the operator's name as the audit log shows it: printable, at most 64 runes,
// "operator" when empty.
func cleanName(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 64 {
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			n++
		}
	}
	if b.Len() == 0 {
		return "operator"
	}
	return b.String()
}
