#!/usr/bin/env bash
# Installs what the tests need and a fresh Debian machine lacks: redis-server and chromium from
# Debian's packages (only when missing), then the SDK's npm packages (npm ci, only when the
# lock file changed since the last install).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)   # the browser tests launch /usr/bin/chromium
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]} from Debian's packages"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v redis-server >/dev/null || { echo "deps: redis-server is still missing" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "deps: /usr/bin/chromium is still missing" >&2; exit 1; }

stamp=client-js/node_modules/.tickrelay-lock
if [ ! -f "$stamp" ] || ! cmp -s client-js/package-lock.json "$stamp"; then
  echo "deps: npm ci in client-js"
  (cd client-js && npm ci --no-audit --no-fund --loglevel=error)
  cp client-js/package-lock.json "$stamp"
fi
