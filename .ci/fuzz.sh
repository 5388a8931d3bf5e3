#!/usr/bin/env bash
# Runs every fuzz target in the module for a budget of FUZZEXECS executions each (default
# 400000: 7-17 s per target on the 2-core machine). go test -fuzz takes one target of one
# package at a time, so this lists them and runs them in turn.
#
# The budget is a count (-fuzztime Nx), not a duration, on purpose: with a duration, Go's fuzz
# coordinator can report a spurious "context deadline exceeded" failure when the time runs out
# while a worker is mid-execution (golang/go#75804, fixed in Go 1.27; we are on 1.26). A count
# has no deadline to race. A real finding still fails: it writes a reproducer under
# testdata/fuzz/<target>/ and the run exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${FUZZEXECS:-400000}x"
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  ls "$dir"/*_test.go >/dev/null 2>&1 || continue
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target for $budget executions"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" >/tmp/tickrelay-fuzz.log 2>&1 || {
      cat /tmp/tickrelay-fuzz.log; echo "fuzz: $target FAILED"; exit 1; }
    tail -1 /tmp/tickrelay-fuzz.log
    n=$((n+1))
  done
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
echo "fuzz: $n targets passed"
