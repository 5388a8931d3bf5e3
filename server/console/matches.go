package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// matchJSON is one match in the console's list.
type matchJSON struct {
	ID         string            `json:"id"`
	Game       string            `json:"game"`
	Label      map[string]string `json:"label"`
	Private    bool              `json:"private"`
	Players    int               `json:"players"`
	MaxPlayers int               `json:"max_players"`
	Tick       uint32            `json:"tick"`
	TickRate   int               `json:"tick_rate"`
	TickP99    float64           `json:"tick_p99_ms"`
	Overruns   uint64            `json:"overruns"`
	Epoch      uint32            `json:"epoch"`
	Owner      server.Owner      `json:"owner"`
	CreatedAt  time.Time         `json:"created_at"`
	Age        float64           `json:"age_s"`
}

func toMatchJSON(i game.Info, owner server.Owner, now time.Time) matchJSON {
	return matchJSON{ID: i.ID, Game: i.Game, Label: i.Label, Private: i.Private, Players: i.Players, MaxPlayers: i.MaxPlayers,
		Tick: i.Tick, TickRate: i.TickRate, TickP99: float64(i.TickP99Micros) / 1e3, Overruns: i.Overruns, Epoch: i.Epoch,
		Owner: owner, CreatedAt: i.CreatedAt, Age: now.Sub(i.CreatedAt).Seconds()}
}

// memberJSON is one seat of an opened match.
type memberJSON struct {
	PID       uint32  `json:"pid"`
	UserID    string  `json:"player_id"`
	Name      string  `json:"name"`
	Connected bool    `json:"connected"`
	DroppedS  float64 `json:"dropped_s,omitempty"` // seconds since the connection was lost
	RTT       float64 `json:"rtt_ms"`              // last WebSocket ping round trip (-1 unknown)
	LastInput uint32  `json:"last_input"`          // the input ack
	Queued    int     `json:"queued_bytes"`        // outbound queue (-1 unknown)
	Via       string  `json:"via,omitempty"`       // the instance the member is connected to, when relayed
}

type detailJSON struct {
	Match   matchJSON    `json:"match"`
	Members []memberJSON `json:"members"`
}

// maxListed is how many matches the console lists at most (filter to see others).
const maxListed = 1000

// handleMatches lists the matches of every instance: ?game=arena&label=mode:ranked (labels
// repeatable; every pair must match). Private matches are listed too.
func (c *Console) handleMatches(w http.ResponseWriter, r *http.Request, _ operator) {
	q := r.URL.Query()
	f := game.Filter{Game: q.Get("game"), IncludePrivate: true}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			c.fail(w, &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: fmt.Sprintf("label filter %q: want key:value", l)})
			return
		}
		if f.Label == nil {
			f.Label = map[string]string{}
		}
		f.Label[k] = v
	}
	ctx, cancel := bg(r)
	defer cancel()
	now := time.Now()
	out := []matchJSON{}
	f.Limit = 100
	cursor, more := "", false
	for {
		page, next, err := c.srv.Bus().List(ctx, f, cursor)
		if err != nil {
			c.fail(w, err)
			return
		}
		for _, m := range page {
			out = append(out, toMatchJSON(m.Info, m.Owner, now))
		}
		if next == "" {
			break
		}
		if len(out) >= maxListed {
			more = true
			break
		}
		cursor = next
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"matches": out, "more": more})
}

// opRequest is an operator request about a match or an instance, as it travels to the
// instance that carries it out (cluster.Bus.Admin).
type opRequest struct {
	Match string `json:"match,omitempty"`
	PID   uint32 `json:"pid,omitempty"`
	Who   string `json:"who"`
	From  string `json:"from"`
	Via   string `json:"via,omitempty"` // the instance whose console asked
}

