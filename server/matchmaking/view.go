package matchmaking

import "time"

// View is ticket t as player sees it (GET /v1/matchmaking/tickets/{id} and the EVENT TICKET
// pushed to their sessions): JSON-compatible values only. A seat without an address is on the
// instance that answers; address is put in its place ("" leaves it empty: a pushed event, where
// the SDK uses the connection it has).
func View(t *Ticket, q *Queue, player, address string, now time.Time) map[string]any {
	players := make([]any, len(t.Members))
	for i, m := range t.Members {
		players[i] = m.ID
	}
	v := map[string]any{
		"id": t.ID, "queue": t.Queue, "status": string(t.Status), "version": int64(t.Version),
		"created_at": t.Created.UTC().Format(time.RFC3339Nano), "expires_at": t.Expires.UTC().Format(time.RFC3339Nano),
		"players": players,
	}
	if t.Party != "" {
		v["party"] = t.Party
	}
	switch t.Status {
	case Searching:
		w := now.Sub(t.Created)
		v["waited_ms"] = w.Milliseconds()
		if q != nil {
			v["window"] = map[string]any{"skill": q.Window(w), "region": RegionName(q.RegionLevel(w))}
		}
		v["placing"] = t.Placing
	case Matched:
		v["waited_ms"] = t.Ended.Sub(t.Created).Milliseconds()
		v["window"] = map[string]any{"skill": t.Window}
		if s, ok := t.SeatOf(player); ok {
			if s.Address == "" {
				s.Address = address
			}
			v["match_id"] = s.MatchID
			v["reservation"] = map[string]any{"match_id": s.MatchID, "address": s.Address, "ticket": s.Ticket,
				"seat": int64(s.Seat), "team": int64(s.Team), "expires_at": s.ExpiresAt.UTC().Format(time.RFC3339Nano)}
		}
	default:
		v["reason"] = t.Reason
		v["waited_ms"] = t.Ended.Sub(t.Created).Milliseconds()
	}
	return v
}
