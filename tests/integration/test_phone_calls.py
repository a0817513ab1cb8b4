"""Calls placed from agents' phones through `blend serve` (docs/voice.md §Calls from agents'
phones), with SIPp as the phones and as the far end of the outbound trunk. Phones call from
127.0.0.1 with digest credentials; the trunk address is 127.0.0.2 (sip.trunk_allow), where the
customer's SIPp calls from.
1. Internal call: Minji's phone dials 1002; Jiho's phone rings and answers; both are engaged on
   voice in routing while they talk, and a customer calling meanwhile is offered to neither;
   Wei's phone dialling the busy Jiho gets 486; Minji hangs up and both are released. The steps
   are "call.internal" events of agents/<minji>.
2. Refusals: her own extension (404), an agent without a phone (480), no such extension and no
   dial string (404); Jiho's phone answering 486, and the number answering 486, reach Minji's
   phone as 486 (the outbound interaction ends); Minji cancelling while Jiho's phone rings, and
   Jiho hanging up first, release both.
3. Outbound call: Minji dials +3312345; the trunk answers; the outbound interaction (agent
   minji, address +3312345) is connected, then ended after her BYE; she is released. One open
   when the server is killed is ended at the next start ("call.ended" cause "restart").
4. Attended transfer from the phone: a customer is offered to Minji; her phone answers, holds,
   dials Jiho's extension (a consultation: she is on a customer call, so no engagement of
   hers), Jiho answers, and her phone sends REFER with Replaces naming the consultation. Jiho's
   phone is moved onto the customer's call (re-INVITE), the customer's hold is lifted, Minji's
   phone gets NOTIFY 200 and BYE on both calls. The interaction is Jiho's from then on (routing
   hands it over; Minji goes to wrap-up), "call.refer" (kind attended), "call.transferred" and
   "call.internal" state ended cause replaced are recorded; when the customer hangs up Jiho
   wraps up and nobody is left engaged.
5. Attended transfer to a number: the same with Minji's phone dialling +3312345 during the
   customer's call (a consultation: "call.consult" steps dialling, answered, ended cause
   replaced, and no interaction); the trunk's SIPp answers, is moved onto the customer's call and
   echoes the customer's audio; "call.refer" and "call.transferred" name the number; Minji wraps
   up and holds nothing.
6. Without an outbound trunk a number gets 503."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for

TRUNK_PORT = bt.free_port()
CUSTOMER_IP = "127.0.0.2"  # the trunk's address: the customer calls from there


def config(trunk):
    conf = f"[sip]\ntrunk_allow = {CUSTOMER_IP}\n"
    return conf + (f"trunk_uri = sip:127.0.0.1:{TRUNK_PORT}\n" if trunk else "")


def phone_call(srv, ext, password, dialled, scenario, tag, hold_ms=0):
    """Agent ext's phone dials `dialled` from a port of its own (127.0.0.1, digest)."""
    return Sipp(srv, scenario, ["-p", str(bt.free_port()), "-mp", str(bt.free_port()), "-s",
                                dialled, "-key", "ext", ext, "-au", ext, "-ap", password,
                                # the digest uri must be the Request-URI (docs/sip.md)
                                "-auth_uri", f"{dialled}@127.0.0.1:{srv.sip_port}",
                                "-d", str(hold_ms)], tag)


def state(srv, admin, agent):
    return srv.get_ok(f"/api/v1/agents/{agent}/state", admin)


def engaged(srv, admin, agent):
    return state(srv, admin, agent)["engaged"]["voice"]


def internal_events(srv, admin, agent):
    return [e["data"] for e in srv.event_log(admin)
            if e["type"] == "call.internal" and e["subject"] == f"agents/{agent}"]


def phone_interactions(srv, admin):
    """Interaction ids of the calls placed from phones, oldest first."""
    return [e["data"]["interaction_id"] for e in srv.event_log(admin)
            if e["type"] == "call.originated" and e["data"]["order"] == "phone"]