// owner finds the instance that runs match id ("" with the local match when it is here).
func (c *Console) owner(ctx context.Context, id string) (*game.Match, string, error) {
	if m, ok := c.srv.Registry().Get(id); ok {
		return m, "", nil
	}
	h, err := c.srv.Locate(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if c.cluster == nil || h.Owner().Node == c.srv.NodeID() {
		return nil, "", fmt.Errorf("%w %q", server.ErrNoMatch, id)
	}
	return nil, h.Owner().Node, nil
}

func (c *Console) handleMatch(w http.ResponseWriter, r *http.Request, op operator) {
	ctx, cancel := bg(r)
	defer cancel()
	id := r.PathValue("id")
	m, node, err := c.owner(ctx, id)
	if err != nil {
		c.fail(w, err)
		return
	}
	if m != nil {
		d, err := c.detail(ctx, m)
		if err != nil {
			c.fail(w, err)
			return
		}
		server.WriteJSON(w, http.StatusOK, d)
		return
	}
	b, err := c.remote(ctx, node, id, "detail", opRequest{Match: id, Who: op.Name, From: op.IP})
	if err != nil {
		c.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// connStats is what a session sink tells about its connection (server.session.ConnStats).
type connStats interface {
	ConnStats() (rtt time.Duration, queued int)
}

// relayedSink is the owner's sink of a member connected to another instance.
type relayedSink interface{ RelayedVia() string }

// detail reads a local match's members on its goroutine, with their connections' figures.
func (c *Console) detail(ctx context.Context, m *game.Match) (detailJSON, error) {
	now := time.Now()
	mems, err := m.Members(ctx)
	if errors.Is(err, game.ErrMatchEnded) {
		return detailJSON{}, fmt.Errorf("%w %q", server.ErrNoMatch, m.ID())
	}
	if err != nil {
		return detailJSON{}, err
	}
	d := detailJSON{Match: toMatchJSON(m.Info(), c.srv.Owner(), now), Members: make([]memberJSON, 0, len(mems))}
	for _, x := range mems {
		mj := memberJSON{PID: x.PID, UserID: x.UserID, Name: x.Name, Connected: x.Connected, LastInput: x.LastInput, RTT: -1, Queued: -1}
		if !x.DroppedAt.IsZero() {
			mj.DroppedS = now.Sub(x.DroppedAt).Seconds()
		}
		switch s := x.Sink.(type) {
		case connStats:
			rtt, q := s.ConnStats()
			mj.Queued = q
			if rtt > 0 {
				mj.RTT = float64(rtt) / float64(time.Millisecond)
			}
		case relayedSink:
			mj.Via = s.RelayedVia()
		}
		d.Members = append(d.Members, mj)
	}
	return d, nil
}

// handleStream relays the match's public SSE stream (GET /v1/matches/{id}/stream on this
// instance, which reaches a remote match through the bus) behind the console's session.
func (c *Console) handleStream(w http.ResponseWriter, r *http.Request, _ operator) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.RequestURI = "/v1/matches/"+r.PathValue("id")+"/stream", "", ""
	r2.Header.Del("Cookie")
	r2.Header.Del("Origin")
	c.srv.Handler().ServeHTTP(w, r2)
}

func (c *Console) handleEnd(w http.ResponseWriter, r *http.Request, op operator) {
	id := r.PathValue("id")
	c.act(w, r, op, "end_match", id, opRequest{Match: id})
}

func (c *Console) handleKick(w http.ResponseWriter, r *http.Request, op operator) {
	var body struct {
		PID uint32 `json:"pid"`
	}
	if err := decodeBody(r, &body); err != nil {
		c.fail(w, err)
		return
	}
	if body.PID == 0 {
		c.fail(w, &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: "kick needs the player's pid"})
		return
	}
	id := r.PathValue("id")
	c.act(w, r, op, "kick_player", id, opRequest{Match: id, PID: body.PID})
}

func (c *Console) handleDrain(w http.ResponseWriter, r *http.Request, op operator) {
	node := r.PathValue("node")
	q := opRequest{Who: op.Name, From: op.IP}
	ctx, cancel := bg(r)
	defer cancel()
	var err error
	if node == c.srv.NodeID() {
		err = c.drain(q)
	} else if c.cluster == nil {
		err = &server.CodeError{Code: protocol.ErrCodeNotFound, Msg: fmt.Sprintf("no instance %q", node)}
	} else {
		_, err = c.remote(ctx, node, node, "drain", q)
		c.audit(op.Name, op.IP, "", "drain", err, "node", node, "session", op.ID)
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusAccepted, map[string]any{"node": node, "draining": true})
}

// act carries out an action on match id, here or (through the bus) on its owner.
func (c *Console) act(w http.ResponseWriter, r *http.Request, op operator, action, id string, q opRequest) {
	q.Who, q.From = op.Name, op.IP
	ctx, cancel := bg(r)
	defer cancel()
	m, node, err := c.owner(ctx, id)
	if err == nil {
		if m != nil {
			err = c.apply(ctx, action, m, q)
		} else {
			_, err = c.remote(ctx, node, id, action, q)
			c.audit(op.Name, op.IP, "", action, err, "match", id, "pid", q.PID, "node", node, "session", op.ID)
		}
	} else {
		c.audit(op.Name, op.IP, "", action, err, "match", id, "pid", q.PID, "session", op.ID)
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"match": id, "action": action, "ok": true})
}

