package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// API is a client of the server's HTTP API (server/API.md): just the calls the workloads need.
type API struct {
	Base string // http://127.0.0.1:port
	hc   *http.Client
}

// NewAPI returns an API client for addr with a connection pool sized for conc callers.
func NewAPI(addr string, conc int) *API {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, IdleConnTimeout: 30 * time.Second}
	return &API{Base: "http://" + addr, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// Close drops idle HTTP connections.
func (a *API) Close() { a.hc.CloseIdleConnections() }

// APIError is a non-2xx answer.
type APIError struct {
	Status int
	Name   string
	Msg    string
}

func (e *APIError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Name, e.Msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg)
}

func (a *API) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Name    string `json:"name"`
				Message string `json:"message"`
			} `json:"error"`
		}
		ae := &APIError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
		if json.Unmarshal(b, &e) == nil && e.Error.Name != "" {
			ae.Name, ae.Msg = e.Error.Name, e.Error.Message
		}
		if len(ae.Msg) > 200 {
			ae.Msg = ae.Msg[:200]
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// Guest gets a guest session token (POST /v1/auth/guest).
func (a *API) Guest(ctx context.Context, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := a.do(ctx, http.MethodPost, "/v1/auth/guest", "", map[string]string{"name": name}, &out); err != nil {
		return "", fmt.Errorf("guest auth: %w", err)
	}
	if out.Token == "" {
		return "", fmt.Errorf("guest auth: no token in the answer")
	}
	return out.Token, nil
}

// Created is what POST /v1/matches answers that the load generator uses.
type Created struct {
	ID     string // the match id
	Ticket string // the creator's seat-reservation ticket ("" if none)
}

// CreateMatch creates a public match and reserves a seat for the caller (POST /v1/matches).
func (a *API) CreateMatch(ctx context.Context, token, game string, maxPlayers int, label map[string]string) (Created, error) {
	body := map[string]any{"game": game, "max_players": maxPlayers, "private": false}
	if len(label) > 0 {
		body["label"] = label
	}
	var out struct {
		Match struct {
			ID string `json:"id"`
		} `json:"match"`
		Reservation struct {
			MatchID string `json:"match_id"`
			Ticket  string `json:"ticket"`
		} `json:"reservation"`
	}
	if err := a.do(ctx, http.MethodPost, "/v1/matches", token, body, &out); err != nil {
		return Created{}, fmt.Errorf("create match: %w", err)
	}
	id := out.Match.ID
	if id == "" {
		id = out.Reservation.MatchID
	}
	if id == "" {
		return Created{}, fmt.Errorf("create match: no match id in the answer")
	}
	return Created{ID: id, Ticket: out.Reservation.Ticket}, nil
}

// MatchPlayers returns a match's player count (GET /v1/matches/{id}).
func (a *API) MatchPlayers(ctx context.Context, id string) (int, error) {
	var out struct {
		Players *int `json:"players"`
		Match   *struct {
			Players int `json:"players"`
		} `json:"match"`
	}
	if err := a.do(ctx, http.MethodGet, "/v1/matches/"+id, "", nil, &out); err != nil {
		return 0, err
	}
	switch {
	case out.Players != nil:
		return *out.Players, nil
	case out.Match != nil:
		return out.Match.Players, nil
	}
	return 0, fmt.Errorf("match %s: no players count", id)
}

// Metrics returns the Prometheus text of GET /metrics (nil if it is not there).
func (a *API) Metrics(ctx context.Context) []byte {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Base+"/metrics", nil)
	if err != nil {
		return nil
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return b
}

// ---- Prometheus text parsing (just enough: gauges and histograms) ----

// metricLines calls f with the label part and value of every sample of the metric name.
func metricLines(text []byte, name string, f func(labels string, v float64)) {
	for _, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		var labels string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // another metric with this prefix
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		f(labels, v)
	}
}

// Gauge returns the sum of the metric's samples over all label sets, and whether there was any.
func Gauge(text []byte, name string) (float64, bool) {
	var sum float64
	var ok bool
	metricLines(text, name, func(_ string, v float64) { sum += v; ok = true })
	return sum, ok
}

// Buckets is a histogram's cumulative bucket counts by upper bound (+Inf included), summed over
// label sets.
type Buckets map[float64]float64

// HistogramBuckets reads the <name>_bucket samples.
func HistogramBuckets(text []byte, name string) Buckets {
	b := Buckets{}
	metricLines(text, name+"_bucket", func(labels string, v float64) {
		for _, kv := range strings.Split(labels, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) != "le" {
				continue
			}
			val = strings.Trim(val, `"`)
			le, err := strconv.ParseFloat(val, 64)
			if val == "+Inf" {
				le, err = math.Inf(1), nil
			}
			if err == nil {
				b[le] += v
			}
		}
	})
	if len(b) == 0 {
		return nil
	}
	return b
}

// Quantile estimates the q-quantile (0..1) of the observations made between the snapshots before
// and after, as Prometheus' histogram_quantile does (linear within a bucket). It returns the
// estimate, the number of observations, and false if there were none.
func Quantile(before, after Buckets, q float64) (float64, int64, bool) {
	if after == nil {
		return 0, 0, false
	}
	les := make([]float64, 0, len(after))
	for le := range after {
		les = append(les, le)
	}
	sort.Float64s(les)
	counts := make([]float64, len(les))
	for i, le := range les {
		counts[i] = after[le] - before[le]
	}
	total := counts[len(counts)-1]
	if total <= 0 || !math.IsInf(les[len(les)-1], 1) {
		return 0, 0, false
	}
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for i, le := range les {
		if counts[i] >= rank {
			if math.IsInf(le, 1) {
				return prevLe, int64(total), true // beyond the last finite bound
			}
			in := counts[i] - prevCount
			if in <= 0 {
				return le, int64(total), true
			}
			return prevLe + (le-prevLe)*(rank-prevCount)/in, int64(total), true
		}
		prevLe, prevCount = le, counts[i]
	}
	return prevLe, int64(total), true
}
