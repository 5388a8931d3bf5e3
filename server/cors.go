package server

import (
	"net/http"
	"strings"

	"github.com/tickrelay/tickrelay/protocol"
)

// CORS for the HTTP API, from the same allow-list as WebSocket origins (Config.AllowedOrigins,
// --origins): a page served from another origin (a Vite dev server on another port) may call the
// API when its origin is allowed. A preflight (OPTIONS with Access-Control-Request-Method) from
// an allowed origin is answered 204; from another origin 403 FORBIDDEN. Actual requests from an
// allowed origin get Access-Control-Allow-Origin (the origin itself, never "*", with Vary:
// Origin); other origins get no CORS headers, so the browser keeps the answer from the page.
// Requests without an Origin header (curl, servers, same-origin GETs) are untouched.
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
	corsExpose  = "Retry-After"
	corsMaxAge  = "600"
)

func (srv *Server) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !corsPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := srv.originAllowed(r)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				srv.metrics.rejected.WithLabelValues("origin").Inc()
				writeError(w, protocol.ErrCodeForbidden, "origin "+origin+" is not allowed (start the server with --origins "+origin+")")
				return
			}
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Methods", corsMethods)
			hd.Set("Access-Control-Allow-Headers", corsHeaders)
			hd.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", corsExpose)
		}
		h.ServeHTTP(w, r)
	})
}

// corsPath: the API and the health endpoints (not the demo's files or /ws, which checks
// Origin itself).
func corsPath(p string) bool {
	return strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/readyz"
}
