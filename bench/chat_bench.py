#!/usr/bin/env python3
"""Web chat benchmark (docs/chat-protocol.md): N visitors on concurrent WebSockets against a
`blend serve` with the demo center, each sending M messages at RATE per second (under the
protocol's limit of 5/s), every message timed from its send to its `ack` (which the server
sends only once the message is durable). The first message of each visitor opens a conversation
(a contact, an interaction routed to chat-support, the message), the others join it.

Prints:
  chat visitors=N messages=… acked=… errors=… ack_p50_ms=… ack_p99_ms=… ack_max_ms=…
    open_p99_ms=… rss_before_kib=… rss_after_kib=… rss_per_chat_kib=…
(open_p99_ms: the first messages, which open conversations; rss from /proc/<pid>/status with
every socket still open.) Not part of bench/run.sh.

Usage: BLEND_BIN=build-rel/blend python3 bench/chat_bench.py [N [M [RATE]]]"""

import json
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import blendtest as bt  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def visitor(srv, m, rate, ready, go, out, lock):
    lat, first, errors = [], None, 0
    try:
        ws = srv.ws_connect("/api/v1/chat", timeout=60)
        ws.send_text(json.dumps({"type": "hello", "entry_point": "web-support",
                                 "name": "bench"}))
        while ws.recv_json(timeout=60)["type"] != "welcome":
            pass
    except Exception:  # noqa: BLE001 - counted, the bench goes on
        with lock:
            out["errors"] += 1
        ready.release()
        return
    ready.release()
    go.wait()
    for i in range(m):
        cid = uuid.uuid4().hex[:12]
        t0 = time.monotonic()
        ws.send_text(json.dumps({"type": "message", "client_id": cid, "text": f"message {i}"}))
        while True:
            f = ws.recv_json(timeout=60)
            if f.get("client_id") == cid and f["type"] in ("ack", "error"):
                break
        ms = (time.monotonic() - t0) * 1000
        if f["type"] == "ack":
            if i == 0:
                first = ms
            else:
                lat.append(ms)
        else:
            errors += 1
        left = 1.0 / rate - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)  # pacing the load, not waiting for a result
    with lock:
        out["lat"] += lat
        if first is not None:
            out["open"].append(first)
        out["errors"] += errors
        out["socks"].append(ws)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 4.0
    out = {"lat": [], "open": [], "errors": 0, "socks": []}
    lock = threading.Lock()
    with bt.Server() as srv:
        before = rss_kib(srv.proc.pid)
        ready, go = threading.Semaphore(0), threading.Event()
        threads = [threading.Thread(target=visitor, args=(srv, m, rate, ready, go, out, lock))
                   for _ in range(n)]
        for t in threads:
            t.start()
        for _ in threads:
            ready.acquire()
        go.set()
        for t in threads:
            t.join()
        after = rss_kib(srv.proc.pid)
        for ws in out["socks"]:
            ws.close()
    acked = len(out["lat"]) + len(out["open"])
    print(f"chat visitors={n} messages={n * m} acked={acked} errors={out['errors']} "
          f"ack_p50_ms={pct(out['lat'], 50):.1f} ack_p99_ms={pct(out['lat'], 99):.1f} "
          f"ack_max_ms={max(out['lat'] or [float('nan')]):.1f} "
          f"open_p99_ms={pct(out['open'], 99):.1f} rss_before_kib={before} "
          f"rss_after_kib={after} rss_per_chat_kib={(after - before) / max(1, n):.1f}")


if __name__ == "__main__":
    main()
