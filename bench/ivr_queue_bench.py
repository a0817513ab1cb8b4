#!/usr/bin/env python3
"""Callers waiting in a queue with music and announcements (docs/flows.md, "Flows on calls").

A release `blend serve` on loopback with a provisioning file of its own: one queue ("hold")
that no agent serves, so every caller stays; a flow "hold" whose start is a queue node
(announce_every_s 10, one message every 15 s); an entry point +19990001 with that flow; and
`sip.moh_path` set to a 30 s WAV written here (a two-note chord with a slow swell, 8 kHz mono).
A SIPp UAC (a scenario written into the run's temporary directory: INVITE with PCMA and
telephone-event, ACK, a pause for the call's length, BYE) places calls at RATE/s up to N
concurrent callers, for each step N of STEPS, stopping at the first step that fails.

Before the steps one caller warms the prompt service: it renders the message and the first
announcement ("You are number 1 in line...") once; the time from that caller's INVITE to the
first prompt packet is printed (it includes the 1.5 s Blend waits before announcing).
Announcements name the caller's position, so each position is its own text: the callers of a
step at positions the earlier steps did not reach need new renders (espeak-ng, two at a time).
After the ramp, the bench waits until no espeak-ng child of the server has run for 1.5 s (at
most SETTLE_MAX_S), so rendering stays out of the window; then, over a window of WINDOW_S
seconds, it reads:
  - the server's CPU time (all threads) and its reaped children's (espeak-ng) from /proc;
  - /metrics: blend_sip_rtp_packets_total{kind="moh"|"prompt"|"silence"} deltas;
  - the event log: ivr.announce and ivr.message events written in the window (by seq).
Prints per step:
  ivr.queue callers=N ok=… failed=… refused=… all_up_s=… live_in_window=… cpu_pct=…
    cpu_pct_per_caller=… pkts_per_caller_s=… moh_share=… announcements=… messages=…
    tts_cpu_pct=… settle_s=… settled=0|1
  (refused: INVITEs Blend answered 403/488/503; all_up_s: from the first INVITE until Blend
   holds all N calls (nan: not within the ramp plus RAMP_SLACK_S); live_in_window: calls
   Blend held through the window; cpu_pct in % of one core; pkts_per_caller_s = (moh +
   prompt + silence packets) / callers / window: 50 means one 20 ms packet per caller all the
   time; moh_share is the music's part; announcements and messages count events in the
   window; tts_cpu_pct is espeak-ng's CPU in the window, outside cpu_pct)
first ivr.queue.warm first_prompt_s=…, last the server's warnings and errors (log lines).
A step fails when SIPp counts a failed call or fewer than N successful ones; the steps stop
there (exit status 1).
Usage: bench/ivr_queue_bench.py BUILD_DIR [STEPS] [WINDOW_S] [RATE]
  STEPS: comma-separated caller counts (default 250,500,1000); WINDOW_S: the measured window
  (default 20); RATE: call setups per second while ramping (default 100)."""

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave

from sipcenter import SRC, api, cpu_ticks, free_port, free_udp_port, sipp_counts

NUMBER = "+19990001"
SETTLE_MAX_S = 25
RAMP_SLACK_S = 20  # Blend may answer INVITEs late while it renders (see docs/performance.md)
IDLE_S = 1.5  # no espeak-ng child for this long: rendering is over

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- A caller who waits in the queue: INVITE (PCMA, telephone-event), ACK, silence for "-d N"
     milliseconds (no RTP sent), BYE. -->
<scenario name="blend ivr queue caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "Queue Caller" <sip:0107[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:0107[call_number]@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "Queue Caller" <sip:0107[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "Queue Caller" <sip:0107[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def write_moh(path, seconds=30):
    """Music on hold: A3 + E4 with a 0.25 Hz swell, 16-bit 8 kHz mono WAV."""
    frames = bytearray()
    for i in range(8000 * seconds):
        t = i / 8000
        swell = 0.6 + 0.4 * math.sin(2 * math.pi * 0.25 * t)
        v = swell * (math.sin(2 * math.pi * 220 * t) + 0.7 * math.sin(2 * math.pi * 329.6 * t))
        frames += struct.pack("<h", int(6000 * v))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))


def metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for kind in ("moh", "prompt", "silence"):
        m = re.search(r'^blend_sip_rtp_packets_total\{kind="%s"\} (\d+)' % kind, text, re.M)
        out[kind] = int(m.group(1)) if m else 0
    m = re.search(r"^blend_sip_calls_active (\d+)", text, re.M)
    out["active"] = int(m.group(1)) if m else 0
    m = re.search(r"^blend_sip_calls_refused_total (\d+)", text, re.M)
    out["refused"] = int(m.group(1)) if m else 0
    return out


