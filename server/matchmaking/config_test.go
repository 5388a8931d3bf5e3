package matchmaking

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseJSONAndYAML(t *testing.T) {
	js := `{"ticket_ttl": "45s", "queues": [{"name": "ranked", "game": "arena", "players": 4, "teams": 2,
		"skill": {"initial": 50, "step": 25, "every": "2s", "max": 400},
		"region": {"neighbours": {"eu": ["na"]}, "neighbours_after": "1s", "any_after": "20s"}}]}`
	yml := `
ticket_ttl: 45s
queues:
  - name: ranked
    game: arena
    players: 4
    teams: 2
    skill: {initial: 50, step: 25, every: 2s, max: 400}
    region:
      neighbours: {eu: [na]}
      neighbours_after: 1s
      any_after: 20s
`
	dir := t.TempDir()
	for name, body := range map[string]string{"q.json": js, "q.yaml": yml} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err = c.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		q := c.Queues[0]
		if q.Name != "ranked" || q.TeamSize() != 2 || q.TicketTTL.D() != 45*time.Second || q.Skill.Every.D() != 2*time.Second ||
			q.Window(5*time.Second) != 100 || q.Region.AnyAfter.D() != 20*time.Second || q.Seats != 4 || q.Skill.Default != 1500 {
			t.Errorf("%s: %+v", name, q)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"unknown field", `{"queues": [{"name": "a", "game": "duel", "players": 2, "playrs": 3}]}`, "unknown field"},
		{"bad duration", `{"queues": [{"name": "a", "game": "duel", "players": 2, "ticket_ttl": 60}]}`, "duration"},
		{"no game", `{"queues": [{"name": "a", "players": 2}]}`, "game is required"},
		{"teams", `{"queues": [{"name": "a", "game": "arena", "players": 5, "teams": 2}]}`, "teams"},
		{"min above max", `{"queues": [{"name": "a", "game": "arena", "players": 5, "min_players": 6}]}`, "min_players"},
		{"twice", `{"queues": [{"name": "a", "game": "duel", "players": 2}, {"name": "a", "game": "duel", "players": 2}]}`, "twice"},
		{"backfill with teams", `{"queues": [{"name": "a", "game": "arena", "players": 4, "teams": 2, "backfill": true}]}`, "backfill"},
		{"seats", `{"queues": [{"name": "a", "game": "arena", "players": 4, "seats": 3}]}`, "seats"},
		{"name", `{"queues": [{"name": "a/b", "game": "arena", "players": 4}]}`, "name"},
	} {
		_, err := Parse([]byte(c.body), ".json")
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrConfig mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := Parse([]byte("queues: [unclosed"), ".yml"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad YAML: %v", err)
	}
}
