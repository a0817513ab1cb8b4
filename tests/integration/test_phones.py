"""Agents' phones against a real SIP peer (SIPp) and the real server: with
sip.voice_requires_phone on, a ready agent whose extension has no registered phone is not
offered voice calls; registering the phone (digest auth against the agent's SIP password) makes
the waiting call ring for her, the registration shows in her state and in the event log, a wrong
password is refused, and unregistering takes voice away again."""

import os
import subprocess

import blendtest as bt
from blendtest import check, wait_for

SCEN = os.path.join(bt.SRC, "tests", "sip")


PHONE_PORT = bt.free_port()


def sipp(srv, scenario, user, password, expires=3600, timeout=20):
    """Runs one SIPp registration scenario against the server from the phone's address (the
    same each time: a binding is its contact address); returns SIPp's exit code."""
    cmd = ["sipp", "-sf", os.path.join(SCEN, scenario), "-m", "1", "-t", "u1",
           "-i", "127.0.0.1", "-p", str(PHONE_PORT), "-s", user, "-au", user, "-ap", password,
           "-key", "expires", str(expires), "-d", "0", "-timeout", "10", "-timeout_error",
           "-nostdin", "-trace_err", "-error_file", os.path.join(srv.dir, f"sipp-{scenario}.log"),
           f"127.0.0.1:{srv.sip_port}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=srv.dir)
    return done.returncode


def run():
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        minji = srv.agent_of_user(admin, "minji")["id"]
        st, _, doc = srv.request("POST", f"/api/v1/agents/{minji}/state", minji_tok,
                                 body={"state": "ready"})
        check(st == 200 and doc["state"] == "ready", f"minji ready: {st} {doc}")
        state = srv.get_ok(f"/api/v1/agents/{minji}/state", admin)
        check(state["phone"] == {"extension": "1001", "registered": False},
              f"no phone yet: {state}")

        st, _, call = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "voice", "queue": "billing"})
        check(st == 201 and call["routing"]["state"] == "waiting",
              f"no voice offer without a phone: {st} {call}")

        # A wrong password is refused: the scenario ends on the second 401, not on 200.
        check(sipp(srv, "register.xml", "1001", "not-the-password") != 0,
              "a REGISTER with a wrong password must fail")
        check(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["phone"]["registered"] is False,
              "still unregistered after a wrong password")

        check(sipp(srv, "register.xml", "1001", "sip-demo-1001") == 0,
              "SIPp registers extension 1001 with its SIP password")
        state = wait_for("the registration to reach routing",
                         lambda: (lambda s: s if s["phone"]["registered"] else None)(
                             srv.get_ok(f"/api/v1/agents/{minji}/state", admin)))
        check(state["phone"]["transport"] == "udp"
              and "SIPp" in state["phone"]["user_agent"], f"phone details: {state['phone']}")
        routed = wait_for("the waiting call to be offered",
                          lambda: (lambda v: v if v["state"] == "offered" else None)(
                              srv.get_ok(f"/api/v1/interactions/{call['id']}/routing", admin)))
        check(routed["agent_id"] == minji, f"offered to minji once her phone is up: {routed}")
        # The event is recorded asynchronously (nobody waits on it): poll the log.
        reg = wait_for("phone.registered in the log",
                       lambda: [e for e in srv.event_log(admin) if e["type"] == "phone.registered"])
        check(len(reg) == 1 and reg[0]["subject"] == f"agents/{minji}"
              and reg[0]["data"]["extension"] == "1001", f"phone.registered: {reg}")

        # She takes the call and ends it; then the phone goes away: no more voice for her.
        st, _, _ = srv.request("POST", f"/api/v1/interactions/{call['id']}/accept", minji_tok)
        check(st == 200, f"accept: {st}")
        st, _, _ = srv.request("POST", f"/api/v1/interactions/{call['id']}/end", minji_tok)
        check(st == 200, f"end: {st}")
        srv.request("POST", f"/api/v1/agents/{minji}/wrapup-end", minji_tok)
        check(sipp(srv, "unregister.xml", "1001", "sip-demo-1001") == 0, "SIPp unregisters")
        wait_for("the phone to be unregistered",
                 lambda: not srv.get_ok(f"/api/v1/agents/{minji}/state",
                                        admin)["phone"]["registered"])
        unreg = wait_for("phone.unregistered in the log",
                         lambda: [e for e in srv.event_log(admin)
                                  if e["type"] == "phone.unregistered"])
        check(len(unreg) == 1 and unreg[0]["data"]["cause"] == "unregistered",
              f"phone.unregistered: {unreg}")
        st, _, again = srv.request("POST", "/api/v1/interactions", admin,
                                   body={"channel": "voice", "queue": "billing"})
        check(st == 201 and again["routing"]["state"] == "waiting",
              f"no voice offer after the phone left: {again}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
