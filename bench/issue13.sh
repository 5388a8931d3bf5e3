#!/usr/bin/env bash
# bench/issue13.sh: the quiet runs behind bench/RESULTS.md's "Thread wake-ups (issue 13)":
# tickrelay before (BEFORE, default 97ec1d0: the server as it was, with the new measurements)
# and after (this tree) against both transport floors, in alternating rounds, then probe mode
# at 1,250 and 2,500 clients, the idle costs and fanout. ~15 minutes on the 2-core machine; needs it
# quiet (run `uptime` first). Lines go to $OUT (default bench/out/issue13.jsonl) with labels
# "issue13 <what> load=<1-min load average>".
# Colyseus 0.16 on Node 20 (bench/colyseus, -target colyseus: its own colyseus.js clients, the same
# workload and figures) runs in the same rounds, after the floors, and in the 1,250 probe rounds
# (COLYSEUS=0 leaves it out; it needs node and runs npm ci in bench/colyseus first).
set -uo pipefail
cd "$(dirname "$0")/.."
before=${BEFORE:-97ec1d0}
out=${OUT:-bench/out/issue13.jsonl}
rounds=${ROUNDS:-3}
conns=${CONNS:-10000}
extra=${LG_ARGS:-} # e.g. "-warmup 1s -duration 2s" for a dry run of the script
colyseus=${COLYSEUS:-1}
if [[ $colyseus == 1 ]]; then
  (cd bench/colyseus && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
    { echo "issue13: npm ci in bench/colyseus failed (COLYSEUS=0 runs without Colyseus)" >&2; exit 2; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/before-src" "$(dirname "$out")"
git archive "$before" | tar -x -C "$tmp/before-src" || exit 2
(cd "$tmp/before-src" && go build -o "$tmp/before" ./server/cmd/tickrelay) || exit 2
go build -o "$tmp/after" ./server/cmd/tickrelay || exit 2
go build -o "$tmp/floor" ./bench/cmd/floor || exit 2
go build -o "$tmp/loadgen" ./bench/cmd/loadgen || exit 2
lg() { # lg WHAT loadgen-args…
  local what=$1 load
  shift
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "issue13: $what $* (load $load)" >&2
  # shellcheck disable=SC2086 # $extra is a list of flags
  "$tmp/loadgen" -out "$out" -label "issue13 $what load=$load" "$@" $extra >/dev/null 2>"$tmp/err" || tail -2 "$tmp/err" >&2
  grep -E '^   (server|latency|verdict|idle)' "$tmp/err" >&2
}
for r in $(seq "$rounds"); do
  lg before -scenario arena -matches 50 -players 10 -server-bin "$tmp/before"
  lg after -scenario arena -matches 50 -players 10 -server-bin "$tmp/after"
  lg gws-floor -scenario floor -matches 50 -players 10 -server-bin "$tmp/floor"
  lg epoll-floor -scenario floor -target epoll -matches 50 -players 10 -server-bin "$tmp/floor"
  [[ $colyseus == 1 ]] && lg colyseus -scenario arena -target colyseus -matches 50 -players 10
done
for r in 1 2; do
  lg before-probe -scenario arena -probe -matches 125 -players 10 -server-bin "$tmp/before"
  lg after-probe -scenario arena -probe -matches 125 -players 10 -server-bin "$tmp/after"
  [[ $colyseus == 1 ]] && lg colyseus-probe -scenario arena -target colyseus -probe -matches 125 -players 10 -colyseus-procs 2
done
lg gws-floor-probe -scenario floor -probe -matches 125 -players 10 -server-bin "$tmp/floor"
lg epoll-floor-probe -scenario floor -target epoll -probe -matches 125 -players 10 -server-bin "$tmp/floor"
lg before-idle -scenario connect-storm -connections "$conns" -idle 10s -server-bin "$tmp/before"
lg after-idle -scenario connect-storm -connections "$conns" -idle 10s -server-bin "$tmp/after"
lg before-matches -scenario idle-matches -matches 1000 -warmup 3s -duration 20s -server-bin "$tmp/before"
lg after-matches -scenario idle-matches -matches 1000 -warmup 3s -duration 20s -server-bin "$tmp/after"
lg before-fanout -scenario fanout -spectators 1000 -server-bin "$tmp/before"
lg after-fanout -scenario fanout -spectators 1000 -server-bin "$tmp/after"
lg before-probe2500 -scenario arena -probe -matches 250 -players 10 -server-bin "$tmp/before"
lg after-probe2500 -scenario arena -probe -matches 250 -players 10 -server-bin "$tmp/after"
echo "issue13: done; lines in $out" >&2
# the medians per kind of run, as Markdown rows (what RESULTS.md quotes)
jq -rs '
  def med: sort | if length == 0 then 0 elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r(n): . * pow(10; n) | round / pow(10; n);
  map(select(.label | startswith("issue13 "))) | group_by(.label | split(" ")[1]) | map(
    {what: (.[0].label | split(" ")[1]), runs: length, clients: (map(.clients) | med),
     cpu: (map(.server.cpu_ms_per_client_s) | med | r(3)), p99: (map(.latency_ms.p99 // 0) | med | r(1)),
     user: (map(.server.cpu_user_s // 0) | med | r(2)), sys: (map(.server.cpu_sys_s // 0) | med | r(2)),
     cs: (map(.server.ctx_per_s // 0) | med | round), csmsg: (map(.server.ctx_per_msg // 0) | med | r(3)),
     rw: (map((.server.read_calls_per_msg // 0) + (.server.write_calls_per_msg // 0)) | med | r(2)),
     bytes: (map(.traffic.bytes_in_per_client_s) | med | round), other: (map(.other.cpu_cores) | med | r(2)),
     idle: (map(.storm.idle_cpu_cores // .server.cpu_cores) | med | r(4)), idlecs: (map(.storm.idle_ctx_per_s // .server.ctx_per_s // 0) | med | round),
     gmp: (map(.server.gomaxprocs // 0) | med), gmpch: (map(.server.gomaxprocs_changes // 0) | med),
     loads: (map(.label | capture("load=(?<l>[0-9.]+)").l) | join("/")), pass: (map(.verdict.pass) | all)})
  | .[] | "| \(.what) | \(.runs) | \(.clients) | \(.cpu) | \(.p99) | \(.user) / \(.sys) | \(.cs) | \(.csmsg) | \(.rw) | \(.bytes) | idle \(.idle) cores, \(.idlecs)/s | other \(.other) | GOMAXPROCS \(.gmp) (\(.gmpch) changes) | load \(.loads) | pass \(.pass) |"' "$out"
