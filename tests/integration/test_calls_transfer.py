"""Blind transfers of phone calls through `blend serve`, with SIPp on every side: Minji's phone
answers a customer and REFERs the call to Jiho's extension (the routing engine ends Minji's part
and offers the call to Jiho, whose phone answers: the customer talks to Jiho), then another
customer is REFERred to an external number (Blend calls it through the outbound trunk, a SIPp
UAS, and bridges the customer to it)."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for
TRUNK_PORT = bt.free_port()


def run():
    trunk = f"[sip]\ntrunk_uri = sip:127.0.0.1:{TRUNK_PORT}\n"
    with bt.Server(phones_required=True, extra_config=trunk) as srv:
        admin = srv.login("admin")
        tok = {u: srv.login(u) for u in ("minji", "jiho")}
        ids = {u: srv.agent_of_user(admin, u)["id"] for u in tok}
        ports = {u: (str(bt.free_port()), str(bt.free_port())) for u in tok}
        for u, ext in (("minji", "1001"), ("jiho", "1002")):
            check(bt.register_phone(srv, ports[u][0], ext, f"sip-demo-{ext}") == 0,
                  f"{u}'s phone registers")
            wait_for(f"{u}'s phone", lambda u=u: srv.get_ok(
                f"/api/v1/agents/{ids[u]}/state", admin)["phone"]["registered"])
            st, _, _ = srv.request("POST", f"/api/v1/agents/{ids[u]}/state", tok[u],
                                   body={"state": "ready"})
            check(st == 200, f"{u} ready")

        # 1. REFER to Jiho's extension (Jiho has no billing skill: a transfer to an agent
        # does not ask for one).
        minji = Sipp(srv, "agent_refer_to.xml", ["-p", ports["minji"][0], "-mp",
                                                 ports["minji"][1], "-s", "1001", "-key",
                                                 "codec", "8", "-key", "target", "1002", "-d",
                                                 "800", "-rtp_echo"], "minji-refer")
        jiho = Sipp(srv, "agent_answer.xml", ["-p", ports["jiho"][0], "-mp", ports["jiho"][1],
                                              "-s", "1002", "-key", "codec", "0", "-d", "0",
                                              "-rtp_echo"], "jiho-answer")
        time.sleep(0.2)
        cust = Sipp(srv, "customer_call.xml", ["-s", "+8225550101", "-key", "caller",
                                               "5551234", "-mp", str(bt.free_port()), "-d",
                                               "3000"], "customer-1")
        check(minji.wait() == 0, "minji's phone answers, REFERs, gets NOTIFY 200 and BYE")
        check(cust.wait() == 0, "the customer stays on the line and hangs up")
        check(jiho.wait() == 0, "jiho's phone answers the transferred call")
        refer = wait_for("call.refer", lambda: [e for e in srv.event_log(admin)
                                                 if e["type"] == "call.refer"])[0]
        iid = int(refer["subject"].split("/")[1])
        check(refer["data"]["target"] == "1002", f"call.refer: {refer}")
        evs = wait_for("the end of the transferred call", lambda: (lambda es: es if any(
            e["type"] == "call.ended" for e in es) else None)(events_of(srv, admin, iid)))
        ends = [e["data"] for e in evs if e["type"] == "contact.ended"]
        check(ends and ends[0]["transfer"] and ends[0]["agent_id"] == ids["minji"]
              and ends[0]["to_agent_id"] == ids["jiho"], f"minji's part ends by transfer: {ends}")
        conns = [e["data"]["agent_id"] for e in evs if e["type"] == "contact.connected"]
        check(conns == [ids["minji"], ids["jiho"]], f"connected to minji then jiho: {conns}")
        ended = [e["data"] for e in evs if e["type"] == "call.ended"][0]
        check(ended["leg"] == "customer" and ended["rtp_to_agent"] > 0
              and ended["rtp_to_customer"] > 0, f"audio flowed: {ended}")
        for u in tok:
            srv.request("POST", f"/api/v1/agents/{ids[u]}/wrapup-end", tok[u])
        srv.request("POST", f"/api/v1/agents/{ids['jiho']}/state", tok["jiho"],
                    body={"state": "not-ready", "reason": "break"})

        # 2. REFER to an external number: Blend dials it through the trunk.
        far = Sipp(srv, "trunk_answer.xml", ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()),
                                             "-s", "+3312345", "-key", "codec", "8"], "trunk",
                   target="127.0.0.1:9")
        minji = Sipp(srv, "agent_refer.xml", ["-p", ports["minji"][0], "-mp", ports["minji"][1],
                                              "-s", "1001", "-key", "codec", "8", "-d", "800",
                                              "-rtp_echo"], "minji-refer-out")
        time.sleep(0.2)
        cust = Sipp(srv, "customer_call.xml", ["-s", "+8225550101", "-key", "caller",
                                               "5551234", "-mp", str(bt.free_port()), "-d",
                                               "3000"], "customer-2")
        check(minji.wait() == 0, "minji's phone REFERs to the number and is released")
        check(cust.wait() == 0, "the customer talks to the number and hangs up")
        check(far.wait() == 0, "the number (trunk) answers with the customer's caller ID")
        refer = wait_for("the second call.refer", lambda: (lambda r: r if len(r) == 2 else None)(
            [e for e in srv.event_log(admin) if e["type"] == "call.refer"]))[1]
        iid2 = int(refer["subject"].split("/")[1])
        types = [e["type"] for e in events_of(srv, admin, iid2)]
        for want in ("call.transfer", "call.transfer_progress", "contact.ended"):
            check(want in types, f"interaction {iid2} lacks {want}: {types}")
        stored = srv.get_ok(f"/api/v1/interactions/{iid2}", admin)
        check(stored["state"] == "wrap_up", f"minji's part is over: {stored}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
