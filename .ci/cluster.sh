#!/usr/bin/env bash
# make cluster: a local redis-server (no persistence) and three tickrelay instances on
# 127.0.0.1:8081-8083 with the browser demo, one cluster over Redis. Open two of the printed
# URLs in two browser tabs and play together across instances. Ctrl-C stops everything this
# script started (by PID), nothing else.
set -euo pipefail
BIN=${BIN:-bin/tickrelay}
SECRET=${SECRET:-.tickrelay-dev-secret}
REDIS_PORT=${REDIS_PORT:-6390}
PORTS=(8081 8082 8083)
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
# The operators' console (/console/ on each admin port) logs in with this key.
export TICKRELAY_API_KEY=${TICKRELAY_API_KEY:-dev-operator-key}
[ -x "$REDIS_SERVER" ] || { echo "cluster: $REDIS_SERVER is missing (make deps installs redis-server)" >&2; exit 1; }
LOGS=$(mktemp -d /tmp/tickrelay-cluster.XXXXXX)
pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "cluster: stopping (logs kept in $LOGS)"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	exit 0
}
trap stop INT TERM EXIT
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$LOGS" >"$LOGS/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
if ! kill -0 "${pids[0]}" 2>/dev/null || ! redis-cli -p "$REDIS_PORT" ping >/dev/null; then
	echo "cluster: redis-server did not start on $REDIS_PORT (see $LOGS/redis.log; REDIS_PORT=... picks another)" >&2
	exit 1
fi
for i in "${!PORTS[@]}"; do
	port=${PORTS[i]}
	"$BIN" --listen "127.0.0.1:$port" --node "node$((i + 1))" --redis "redis://127.0.0.1:$REDIS_PORT" \
		--admin "127.0.0.1:$((port + 1000))" --demo client-js/demo --sdk client-js/dist/browser \
		--secret-file "$SECRET" >"$LOGS/node$((i + 1)).log" 2>&1 &
	pids+=($!)
done
for port in "${PORTS[@]}"; do
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "cluster: instance on $port is not ready (see $LOGS)" >&2; exit 1; }
done
echo "cluster: redis on 127.0.0.1:$REDIS_PORT, three instances (Ctrl-C stops them all):"
peers=$(printf 'http://127.0.0.1:%s,' "${PORTS[@]}")
for port in "${PORTS[@]}"; do echo "  http://127.0.0.1:$port/?peers=${peers%,}"; done
echo "cluster: open two of them in two tabs; create a match in one, join it from the other."
echo "cluster: kill the instance that owns the match (kill -9 its PID below): both tabs play on (failover)."
for i in "${!PORTS[@]}"; do echo "  node$((i + 1)) (port ${PORTS[i]}): PID ${pids[i + 1]}"; done
echo "cluster: operators' console: http://127.0.0.1:$((PORTS[0] + 1000))/console/ (any instance's admin port; key: $TICKRELAY_API_KEY)"
wait -n "${pids[@]}" || true
echo "cluster: a process exited (see $LOGS)" >&2
