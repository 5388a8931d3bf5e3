#!/usr/bin/env bash
# make bench-full: every workload of shared/workloads.md that exists today, repeated so medians
# can be quoted, then the report (bench/out/report.md and bench/results.png). Takes ~25 minutes
# on the 2-core machine. Results append to bench/out/results.jsonl (git-ignored); copy the lines
# a claim rests on into bench/results.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/out/results.jsonl}
lg() { go run ./bench/cmd/loadgen -out "$out" -label "${LABEL:-bench-full}" "$@" || echo "bench: run failed or verdict not met: $*"; }
for i in 1 2 3; do
  lg -scenario floor -matches 50 -players 10
  lg -scenario arena -matches 50 -players 10
done
lg -scenario arena -probe -capacity -capacity-reps 2
lg -scenario floor -probe -capacity -capacity-reps 1
for i in 1 2 3; do lg -scenario fanout -spectators 1000; done
for i in 1 2 3; do lg -scenario connect-storm -connections 10000; done
go run ./bench/cmd/report -md bench/out/report.md -png bench/out/results.png "$out"
echo "bench: report in bench/out/report.md, chart in bench/out/results.png"
