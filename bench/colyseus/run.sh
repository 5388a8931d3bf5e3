#!/usr/bin/env bash
# bench/colyseus/run.sh: Colyseus 0.16 on Node 20 serving tickrelay's arena workload, driven by
# colyseus.js clients and measured by bench/cmd/loadgen -target colyseus exactly as a tickrelay
# arena run (bench/colyseus/README.md). Installs the pinned npm packages (npm ci), then runs:
#
#   bench/colyseus/run.sh check   # self-check: 2 rooms × 10 clients, 3 s window, -check (~15 s)
#   bench/colyseus/run.sh 500     # arena 50 × 10 = 500 clients, 5 s warm-up, 20 s window
#   bench/colyseus/run.sh probe   # probe mode, 125 × 10 = 1,250 clients (the clients in 2 Node processes)
#   bench/colyseus/run.sh         # all three
#
# Result lines go to $OUT (default bench/out/colyseus.jsonl) with the label "$TAG <what>
# load=<1-min load average>" (TAG default "colyseus"); extra loadgen flags in $LG_ARGS.
set -uo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
out=${OUT:-bench/out/colyseus.jsonl}
tag=${TAG:-colyseus}
extra=${LG_ARGS:-}
command -v node >/dev/null || { echo "run.sh: node (20) is needed" >&2; exit 2; }
(cd bench/colyseus && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/loadgen" ./bench/cmd/loadgen || exit 2
mkdir -p "$(dirname "$out")"
rc=0
lg() { # lg WHAT loadgen-args…
  local what=$1 load
  shift
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "colyseus: $what $* (load $load)" >&2
  # shellcheck disable=SC2086 # $extra is a list of flags
  "$tmp/loadgen" -scenario arena -target colyseus -out "$out" -label "$tag $what load=$load" "$@" $extra >/dev/null || rc=1
}
case $what in
check | all) lg check -matches 2 -players 10 -warmup 1s -duration 3s -check ;;&
500 | all) lg 500 -matches 50 -players 10 ;;&
probe | all) lg probe -probe -matches 125 -players 10 -colyseus-procs 2 ;;
check | 500) ;;
*) echo "run.sh: unknown run $what (check, 500, probe or nothing for all three)" >&2; exit 2 ;;
esac
exit $rc