def login_ready(srv, admin, user, agent):
    tok = srv.login(user)
    st, _, resp = srv.request("POST", f"/api/v1/agents/{agent}/state", tok,
                              body={"state": "ready"})
    check(st == 200, f"{user} ready: {st} {resp}")


def internal(srv, admin, mid, jid, wid, jiho_port):
    jiho = Sipp(srv, "agent_answer.xml", ["-p", jiho_port, "-mp", str(bt.free_port()), "-s",
                                          "1002", "-key", "codec", "0", "-d", "0",
                                          "-rtp_echo"], "jiho-answers")
    time.sleep(0.2)  # lets the phone's SIPp bind its port before Blend sends the INVITE
    minji = phone_call(srv, "1001", "sip-demo-1001", "1002", "phone_call.xml", "minji-calls",
                       hold_ms=8000)
    wait_for("both engaged", lambda: engaged(srv, admin, mid) == 1
             and engaged(srv, admin, jid) == 1)
    for who in (mid, jid):
        check(state(srv, admin, who)["state"] == "ready", "presence is kept while engaged")

    # A customer calls the Korean line (both agents qualify) while they talk: it waits.
    cust = Sipp(srv, "customer_cancel.xml", ["-i", CUSTOMER_IP, "-s", "+8225550103", "-key",
                                             "caller", "01055556666", "-d", "1500"],
                "customer-waits")
    arrived = wait_for("the customer's interaction", lambda: [
        e["data"]["interaction_id"] for e in srv.event_log(admin)
        if e["type"] == "call.arrived" and e["data"]["caller"] == "01055556666"])
    cid = arrived[0]

    # Wei's phone dials Jiho, who is busy: 486 (Wei is logged out: no engagement of his).
    check(phone_call(srv, "1003", "sip-demo-1003", "1002", "phone_486.xml",
                     "wei-busy").wait() == 0, "a call to the busy Jiho gets 486")

    check(cust.wait() == 0, "the customer gave up")
    types = [e["type"] for e in events_of(srv, admin, cid)]
    check("contact.queued" in types and "contact.abandoned" in types, f"customer: {types}")
    check("contact.offered" not in types, f"offered to an engaged agent: {types}")

    check(minji.wait() == 0, "minji's call was answered and she hung up")
    check(jiho.wait() == 0, "jiho's phone rang, answered and got BYE")
    wait_for("both released", lambda: engaged(srv, admin, mid) == 0
             and engaged(srv, admin, jid) == 0)
    evs = wait_for("the end recorded", lambda: [
        evs for evs in [internal_events(srv, admin, mid)] if evs and evs[-1]["state"] == "ended"])[0]
    check([e["state"] for e in evs] == ["ringing", "answered", "ended"],
          f"call.internal steps: {evs}")
    check(all(e["from_agent_id"] == mid and e["to_agent_id"] == jid for e in evs),
          f"call.internal names both agents: {evs}")
    check(evs[-1]["leg"] == "customer" and evs[-1]["cause"] == "bye", f"ended: {evs[-1]}")
    check(not internal_events(srv, admin, wid), "the refused call left no trace of a call")


def refusals(srv, admin, mid):
    for dialled, scenario, what in (("1001", "phone_404.xml", "her own extension"),
                                    ("1004", "phone_480.xml", "lina has no phone"),
                                    ("voicemail", "phone_404.xml", "no extension, no number")):
        check(phone_call(srv, "1001", "sip-demo-1001", dialled, scenario,
                         f"minji-{dialled}").wait() == 0, f"{dialled}: {what}")
    check(engaged(srv, admin, mid) == 0, "a refused call engages nobody")


