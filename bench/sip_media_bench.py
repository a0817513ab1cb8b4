#!/usr/bin/env python3
"""Concurrent bridged G.711 calls with media (the method of Asterisk's "measuring SIP channel
performance": SIPp, G.711, ramp until failure).

A release `blend serve` with AGENTS agents whose extensions are registered from one SIPp UAS
that answers every call and echoes the RTP it receives (-rtp_echo); a SIPp UAC sets up calls at
RATE/s up to N concurrent calls, each streaming an A-law tone (RTP every 20 ms) for the whole
call, so Blend relays 50 packets/s each way per call (customer -> agent, echo agent ->
customer). Once the N calls are up, one more call — the probe — is placed by SIPp, and the
benchmark itself sends its RTP (50 packets/s) and times every packet's round trip through the
two relays and the echo, while the server's CPU time is read over the same window. Steps N
grow until calls fail. The same steps then run with the queue's recording policy "always"
(every call written to a stereo WAV), then SIPp to SIPp directly (the UAC calls the echoing
UAS itself), so the ratios show Blend's cost. Prints per step:
  sip.media.<mode> calls=N ok=… failed=… cpu_pct=… cpu_pct_per_call=… rtt_p50_ms=…
    rtt_p99_ms=… jitter_p99_ms=… probe_lost=…
  (mode: relay, record, direct; cpu_pct is the server's CPU, all threads, over the window,
   in % of one core; jitter is |D(i-1,i)| of RFC 3550: the change in transit time between
   consecutive probe packets)
and at the end sip.media.max_relayed_calls_under_80pct=… and the added jitter
(relay minus direct) at the largest step both completed.
Usage: bench/sip_media_bench.py BUILD_DIR [STEPS] [STEADY_S] [RATE]
  STEPS: comma-separated concurrent call counts (default 500,1000); RATE: call setups per
  second while ramping (default 200)."""

import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings

from sipcenter import (SRC, Center, answering_phones, api, cpu_ticks, free_port,
                       free_udp_port, sipp_counts)

PT_PCMA = 8


