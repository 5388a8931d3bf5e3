#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 20s): go test -fuzz takes one
# target of one package at a time, so this lists them and runs them in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${FUZZTIME:-20s}
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  ls "$dir"/*_test.go >/dev/null 2>&1 || continue
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target for $time"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" >/tmp/tickrelay-fuzz.log 2>&1 || {
      cat /tmp/tickrelay-fuzz.log; echo "fuzz: $target FAILED"; exit 1; }
    tail -1 /tmp/tickrelay-fuzz.log
    n=$((n+1))
  done
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
echo "fuzz: $n targets passed"