def failures(srv, admin, mid, jid, jiho_port):
    """Jiho's phone answers 486: Minji gets it; the number answers 486: the same, the
    interaction ends. Nobody stays engaged."""
    busy = Sipp(srv, "agent_busy.xml", ["-p", jiho_port, "-s", "1002"], "jiho-486")
    time.sleep(0.2)
    check(phone_call(srv, "1001", "sip-demo-1001", "1002", "phone_486.xml",
                     "minji-to-busy-phone").wait() == 0, "jiho's 486 passed on to minji")
    check(busy.wait() == 0, "jiho's phone said busy")
    evs = wait_for("the failed call ended", lambda: [
        evs for evs in [internal_events(srv, admin, mid)] if evs and evs[-1]["state"] == "ended"
        and evs[-2]["state"] == "failed"])[0]
    check(evs[-2]["sip_code"] == 486, f"failed: {evs[-2]}")
    check(engaged(srv, admin, mid) == 0 and engaged(srv, admin, jid) == 0, "nobody engaged")

    seen = set(phone_interactions(srv, admin))
    far = Sipp(srv, "agent_busy.xml", ["-p", str(TRUNK_PORT), "-s", "+3312345"], "trunk-486",
               target="127.0.0.1:9")
    time.sleep(0.2)
    check(phone_call(srv, "1001", "sip-demo-1001", "+3312345", "phone_486.xml",
                     "minji-to-busy-number").wait() == 0, "the number's 486 passed on to minji")
    check(far.wait() == 0, "the number said busy")
    iid = wait_for("the interaction", lambda: [
        i for i in phone_interactions(srv, admin) if i not in seen])[0]
    wait_for("the row ended", lambda: row(srv, admin, iid)["state"] == "ended")
    ends = wait_for("call.ended", lambda: [
        e["data"] for e in events_of(srv, admin, iid) if e["type"] == "call.ended"])
    check(ends[0]["sip_code"] == 486, f"ended with the number's code: {ends}")
    wait_for("minji released", lambda: engaged(srv, admin, mid) == 0)


def endings(srv, admin, mid, jid, jiho_port):
    """Minji gives up while Jiho's phone rings; then Jiho hangs up first. Both released."""
    def last_end():
        evs = internal_events(srv, admin, mid)
        return evs[-1] if evs and evs[-1]["state"] == "ended" else None

    before = len(internal_events(srv, admin, mid))
    deaf = Sipp(srv, "agent_ring_cancel.xml", ["-p", jiho_port, "-s", "1002"], "jiho-rings")
    time.sleep(0.2)
    minji = phone_call(srv, "1001", "sip-demo-1001", "1002", "phone_cancel.xml",
                       "minji-cancels", hold_ms=1000)
    check(minji.wait() == 0, "minji cancelled while jiho's phone rang")
    check(deaf.wait() == 0, "jiho's ringing phone got CANCEL")
    end = wait_for("the cancel recorded",
                   lambda: len(internal_events(srv, admin, mid)) > before and last_end())
    check(end["leg"] == "customer", f"cancelled by the caller: {end}")
    check(engaged(srv, admin, mid) == 0 and engaged(srv, admin, jid) == 0, "nobody engaged")

    before = len(internal_events(srv, admin, mid))
    jiho = Sipp(srv, "agent_hangup.xml", ["-p", jiho_port, "-mp", str(bt.free_port()), "-s",
                                          "1002", "-key", "codec", "0", "-d", "2000"],
                "jiho-hangs-up")
    time.sleep(0.2)
    minji = phone_call(srv, "1001", "sip-demo-1001", "1002", "phone_wait_bye.xml",
                       "minji-waits-bye")
    wait_for("both engaged", lambda: engaged(srv, admin, mid) == 1
             and engaged(srv, admin, jid) == 1)
    check(jiho.wait() == 0, "jiho answered and hung up")
    check(minji.wait() == 0, "minji got BYE")
    end = wait_for("the end recorded",
                   lambda: len(internal_events(srv, admin, mid)) > before + 1 and last_end())
    check(end["leg"] == "agent", f"ended by the agent called: {end}")
    wait_for("both released", lambda: engaged(srv, admin, mid) == 0
             and engaged(srv, admin, jid) == 0)


def row(srv, admin, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}", admin)


