"""Process lifecycle and the command line.

- SIGTERM with requests in flight: exit 0 within 5 s, and every request answered 2xx is stored.
- SIGHUP re-applies the provisioning file: a skill added to the file appears, and agent presence
  set before the reload is unchanged.
- `blend serve` with a bad configuration exits non-zero naming file, line and key.
- `blend provision` of a file with an error exits non-zero naming the JSON path.
- `blend version` prints the version of CMakeLists.txt.
- `blend user add --password-stdin`, then that user can log in.
"""

import http.client
import json
import os
import re
import shutil
import signal
import threading
import time

import blendtest as bt
from blendtest import check


def sigterm_in_flight():
    with bt.Server() as srv:
        token = srv.login("admin")
        acked, lock = [], threading.Lock()
        started = threading.Event()
        stop = threading.Event()

        def client(t):
            for i in range(10000):
                if stop.is_set():
                    return
                try:
                    st, _, doc = srv.request(
                        "POST", "/api/v1/skills", token, body={"name": f"term-{t}-{i}"}, timeout=10
                    )
                except (OSError, http.client.HTTPException):
                    return  # refused or cut: not acknowledged
                if st == 201:
                    with lock:
                        acked.append((doc["id"], doc["name"]))
                        if len(acked) >= 40:
                            started.set()
                elif st != 503:
                    return

        threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(6)]
        for th in threads:
            th.start()
        check(started.wait(60), f"only {len(acked)} writes acknowledged within 60 s")
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(bt.STOP_TIMEOUT_S)
        took = time.monotonic() - t0
        stop.set()
        if rc is None:
            srv.kill9()
            raise bt.TestFailure(f"server still running {bt.STOP_TIMEOUT_S}s after SIGTERM under load")
        check(rc == 0, f"server exited with {rc} after SIGTERM under load:\n{srv.log_tail()}")
        for th in threads:
            th.join(30)
        bt.log(f"SIGTERM under load: exit 0 after {took:.2f}s, {len(acked)} writes acknowledged")
        srv.start()
        token = srv.login("admin")
        for sid, name in acked:
            st, _, doc = srv.request("GET", f"/api/v1/skills/{sid}", token)
            check(st == 200 and doc.get("name") == name,
                  f"skill {name} (id {sid}) was acknowledged before SIGTERM but is gone: {st} {doc!r}")
        srv.stop()


def sighup_reload():
    tmp_prov = None
    srv = bt.Server(provision=None)
    try:
        tmp_prov = os.path.join(srv.dir, "demo.json")
        shutil.copy(bt.DEMO, tmp_prov)
        srv.provision = tmp_prov
        with srv:
            admin = srv.login("admin")
            minji = srv.login("minji")
            own = srv.agent_of_user(admin, "minji")["id"]
            other = next(a["id"] for a in srv.list_all("/api/v1/agents", admin) if a["id"] != own)
            st, _, got = srv.request("POST", f"/api/v1/agents/{own}/state", minji,
                                     body={"state": "ready"})
            check(st == 200, f"minji -> ready: {st} {got!r}")
            st, _, got = srv.request("POST", f"/api/v1/agents/{other}/state", admin,
                                     body={"state": "not-ready", "reason": "break"})
            if st == 409:  # not-ready may need a logged-in agent first
                st, _, got = srv.request("POST", f"/api/v1/agents/{other}/state", admin,
                                         body={"state": "ready"})
            check(st == 200, f"agent {other} state change: {st} {got!r}")
            before = {a: srv.get_ok(f"/api/v1/agents/{a}/state", admin) for a in (own, other)}

            with open(tmp_prov) as f:
                doc = json.load(f)
            doc.setdefault("skills", []).append({"name": "hup-added", "description": "via SIGHUP"})
            with open(tmp_prov + ".new", "w") as f:
                json.dump(doc, f, indent=2)
            os.replace(tmp_prov + ".new", tmp_prov)
            srv.signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            found = False
            while time.monotonic() < deadline and not found:
                found = any(s["name"] == "hup-added" for s in srv.list_all("/api/v1/skills", admin))
                if not found:
                    check(srv.proc.poll() is None, f"server died on SIGHUP:\n{srv.log_tail()}")
                    time.sleep(0.1)  # polling interval of a bounded wait
            check(found, f"skill hup-added not present 20 s after SIGHUP:\n{srv.log_tail()}")
            for a, was in before.items():
                now = srv.get_ok(f"/api/v1/agents/{a}/state", admin)
                check(now == was, f"agent {a} presence changed by the reload: {was} -> {now}")
            srv.get_ok("/api/v1/auth/me", minji)  # sessions survive a reload
            srv.stop()
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.kill9()


