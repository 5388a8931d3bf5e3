package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/auth"
)

// maxBody is the request body limit of every endpoint.
const maxBody = 16 << 10

// routes builds the HTTP handler: net/http ServeMux patterns, JSON in and out.
func (srv *Server) routes() http.Handler {
	mux := http.NewServeMux()
	srv.mux = mux
	mux.HandleFunc("GET /ws", srv.handleWS)
	mux.HandleFunc("POST /v1/auth/guest", srv.handleGuest)
	mux.HandleFunc("POST /v1/matches", srv.handleCreate)
	mux.HandleFunc("GET /v1/matches", srv.handleList)
	mux.HandleFunc("GET /v1/matches/{id}", srv.handleGet)
	mux.HandleFunc("POST /v1/matches/{id}/join", srv.handleJoin)
	mux.HandleFunc("POST /v1/matches/{id}/events", srv.handlePublish)
	mux.HandleFunc("GET /v1/matches/{id}/stream", srv.handleStream)
	mux.HandleFunc("GET /v1/games", srv.handleGames)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// The process is alive (200) either way; "bus" says whether the cluster bus works
		// (degraded while Redis is lost: local matches go on, relaying waits). The reason is
		// on the admin listener's /readyz.
		bus := "ok"
		if srv.bus.Health() != nil {
			bus = "degraded"
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "bus": bus})
	})
	mux.HandleFunc("GET /readyz", srv.handleReady)
	if srv.cfg.PublicMetrics {
		mux.Handle("GET /metrics", promHandler(srv.metrics))
	}
	if srv.cfg.SDKDir != "" {
		mux.Handle("GET /sdk/", http.StripPrefix("/sdk/", jsonNotFound(http.FileServer(http.Dir(srv.cfg.SDKDir)))))
	}
	if srv.cfg.DemoDir != "" {
		mux.Handle("GET /", jsonNotFound(http.FileServer(http.Dir(srv.cfg.DemoDir))))
	} else {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "tickrelay is running. The browser demo is served here when started with --demo (make run does).")
			fmt.Fprintln(w, "API: POST /v1/auth/guest, GET /v1/matches, WebSocket /ws (see server/API.md).")
		})
	}
	return srv.metrics.instrument(limitBodies(srv.cors(jsonFallback(mux))))
}

// limitBodies caps every request body at maxBody.
func limitBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		h.ServeHTTP(w, r)
	})
}

type apiError struct {
	Code      int    `json:"code"`
	Name      string `json:"name"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"` // the response's X-Request-Id
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code protocol.ErrorCode, msg string) {
	writeJSON(w, httpStatus(code), map[string]apiError{"error": {Code: int(code), Name: codeName(code), Message: protocol.OneLine(msg),
		RequestID: w.Header().Get(RequestIDHeader)}})
}

func (srv *Server) fail(w http.ResponseWriter, err error) {
	code := codeOf(err)
	if code == protocol.ErrCodeInternal {
		srv.log.Error("http request failed", "err", err, "request_id", w.Header().Get(RequestIDHeader))
		writeError(w, code, "internal error")
		return
	}
	writeError(w, code, err.Error())
}

// readJSON decodes the body into v; an empty body leaves v as is.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body above %d bytes", protocol.ErrTooLarge, maxBody)
		}
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	// Strict: a misspelt field ("gmae") is reported as unknown, not silently ignored.
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", errBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	if d.More() {
		return fmt.Errorf("%w: more than one JSON value in the body", errBadRequest)
	}
	return nil
}

// player authenticates the request's session token.
func (srv *Server) player(r *http.Request) (auth.Session, error) {
	tok := bearer(r)
	if tok == "" {
		return auth.Session{}, fmt.Errorf("%w: missing bearer token", auth.ErrInvalidToken)
	}
	s, err := srv.auth.VerifySession(tok)
	if err != nil {
		srv.metrics.authFailures.Inc()
	}
	return s, err
}