def outbound(srv, admin, mid):
    seen = set(phone_interactions(srv, admin))
    far = Sipp(srv, "phone_trunk.xml", ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()),
                                        "-s", "+3312345", "-key", "codec", "8"], "trunk",
               target="127.0.0.1:9")
    time.sleep(0.2)
    minji = phone_call(srv, "1001", "sip-demo-1001", "+3312345", "phone_call.xml",
                       "minji-dials", hold_ms=3000)
    iid = wait_for("the outbound interaction", lambda: [
        i for i in phone_interactions(srv, admin) if i not in seen])[0]
    wait_for("the number answered", lambda: row(srv, admin, iid)["state"] == "connected")
    stored = row(srv, admin, iid)
    check(stored["direction"] == "outbound" and stored["agent"] == "minji"
          and stored["address"] == "+3312345" and stored.get("queue") is None,
          f"the outbound row: {stored}")
    check(engaged(srv, admin, mid) == 1, "minji engaged while talking")
    check(minji.wait() == 0, "minji's phone was answered when the number answered")
    check(far.wait() == 0, "the number answered and got BYE")
    wait_for("the row ended", lambda: row(srv, admin, iid)["state"] == "ended")
    wait_for("minji released", lambda: engaged(srv, admin, mid) == 0)
    evs = events_of(srv, admin, iid)
    types = [e["type"] for e in evs]
    for want in ("call.originated", "call.outbound_progress", "call.ended"):
        check(want in types, f"interaction {iid} lacks {want}: {types}")
    codes = [e["data"]["sip_code"] for e in evs if e["type"] == "call.outbound_progress"]
    check(200 in codes, f"progress of the number: {codes}")
    ended = [e["data"] for e in evs if e["type"] == "call.ended"][0]
    check(ended["leg"] == "customer" and ended["rtp_to_agent"] > 0, f"ended: {ended}")

    # One open at a crash is ended at the next start.
    far = Sipp(srv, "phone_trunk.xml", ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()),
                                        "-s", "+3312345", "-key", "codec", "8"], "trunk-2",
               target="127.0.0.1:9")
    time.sleep(0.2)
    minji = phone_call(srv, "1001", "sip-demo-1001", "+3312345", "phone_call.xml",
                       "minji-dials-2", hold_ms=30000)
    iid2 = wait_for("the second interaction",
                    lambda: [i for i in phone_interactions(srv, admin)
                             if i not in seen and i != iid])[0]
    wait_for("the second call connected", lambda: row(srv, admin, iid2)["state"] == "connected")
    srv.kill9()
    far.kill()
    minji.kill()
    srv.restart()
    admin = srv.login("admin")
    wait_for("the dead call ended", lambda: row(srv, admin, iid2)["state"] == "ended")
    ends = [e["data"] for e in events_of(srv, admin, iid2) if e["type"] == "call.ended"]
    check(ends and ends[-1]["cause"] == "restart", f"ended by the restart: {ends}")


