#!/usr/bin/env bash
# Web chat load benchmark (docs/performance.md "Chat sockets"): starts BUILD_DIR/blend serve (use
# a release build) with the demo center on a free loopback port, then runs
# BUILD_DIR/bench_api_chat against it: STEPS sockets (cumulative, default 1000,5000,10000), each
# saying hello on the demo chat entry point and opening a conversation, then RATE messages per
# second (default 2000) spread over all open sockets for SECONDS (default 10). Prints chat.*
# lines (bench/bench_api_chat.c), then whether the server survived. Exit status 1 on any error.
#
# Limits: the open-file limit of this shell (server and client) is raised to the hard limit;
# no configuration key is changed (the chat's rate limit, 5 messages/s with a burst of 10, is per
# visitor, and the default flow gives each visitor at most 2/s). The server's WebSocket client
# cap BLEND_WS_CLIENTS_MAX (src/base/limits.h) is a compile-time limit the configuration can only
# lower: steps above it are refused with 503 and counted as errors.
#
# Usage: bench/chat_load.sh BUILD_DIR [STEPS [RATE [SECONDS]]]
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BUILD_DIR [STEPS [RATE [SECONDS]]]" >&2
    exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
STEPS=${2:-1000,5000,10000}
RATE=${3:-2000}
FLOW_S=${4:-10}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BLEND="$BUILD_DIR/blend"
BENCH="$BUILD_DIR/bench_api_chat"
[[ -x "$BLEND" ]] || { echo "$0: $BLEND not found" >&2; exit 1; }
[[ -x "$BENCH" ]] || { echo "$0: $BENCH not built" >&2; exit 1; }

# Every socket is a descriptor on both sides (and the server keeps its database and logs open).
LARGEST=${STEPS##*,}
ulimit -n "$(ulimit -Hn)"
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $((LARGEST + 256)) ]]; then
    echo "$0: open-file limit $(ulimit -n) is below $((LARGEST + 256)) (raise the hard limit)" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/blend-chatbench.XXXXXX)
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

for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "$0: blend serve exited during start-up:" >&2
        tail -20 "$TMP/server.log" >&2
        exit 1
    fi
    sleep 0.1 # polling interval of a bounded wait
done

rc=0
"$BENCH" "$PORT" "$SERVER_PID" "$STEPS" "$RATE" "$FLOW_S" || rc=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$0: blend serve died during the benchmark:" >&2
    tail -20 "$TMP/server.log" >&2
    exit 1
fi
WARNINGS=$(grep -c '"level":"\(warn\|error\)"' "$TMP/server.log" || true)
echo "chat.server alive=1 log_warnings=$WARNINGS"
if [[ $rc -ne 0 ]]; then
    grep '"level":"\(warn\|error\)"' "$TMP/server.log" | sort | uniq -c | sort -rn | head -5 >&2 || true
fi
exit "$rc"
