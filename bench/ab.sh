#!/usr/bin/env bash
# bench/ab.sh: an A/B of two server builds (or two environments of one) in ALTERNATING runs
# (A B A B …), so that a busy or drifting machine weighs on both alike; prints the medians of
# each side and their ratio B/A. Every run is an ordinary loadgen run (its JSON line goes to
# $OUT with the label "$TAG A|B load=<1-min load average>").
#
#   A_BIN=/tmp/old B_BIN=/tmp/new N=3 bench/ab.sh -scenario arena -matches 50 -players 10
#   A_ENV=GOMAXPROCS=2 B_ENV=GOMAXPROCS=1 bench/ab.sh -scenario arena      # one build, two settings
#   A_ARGS="-client gws" B_ARGS="-client epoll" bench/ab.sh -scenario arena -probe -matches 250   # two load generators
#
# A_BIN/B_BIN: server binaries (default: build ./server/cmd/tickrelay once for both);
# A_ENV/B_ENV: space-separated KEY=VALUE for that side's server; A_ARGS/B_ARGS: loadgen flags
# for that side only (A_LOADGEN/B_LOADGEN: that side's loadgen binary); N: pairs (default 3);
# OUT: results file (default bench/out/ab.jsonl); TAG: label prefix (default ab).
set -uo pipefail
cd "$(dirname "$0")/.."
n=${N:-3}
out=${OUT:-bench/out/ab.jsonl}
tag=${TAG:-ab}
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z "${A_BIN:-}" || -z "${B_BIN:-}" ]]; then
  go build -o "$tmp/tickrelay" ./server/cmd/tickrelay || exit 2
fi
a_bin=${A_BIN:-$tmp/tickrelay}
b_bin=${B_BIN:-$tmp/tickrelay}
go build -o "$tmp/loadgen" ./bench/cmd/loadgen || exit 2
side() { # side NAME BIN ENV LOADGEN EXTRA args…
  local name=$1 bin=$2 env=$3 lg=$4 extra=$5
  shift 5
  local envargs=()
  for kv in $env; do envargs+=(-server-env "$kv"); done
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  # shellcheck disable=SC2086 # $extra: flags split on spaces
  "$lg" -server-bin "$bin" "${envargs[@]}" $extra -out "$out" -label "$tag $name load=$load" "$@" >/dev/null 2>"$tmp/last.err" ||
    { echo "ab: run $name failed or verdict not met:"; tail -3 "$tmp/last.err"; }
  grep -E '^   (server|latency|verdict|load generator|failed)' "$tmp/last.err" | sed "s/^/$name /"
}
for i in $(seq "$n"); do
  side A "$a_bin" "${A_ENV:-}" "${A_LOADGEN:-$tmp/loadgen}" "${A_ARGS:-}" "$@"
  side B "$b_bin" "${B_ENV:-}" "${B_LOADGEN:-$tmp/loadgen}" "${B_ARGS:-}" "$@"
done
# medians of this invocation's lines (the last 2N of $out)
tail -n $((2 * n)) "$out" | jq -rs --arg tag "$tag" '
  def med: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def fig(f): map(f) | med;
  def sidefigs: {runs: length,
      cpu_ms_per_client_s: fig(.server.cpu_ms_per_client_s), p99_ms: fig(.latency_ms.p99 // 0),
      user_s: fig(.server.cpu_user_s), sys_s: fig(.server.cpu_sys_s), ctx_per_s: fig(.server.ctx_per_s),
      ctx_per_msg: fig(.server.ctx_per_msg), rw_calls_per_msg: fig((.server.read_calls_per_msg // 0) + (.server.write_calls_per_msg // 0)),
      bytes_per_client_s: fig(.traffic.bytes_in_per_client_s), other_cores: fig(.other.cpu_cores), noisy: map(.noisy) | any,
      loadgen_cores: fig(.loadgen.cpu_cores), loadgen_ms_per_client_s: fig(.loadgen.cpu_ms_per_client_s // 0),
      loadgen_us_per_msg: fig(.loadgen.cpu_us_per_msg // 0), late_sends: fig(.failures.late_sends // 0),
      skipped_sends: fig(.failures.skipped_sends // 0), msgs_out_per_s: fig(.traffic.msgs_out_per_s),
      loads: map(.label | capture("load=(?<l>[0-9.]+)").l)};
  (map(select(.label | startswith($tag + " A"))) | sidefigs) as $a |
  (map(select(.label | startswith($tag + " B"))) | sidefigs) as $b |
  {A: $a, B: $b, ratio_B_over_A: {cpu_ms_per_client_s: ($b.cpu_ms_per_client_s / $a.cpu_ms_per_client_s),
      ctx_per_s: ($b.ctx_per_s / $a.ctx_per_s), p99_ms: ($b.p99_ms / $a.p99_ms),
      loadgen_us_per_msg: (if $a.loadgen_us_per_msg > 0 then $b.loadgen_us_per_msg / $a.loadgen_us_per_msg else null end)}}'
