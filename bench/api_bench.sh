#!/usr/bin/env bash
# API benchmark: starts BUILD_DIR/blend serve (use a release build) with the demo center on a
# free loopback port, logs in, and runs wrk for SECONDS (default 10) each against GET /healthz
# and GET /api/v1/queues (bearer token), 2 threads, 32 connections. Prints:
#   api.healthz rps=… p99_ms=…
#   api.queues rps=… p99_ms=…
#   api.ratio queues/healthz=…
# Non-2xx answers or socket errors during a run are reported on stderr and fail the script.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BUILD_DIR [SECONDS]" >&2
    exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
SECONDS_EACH=${2:-10}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BLEND="$BUILD_DIR/blend"
[[ -x "$BLEND" ]] || { echo "$0: $BLEND not found" >&2; exit 1; }
command -v wrk >/dev/null || { echo "$0: wrk is not installed" >&2; exit 1; }

TMP=$(mktemp -d /tmp/blend-bench.XXXXXX)
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SIP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/blend.conf" <<CONF
[http]
listen = 127.0.0.1:$PORT
web_dir = $SRC/web
[sip]
listen = 127.0.0.1:$SIP_PORT
[store]
url = sqlite:$TMP/blend.db
[data]
dir = $TMP
[log]
level = warn
[auth]
password_cost = min
CONF

"$BLEND" serve --config "$TMP/blend.conf" --provision "$SRC/examples/demo.json" \
    >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "$0: server exited during start-up:" >&2
        tail -n 20 "$TMP/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
curl -fsS -o /dev/null "$BASE/healthz" || { echo "$0: server not healthy" >&2; exit 1; }

TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"admin-demo-pass"}' "$BASE/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# wrk's done hook prints one machine-readable line; non-2xx and socket errors are counted.
cat > "$TMP/report.lua" <<'LUA'
done = function(summary, latency, requests)
    local e = summary.errors
    local errors = e.connect + e.read + e.write + e.timeout
    io.write(string.format("RESULT rps=%.1f p99_ms=%.3f non2xx=%d errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
        e.status, errors))
end
LUA

run_wrk() { # name path [header]
    local name=$1 path=$2
    shift 2
    local out
    out=$(wrk -t2 -c32 -d"${SECONDS_EACH}s" -s "$TMP/report.lua" "$@" "$BASE$path")
    local line
    line=$(grep '^RESULT ' <<<"$out") || { echo "$0: no wrk result for $name:" >&2; echo "$out" >&2; exit 1; }
    local rps p99 non2xx errors
    rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
    p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
    non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$line")
    errors=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$line")
    echo "api.$name rps=$rps p99_ms=$p99"
    if [[ "$non2xx" != 0 || "$errors" != 0 ]]; then
        echo "$0: $name: $non2xx non-2xx answers, $errors socket errors" >&2
        exit 1
    fi
    eval "RPS_$name=$rps"
}

run_wrk healthz /healthz
run_wrk queues /api/v1/queues -H "Authorization: Bearer $TOKEN"
python3 -c "import sys; print('api.ratio queues/healthz=%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" \
    "$RPS_queues" "$RPS_healthz"
