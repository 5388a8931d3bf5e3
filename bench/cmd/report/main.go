// Command report reads benchmark result lines (JSONL, as bench/cmd/loadgen writes them) and
// writes Markdown tables and a PNG chart (latency percentiles and server CPU against clients)
// for bench/RESULTS.md to include and link.
//
//	go run ./bench/cmd/report -md bench/out/report.md -png bench/results.png bench/out/results.jsonl
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tickrelay/tickrelay/bench/internal/result"
	"github.com/tickrelay/tickrelay/bench/report"
)

func main() {
	md := flag.String("md", "-", "where to write the Markdown tables (- for stdout)")
	pngPath := flag.String("png", "bench/results.png", "where to write the chart (empty: no chart)")
	scenario := flag.String("scenario", "", "only runs of this scenario")
	target := flag.String("target", "", "only runs against this target (tickrelay, floor, external)")
	label := flag.String("label", "", "only runs with this label")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: report [flags] [results.jsonl ...] (default bench/out/results.jsonl)\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = []string{"bench/out/results.jsonl"}
	}
	all, err := result.ReadFiles(files...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		if len(all) == 0 {
			os.Exit(1)
		}
	}
	var rs []result.Result
	for _, r := range all {
		if (*scenario == "" || r.Scenario == *scenario) && (*target == "" || r.Target == *target) && (*label == "" || r.Label == *label) {
			rs = append(rs, r)
		}
	}
	var buf bytes.Buffer
	if err := report.WriteMarkdown(&buf, rs); err != nil {
		fatal(err)
	}
	if *md == "-" {
		os.Stdout.Write(buf.Bytes())
	} else if err := writeFile(*md, buf.Bytes()); err != nil {
		fatal(err)
	}
	if *pngPath != "" {
		var img bytes.Buffer
		if err := report.WriteChart(&img, rs); err != nil {
			fatal(err)
		}
		if err := writeFile(*pngPath, img.Bytes()); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "report: %d runs; chart in %s\n", len(rs), *pngPath)
	}
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}
