package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/auth"
)

// HTTPHost is what the HTTP API needs of the server (*server.Server implements it).
type HTTPHost interface {
	Handle(pattern string, h http.Handler)
	Authenticate(r *http.Request) (auth.Session, error)
	Fail(w http.ResponseWriter, err error)
	WSAddress(r *http.Request) string
	Draining() bool
}

// Mount adds the matchmaking and party endpoints (server/API.md) to host.
func (mm *Matchmaker) Mount(host HTTPHost) {
	a := &api{mm: mm, host: host}
	host.Handle("POST /v1/matchmaking/tickets", a.authed(a.create))
	host.Handle("GET /v1/matchmaking/tickets/{id}", a.authed(a.get))
	host.Handle("DELETE /v1/matchmaking/tickets/{id}", a.authed(a.cancel))
	host.Handle("GET /v1/matchmaking/queues", http.HandlerFunc(a.queues))
	host.Handle("POST /v1/parties", a.authed(a.createParty))
	host.Handle("POST /v1/parties/join", a.authed(a.joinParty))
	host.Handle("GET /v1/parties/{id}", a.authed(a.getParty))
	host.Handle("POST /v1/parties/{id}/leave", a.authed(a.leaveParty))
}

type api struct {
	mm   *Matchmaker
	host HTTPHost
}

type handler func(w http.ResponseWriter, r *http.Request, who Member)

func (a *api) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := a.host.Authenticate(r)
		if err != nil {
			a.host.Fail(w, err)
			return
		}
		h(w, r, Member{ID: s.PlayerID, Name: s.Name})
	})
}

// decode reads a JSON body into v (the server caps bodies at 16 KiB).
func decode(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body above %d bytes", ErrTooLarge, tooBig.Limit)
		}
		return fmt.Errorf("%w: invalid JSON: %v", ErrInvalid, err)
	}
	return nil
}

func (a *api) view(r *http.Request, t *Ticket, who string) map[string]any {
	q, _ := a.mm.Queue(t.Queue)
	return View(t, q, who, a.host.WSAddress(r), a.mm.now())
}

func (a *api) create(w http.ResponseWriter, r *http.Request, who Member) {
	if a.host.Draining() {
		a.host.Fail(w, fmt.Errorf("%w: the server is draining", ErrClosed))
		return
	}
	var req struct {
		Queue      string         `json:"queue"`
		Properties map[string]any `json:"properties"`
	}
	if err := decode(r.Body, &req); err != nil {
		a.host.Fail(w, err)
		return
	}
	t, err := a.mm.Submit(r.Context(), who, Request{Queue: req.Queue, Properties: req.Properties})
	if err != nil {
		a.host.Fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusCreated, a.view(r, t, who.ID))
}

func (a *api) get(w http.ResponseWriter, r *http.Request, who Member) {
	id := r.PathValue("id")
	wait := time.Duration(0)
	if s := r.URL.Query().Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			a.host.Fail(w, fmt.Errorf("%w: wait is a duration such as 20s", ErrInvalid))
			return
		}
		wait = min(d, a.mm.cfg.MaxWait.D())
	}
	var t *Ticket
	var err error
	if wait > 0 {
		// One read of the ticket: Wait checks it is the player's, then waits for a change from
		// its status now (or from ?status=).
		started := time.Now()
		// The server's write timeout is shorter than a long-poll may be.
		_ = http.NewResponseController(w).SetWriteDeadline(started.Add(wait + 10*time.Second))
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		t, err = a.mm.Wait(ctx, id, who.ID, Status(r.URL.Query().Get("status")))
		cancel()
		if err == nil && t.Status.Terminal() && t.Ended.After(started) {
			a.mm.metrics.phase.WithLabelValues(t.Queue, "told").Observe(max(time.Since(t.Ended), 0).Seconds())
		}
	} else {
		t, err = a.mm.Get(r.Context(), id, who.ID)
	}
	if err != nil {
		a.host.Fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, a.view(r, t, who.ID))
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request, who Member) {
	t, err := a.mm.Cancel(r.Context(), r.PathValue("id"), who.ID)
	if err != nil {
		if t != nil && errors.Is(err, ErrFinished) {
			err = fmt.Errorf("%w (%s)", err, t.Status)
		}
		a.host.Fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, a.view(r, t, who.ID))
}

func (a *api) queues(w http.ResponseWriter, r *http.Request) {
	out := make([]map[string]any, 0, len(a.mm.cfg.Queues))
	for _, q := range a.mm.cfg.Queues {
		out = append(out, map[string]any{"name": q.Name, "game": q.Game, "players": q.Players, "min_players": q.MinPlayers,
			"teams": q.Teams, "seats": q.Seats, "backfill": q.Backfill, "ticket_ttl_ms": q.TicketTTL.D().Milliseconds(),
			"start_after_ms": q.StartAfter.D().Milliseconds()})
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"queues": out})
}

func (a *api) createParty(w http.ResponseWriter, r *http.Request, who Member) {
	p, err := a.mm.parties.Create(r.Context(), who)
	if err != nil {
		a.mm.metrics.refused.WithLabelValues("party").Inc()
		a.host.Fail(w, err)
		return
	}
	a.mm.metrics.parties.Set(float64(a.mm.parties.Len()))
	server.WriteJSON(w, http.StatusCreated, p)
}

func (a *api) joinParty(w http.ResponseWriter, r *http.Request, who Member) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decode(r.Body, &req); err != nil {
		a.host.Fail(w, err)
		return
	}
	if req.Code == "" || len(req.Code) > 32 {
		a.host.Fail(w, fmt.Errorf("%w: code is required", ErrInvalid))
		return
	}
	p, err := a.mm.parties.Join(r.Context(), req.Code, who)
	if err != nil {
		a.mm.metrics.refused.WithLabelValues("party").Inc()
		a.host.Fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, p)
}

func (a *api) getParty(w http.ResponseWriter, r *http.Request, who Member) {
	p, err := a.mm.parties.Get(r.Context(), r.PathValue("id"), who.ID)
	if err != nil {
		a.host.Fail(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, p)
}

func (a *api) leaveParty(w http.ResponseWriter, r *http.Request, who Member) {
	if err := a.mm.parties.Leave(r.Context(), r.PathValue("id"), who.ID); err != nil {
		a.host.Fail(w, err)
		return
	}
	a.mm.metrics.parties.Set(float64(a.mm.parties.Len()))
	server.WriteJSON(w, http.StatusOK, map[string]string{"status": "left"})
}
