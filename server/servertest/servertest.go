// Package servertest has the HTTP client helpers that the tests of several packages (server,
// server/cluster, server/matchmaking, server/app) use against a running tickrelay: one JSON
// request, a guest token. It imports nothing of tickrelay, so server's own tests can use it.
package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// DoJSON sends a request to url with a bearer token (when not empty) and a JSON body (a value
// marshalled as JSON, []byte sent as it is, or nil), decodes the JSON answer into out (when not
// nil) and returns the status. A transport error or an undecodable answer fails the test.
func DoJSON(t testing.TB, method, url, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, url, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// Guest asks the server at base (e.g. http://127.0.0.1:8080) for a guest session token and
// returns it with the player id.
func Guest(t testing.TB, base, name string) (token, playerID string) {
	t.Helper()
	var g struct {
		Token    string `json:"token"`
		PlayerID string `json:"player_id"`
	}
	if st := DoJSON(t, "POST", base+"/v1/auth/guest", "", map[string]string{"name": name}, &g); st != http.StatusOK {
		t.Fatalf("guest %q: %d", name, st)
	}
	return g.Token, g.PlayerID
}
