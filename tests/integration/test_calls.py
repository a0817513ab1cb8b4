"""A call through `blend serve` with real SIP peers on both sides: a customer (SIPp on a trunk
address) dials the billing line; the entry point puts the call in the billing queue; the routing
engine offers it to Minji, whose phone (SIPp, registered as extension 1001) rings and answers;
the customer hears the agent (RTP relayed by Blend, echoed by the phone) and hangs up; Minji goes
to wrap-up. Every step is in the event log. An unknown number is refused with 404, a busy phone
sends the call back to the queue, a customer hanging up while waiting abandons it, a phone that
does not answer in time is cancelled and the call rings the next agent, and a call connected
when the server is killed is ended by the restart (its agent wraps up)."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for


def run():
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        minji = srv.agent_of_user(admin, "minji")["id"]
        phone_port = str(bt.free_port())
        media_port = str(bt.free_port())

        def register():
            reg = Sipp(srv, "register.xml", ["-p", phone_port, "-s", "1001", "-au", "1001",
                                             "-ap", "sip-demo-1001", "-key", "expires", "600",
                                             "-d", "0"], "register")
            check(reg.wait() == 0, "the phone registers")

        def customer(scenario, pause_ms, tag):
            return Sipp(srv, scenario, ["-s", "+8225550101", "-key", "caller", "01055512345",
                                        "-mp", str(bt.free_port()), "-d", pause_ms], tag)

        register()
        st, _, _ = srv.request("POST", f"/api/v1/agents/{minji}/state", minji_tok,
                               body={"state": "ready"})
        check(st == 200, f"minji ready: {st}")

        # 1. The whole call.
        phone = Sipp(srv, "agent_answer.xml", ["-p", phone_port, "-mp", media_port, "-s", "1001",
                                               "-key", "codec", "8", "-d", "0", "-rtp_echo"],
                     "phone")
        time.sleep(0.2)  # lets the phone's SIPp bind its port before Blend sends the INVITE
        cust = customer("customer_call.xml", "2000", "customer")
        check(cust.wait() == 0, "the customer's call goes through: 180, 200, RTP, BYE")
        check(phone.wait() == 0, "the phone rings, answers and is hung up by Blend")
        calls = wait_for("the call in the log", lambda: [
            e for e in srv.event_log(admin) if e["type"] == "call.ended"])
        iid = int(calls[0]["subject"].split("/")[1])
        evs = wait_for("contact.ended", lambda: (lambda es: es if any(
            e["type"] == "contact.ended" for e in es) else None)(events_of(srv, admin, iid)))
        types = [e["type"] for e in evs]
        for want in ("contact.queued", "call.arrived", "contact.offered", "call.ringing",
                     "call.answered", "contact.connected", "call.ended", "contact.ended"):
            check(want in types, f"interaction {iid} lacks {want}: {types}")
        arrived = next(e for e in evs if e["type"] == "call.arrived")["data"]
        check(arrived["dialled"] in ("+8225550101", "8225550101")
              and arrived["caller"] == "01055512345", f"call.arrived: {arrived}")
        ended = next(e for e in evs if e["type"] == "call.ended")["data"]
        check(ended["leg"] == "customer" and ended["rtp_to_agent"] > 0
              and ended["rtp_to_customer"] > 0, f"media flowed both ways: {ended}")
        connected = next(e for e in evs if e["type"] == "contact.connected")["data"]
        check(connected["agent_id"] == minji, f"connected to minji: {connected}")
        stored = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
        check(stored["channel"] == "voice" and stored["queue"] == "billing"
              and stored["state"] == "wrap_up", f"stored: {stored}")
        check(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["state"] == "wrap-up",
              "minji wraps up after the call")
        st, _, _ = srv.request("POST", f"/api/v1/agents/{minji}/wrapup-end", minji_tok)
        check(st == 200, f"wrap-up end: {st}")

        # 2. An unknown number: 404 from Blend, nothing stored.
        before = len(srv.list_all("/api/v1/interactions", admin))
        unknown = Sipp(srv, "customer_404.xml", ["-s", "+15550000", "-key", "caller", "0100",
                                                 "-mp", str(bt.free_port())], "unknown")
        check(unknown.wait() == 0, "an unknown number is refused with 404")
        check(len(srv.list_all("/api/v1/interactions", admin)) == before,
              "no interaction for a refused number")

        # 3. A busy phone sends the call back to the queue; the customer gives up: abandoned.
        busy = Sipp(srv, "agent_busy.xml", ["-p", phone_port, "-mp", media_port, "-s", "1001",
                                            "-d", "0"], "busy")
        time.sleep(0.2)
        waiting = customer("customer_cancel.xml", "1500", "waiting")
        check(busy.wait() == 0, "the phone answers 486 Busy Here")
        check(waiting.wait() == 0, "the waiting customer hangs up")
        last = wait_for("the abandoned call", lambda: [
            e for e in srv.event_log(admin) if e["type"] == "contact.abandoned"])
        iid2 = int(last[-1]["subject"].split("/")[1])
        types = [e["type"] for e in events_of(srv, admin, iid2)]
        for want in ("call.agent_failed", "contact.offer_rejected", "contact.abandoned",
                     "call.ended"):
            check(want in types, f"interaction {iid2} lacks {want}: {types}")

        # 4. No answer: Minji's phone rings past the queue's offer timeout (5 s, the least), Blend
        # cancels it and the call rings Jiho, who answers.
        post = lambda path, body: srv.request("POST", path, admin, body=body)
        st, _, _ = post("/api/v1/queues", {"name": "kr-fast", "channels": ["voice"],
                                           "skills": [{"skill": "korean", "min_proficiency": 7}],
                                           "offer_timeout_s": 5, "max_no_answer": 0})
        check(st == 201, f"queue kr-fast: {st}")
        st, _, _ = post("/api/v1/entry-points", {"name": "kr-fast-line", "channel": "voice",
                                                 "address": "+15550001", "queue": "kr-fast"})
        check(st == 201, f"entry point: {st}")
        jiho_tok = srv.login("jiho")
        jiho = srv.agent_of_user(admin, "jiho")["id"]
        jiho_port, jiho_media = str(bt.free_port()), str(bt.free_port())
        reg = Sipp(srv, "register.xml", ["-p", jiho_port, "-s", "1002", "-au", "1002", "-ap",
                                         "sip-demo-1002", "-key", "expires", "600", "-d", "0"],
                   "register-jiho")
        check(reg.wait() == 0, "jiho's phone registers")
        wait_for("jiho's phone in routing", lambda: srv.get_ok(
            f"/api/v1/agents/{jiho}/state", admin)["phone"]["registered"])
        st, _, _ = srv.request("POST", f"/api/v1/agents/{jiho}/state", jiho_tok,
                               body={"state": "ready"})
        check(st == 200, f"jiho ready: {st}")
        deaf = Sipp(srv, "agent_ring_cancel.xml", ["-p", phone_port, "-mp", media_port, "-s",
                                                   "1001", "-d", "0"], "deaf")
        answers = Sipp(srv, "agent_answer.xml", ["-p", jiho_port, "-mp", jiho_media, "-s", "1002",
                                                 "-key", "codec", "0", "-d", "0", "-rtp_echo"],
                       "jiho")
        time.sleep(0.2)
        kr = Sipp(srv, "customer_call.xml", ["-s", "+15550001", "-key", "caller", "01099998888",
                                             "-mp", str(bt.free_port()), "-d", "1000"], "kr")
        check(kr.wait() == 0, "the customer is answered by the second agent")
        check(deaf.wait() == 0, "minji's phone rang and was cancelled")
        check(answers.wait() == 0, "jiho's phone answered")
        timeouts = [e for e in srv.event_log(admin) if e["type"] == "contact.offer_timeout"]
        check(len(timeouts) == 1 and timeouts[0]["data"]["agent_id"] == minji,
              f"one offer timeout, minji's: {timeouts}")
        iid4 = int(timeouts[0]["subject"].split("/")[1])
        conn = [e for e in events_of(srv, admin, iid4) if e["type"] == "contact.connected"]
        check(len(conn) == 1 and conn[0]["data"]["agent_id"] == jiho, f"connected: {conn}")
        srv.request("POST", f"/api/v1/agents/{jiho}/wrapup-end", jiho_tok)
        st, _, _ = srv.request("POST", f"/api/v1/agents/{jiho}/state", jiho_tok,
                               body={"state": "not-ready", "reason": "break"})

        # 5. kill -9 during a connected call: the call is gone with the process; the restart
        # ends the interaction (the agent wraps up) and says why.
        phone = Sipp(srv, "agent_answer.xml", ["-p", phone_port, "-mp", media_port, "-s", "1001",
                                               "-key", "codec", "8", "-d", "0", "-rtp_echo"],
                     "phone-kill")
        time.sleep(0.2)
        held = customer("customer_wait_bye.xml", "0", "customer-kill")
        conn = wait_for("the last call connected", lambda: [
            e for e in srv.event_log(admin) if e["type"] == "contact.connected"
            and int(e["subject"].split("/")[1]) > iid4])
        iid3 = int(conn[-1]["subject"].split("/")[1])
        srv.kill9()
        for p in (phone, held):
            p.proc.kill()
            p.proc.wait()
        srv.start()
        admin = srv.login("admin")
        stored = srv.get_ok(f"/api/v1/interactions/{iid3}", admin)
        check(stored["state"] == "wrap_up", f"the dead call's interaction after restart: {stored}")
        ends = [e for e in events_of(srv, admin, iid3) if e["type"] == "call.ended"]
        check(len(ends) == 1 and ends[0]["data"]["cause"] == "restart"
              and ends[0]["data"]["leg"] == "blend", f"call.ended by the restart: {ends}")
        check(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["state"] == "wrap-up",
              "minji wraps up the call the restart ended")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
