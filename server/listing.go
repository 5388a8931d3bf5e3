package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tickrelay/tickrelay/game"
)

// viewer is who asks about a match: the backend (the operator API key), a user (a valid
// session token) or nobody. Member user ids and the creator are shown only to the backend and
// to the match's own members and creator; everybody else sees names.
type viewer struct {
	user    string
	backend bool
}

// viewerOf reads the optional credentials of a public request (a bad token is just nobody).
func (srv *Server) viewerOf(r *http.Request) viewer {
	tok := bearer(r)
	if tok == "" {
		return viewer{}
	}
	if srv.cfg.APIKey != "" && tokensEqual(tok, srv.cfg.APIKey) {
		return viewer{backend: true}
	}
	if s, err := srv.auth.VerifySession(tok); err == nil {
		return viewer{user: s.PlayerID}
	}
	return viewer{}
}

// insider reports whether v may see i's user ids (and a private match's members).
func (v viewer) insider(i game.Info) bool {
	if v.backend || (v.user != "" && v.user == i.Creator) {
		return true
	}
	for _, m := range i.Members {
		if v.user != "" && m.UserID == v.user {
			return true
		}
	}
	return false
}

// shown is i as v may see it: outsiders get names without user ids and no creator, and no
// members at all for a private match; in a listing at most ListMembers members.
func (srv *Server) shown(i game.Info, v viewer, listing bool) game.Info {
	if !v.insider(i) {
		i.Creator = ""
		if i.Private {
			i.Members = nil
		} else {
			ms := make([]game.MemberInfo, len(i.Members))
			for k, m := range i.Members {
				m.UserID = ""
				ms[k] = m
			}
			i.Members = ms
		}
	}
	if listing && len(i.Members) > srv.cfg.ListMembers {
		i.Members = i.Members[:srv.cfg.ListMembers]
	}
	return i
}

// checkLabels bounds a new match's labels: what a listing returns for it stays small.
func (srv *Server) checkLabels(l map[string]string) error {
	c := srv.cfg
	if len(l) > c.MaxLabels {
		return fmt.Errorf("%w: at most %d labels", errBadRequest, c.MaxLabels)
	}
	for k, v := range l {
		if k == "" || len(k) > c.MaxLabelKey || !printable(k) {
			return fmt.Errorf("%w: label keys are 1–%d bytes of printable UTF-8", errBadRequest, c.MaxLabelKey)
		}
		if len(v) > c.MaxLabelValue || !printable(v) {
			return fmt.Errorf("%w: label %q: values are at most %d bytes of printable UTF-8", errBadRequest, k, c.MaxLabelValue)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// handleList is GET /v1/matches: a page of public matches, oldest first, and the cursor of
// the next page. Its cost grows with the page (≤ ListLimit), not with the number of matches.
func (srv *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := game.Filter{Game: q.Get("game"), HasFreeSeats: q.Get("free") == "true" || q.Get("free") == "1", Label: map[string]string{}}
	for k, v := range q {
		if strings.HasPrefix(k, "label.") && len(v) > 0 {
			f.Label[strings.TrimPrefix(k, "label.")] = v[0]
		}
	}
	if len(f.Label) > srv.cfg.MaxLabels {
		srv.fail(w, fmt.Errorf("%w: at most %d label filters", errBadRequest, srv.cfg.MaxLabels))
		return
	}
	f.Limit = srv.cfg.ListLimit
	if ls := q.Get("limit"); ls != "" {
		l, err := strconv.Atoi(ls)
		if err != nil || l < 1 || l > srv.cfg.ListLimit {
			srv.fail(w, fmt.Errorf("%w: limit must be an integer from 1 to %d, not %q", errBadRequest, srv.cfg.ListLimit, ls))
			return
		}
		f.Limit = l
	}
	if fs := q.Get("free"); fs != "" && fs != "true" && fs != "false" && fs != "1" && fs != "0" {
		srv.fail(w, fmt.Errorf("%w: free must be true or false, not %q", errBadRequest, fs))
		return
	}
	page, next, err := srv.bus.List(r.Context(), f, q.Get("cursor"))
	if err != nil {
		srv.fail(w, err)
		return
	}
	v := srv.viewerOf(r)
	for k := range page {
		page[k].Info = srv.shown(page[k].Info, v, true)
	}
	body := map[string]any{"matches": page}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// handleGet is GET /v1/matches/{id}.
func (srv *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	m, err := srv.locate(r.Context(), r.PathValue("id"))
	v := srv.viewerOf(r)
	var ended *endedError
	if errors.As(err, &ended) {
		end := endedJSON(ended.rec)
		writeJSON(w, http.StatusOK, MatchInfo{Info: srv.shown(ended.rec.Info, v, false), Owner: srv.owner(), End: &end})
		return
	}
	if err != nil {
		srv.fail(w, err)
		return
	}
	info, err := m.Info(r.Context())
	if err != nil {
		srv.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, MatchInfo{Info: srv.shown(info, v, false), Owner: m.Owner()})
}

// handleJoin is POST /v1/matches/{id}/join: reserve a seat. A player reserves its own seat in
// a public match. A private match is by invitation: its creator (with its session token) or
// the backend (with the API key) reserves the seat, for itself or for {"player_id": …}, and
// hands the ticket over.
func (srv *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PlayerID string `json:"player_id"`
	}
	if err := readJSON(r, &req); err != nil {
		srv.fail(w, err)
		return
	}
	v := srv.viewerOf(r)
	if !v.backend {
		p, err := srv.player(r)
		if err != nil {
			srv.fail(w, err)
			return
		}
		v.user = p.PlayerID
	}
	player := v.user
	if req.PlayerID != "" {
		player = req.PlayerID
	} else if v.backend {
		srv.fail(w, fmt.Errorf("%w: with the API key, name the player: {\"player_id\": …}", errBadRequest))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	id := r.PathValue("id")
	m, err := srv.locate(ctx, id)
	if err != nil {
		srv.fail(w, err)
		return
	}
	info, err := m.Info(ctx)
	if err != nil {
		srv.fail(w, err)
		return
	}
	host := v.backend || (v.user != "" && v.user == info.Creator)
	switch {
	case info.Private && !host:
		srv.metrics.limited.WithLabelValues("private").Inc()
		srv.fail(w, fmt.Errorf("%w: a private match is joined by invitation: its creator or the backend reserves the seat", errForbidden))
		return
	case player != v.user && !host:
		srv.fail(w, fmt.Errorf("%w: only the match's creator or the backend reserves seats for other players", errForbidden))
		return
	}
	res, err := srv.res.ReserveIn(ctx, m, player, 0)
	if err = srv.endedOr(id, err); err != nil {
		srv.fail(w, err)
		return
	}
	srv.fillAddress(r, &res)
	writeJSON(w, http.StatusOK, res)
}