def bad_config():
    srv = bt.Server()
    try:
        bad = os.path.join(srv.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("# a bad file\n[http]\nlisten = 127.0.0.1:99999\n")
        res = bt.run_cli(["serve", "--config", bad])
        msg = res.stderr + res.stdout
        check(res.returncode != 0, f"serve with port 99999 exited 0: {msg!r}")
        check("bad.conf" in msg and ":3" in msg and "listen" in msg,
              f"bad config message must name file, line 3 and key 'listen': {msg!r}")
        with open(bad, "w") as f:
            f.write("[http]\nlisten = 127.0.0.1:8080\n\n[store]\nurll = sqlite:x.db\n")
        res = bt.run_cli(["serve", "--config", bad])
        msg = res.stderr + res.stdout
        check(res.returncode != 0, f"serve with unknown key exited 0: {msg!r}")
        check("bad.conf" in msg and ":5" in msg and "urll" in msg,
              f"unknown key message must name file, line 5 and key 'urll': {msg!r}")
        res = bt.run_cli(["serve", "--config", os.path.join(srv.dir, "missing.conf")])
        check(res.returncode != 0 and "missing.conf" in res.stderr,
              f"serve with a missing config: {res.returncode} {res.stderr!r}")
    finally:
        shutil.rmtree(srv.dir, ignore_errors=True)


def bad_provision_and_user_add():
    srv = bt.Server()
    try:
        bad = os.path.join(srv.dir, "bad.json")
        with open(bad, "w") as f:
            json.dump({"version": 1, "skills": [{"name": "fine"}, {"name": "ok2", "level": 3}],
                       "queues": [{"name": "q1", "priority": "high"}]}, f)
        res = bt.run_cli(["provision", "--config", srv.config_path, bad])
        msg = res.stderr + res.stdout
        check(res.returncode != 0, f"provision of a bad file exited 0: {msg!r}")
        check("skills[1].level" in msg, f"provision error must name skills[1].level: {msg!r}")
        check("queues[0].priority" in msg, f"provision error must name queues[0].priority: {msg!r}")

        res = bt.run_cli(["user", "add", "--config", srv.config_path, "cli-user", "--role",
                          "supervisor", "--password-stdin"], stdin_text="cli-user-pass-1\n")
        check(res.returncode == 0, f"user add exited {res.returncode}: {res.stderr!r}")
        res = bt.run_cli(["user", "add", "--config", srv.config_path, "cli-short",
                          "--password-stdin"], stdin_text="short\n")
        check(res.returncode != 0, f"user add with a 5-byte password exited 0: {res.stdout!r}")
        srv.start()
        token = srv.login("cli-user", "cli-user-pass-1")
        me = srv.get_ok("/api/v1/auth/me", token)
        check(me.get("username") == "cli-user" and me.get("role") == "supervisor",
              f"me for cli-user: {me!r}")
        srv.login("admin")  # the demo was provisioned on top of the existing store
        srv.stop()
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.kill9()
        shutil.rmtree(srv.dir, ignore_errors=True)


def version():
    with open(os.path.join(bt.SRC, "CMakeLists.txt")) as f:
        want = re.search(r"project\(blend VERSION ([0-9.]+)", f.read()).group(1)
    res = bt.run_cli(["version"])
    check(res.returncode == 0, f"blend version exited {res.returncode}: {res.stderr!r}")
    check(re.match(rf"blend {re.escape(want)}\b", res.stdout) is not None,
          f"blend version printed {res.stdout!r}, expected 'blend {want} ...'")
    res = bt.run_cli(["no-such-command"])
    check(res.returncode == 2, f"unknown command must exit 2, got {res.returncode}")


def run():
    version()
    bad_config()
    bad_provision_and_user_add()
    sigterm_in_flight()
    sighup_reload()


if __name__ == "__main__":
    bt.main(run)
