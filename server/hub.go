package server

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// hub tracks sessions by id so that a dropped one can be resumed within the resume window.
// mu guards everything; it is never held while calling into a session or a match.
type hub struct {
	mu     sync.Mutex
	byID   map[string]*session
	byUser map[string]map[*session]struct{} // live and parked sessions per user (Server.Notify)
	parked map[*session]time.Time           // dropped sessions and when they expire
	window time.Duration
}

func newHub(window time.Duration) *hub {
	return &hub{byID: map[string]*session{}, byUser: map[string]map[*session]struct{}{}, parked: map[*session]time.Time{}, window: window}
}

func (h *hub) add(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byID[s.id] = s
	set := h.byUser[s.user]
	if set == nil {
		set = map[*session]struct{}{}
		h.byUser[s.user] = set
	}
	set[s] = struct{}{}
}

// ofUser returns the sessions of user.
func (h *hub) ofUser(user string) []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*session, 0, len(h.byUser[user]))
	for s := range h.byUser[user] {
		out = append(out, s)
	}
	return out
}

// hasUser reports whether user has a session.
func (h *hub) hasUser(user string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byUser[user]) > 0
}

// remove forgets s (only if its id still names it: a resumed session took the id over).
func (h *hub) remove(s *session) {
	id := s.sessionID()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byID[id] == s {
		delete(h.byID, id)
	}
	delete(h.parked, s)
	if set := h.byUser[s.user]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.byUser, s.user)
		}
	}
}

// park keeps a dropped session for the resume window.
func (h *hub) park(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.parked[s] = time.Now().Add(h.window)
}

// take hands over session id to a resuming connection of the same user with the right token.
// The session may be parked or still open (its connection half-dead): either way it is
// unparked and the caller adopts it. Nil when there is no such session or the token is wrong.
func (h *hub) take(id, token, user string) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byID[id]
	if s == nil {
		return nil
	}
	s.mu.Lock()
	ok := s.user == user && tokensEqual(s.resumeToken, token)
	if ok {
		s.resumeToken = "" // each resume token works once
	}
	s.mu.Unlock()
	if !ok {
		return nil
	}
	delete(h.parked, s)
	delete(h.byID, id)
	if set := h.byUser[s.user]; set != nil {
		delete(set, s) // the resuming session is indexed itself
	}
	return s
}

// rename moves s (which adopted another session's id) to its new id.
func (h *hub) rename(oldID string, s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byID[oldID] == s {
		delete(h.byID, oldID)
	}
	h.byID[s.sessionID()] = s
}

// expire forgets parked sessions whose window has passed; their seats end with the match's own
// reconnect grace.
func (h *hub) expire(now time.Time) {
	h.mu.Lock()
	var gone []*session
	for s, exp := range h.parked {
		if now.After(exp) {
			gone = append(gone, s)
			delete(h.parked, s)
		}
	}
	h.mu.Unlock()
	for _, s := range gone {
		h.remove(s)
	}
}

// all returns every session the hub knows (live or parked).
func (h *hub) all() []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*session, 0, len(h.byID))
	for _, s := range h.byID {
		out = append(out, s)
	}
	return out
}

func (h *hub) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byID)
}

// newToken returns 128 random bits, URL-safe.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// connCounter enforces the connection caps: in all, per user and per client IP.
type connCounter struct {
	mu      sync.Mutex
	total   int
	perUser map[string]int
	perIP   map[string]int
	max     int
	maxPer  int
	maxIP   int // < 0: no per-IP cap
}

func newConnCounter(max, perUser, perIP int) *connCounter {
	return &connCounter{perUser: map[string]int{}, perIP: map[string]int{}, max: max, maxPer: perUser, maxIP: perIP}
}

// acquire takes a connection for user from ip, or says which cap refused it ("cap", "cap_user",
// "cap_ip").
func (c *connCounter) acquire(user, ip string) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.total >= c.max:
		return false, "cap"
	case c.perUser[user] >= c.maxPer:
		return false, "cap_user"
	case c.maxIP >= 0 && c.perIP[ip] >= c.maxIP:
		return false, "cap_ip"
	}
	c.total++
	c.perUser[user]++
	c.perIP[ip]++
	return true, ""
}

func (c *connCounter) release(user, ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.perUser[user]--; c.perUser[user] <= 0 {
		delete(c.perUser, user)
	}
	if c.perIP[ip]--; c.perIP[ip] <= 0 {
		delete(c.perIP, ip)
	}
}
