"""Shared by the SIP benchmarks: a release `blend serve` on loopback with N agents, each with an
extension registered from one SIPp process (the answering UAS binds that port next), a bench
queue without wrap-up and an entry point. Also the SIPp helpers the benchmarks share."""

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
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


def answering_phones(tmp, port, tag, rtp_echo=False):
    """One SIPp UAS answering every call on port (agent_answer.xml, PCMA); with rtp_echo the
    RTP it receives goes back to its sender."""
    cmd = ["sipp", "-sf", os.path.join(SRC, "tests", "sip", "agent_answer.xml"), "-i",
           "127.0.0.1", "-p", str(port), "-mp", str(free_udp_port()), "-t", "u1", "-key",
           "codec", "8", "-s", "agent", "-nostdin", "-trace_err", "-error_file",
           os.path.join(tmp, f"{tag}.err"), "127.0.0.1:9"]
    if rtp_echo:
        cmd.insert(-1, "-rtp_echo")
    return subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


class Center:
    """A blend serve with `agents` agents on queue "bench" behind number +19990000."""

    def __init__(self, build, agents, recording=False):
        self.build = os.path.abspath(build)
        self.agents = agents
        self.tmp = tempfile.mkdtemp(prefix="blend-sipbench-")
        self.http, self.sip, self.phone = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http}"
        with open(os.path.join(self.tmp, "blend.conf"), "w") as f:
            f.write(f"[http]\nlisten = 127.0.0.1:{self.http}\nweb_dir = {SRC}/web\n"
                    f"[sip]\nlisten = 127.0.0.1:{self.sip}\noptions_interval_s = 0\n"
                    "rtp_port_min = 30000\nrtp_port_max = 59999\n"
                    f"[store]\nurl = sqlite:{self.tmp}/blend.db\n[data]\ndir = {self.tmp}\n"
                    "[log]\nlevel = warn\n[auth]\npassword_cost = min\n")
        queue = {"name": "bench", "channels": ["voice"],
                 "skills": [{"skill": "bench", "min_proficiency": 1}], "wrap_up_s": 0,
                 "strategy": "longest-idle", "max_no_answer": 0}
        if recording:
            queue["recording"] = "always"
        doc = {"version": 1, "skills": [{"name": "bench"}], "queues": [queue],
               "users": [{"username": "admin", "role": "admin",
                          "password": "bench-admin-pass"}],
               "agents": [{"name": f"a{i:05d}", "extension": str(20000 + i),
                           "sip_password": f"bench-pass-{i}",
                           "skills": [{"skill": "bench", "proficiency": 5}],
                           "capacity": {"voice": 1}} for i in range(agents)],
               "entry_points": [{"name": "bench-line", "channel": "voice",
                                 "address": "+19990000", "queue": "bench"}]}
        with open(os.path.join(self.tmp, "bench.json"), "w") as f:
            json.dump(doc, f)
        self.server = subprocess.Popen(
            [os.path.join(self.build, "blend"), "serve", "--config",
             os.path.join(self.tmp, "blend.conf"), "--provision",
             os.path.join(self.tmp, "bench.json")],
            stdout=open(os.path.join(self.tmp, "server.log"), "w"), stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self.token = api(self.base, "POST", "/api/v1/auth/login", body={
            "username": "admin", "password": "bench-admin-pass"})["token"]

    def register_and_ready(self):
        """Registers every extension from self.phone (SIPp cannot take injected credentials in
        its digest keyword, so one run per extension), then makes every agent ready. Returns
        False (after printing why) when a registration fails."""
        for i in range(self.agents):
            reg = subprocess.run(["sipp", "-sf", os.path.join(SRC, "tests", "sip",
                                                              "register.xml"),
                                  "-s", str(20000 + i), "-au", str(20000 + i), "-ap",
                                  f"bench-pass-{i}", "-key", "expires", "3600", "-d", "0",
                                  "-i", "127.0.0.1", "-p", str(self.phone), "-t", "u1", "-m",
                                  "1", "-nostdin", "-timeout", "10", "-trace_err",
                                  "-error_file", os.path.join(self.tmp, "register.err"),
                                  f"127.0.0.1:{self.sip}"],
                                 cwd=self.tmp, capture_output=True)
            if reg.returncode != 0:
                print(reg.stdout.decode(errors="replace")[-300:], file=sys.stderr)
                print(f"sip bench: registering extension {20000 + i} failed", file=sys.stderr)
                with open(os.path.join(self.tmp, "server.log")) as f:
                    print(f.read()[-1500:], file=sys.stderr)
                return False
        ids, cursor = [], None
        while True:
            page = api(self.base, "GET", "/api/v1/agents?limit=200" +
                       (f"&cursor={cursor}" if cursor else ""), self.token)
            ids += [a["id"] for a in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for aid in ids:
            api(self.base, "POST", f"/api/v1/agents/{aid}/state", self.token,
                {"state": "ready"})
        return True

    def stop(self):
        self.server.terminate()
        self.server.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
