package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// placedHeader marks a POST /v1/matches forwarded by another instance: create it here.
const placedHeader = "X-Tickrelay-Placed"

// placeElsewhere forwards a match creation to the least loaded instance when the bus places it
// on another one, and writes that instance's answer. It reports false when the match is to be
// created here (one instance, this one is the least loaded, the request was already forwarded,
// or the chosen instance cannot be reached: then this one takes it rather than fail).
func (srv *Server) placeElsewhere(w http.ResponseWriter, r *http.Request, req any) bool {
	if r.Header.Get(placedHeader) != "" {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	nl, err := srv.bus.Place(ctx)
	if err != nil || nl.Node == srv.cfg.NodeID || nl.Address == "" {
		return false
	}
	body, err := json.Marshal(req)
	if err != nil {
		return false
	}
	fctx, fcancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer fcancel()
	fr, err := http.NewRequestWithContext(fctx, http.MethodPost, HTTPAddress(nl.Address)+"/v1/matches", bytes.NewReader(body))
	if err != nil {
		return false
	}
	fr.Header.Set("Authorization", r.Header.Get("Authorization"))
	fr.Header.Set("Content-Type", "application/json")
	fr.Header.Set(placedHeader, srv.cfg.NodeID)
	resp, err := placementClient.Do(fr)
	if err != nil {
		srv.log.Warn("placement: instance unreachable, creating here", "node", nl.Node, "err", err)
		return false
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		srv.log.Warn("placement: bad answer, creating here", "node", nl.Node, "err", err)
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
	return true
}

var placementClient = &http.Client{Timeout: 5 * time.Second}

// HTTPAddress turns a public base URL (ws(s):// or http(s)://) into its HTTP base URL.
func HTTPAddress(base string) string {
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/ws")
	switch {
	case strings.HasPrefix(base, "ws://"):
		return "http://" + strings.TrimPrefix(base, "ws://")
	case strings.HasPrefix(base, "wss://"):
		return "https://" + strings.TrimPrefix(base, "wss://")
	}
	return base
}