def attended(srv, admin, mid, jid, minji_port, jiho_port):
    # The outbound part restarted the server: the phones register again.
    check(bt.register_phone(srv, minji_port, "1001", "sip-demo-1001") == 0, "minji's phone")
    check(bt.register_phone(srv, jiho_port, "1002", "sip-demo-1002") == 0, "jiho's phone")
    for who in (mid, jid):
        wait_for("phones registered", lambda: state(srv, admin, who)["phone"]["registered"])
    jtok = srv.login("jiho")
    st, _, resp = srv.request("POST", f"/api/v1/agents/{jid}/state", jtok,
                              body={"state": "not-ready", "reason": "break"})
    check(st == 200, f"jiho not ready (the customer goes to minji): {st} {resp}")
    jiho = Sipp(srv, "agent_moved.xml", ["-p", jiho_port, "-mp", str(bt.free_port()), "-s",
                                         "1002", "-key", "codec", "0", "-d", "0", "-rtp_echo"],
                "jiho-moved")
    minji = Sipp(srv, "agent_attended.xml",
                 ["-p", minji_port, "-mp", str(bt.free_port()), "-s", "1001", "-key", "consult",
                  "1002", "-au", "1001", "-ap", "sip-demo-1001",
                  "-auth_uri", f"1002@127.0.0.1:{srv.sip_port}", "-d", "500"], "minji-attended")
    time.sleep(0.2)  # lets the phones' SIPp bind their ports before Blend sends an INVITE
    before = len(internal_events(srv, admin, mid))
    cust = Sipp(srv, "customer_held.xml", ["-i", CUSTOMER_IP, "-s", "+8225550103", "-key",
                                           "caller", "01077778888", "-d", "2500"],
                "customer-transferred")
    iid = wait_for("the customer's interaction", lambda: [
        e["data"]["interaction_id"] for e in srv.event_log(admin)
        if e["type"] == "call.arrived" and e["data"]["caller"] == "01077778888"])[0]
    wait_for("jiho has the customer", lambda: row(srv, admin, iid).get("agent") == "jiho")
    check(minji.wait() == 0, "minji's phone: hold, consultation, REFER, NOTIFY 200, two BYEs")
    evs = events_of(srv, admin, iid)
    refer = [e["data"] for e in evs if e["type"] == "call.refer"]
    check(refer and refer[0]["kind"] == "attended" and refer[0]["to_agent_id"] == jid,
          f"call.refer: {refer}")
    moved = [e["data"] for e in evs if e["type"] == "call.transferred"]
    check(moved and moved[0]["from_agent_id"] == mid and moved[0]["to_agent_id"] == jid
          and moved[0]["kind"] == "attended", f"call.transferred: {moved}")
    check(state(srv, admin, mid)["state"] in ("wrap-up", "ready"),
          f"minji's part ended: {state(srv, admin, mid)}")
    steps = wait_for("the consultation ended", lambda: [
        e for e in internal_events(srv, admin, mid)[before:] if e["state"] == "ended"])
    check(steps[0]["to_agent_id"] == jid and steps[0]["cause"] == "replaced"
          and steps[0]["leg"] == "blend", f"consultation: {steps[0]}")
    check(engaged(srv, admin, mid) == 0, "minji holds no engagement")
    check(engaged(srv, admin, jid) == 0 and state(srv, admin, jid)["active"]["voice"] == 1,
          f"jiho's engagement became the contact: {state(srv, admin, jid)}")

    check(cust.wait() == 0, "the customer was held, resumed, talked to jiho and hung up")
    check(jiho.wait() == 0, "jiho's phone answered, was moved, and got BYE")
    wait_for("the interaction ended", lambda: row(srv, admin, iid)["state"] in ("wrap_up",
                                                                                 "ended"))
    ends = [e["data"] for e in events_of(srv, admin, iid) if e["type"] == "call.ended"]
    check(ends and ends[0]["leg"] == "customer" and ends[0]["rtp_to_customer"] > 0,
          f"jiho's audio reached the customer: {ends}")
    wait_for("nobody engaged", lambda: engaged(srv, admin, mid) == 0
             and engaged(srv, admin, jid) == 0
             and state(srv, admin, jid)["active"]["voice"] == 0)


