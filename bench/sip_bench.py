#!/usr/bin/env python3
"""SIP call-setup benchmark (the method of Asterisk's "measuring SIP channel performance": SIPp,
G.711 SDP, a fixed call rate): a release `blend serve` with AGENTS agents, each with an
extension registered from one SIPp UAS that answers every call (agent_answer.xml), and a bench
queue without wrap-up; a SIPp UAC places RATE calls/s for SECONDS through the entry point, each
held HOLD_MS then hung up. Every call goes through the routing engine (arrival, offer, ring,
answer, end) and the event log. The same UAC then calls the same UAS directly, so the ratio shows
Blend's cost. Prints:
  sip.blend rate=… calls=… ok=… failed=… cpu_pct=…
  sip.direct rate=… calls=… ok=… failed=…
  sip.ratio blend_ok/direct_ok=…
Usage: bench/sip_bench.py BUILD_DIR [RATE] [SECONDS] [AGENTS]"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD_MS = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, method, path, token=None, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def sipp_counts(stat_csv):
    """(successful, failed) from the last line of SIPp's -trace_stat file."""
    with open(stat_csv) as f:
        lines = [l.strip() for l in f if l.strip()]
    head = lines[0].split(";")
    last = lines[-1].split(";")
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
    return ok, failed


def uac(tmp, tag, target, rate, seconds, service):
    stat = os.path.join(tmp, f"{tag}.csv")
    total = rate * seconds
    subprocess.run(["sipp", "-sf", os.path.join(SRC, "bench", "sip", "customer_bench.xml"),
                    "-s", service, "-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1",
                    "-r", str(rate), "-m", str(total), "-d", str(HOLD_MS),
                    "-l", str(rate * 4), "-timeout", str(seconds + 60), "-nostdin",
                    "-trace_stat", "-stf", stat, "-fd", "1", target],
                   cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds + 120)
    return total, sipp_counts(stat)


def uas(tmp, port, tag):
    return subprocess.Popen(
        ["sipp", "-sf", os.path.join(SRC, "tests", "sip", "agent_answer.xml"), "-i",
         "127.0.0.1", "-p", str(port), "-mp", str(free_port()), "-t", "u1", "-key", "codec",
         "8", "-s", "agent", "-nostdin", "-trace_err", "-error_file",
         os.path.join(tmp, f"{tag}.err"), "127.0.0.1:9"],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    agents = int(sys.argv[4]) if len(sys.argv) > 4 else max(50, rate * 3)
    for tool in ("sipp",):
        if not shutil.which(tool):
            print(f"sip_bench: {tool} is not installed", file=sys.stderr)
            return 1
    tmp = tempfile.mkdtemp(prefix="blend-sipbench-")
    http, sip, phone = free_port(), free_port(), free_port()
    with open(os.path.join(tmp, "blend.conf"), "w") as f:
        f.write(f"[http]\nlisten = 127.0.0.1:{http}\nweb_dir = {SRC}/web\n"
                f"[sip]\nlisten = 127.0.0.1:{sip}\noptions_interval_s = 0\n"
                "rtp_port_min = 40000\nrtp_port_max = 59999\n"
                f"[store]\nurl = sqlite:{tmp}/blend.db\n[data]\ndir = {tmp}\n"
                "[log]\nlevel = warn\n[auth]\npassword_cost = min\n")
    doc = {"version": 1, "skills": [{"name": "bench"}],
           "queues": [{"name": "bench", "channels": ["voice"],
                       "skills": [{"skill": "bench", "min_proficiency": 1}], "wrap_up_s": 0,
                       "strategy": "longest-idle", "max_no_answer": 0}],
           "users": [{"username": "admin", "role": "admin", "password": "bench-admin-pass"}],
           "agents": [{"name": f"a{i:05d}", "extension": str(20000 + i),
                       "sip_password": f"bench-pass-{i}",
                       "skills": [{"skill": "bench", "proficiency": 5}],
                       "capacity": {"voice": 1}} for i in range(agents)],
           "entry_points": [{"name": "bench-line", "channel": "voice",
                             "address": "+19990000", "queue": "bench"}]}
    with open(os.path.join(tmp, "bench.json"), "w") as f:
        json.dump(doc, f)
    server = subprocess.Popen([os.path.join(build, "blend"), "serve", "--config",
                               os.path.join(tmp, "blend.conf"), "--provision",
                               os.path.join(tmp, "bench.json")],
                              stdout=open(os.path.join(tmp, "server.log"), "w"),
                              stderr=subprocess.STDOUT)
    phones = None
    try:
        base = f"http://127.0.0.1:{http}"
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        token = api(base, "POST", "/api/v1/auth/login", body={
            "username": "admin", "password": "bench-admin-pass"})["token"]
        # Every phone registers from the one address the answering UAS binds next (SIPp
        # cannot take injected credentials in its digest keyword, so one run per extension).
        for i in range(agents):
            reg = subprocess.run(["sipp", "-sf", os.path.join(SRC, "tests", "sip",
                                                              "register.xml"),
                                  "-s", str(20000 + i), "-au", str(20000 + i), "-ap",
                                  f"bench-pass-{i}", "-key", "expires", "3600", "-d", "0",
                                  "-i", "127.0.0.1", "-p", str(phone), "-t", "u1", "-m", "1",
                                  "-nostdin", "-timeout", "10", "-trace_err", "-error_file",
                                  os.path.join(tmp, "register.err"), f"127.0.0.1:{sip}"],
                                 cwd=tmp, capture_output=True)
            if reg.returncode != 0:
                print(reg.stdout.decode(errors="replace")[-300:], file=sys.stderr)
                print(json.dumps(api(base, "GET", "/api/v1/agents?limit=2", token))[:600],
                      file=sys.stderr)
                print(server.poll(), file=sys.stderr)
                print(open(os.path.join(tmp, "register.err"), errors="replace").read()[-1500:],
                      file=sys.stderr)
                print(f"sip_bench: registering extension {20000 + i} failed", file=sys.stderr)
                with open(os.path.join(tmp, "server.log")) as f:
                    print(f.read()[-1500:], file=sys.stderr)
                return 1
        ids, cursor = [], None
        while True:
            page = api(base, "GET", "/api/v1/agents?limit=200" +
                       (f"&cursor={cursor}" if cursor else ""), token)
            ids += [a["id"] for a in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for aid in ids:
            api(base, "POST", f"/api/v1/agents/{aid}/state", token, {"state": "ready"})
        phones = uas(tmp, phone, "phones")
        time.sleep(0.5)
        t0, c0 = time.monotonic(), cpu_ticks(server.pid)
        total, (ok, failed) = uac(tmp, "blend", f"127.0.0.1:{sip}", rate, seconds, "+19990000")
        wall = time.monotonic() - t0
        cpu = (cpu_ticks(server.pid) - c0) / os.sysconf("SC_CLK_TCK") / wall * 100
        print(f"sip.blend rate={rate} calls={total} ok={ok} failed={failed} cpu_pct={cpu:.1f}")
        dtotal, (dok, dfailed) = uac(tmp, "direct", f"127.0.0.1:{phone}", rate, seconds,
                                     "agent")
        print(f"sip.direct rate={rate} calls={dtotal} ok={dok} failed={dfailed}")
        print(f"sip.ratio blend_ok/direct_ok={ok / dok if dok else 0:.3f}")
        return 0 if failed == 0 else 1
    finally:
        if phones:
            phones.kill()
            phones.wait()
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
