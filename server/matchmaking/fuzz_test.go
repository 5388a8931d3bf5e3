package matchmaking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzTicketRequest feeds untrusted request bodies through the ticket endpoint's decoding and
// property checks: it never panics, and whatever it accepts is within the limits.
func FuzzTicketRequest(f *testing.F) {
	for _, s := range []string{
		`{"queue":"duel","properties":{"skill":1500,"region":"eu"}}`,
		`{"queue":"arena","properties":{"skill":"x"}}`,
		`{"queue":"duel","properties":{"a":{"b":1}}}`,
		`{"queue":"duel","properties":{"skill":1e400}}`,
		`{"queue":`, `[]`, `null`, `{"properties":null}`,
	} {
		f.Add([]byte(s))
	}
	mm, err := New(Config{}, Options{Placer: nopPlacer{}})
	if err != nil {
		f.Fatal(err)
	}
	q, _ := mm.Queue("duel")
	f.Fuzz(func(t *testing.T, body []byte) {
		var req struct {
			Queue      string         `json:"queue"`
			Properties map[string]any `json:"properties"`
		}
		if err := decode(bytes.NewReader(body), &req); err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("decode error without a code: %v", err)
			}
			return
		}
		skill, region, err := mm.checkProperties(req.Properties, q)
		if err != nil {
			return
		}
		if len(req.Properties) > mm.cfg.MaxProperties || len(region) > mm.cfg.MaxPropBytes || skill != skill {
			t.Fatalf("accepted out of limits: %d properties, region %q, skill %v", len(req.Properties), region, skill)
		}
		if _, err := json.Marshal(req.Properties); err != nil {
			t.Fatalf("accepted properties that do not encode: %v", err)
		}
	})
}

// nopPlacer places nothing (for tests that never start the runners).
type nopPlacer struct{}

func (nopPlacer) Place(context.Context, *Queue, Group) (Placement, error) {
	return Placement{}, errors.New("nopPlacer")
}
func (nopPlacer) Backfill(context.Context, *Queue, string, []*Ticket) (Placement, error) {
	return Placement{}, errors.New("nopPlacer")
}
func (nopPlacer) Open(*Queue, time.Time) []Open                    { return nil }
func (nopPlacer) Abandon(context.Context, *Queue, Placement, bool) {}