def attended_number(srv, admin, mid, jid, minji_port):
    jtok = srv.login("jiho")
    st, _, resp = srv.request("POST", f"/api/v1/agents/{jid}/state", jtok,
                              body={"state": "not-ready", "reason": "break"})
    check(st == 200, f"jiho not ready: {st} {resp}")
    login_ready(srv, admin, "minji", mid)  # ends her wrap-up of the last call
    far = Sipp(srv, "agent_moved.xml", ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()),
                                        "-s", "+3312345", "-key", "codec", "0", "-d", "0",
                                        "-rtp_echo"], "number-moved", target="127.0.0.1:9")
    minji = Sipp(srv, "agent_attended.xml",
                 ["-p", minji_port, "-mp", str(bt.free_port()), "-s", "1001", "-key", "consult",
                  "+3312345", "-au", "1001", "-ap", "sip-demo-1001",
                  "-auth_uri", f"+3312345@127.0.0.1:{srv.sip_port}", "-d", "500"],
                 "minji-attended-number")
    time.sleep(0.2)
    seen = set(phone_interactions(srv, admin))
    before = len(srv.event_log(admin))
    cust = Sipp(srv, "customer_held.xml", ["-i", CUSTOMER_IP, "-s", "+8225550103", "-key",
                                           "caller", "01077779999", "-d", "2500"],
                "customer-to-number")
    iid = wait_for("the customer's interaction", lambda: [
        e["data"]["interaction_id"] for e in srv.event_log(admin)
        if e["type"] == "call.arrived" and e["data"]["caller"] == "01077779999"])[0]
    check(minji.wait() == 0, "minji's phone: hold, consultation with the number, REFER, BYEs")
    evs = events_of(srv, admin, iid)
    refer = [e["data"] for e in evs if e["type"] == "call.refer"]
    check(refer and refer[0]["kind"] == "attended" and refer[0]["to_agent_id"] is None
          and refer[0]["number"] == "+3312345", f"call.refer: {refer}")
    moved = [e["data"] for e in evs if e["type"] == "call.transferred"]
    check(moved and moved[0]["from_agent_id"] == mid and moved[0]["to_agent_id"] is None
          and moved[0]["number"] == "+3312345", f"call.transferred: {moved}")
    steps = [e["data"] for e in srv.event_log(admin)[before:]
             if e["type"] == "call.consult" and e["subject"] == f"agents/{mid}"]
    check([s["state"] for s in steps][:2] == ["dialling", "answered"]
          and steps[-1]["state"] == "ended" and steps[-1]["cause"] == "replaced"
          and steps[-1]["number"] == "+3312345", f"the consultation's steps: {steps}")
    check(set(phone_interactions(srv, admin)) == seen, "a consultation is no interaction")
    wait_for("minji's part ended", lambda: state(srv, admin, mid)["state"] in ("wrap-up", "ready")
             and engaged(srv, admin, mid) == 0 and state(srv, admin, mid)["active"]["voice"] == 0)
    check(cust.wait() == 0, "the customer was held, resumed, talked to the number, hung up")
    check(far.wait() == 0, "the number answered, was moved onto the customer's call, got BYE")
    wait_for("the interaction ended", lambda: row(srv, admin, iid)["state"] in ("wrap_up",
                                                                                 "ended"))
    ends = [e["data"] for e in events_of(srv, admin, iid) if e["type"] == "call.ended"]
    check(ends and ends[0]["rtp_to_customer"] > 0, f"the number's audio reached the customer: "
          f"{ends}")


def run():
    with bt.Server(phones_required=True, extra_config=config(trunk=True)) as srv:
        admin = srv.login("admin")
        mid = srv.agent_of_user(admin, "minji")["id"]
        jid = srv.agent_of_user(admin, "jiho")["id"]
        wid = srv.agent_of_user(admin, "wei")["id"]
        minji_port, jiho_port = str(bt.free_port()), str(bt.free_port())
        check(bt.register_phone(srv, minji_port, "1001", "sip-demo-1001") == 0, "minji's phone")
        check(bt.register_phone(srv, jiho_port, "1002", "sip-demo-1002") == 0, "jiho's phone")
        for who in (mid, jid):
            wait_for("phones registered", lambda: state(srv, admin, who)["phone"]["registered"])
        login_ready(srv, admin, "minji", mid)
        login_ready(srv, admin, "jiho", jid)
        parts = bt.Sections()
        parts.run("internal call", internal, srv, admin, mid, jid, wid, jiho_port)
        parts.run("refusals", refusals, srv, admin, mid)
        parts.run("endings", endings, srv, admin, mid, jid, jiho_port)
        parts.run("failures", failures, srv, admin, mid, jid, jiho_port)
        parts.run("outbound call", outbound, srv, admin, mid)
        parts.run("attended transfer", attended, srv, admin, mid, jid, minji_port, jiho_port)
        parts.run("attended transfer to a number", attended_number, srv, admin, mid, jid,
                  minji_port)
        parts.finish()
        srv.stop()

    with bt.Server(phones_required=True, extra_config=config(trunk=False)) as srv:
        check(bt.register_phone(srv, bt.free_port(), "1001", "sip-demo-1001") == 0, "phone")
        check(phone_call(srv, "1001", "sip-demo-1001", "+3312345", "phone_503.xml",
                         "no-trunk").wait() == 0, "no trunk: 503")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
