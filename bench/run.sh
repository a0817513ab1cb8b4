#!/usr/bin/env bash
# Runs every benchmark against a build directory (use a release build:
#   cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release && cmake --build build-release):
#   1. BUILD_DIR/bench_store DIR  — durable event appends with and without group commit
#      (prints its own store.append.* lines);
#   2. BUILD_DIR/bench_engine_acd — routing decisions per second and latency at 100, 1,000 and
#      10,000 agents, and the reference model beside them (prints acd.* lines);
#   3. bench/api_bench.sh BUILD_DIR — HTTP throughput and p99 latency with wrk
#      (prints api.healthz, api.queues and api.ratio lines);
#   4. bench/sip_bench.py BUILD_DIR 200 10 — SIP call setups through the routing engine to SIPp
#      agent phones at 200 calls/s for 10 s, and SIPp to SIPp directly (prints sip.* lines);
#   5. bench/sip_media_bench.py BUILD_DIR — concurrent bridged G.711 calls with RTP relayed
#      (then recorded) by Blend, in steps up to 1,000 calls, with the server's CPU and a probe's
#      round trip and jitter, beside SIPp to SIPp directly (prints sip.media.* lines);
#   6. BUILD_DIR/bench_engine_ivr — IVR sessions through a 40-node menu flow: node visits and
#      events per second over 10,000 sessions and over one, and session creation (prints
#      ivr.engine, ivr.session and ivr.ratio lines);
#   7. bench/ivr_queue_bench.py BUILD_DIR — callers waiting in a queue with music on hold,
#      announcements and a message, in steps up to 1,000 callers, with the server's CPU and the
#      packets sent per caller (prints ivr.queue lines);
#   8. bench/dial_bench.py BUILD_DIR — a simulated outbound day of 50 agents in every dialling
#      mode, and predictive's talk time against progressive's (prints dial.* lines).
#   8. bench/chat_load.sh BUILD_DIR — web chat sockets in steps of 1,000, 5,000 and 10,000 with
#      conversations opened and messages flowing, ack latency and server memory (chat.* lines);
#   9. bench/email_bench.py BUILD_DIR 500 — inbound emails ingested per second from Dovecot on
#      loopback (email.ingest; skipped without root or dovecot).
# Usage: bench/run.sh BUILD_DIR [API_SECONDS]
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BUILD_DIR [API_SECONDS]" >&2
    exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)

[[ -x "$BUILD_DIR/bench_store" ]] || { echo "$0: $BUILD_DIR/bench_store not built" >&2; exit 1; }
STORE_DIR=$(mktemp -d /tmp/blend-bench-store.XXXXXX)
trap 'rm -rf "$STORE_DIR"' EXIT
"$BUILD_DIR/bench_store" "$STORE_DIR"

# Routing engine: 100, 1,000 and 10,000 agents and the reference model, in one run.
[[ -x "$BUILD_DIR/bench_engine_acd" ]] || { echo "$0: $BUILD_DIR/bench_engine_acd not built" >&2; exit 1; }
"$BUILD_DIR/bench_engine_acd"

"$HERE/api_bench.sh" "$BUILD_DIR" "${2:-10}"

python3 "$HERE/sip_bench.py" "$BUILD_DIR" 200 10

python3 "$HERE/sip_media_bench.py" "$BUILD_DIR"

# IVR engine, then callers waiting in a flow's queue (needs sipp and espeak-ng).
[[ -x "$BUILD_DIR/bench_engine_ivr" ]] || { echo "$0: $BUILD_DIR/bench_engine_ivr not built" >&2; exit 1; }
"$BUILD_DIR/bench_engine_ivr"

python3 "$HERE/ivr_queue_bench.py" "$BUILD_DIR"

# Outbound dialer: a simulated 50-agent day in every mode (bench/dial_day.json).
python3 "$HERE/dial_bench.py" "$BUILD_DIR"

# The wallboard in Chromium: 500 agents and 50 queues of live updates (bench/web/run.mjs).
BLEND_SRC="$HERE/.." node "$HERE/web/run.mjs" --agents 500 --queues 50 --rate 2000 --seconds 10

# The agent desktop's cold load with 1,000 interactions in the customer's timeline (bench/web/desktop.mjs).
BLEND_SRC="$HERE/.." node "$HERE/web/desktop.mjs" "$BUILD_DIR" --interactions 1000 --loads 10

# Web chat: 1,000 / 5,000 / 10,000 sockets (bench/chat_load.sh; errors are reported, not fatal).
"$HERE/chat_load.sh" "$BUILD_DIR" || echo "chat: the chat benchmark reported errors (above)"
# Inbound email: 500 messages from Dovecot on loopback (skipped without root or dovecot).
python3 "$HERE/email_bench.py" "$BUILD_DIR" 500 || echo "email: the ingestion benchmark failed (above)"
