package server

import (
	"net/http"
	"strings"

	"github.com/tickrelay/tickrelay/protocol"
)

// jsonFallback answers what the mux has no route for in JSON, with a code from the one table:
// an unknown path is 404 NOT_FOUND, a known path with another method 405 BAD_REQUEST (with the
// Allow header). Paths under /v1/ get this even when the demo's file server would otherwise
// take every GET.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		api := strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1"
		if pattern != "" && (!api || pattern != "GET /") {
			mux.ServeHTTP(w, r) // (it sets the path values; the Handler lookup does not)
			return
		}
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeErrorStatus(w, http.StatusMethodNotAllowed, protocol.ErrCodeBadRequest,
				r.Method+" is not allowed on "+r.URL.Path+" (allowed: "+strings.Join(allow, ", ")+")")
			return
		}
		writeError(w, protocol.ErrCodeNotFound, "no route "+r.Method+" "+r.URL.Path+" (see server/API.md)")
	})
}

// allowedMethods lists the methods with an API route for r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := mux.Handler(probe); p != "" && p != "GET /" {
			out = append(out, m)
		}
	}
	if len(out) > 0 && r.Method != http.MethodOptions {
		out = append(out, http.MethodOptions)
	}
	return out
}

// writeErrorStatus is writeError with an HTTP status of its own (405 has no code of its own).
func writeErrorStatus(w http.ResponseWriter, status int, code protocol.ErrorCode, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: int(code), Name: codeName(code), Message: protocol.OneLine(msg),
		RequestID: w.Header().Get(RequestIDHeader)}})
}

// jsonNotFound makes a file server's 404 a JSON error like every other.
func jsonNotFound(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&notFoundWriter{ResponseWriter: w, path: r.URL.Path}, r)
	})
}

type notFoundWriter struct {
	http.ResponseWriter
	path     string
	replaced bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if code == http.StatusNotFound && !w.replaced {
		w.replaced = true
		w.Header().Del("X-Content-Type-Options")
		writeError(w.ResponseWriter, protocol.ErrCodeNotFound, "no file "+w.path)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
