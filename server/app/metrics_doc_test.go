package app

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// docRow is one metric of docs/METRICS.md's table.
type docRow struct {
	typ    string
	labels string // comma-separated, sorted; "" none
}

// readMetricsDoc reads the table rows "| `name` | type | labels | meaning |".
func readMetricsDoc(t *testing.T) map[string]docRow {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "../../docs/METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]docRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var labels []string
		for _, l := range strings.Split(strings.TrimSpace(cells[3]), ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" && l != "-" {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		if _, dup := rows[name]; dup {
			t.Fatalf("docs/METRICS.md lists %s twice", name)
		}
		rows[name] = docRow{typ: strings.TrimSpace(cells[2]), labels: strings.Join(labels, ",")}
	}
	return rows
}

// docs/METRICS.md and /metrics agree both ways: every metric the instance's registry can serve
// (a cluster instance with Redis, the matchmaker and the console: all of them) is in the table
// with its labels, every row of the table is a metric of that registry, and every family the
// admin /metrics serves after some traffic is in the table with the type it is served with.
func TestMetricsDocumented(t *testing.T) {
	rd := redistest.Start(t)
	srv, stop := start(t, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--redis", rd.Addr, "--node", "doc-test",
		"--secret", "0123456789abcdef0123456789abcdef-doc", "--api-key", "doc-test-key", "--log-level", "error"})
	defer stop()
	doc := readMetricsDoc(t)

	registered := map[string]bool{}
	for _, m := range srv.MetricNames() {
		registered[m.Name] = true
		row, ok := doc[m.Name]
		if !ok {
			t.Errorf("docs/METRICS.md lacks | `%s` | <type> | %s | %s |", m.Name, strings.Join(m.Labels, ", "), m.Help)
			continue
		}
		if row.labels != strings.Join(m.Labels, ",") {
			t.Errorf("docs/METRICS.md: %s has labels %q, the registry %q", m.Name, row.labels, strings.Join(m.Labels, ","))
		}
	}
	for name := range doc {
		if !registered[name] {
			t.Errorf("docs/METRICS.md lists %s, which the server does not register", name)
		}
	}

	// Some traffic, then the families /metrics serves, with their types.
	base := "http://" + srv.Addr().String()
	for _, p := range []string{"/healthz", "/v1/matches", "/v1/nothing"} {
		if resp, err := http.Get(base + p); err == nil {
			resp.Body.Close()
		}
	}
	resp, err := http.Get("http://" + srv.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var name, typ string
		if _, err := fmt.Sscanf(sc.Text(), "# TYPE %s %s", &name, &typ); err != nil {
			continue
		}
		served++
		if row, ok := doc[name]; !ok {
			t.Errorf("/metrics serves %s (%s), not in docs/METRICS.md", name, typ)
		} else if row.typ != typ {
			t.Errorf("docs/METRICS.md: %s is a %s, /metrics serves a %s", name, row.typ, typ)
		}
	}
	if served < 40 {
		t.Fatalf("/metrics served only %d families", served)
	}
}