func (srv *Server) handleGuest(w http.ResponseWriter, r *http.Request) {
	if srv.cfg.DisableGuest {
		writeError(w, protocol.ErrCodeForbidden, "guest tokens are disabled on this server")
		return
	}
	if ok, wait := srv.guests.allow(ipKey(srv.clientIP(r))); !ok {
		srv.metrics.limited.WithLabelValues("guest_rate").Inc()
		w.Header().Set("Retry-After", retryAfter(wait))
		writeError(w, protocol.ErrCodeRateLimited, "too many guest tokens from this address: retry after "+retryAfter(wait)+" s")
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &req); err != nil {
		srv.fail(w, err)
		return
	}
	tok, s, err := srv.auth.IssueGuest(req.Name)
	if err != nil {
		srv.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "player_id": s.PlayerID, "name": s.Name, "expires_at": s.ExpiresAt.UTC()})
}

func (srv *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if srv.draining.Load() {
		srv.fail(w, errDraining)
		return
	}
	p, err := srv.player(r)
	if err != nil {
		srv.fail(w, err)
		return
	}
	var req struct {
		Game       string            `json:"game"`
		Params     json.RawMessage   `json:"params"`
		Private    bool              `json:"private"`
		MaxPlayers int               `json:"max_players"`
		Label      map[string]string `json:"label"`
	}
	if err := readJSON(r, &req); err != nil {
		srv.fail(w, err)
		return
	}
	games := strings.Join(srv.reg.Catalog().Names(), ", ")
	if req.Game == "" {
		srv.fail(w, fmt.Errorf("%w: game is required (one of %s)", errBadRequest, games))
		return
	}
	if _, ok := srv.reg.Catalog().Lookup(req.Game); !ok {
		srv.fail(w, fmt.Errorf("%w: no game %q on this server (it has: %s)", game.ErrUnknownGame, req.Game, games))
		return
	}
	if req.MaxPlayers < 0 || req.MaxPlayers > 10000 {
		srv.fail(w, fmt.Errorf("%w: max_players must be 0–10000", errBadRequest))
		return
	}
	if err := srv.checkLabels(req.Label); err != nil {
		srv.metrics.limited.WithLabelValues("labels").Inc()
		srv.fail(w, err)
		return
	}
	var params []byte
	if len(req.Params) > 0 && string(req.Params) != "null" {
		if params, err = jsonToMsgpack(req.Params); err != nil {
			srv.fail(w, fmt.Errorf("params: %w", err))
			return
		}
	}
	if srv.placeElsewhere(w, r, req) {
		return
	}
	m, err := srv.CreateMatch(r.Context(), game.CreateOptions{Game: req.Game, Params: params, Private: req.Private, MaxPlayers: req.MaxPlayers, Label: req.Label, Creator: p.PlayerID})
	if errors.Is(err, game.ErrPayloadTooDeep) {
		srv.metrics.payloadsRefused.Inc()
	}
	if err != nil {
		if errors.Is(err, game.ErrInit) { // the game's own words, for the developer
			err = fmt.Errorf("%w: %s", errBadRequest, strings.TrimPrefix(err.Error(), game.ErrInit.Error()+": "))
		}
		srv.fail(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	res, err := srv.res.reserveIn(ctx, LocalHandle(m, srv.owner()), p.PlayerID, 0, false)
	if err != nil {
		srv.fail(w, err)
		return
	}
	srv.fillAddress(r, &res)
	writeJSON(w, http.StatusCreated, map[string]any{"match": MatchInfo{Info: srv.shown(m.Info(), viewer{user: p.PlayerID}, false), Owner: srv.owner()}, "reservation": res})
}

// CreateMatch starts a match on this instance and announces it to the cluster before
// returning it (the matchmaker creates its matches through here too).
func (srv *Server) CreateMatch(ctx context.Context, o game.CreateOptions) (*game.Match, error) {
	if srv.draining.Load() {
		return nil, errDraining
	}
	if max := srv.cfg.MaxMatches; max >= 0 && srv.reg.Len() >= max {
		srv.metrics.limited.WithLabelValues("matches").Inc()
		return nil, fmt.Errorf("%w: this instance runs its maximum of %d matches", ErrUnavailable, max)
	}
	if o.Creator != "" {
		if !srv.created.take(o.Creator) {
			srv.metrics.limited.WithLabelValues("matches_user").Inc()
			return nil, fmt.Errorf("%w: %d live matches created already: end one or let it end", ErrRateLimited, srv.cfg.MaxMatchesPerUser)
		}
	}
	m, err := srv.reg.Create(o)
	if err != nil {
		if o.Creator != "" {
			srv.created.release(o.Creator)
		}
		return nil, err
	}
	if o.Creator != "" {
		srv.created.bind(o.Creator, m.ID())
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := srv.bus.Announce(actx, m.ID()); err != nil {
		m.Stop(protocol.EndStopped)
		return nil, fmt.Errorf("%w: announce %s: %v", ErrUnavailable, m.ID(), err)
	}
	return m, nil
}

// Reservations is the seat-reservation service (the matchmaker uses it).
func (srv *Server) Reservations() *Reservations { return srv.res }

// owner names this instance.
func (srv *Server) owner() Owner { return Owner{Node: srv.cfg.NodeID, Address: srv.cfg.PublicURL} }

// fillAddress names this instance's WebSocket URL (from the request) when the owner has no
// public URL configured.
func (srv *Server) fillAddress(r *http.Request, res *Reservation) {
	if res.Address == "" {
		res.Address = srv.wsAddress(r)
	}
}

func (srv *Server) wsAddress(r *http.Request) string {
	if srv.cfg.PublicURL != "" {
		return WSAddress(srv.cfg.PublicURL)
	}
	scheme := "ws"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + "/ws"
}

func (srv *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	if srv.cfg.APIKey == "" {
		writeError(w, protocol.ErrCodeForbidden, "publishing is disabled: start the server with --api-key")
		return
	}
	if !tokensEqual(bearer(r), srv.cfg.APIKey) {
		srv.metrics.authFailures.Inc()
		writeError(w, protocol.ErrCodeUnauthorized, "the operator API key is required")
		return
	}
	var req struct {
		Data json.RawMessage `json:"data"`
	}
	if err := readJSON(r, &req); err != nil {
		srv.fail(w, err)
		return
	}
	if len(req.Data) == 0 {
		srv.fail(w, fmt.Errorf("%w: the body needs a data field: {\"data\": <any JSON>}", errBadRequest))
		return
	}
	payload, err := jsonToMsgpack(req.Data)
	if err != nil {
		srv.fail(w, fmt.Errorf("data: %w", err))
		return
	}
	m, err := srv.locate(r.Context(), r.PathValue("id"))
	if err != nil {
		srv.fail(w, err)
		return
	}
	if err := m.Publish(r.Context(), payload); err != nil {
		if errors.Is(err, game.ErrPayloadTooDeep) {
			srv.metrics.payloadsRefused.Inc()
		}
		srv.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
}

func (srv *Server) handleGames(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"games": srv.reg.Catalog().Names()})
}

// handleReady is the public GET /readyz: ready, draining or degraded, and nothing about load
// (how many sessions and matches an instance holds is for the admin listener's /readyz).
func (srv *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	srv.ready(w, false)
}

// ready answers /readyz; detailed adds the counts and the bus error (admin listener only).
func (srv *Server) ready(w http.ResponseWriter, detailed bool) {
	status, code := "ready", http.StatusOK
	busErr := srv.bus.Health()
	if srv.draining.Load() {
		status, code = "draining", http.StatusServiceUnavailable
	} else if busErr != nil {
		status, code = "degraded", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status}
	if detailed {
		body["matches"], body["sessions"], body["node"] = srv.reg.Len(), srv.hub.len(), srv.cfg.NodeID
		if busErr != nil {
			body["bus"] = busErr.Error()
		}
	}
	writeJSON(w, code, body)
}
