"""Keys pressed during a call through `blend serve`: a SIPp customer sends RFC 4733 "1", "#", "1"
to Minji's echoing SIPp phone; each key is a `call.dtmf` event of the interaction. While the
recording is paused for card capture the key is not written down (masked): the test records
the call, pauses after the first key and resumes after the second, so the customer's keys read
"1", "*" (masked), "1"."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for


def dtmf(srv, token, iid, leg):
    return [e["data"] for e in events_of(srv, token, iid)
            if e["type"] == "call.dtmf" and e["data"]["leg"] == leg]


def run():
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        minji = srv.agent_of_user(admin, "minji")["id"]
        port, media = bt.free_port(), bt.free_port()
        check(bt.register_phone(srv, port, "1001", "sip-demo-1001") == 0, "the phone registers")
        wait_for("the phone", lambda: srv.get_ok(f"/api/v1/agents/{minji}/state",
                                                 admin)["phone"]["registered"])
        st, _, _ = srv.request("POST", f"/api/v1/agents/{minji}/state", minji_tok,
                               body={"state": "ready"})
        check(st == 200, "minji ready")
        phone = Sipp(srv, "agent_answer.xml", ["-p", str(port), "-mp", str(media), "-s", "1001",
                                               "-key", "codec", "8", "-d", "0", "-rtp_echo"],
                     "phone")
        time.sleep(0.2)
        cust = Sipp(srv, "customer_dtmf.xml", ["-s", "+8225550101", "-key", "caller", "0105552",
                                               "-mp", str(bt.free_port()), "-d", "3000"],
                    "customer")
        conn = wait_for("the call connected", lambda: [
            e for e in srv.event_log(admin) if e["type"] == "contact.connected"], step_s=0.02)
        iid = int(conn[0]["subject"].split("/")[1])
        path = f"/api/v1/interactions/{iid}/recording"
        check(srv.request("POST", path, minji_tok, body={"action": "start"})[0] == 202, "start")
        wait_for("the first key", lambda: dtmf(srv, admin, iid, "customer"), step_s=0.02)
        check(srv.request("POST", path, minji_tok, body={"action": "pause"})[0] == 202, "pause")
        wait_for("the second key", lambda: len(dtmf(srv, admin, iid, "customer")) >= 2,
                 step_s=0.02)
        check(srv.request("POST", path, minji_tok, body={"action": "resume"})[0] == 202, "resume")
        check(cust.wait() == 0, "the customer presses three keys and hangs up")
        check(phone.wait() == 0, "the phone is hung up by Blend")
        keys = wait_for("three keys", lambda: (lambda k: k if len(k) == 3 else None)(
            dtmf(srv, admin, iid, "customer")))
        check([k["digit"] for k in keys] == ["1", "*", "1"]
              and [k["masked"] for k in keys] == [False, True, False],
              f"keys as logged: {keys}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