// apply carries out action on local match m and audits it.
func (c *Console) apply(ctx context.Context, action string, m *game.Match, q opRequest) error {
	var err error
	switch action {
	case "end_match":
		m.Stop(protocol.EndStopped)
		select { // answer once it is gone, so the operator's next listing no longer shows it
		case <-m.Done():
		case <-ctx.Done():
			err = fmt.Errorf("%w: the match did not end in time (it will)", server.ErrTimeout)
		}
	case "kick_player":
		var mems []game.MemberDetail
		if mems, err = m.Members(ctx); err == nil {
			err = &server.CodeError{Code: protocol.ErrCodeNotFound, Msg: fmt.Sprintf("no player %d in match %s", q.PID, m.ID())}
			for _, x := range mems {
				if x.PID == q.PID {
					m.Kick(q.PID)
					err = nil
				}
			}
		}
	default:
		err = &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: "unknown action " + action}
	}
	attrs := []any{"match", m.ID(), "game", m.Game()}
	if q.PID != 0 {
		attrs = append(attrs, "pid", q.PID)
	}
	c.audit(q.Who, q.From, q.Via, action, err, attrs...)
	return err
}

func (c *Console) drain(q opRequest) error {
	var err error
	if c.cfg.Drain == nil {
		err = &server.CodeError{Code: protocol.ErrCodeUnavailable, Msg: "this instance cannot be drained from the console (no drain hook)"}
	}
	c.audit(q.Who, q.From, q.Via, "drain", err, "node", c.srv.NodeID())
	if err == nil {
		go c.cfg.Drain() // the shutdown takes its grace period; answer now
	}
	return err
}

// remote sends an operator request to the instance node (through the cluster bus).
func (c *Console) remote(ctx context.Context, node, key, op string, q opRequest) ([]byte, error) {
	q.Via = c.srv.NodeID()
	args, _ := json.Marshal(q)
	return c.cluster.Admin(ctx, node, key, op, args)
}

// serveRemote carries out another instance's console's request here (cluster.AdminHandler).
func (c *Console) serveRemote(ctx context.Context, op string, args []byte) ([]byte, error) {
	var q opRequest
	if err := json.Unmarshal(args, &q); err != nil {
		return nil, &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: "bad operator request: " + err.Error()}
	}
	q.Who = cleanName(q.Who)
	if op == "drain" {
		return nil, c.drain(q)
	}
	m, ok := c.srv.Registry().Get(q.Match)
	if !ok {
		return nil, &server.CodeError{Code: protocol.ErrCodeNotFound, Msg: fmt.Sprintf("no match %q on %s", q.Match, c.srv.NodeID())}
	}
	if op == "detail" {
		d, err := c.detail(ctx, m)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	}
	return nil, c.apply(ctx, op, m, q)
}
