"""Click-to-call through `blend serve` (POST /api/v1/calls), SIPp as the agent's phone and as the
far end of the outbound trunk:
1. Agent first: Minji (not ready) clicks; her phone rings and answers, then the number (the
   trunk) rings and answers with her caller ID; routing counts her engaged on voice (a second
   click is refused, 409); she hangs up: the outbound interaction ends and she is released.
2. Customer first: the number answers first, then Minji's phone rings; the far end hangs up.
3. Bad requests (422, 403), and a click-to-call open when the server is killed is ended at the
   next start ("call.ended" cause "restart")."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for

TRUNK_PORT = bt.free_port()


def trunk(srv, scenario, tag):
    return Sipp(srv, scenario, ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()), "-s",
                                "+3312345", "-key", "codec", "8"], tag, target="127.0.0.1:9")


def row(srv, admin, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}", admin)


def run():
    conf = f"[sip]\ntrunk_uri = sip:127.0.0.1:{TRUNK_PORT}\n"
    with bt.Server(phones_required=True, extra_config=conf) as srv:
        admin = srv.login("admin")
        minji = srv.login("minji")
        mid = srv.agent_of_user(admin, "minji")["id"]
        jid = srv.agent_of_user(admin, "jiho")["id"]
        port, mport = str(bt.free_port()), str(bt.free_port())
        check(bt.register_phone(srv, port, "1001", "sip-demo-1001") == 0, "phone registers")
        wait_for("minji's phone", lambda: srv.get_ok(f"/api/v1/agents/{mid}/state",
                                                     admin)["phone"]["registered"])
        st, _, _ = srv.request("POST", f"/api/v1/agents/{mid}/state", minji,
                               body={"state": "not-ready", "reason": "outbound"})
        check(st == 200, "minji logged in, not ready")

        # 3a. Bad requests first (nothing is dialled).
        for body, want in (({"number": "12 34"}, 422), ({}, 422),
                           ({"number": "+3312345", "order": "sideways"}, 422),
                           ({"number": "+3312345", "agent_id": jid}, 403)):
            st, _, resp = srv.request("POST", "/api/v1/calls", minji, body=body)
            check(st == want and "error" in resp, f"{body}: {st} {resp}")
        st, _, resp = srv.request("POST", "/api/v1/calls", admin, body={"number": "+3312345"})
        bt.check_error(st, resp, 422, "validation_failed", "an admin without an agent")

        # 1. Agent first.
        far = trunk(srv, "trunk_answer.xml", "trunk-1")
        phone = Sipp(srv, "agent_hangup.xml", ["-p", port, "-mp", mport, "-s", "1001", "-key",
                                               "codec", "8", "-d", "2500", "-rtp_echo"],
                     "minji-1")
        time.sleep(0.2)
        st, _, resp = srv.request("POST", "/api/v1/calls", minji,
                                  body={"number": "+3312345", "caller_id": "5551234"})
        check(st == 202 and resp["order"] == "agent-first", f"click-to-call: {st} {resp}")
        iid = resp["interaction_id"]
        wait_for("the call connected", lambda: row(srv, admin, iid)["state"] == "connected")
        stored = row(srv, admin, iid)
        check(stored["direction"] == "outbound" and stored["agent"] == "minji"
              and stored.get("queue") is None, f"the outbound row: {stored}")
        view = srv.get_ok(f"/api/v1/agents/{mid}/state", admin)
        check(view["engaged"]["voice"] == 1 and view["state"] == "not-ready",
              f"minji engaged, presence kept: {view}")
        st, _, resp = srv.request("POST", "/api/v1/calls", minji, body={"number": "+3399"})
        bt.check_error(st, resp, 409, "conflict", "a second call while on one")
        check(phone.wait() == 0, "minji's phone answered and hung up")
        check(far.wait() == 0, "the number answered with the caller ID and got BYE")
        wait_for("the row ended", lambda: row(srv, admin, iid)["state"] == "ended")
        types = [e["type"] for e in events_of(srv, admin, iid)]
        for want in ("call.originated", "call.ringing", "call.answered",
                     "call.outbound_progress", "call.ended"):
            check(want in types, f"interaction {iid} lacks {want}: {types}")
        check(types.index("call.answered") < types.index("call.outbound_progress"),
              f"the agent answered before the number was dialled: {types}")
        wait_for("minji released", lambda: srv.get_ok(f"/api/v1/agents/{mid}/state",
                                                      admin)["engaged"]["voice"] == 0)

        # 2. Customer first: the far end answers, then the phone rings; the far end hangs up.
        far = trunk(srv, "trunk_answer_hangup.xml", "trunk-2")
        phone = Sipp(srv, "agent_answer.xml", ["-p", port, "-mp", mport, "-s", "1001", "-key",
                                               "codec", "0", "-d", "0", "-rtp_echo"], "minji-2")
        time.sleep(0.2)
        st, _, resp = srv.request("POST", "/api/v1/calls", minji,
                                  body={"number": "+3312345", "caller_id": "5551234",
                                        "order": "customer-first"})
        check(st == 202 and resp["order"] == "customer-first", f"customer first: {st} {resp}")
        iid2 = resp["interaction_id"]
        check(far.wait() == 0, "the number answered first and hung up")
        check(phone.wait() == 0, "minji's phone answered and got BYE")
        wait_for("the second row ended", lambda: row(srv, admin, iid2)["state"] == "ended")
        evs = events_of(srv, admin, iid2)
        types = [e["type"] for e in evs]
        answered = [i for i, e in enumerate(evs) if e["type"] == "call.outbound_progress"
                    and e["data"]["sip_code"] == 200]
        check(answered and answered[0] < types.index("call.ringing"),
              f"the number answered before the phone rang: {types}")
        ended = [e["data"] for e in evs if e["type"] == "call.ended"][0]
        check(ended["leg"] == "customer" and ended["rtp_to_agent"] > 0, f"ended: {ended}")

        # 3b. A click-to-call open at a crash is ended at the next start.
        far = trunk(srv, "trunk_answer.xml", "trunk-3")
        phone = Sipp(srv, "agent_answer.xml", ["-p", port, "-mp", mport, "-s", "1001", "-key",
                                               "codec", "8", "-d", "0"], "minji-3")
        time.sleep(0.2)
        wait_for("minji released again", lambda: srv.get_ok(
            f"/api/v1/agents/{mid}/state", admin)["engaged"]["voice"] == 0)
        st, _, resp = srv.request("POST", "/api/v1/calls", minji,
                                  body={"number": "+3312345", "caller_id": "5551234"})
        check(st == 202, f"third click-to-call: {st} {resp}")
        iid3 = resp["interaction_id"]
        wait_for("the third call connected",
                 lambda: row(srv, admin, iid3)["state"] == "connected")
        srv.kill9()
        far.kill()
        phone.kill()
        srv.restart()
        admin = srv.login("admin")
        wait_for("the dead call ended", lambda: row(srv, admin, iid3)["state"] == "ended")
        ends = [e["data"] for e in events_of(srv, admin, iid3) if e["type"] == "call.ended"]
        check(ends and ends[-1]["cause"] == "restart", f"ended by the restart: {ends}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