def write_tone(path, seconds=2):
    """A 440 Hz A-law tone (Python's audioop: Debian 12 ships Python 3.11)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                   for i in range(8000 * seconds))
    with open(path, "wb") as f:
        f.write(audioop.lin2alaw(pcm, 2))


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(math.ceil(p / 100 * len(v))) - 1)]


class Probe:
    """Sends one RTP packet every 20 ms from its own port and times each packet's return."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = {}
        self.back = {}
        self.stop = False

    def _recv(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            t = time.monotonic()
            if len(data) >= 20:
                n = struct.unpack(">Q", data[12:20])[0]
                if n in self.sent and n not in self.back:
                    self.back[n] = t

    def run(self, dest, seconds):
        rx = threading.Thread(target=self._recv)
        rx.start()
        ssrc, start = 0x5EED, time.monotonic()
        n = 0
        while n < seconds * 50:
            due = start + n * 0.02
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            payload = struct.pack(">Q", n) + b"\xd5" * 152
            hdr = struct.pack(">BBHII", 0x80, PT_PCMA, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, ssrc)
            self.sent[n] = time.monotonic()
            self.sock.sendto(hdr + payload, dest)
            n += 1
        time.sleep(0.5)
        self.stop = True
        rx.join()
        self.sock.close()

    def figures(self):
        got = sorted(n for n in self.back)
        rtt = [(self.back[n] - self.sent[n]) * 1000 for n in got]
        jit = [abs((self.back[b] - self.back[a]) - (self.sent[b] - self.sent[a])) * 1000
               for a, b in zip(got, got[1:]) if b == a + 1]
        # The first second is the path settling (latching, bridging): not counted.
        skip = 50
        return (pct(rtt[skip:], 50), pct(rtt[skip:], 99), pct(jit[skip:], 99),
                len(self.sent) - len(self.back))


def step(tmp, tag, target, service, calls, rate, steady_s, server_pid):
    """One step: `calls` concurrent streaming calls plus the probe; returns the figures."""
    ramp_s = calls / rate
    hold_ms = int((ramp_s + steady_s + 6) * 1000)
    stat = os.path.join(tmp, f"{tag}.csv")
    uac = subprocess.Popen(
        ["sipp", "-sf", os.path.join(SRC, "bench", "sip", "customer_media.xml"), "-s",
         service, "-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1", "-r", str(rate), "-m",
         str(calls), "-l", str(calls), "-d", str(hold_ms), "-timeout",
         str(int(ramp_s + steady_s + 90)), "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
         target], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(ramp_s + 2)
    probe = Probe()
    log = os.path.join(tmp, f"{tag}.probe.log")
    psipp = subprocess.Popen(
        ["sipp", "-sf", os.path.join(SRC, "bench", "sip", "customer_probe.xml"), "-s", service,
         "-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1", "-m", "1", "-d",
         str(int((steady_s + 1.5) * 1000)), "-key", "probe_port", str(probe.port),
         "-trace_logs", "-log_file", log, "-nostdin", "-timeout", str(steady_s + 30), target],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The server's CPU over the steady window, whether or not the probe gets through.
    c0, t0 = (cpu_ticks(server_pid) if server_pid else 0), time.monotonic()
    dest = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and psipp.poll() is None:
        try:
            m = re.search(r"RTP ([0-9.]+) ([0-9]+)", open(log).read())
        except OSError:
            m = None
        if m:
            dest = (m.group(1), int(m.group(2)))
            break
        time.sleep(0.05)
    if dest:
        probe.run(dest, steady_s)
    else:
        print(f"sip_media_bench: {tag}: the probe call got no answer "
              f"(SIPp exit {psipp.poll()})", file=sys.stderr)
        time.sleep(max(0.0, t0 + steady_s - time.monotonic()))
    wall = time.monotonic() - t0
    cpu = ((cpu_ticks(server_pid) - c0) / os.sysconf("SC_CLK_TCK") / wall * 100
           if server_pid else float("nan"))
    try:
        psipp.wait(timeout=steady_s + 60)
    except subprocess.TimeoutExpired:
        psipp.kill()
    uac.wait(timeout=ramp_s + steady_s + 120)
    ok, failed = sipp_counts(stat)
    p50, p99, jit, lost = probe.figures() if dest else (float("nan"),) * 3 + (-1,)
    return {"calls": calls, "ok": ok, "failed": failed, "cpu": cpu, "p50": p50, "p99": p99,
            "jitter": jit, "lost": lost}


def show(mode, r):
    per = r["cpu"] / r["calls"] if r["calls"] else float("nan")
    print(f"sip.media.{mode} calls={r['calls']} ok={r['ok']} failed={r['failed']} "
          f"cpu_pct={r['cpu']:.1f} cpu_pct_per_call={per:.4f} rtt_p50_ms={r['p50']:.2f} "
          f"rtt_p99_ms={r['p99']:.2f} jitter_p99_ms={r['jitter']:.2f} "
          f"probe_lost={r['lost']}", flush=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    steps = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "500,1000").split(",")]
    steady_s = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    rate = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    if not shutil.which("sipp"):
        print("sip_media_bench: sipp is not installed", file=sys.stderr)
        return 1
    center = Center(sys.argv[1], max(steps) + 10)
    phones = None
    results = {}
    try:
        if not center.register_and_ready():
            return 1
        tmp = center.tmp
        write_tone(os.path.join(tmp, "media.alaw"))
        phones = answering_phones(tmp, center.phone, "phones", rtp_echo=True)
        time.sleep(0.5)
        queue = api(center.base, "GET", "/api/v1/queues?limit=10", center.token)["items"][0]
        for mode in ("relay", "record", "direct"):
            if mode == "record":
                api(center.base, "PATCH", f"/api/v1/queues/{queue['id']}", center.token,
                    {"recording": "always"})
            results[mode] = []
            for n in steps:
                if mode == "direct":
                    r = step(tmp, f"{mode}{n}", f"127.0.0.1:{center.phone}", "agent", n, rate,
                             steady_s, None)
                else:
                    r = step(tmp, f"{mode}{n}", f"127.0.0.1:{center.sip}", "+19990000", n,
                             rate, steady_s, center.server.pid)
                show(mode, r)
                results[mode].append(r)
                if r["failed"] or r["ok"] < n:
                    break
                time.sleep(2)
        good = [r["calls"] for r in results["relay"]
                if not r["failed"] and r["ok"] == r["calls"] and r["cpu"] <= 80
                and r["lost"] >= 0]
        print(f"sip.media.max_relayed_calls_under_80pct={max(good) if good else 0}")
        both = [(a, b) for a in results["relay"] for b in results["direct"]
                if a["calls"] == b["calls"] and not a["failed"] and not b["failed"]]
        if both:
            a, b = both[-1]
            print(f"sip.media.added calls={a['calls']} "
                  f"rtt_p99_ms={a['p99'] - b['p99']:.2f} "
                  f"jitter_p99_ms={a['jitter'] - b['jitter']:.2f}")
        return 0 if all(not r["failed"] for r in results["relay"]) else 1
    finally:
        if phones:
            phones.kill()
            phones.wait()
        center.stop()


if __name__ == "__main__":
    sys.exit(main())