def child_ticks(pid):
    """CPU ticks of the server's children it has waited for (espeak-ng renders)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[13]) + int(fields[14])


def renders_running(pid):
    """espeak-ng processes whose parent is the server."""
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s.rsplit(")", 1)[1].split()[1])
        if ppid == pid and comm.startswith("espeak"):
            n += 1
    return n


class Events:
    """Reads the event log forward from the last seq seen."""

    def __init__(self, base, token):
        self.base, self.token, self.after = base, token, 0

    def read(self):
        got = []
        while True:
            body = api(self.base, "GET", f"/api/v1/event-log?after={self.after}&limit=500",
                       self.token)
            got += body["items"]
            nxt = body.get("next_after")
            if nxt is None or nxt <= self.after:
                if body["items"]:
                    self.after = max(self.after, max(e["seq"] for e in body["items"]))
                return got
            self.after = nxt


class Server:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.tmp = tempfile.mkdtemp(prefix="blend-ivrbench-")
        self.http, self.sip = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http}"
        self.moh = os.path.join(self.tmp, "moh.wav")
        write_moh(self.moh)
        with open(os.path.join(self.tmp, "blend.conf"), "w") as f:
            f.write(f"[http]\nlisten = 127.0.0.1:{self.http}\nweb_dir = {SRC}/web\n"
                    f"[sip]\nlisten = 127.0.0.1:{self.sip}\noptions_interval_s = 0\n"
                    f"rtp_port_min = 30000\nrtp_port_max = 59999\nmoh_path = {self.moh}\n"
                    f"[store]\nurl = sqlite:{self.tmp}/blend.db\n[data]\ndir = {self.tmp}\n"
                    "[log]\nlevel = warn\n[auth]\npassword_cost = min\n")
        flow = {"name": "hold", "language": "en", "start": "wait",
                "description": "Callers wait with music, announcements and a message",
                "nodes": {"wait": {"type": "queue", "queue": "hold", "announce_every_s": 10,
                                   "messages": ["Thank you for holding. Your call is important "
                                                "to us."], "message_every_s": 15}}}
        doc = {"version": 1, "skills": [{"name": "hold"}],
               "queues": [{"name": "hold", "channels": ["voice"],
                           "skills": [{"skill": "hold", "min_proficiency": 1}]}],
               "users": [{"username": "admin", "role": "admin",
                          "password": "bench-admin-pass"}],
               "flows": [flow],
               "entry_points": [{"name": "hold-line", "channel": "voice", "address": NUMBER,
                                 "flow": "hold", "queue": "hold"}]}
        with open(os.path.join(self.tmp, "bench.json"), "w") as f:
            json.dump(doc, f)
        with open(os.path.join(self.tmp, "caller.xml"), "w") as f:
            f.write(SCENARIO)
        self.log = os.path.join(self.tmp, "server.log")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "blend"), "serve", "--config",
             os.path.join(self.tmp, "blend.conf"), "--provision",
             os.path.join(self.tmp, "bench.json")],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("blend serve exited: " + open(self.log).read()[-1500:])
                time.sleep(0.1)
        self.token = api(self.base, "POST", "/api/v1/auth/login", body={
            "username": "admin", "password": "bench-admin-pass"})["token"]

    def callers(self, tag, count, rate, hold_ms):
        """A SIPp UAC placing `count` calls at `rate`/s, each held hold_ms; (process, stat)."""
        stat = os.path.join(self.tmp, f"{tag}.csv")
        p = subprocess.Popen(
            ["sipp", "-sf", os.path.join(self.tmp, "caller.xml"), "-s", NUMBER, "-i",
             "127.0.0.1", "-p", str(free_port()), "-mp", str(free_udp_port()), "-t", "u1",
             "-r", str(rate), "-m", str(count), "-l", str(count), "-d", str(hold_ms),
             "-timeout", str(int(hold_ms / 1000 + count / rate + 60)), "-nostdin",
             "-trace_stat", "-stf", stat, "-fd", "1", "-trace_err", "-error_file",
             os.path.join(self.tmp, f"{tag}.err"), f"127.0.0.1:{self.sip}"],
            cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return p, stat

    def log_problems(self):
        with open(self.log, errors="replace") as f:
            return [l.rstrip() for l in f if '"level":"warn"' in l or '"level":"error"' in l
                    or "WARN" in l or "ERROR" in l]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_until(what, pred, timeout_s, every_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every_s)
    print(f"ivr_queue_bench: {what}: not within {timeout_s} s", file=sys.stderr)
    return None


def warm(srv):
    """One caller: the first renders. Returns seconds from its INVITE to the first prompt
    packet (nan when none came)."""
    before = metrics(srv.base)["prompt"]
    t0 = time.monotonic()
    p, _ = srv.callers("warm", 1, 1, 9000)
    got = wait_until("the warm-up caller's first prompt",
                     lambda: metrics(srv.base)["prompt"] > before, 30, 0.02)
    first = time.monotonic() - t0 if got else float("nan")
    p.wait(timeout=60)
    wait_until("the warm-up call's end", lambda: metrics(srv.base)["active"] == 0, 30)
    return first


def settle(pid):
    """Waits until no espeak-ng child has run for IDLE_S; returns (seconds, settled)."""
    t0 = time.monotonic()
    idle_since = t0
    while time.monotonic() - t0 < SETTLE_MAX_S:
        if renders_running(pid):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= IDLE_S:
            return time.monotonic() - t0, 1
        time.sleep(0.1)
    return time.monotonic() - t0, 0


def step(srv, events, n, rate, window_s):
    ramp_s = n / rate
    hold_ms = int((ramp_s + RAMP_SLACK_S + 2 + SETTLE_MAX_S + window_s + 3) * 1000)
    refused0 = metrics(srv.base)["refused"]
    uac, stat = srv.callers(f"step{n}", n, rate, hold_ms)
    pid = srv.proc.pid
    t_start = time.monotonic()
    up = wait_until(f"{n} callers up", lambda: metrics(srv.base)["active"] >= n,
                    ramp_s + RAMP_SLACK_S, 0.2)
    up_s = time.monotonic() - t_start
    time.sleep(2)  # every caller's first announcement is due 1.5 s after joining
    settle_s, settled = settle(pid)
    events.read()
    m0, c0, k0, t0 = metrics(srv.base), cpu_ticks(pid), child_ticks(pid), time.monotonic()
    time.sleep(window_s)
    m1, c1, k1, t1 = metrics(srv.base), cpu_ticks(pid), child_ticks(pid), time.monotonic()
    seen = events.read()
    wall = t1 - t0
    hz = os.sysconf("SC_CLK_TCK")
    callers = min(m0["active"], m1["active"])
    pkts = sum(m1[k] - m0[k] for k in ("moh", "prompt", "silence"))
    r = {"n": n, "up_s": up_s if up else float("nan"), "callers": callers,
         "cpu": (c1 - c0) / hz / wall * 100, "tts": (k1 - k0) / hz / wall * 100,
         "pkts": pkts / callers / wall if callers else float("nan"),
         "moh": (m1["moh"] - m0["moh"]) / pkts if pkts else float("nan"),
         "announce": sum(e["type"] == "ivr.announce" for e in seen),
         "message": sum(e["type"] == "ivr.message" for e in seen),
         "settle": settle_s, "settled": settled}
    try:
        uac.wait(timeout=hold_ms / 1000 + 90)
    except subprocess.TimeoutExpired:
        uac.kill()
        uac.wait()
    r["ok"], r["failed"] = sipp_counts(stat)
    r["refused"] = metrics(srv.base)["refused"] - refused0
    wait_until("the step's calls to end", lambda: metrics(srv.base)["active"] == 0, 60)
    events.read()  # the step's hang-ups are not the next window's
    return r


def show(r):
    per = r["cpu"] / r["callers"] if r["callers"] else float("nan")
    print(f"ivr.queue callers={r['n']} ok={r['ok']} failed={r['failed']} "
          f"refused={r['refused']} all_up_s={r['up_s']:.1f} "
          f"live_in_window={r['callers']} cpu_pct={r['cpu']:.1f} cpu_pct_per_caller={per:.4f} "
          f"pkts_per_caller_s={r['pkts']:.2f} moh_share={r['moh']:.2f} "
          f"announcements={r['announce']} messages={r['message']} tts_cpu_pct={r['tts']:.1f} "
          f"settle_s={r['settle']:.1f} settled={r['settled']}", flush=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    steps = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "250,500,1000").split(",")]
    window_s = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rate = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    for tool in ("sipp", "espeak-ng"):
        if not shutil.which(tool):
            print(f"ivr_queue_bench: {tool} is not installed", file=sys.stderr)
            return 1
    srv = Server(sys.argv[1])
    failed = False
    try:
        events = Events(srv.base, srv.token)
        first = warm(srv)
        print(f"ivr.queue.warm first_prompt_s={first:.2f} (INVITE to the first prompt packet: "
              f"1.5 s announcement delay + render)", flush=True)
        events.read()
        for n in steps:
            r = step(srv, events, n, rate, window_s)
            show(r)
            if r["failed"] or r["ok"] < n:
                failed = True
                break
            time.sleep(1)
        problems = srv.log_problems()
        print(f"ivr.queue.server_log warn_or_error_lines={len(problems)}", flush=True)
        for line in problems[:10]:
            print("  " + line[:300])
    finally:
        srv.stop()
        if os.environ.get("KEEP"):
            print(f"ivr_queue_bench: kept {srv.tmp}", file=sys.stderr)
        else:
            srv.remove()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
