"""A third party on phone calls through `blend serve`, SIPp on every side:
1. Sophia (supervisor) monitors Minji's call from her own phone: listen, switched live to
   whisper and barge, then dropped; an agent may not monitor (403) and bad bodies get 422.
2. Minji consults Jiho with the customer on hold and completes an attended transfer: Jiho's
   phone takes the customer, routing connects the interaction to Jiho (Minji wraps up) and Jiho
   is busy (engaged) in routing while consulting.
3. Minji consults an external number through the outbound trunk, turns it into a conference
   and hangs up: the customer stays with the number and routing ends Minji's part."""

import time

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for

TRUNK_PORT = bt.free_port()


def phone(srv, ports, u, ext, hold_ms=0, tag=None):
    return Sipp(srv, "agent_answer.xml", ["-p", ports[u][0], "-mp", ports[u][1], "-s", ext,
                                          "-key", "codec", "8", "-d", str(hold_ms),
                                          "-rtp_echo"], tag or f"{u}-phone")


def customer(srv, tag, hold_ms):
    return Sipp(srv, "customer_call.xml", ["-s", "+8225550101", "-key", "caller", "5551234",
                                           "-mp", str(bt.free_port()), "-d", str(hold_ms)], tag)


def types_of(srv, admin, iid):
    return [e["type"] for e in events_of(srv, admin, iid)]


def wait_type(srv, admin, iid, t, n=1):
    return wait_for(f"{n} × {t} on interaction {iid}", lambda: (lambda es: es if len(es) >= n
                    else None)([e for e in events_of(srv, admin, iid) if e["type"] == t]))


def connected_call(srv, admin, before):
    """The interaction of the call connected after `before` events of that type."""
    ev = wait_for("a connected call", lambda: (lambda es: es[before] if len(es) > before
                  else None)([e for e in srv.event_log(admin) if e["type"] == "call.answered"]))
    return int(ev["subject"].split("/")[1])


def run():
    trunk = f"[sip]\ntrunk_uri = sip:127.0.0.1:{TRUNK_PORT}\n"
    with bt.Server(phones_required=True, extra_config=trunk) as srv:
        admin = srv.login("admin")
        tok = {u: srv.login(u) for u in ("minji", "jiho", "sophia")}
        ids = {u: srv.agent_of_user(admin, u)["id"] for u in tok}
        ports = {u: (str(bt.free_port()), str(bt.free_port())) for u in tok}
        for u, ext in (("minji", "1001"), ("jiho", "1002"), ("sophia", "1007")):
            check(bt.register_phone(srv, ports[u][0], ext, f"sip-demo-{ext}") == 0,
                  f"{u}'s phone registers")
            wait_for(f"{u}'s phone", lambda u=u: srv.get_ok(
                f"/api/v1/agents/{ids[u]}/state", admin)["phone"]["registered"])
        st, _, _ = srv.request("POST", f"/api/v1/agents/{ids['minji']}/state", tok["minji"],
                               body={"state": "ready"})
        check(st == 200, "minji ready")

        # 1. Monitoring.
        minji = phone(srv, ports, "minji", "1001")
        sophia = phone(srv, ports, "sophia", "1007")
        time.sleep(0.2)
        cust = customer(srv, "customer-1", 7000)
        iid = connected_call(srv, admin, 0)
        path = f"/api/v1/interactions/{iid}/party"
        st, _, body = srv.request("POST", path, tok["minji"], body={"mode": "listen"})
        bt.check_error(st, body, 403, "forbidden", "an agent may not monitor")
        st, _, body = srv.request("POST", path, tok["sophia"], body={"mode": "spy"})
        bt.check_error(st, body, 422, "validation_failed", "unknown mode")
        st, _, body = srv.request("POST", path, tok["sophia"],
                                  body={"mode": "listen", "agent_id": ids["jiho"],
                                        "number": "+331"})
        bt.check_error(st, body, 422, "validation_failed", "agent and number at once")
        st, _, body = srv.request("GET", path, tok["sophia"])
        bt.check_error(st, body, 404, "not_found", "no party yet")
        st, _, body = srv.request("POST", path, tok["sophia"], body={"mode": "listen"})
        check(st == 202 and body["agent_id"] == ids["sophia"] and body["mode"] == "listen",
              f"listen from sophia's own phone: {st} {body}")
        st, _, body = srv.request("POST", path, tok["sophia"], body={"mode": "barge"})
        bt.check_error(st, body, 409, "conflict", "a second party")
        wait_type(srv, admin, iid, "call.party_answered")
        st, _, body = srv.request("GET", path, tok["sophia"])
        check(st == 200 and body["state"] == "connected", f"party connected: {st} {body}")
        st, _, body = srv.request("PATCH", path, tok["sophia"], body={"mode": "consult"})
        bt.check_error(st, body, 409, "conflict", "a monitor does not become a consultation")
        for n, mode in enumerate(("whisper", "barge"), start=1):
            st, _, body = srv.request("PATCH", path, tok["sophia"], body={"mode": mode})
            check(st == 202, f"switch to {mode}: {st} {body}")
            modes = wait_type(srv, admin, iid, "call.party_mode", n)
            check(modes[-1]["data"]["mode"] == mode, f"mode now {mode}: {modes[-1]}")
        st, _, body = srv.request("DELETE", path, tok["sophia"])
        check(st == 202, f"drop the monitor: {st} {body}")
        ended = wait_type(srv, admin, iid, "call.party_ended")[0]["data"]
        check(ended["cause"] == "dropped" and ended["agent_id"] == ids["sophia"],
              f"the monitor left: {ended}")
        check(sophia.wait() == 0, "sophia's phone answered and got BYE")
        check(cust.wait() == 0, "the customer talked to minji to the end")
        check(minji.wait() == 0, "minji's phone got BYE")
        wait_type(srv, admin, iid, "contact.ended")  # the log follows the phones shortly
        types = types_of(srv, admin, iid)
        for want in ("call.party_added", "call.party_ringing", "call.party_answered",
                     "call.party_mode", "call.party_ended", "call.ended", "contact.ended"):
            check(want in types, f"interaction {iid} lacks {want}: {types}")
        srv.request("POST", f"/api/v1/agents/{ids['minji']}/wrapup-end", tok["minji"])

        # 2. Consultation, then attended transfer to Jiho (not ready: routing offers him
        # nothing, yet he may be consulted).
        st, _, _ = srv.request("POST", f"/api/v1/agents/{ids['jiho']}/state", tok["jiho"],
                               body={"state": "not-ready", "reason": "break"})
        check(st == 200, "jiho not ready")
        minji = phone(srv, ports, "minji", "1001", tag="minji-2")
        jiho = phone(srv, ports, "jiho", "1002")
        time.sleep(0.2)
        cust = customer(srv, "customer-2", 6000)
        iid = connected_call(srv, admin, 1)
        path = f"/api/v1/interactions/{iid}/party"
        st, _, body = srv.request("POST", f"{path}/complete", tok["minji"])
        bt.check_error(st, body, 409, "conflict", "nothing to complete yet")
        st, _, body = srv.request("POST", path, tok["minji"],
                                  body={"mode": "consult", "agent_id": ids["jiho"]})
        check(st == 202, f"minji consults jiho: {st} {body}")
        wait_type(srv, admin, iid, "call.party_answered")
        view = srv.get_ok(f"/api/v1/agents/{ids['jiho']}/state", admin)
        check(view["state"] == "not-ready", f"jiho keeps his presence: {view}")
        st, _, body = srv.request("POST", f"{path}/complete", tok["minji"])
        check(st == 202, f"attended transfer: {st} {body}")
        done = wait_type(srv, admin, iid, "call.party_completed")[0]["data"]
        check(done["agent_id"] == ids["jiho"] and done["from_agent_id"] == ids["minji"],
              f"jiho took the call: {done}")
        check(minji.wait() == 0, "minji's phone got BYE at the handover")
        check(cust.wait() == 0, "the customer talked to jiho and hung up")
        check(jiho.wait() == 0, "jiho's phone got BYE at the end")
        evs = wait_for("the end of the transferred call", lambda: (lambda es: es if [
            e for e in es if e["type"] == "contact.ended" and not e["data"].get("transfer")]
            else None)(events_of(srv, admin, iid)))
        conns = [e["data"]["agent_id"] for e in evs if e["type"] == "contact.connected"]
        check(conns == [ids["minji"], ids["jiho"]], f"connected to minji then jiho: {conns}")
        ends = [e["data"] for e in evs if e["type"] == "contact.ended"]
        check(ends[0]["transfer"] and ends[0]["agent_id"] == ids["minji"]
              and ends[-1]["agent_id"] == ids["jiho"], f"minji's part, then jiho's: {ends}")
        for u in ("minji", "jiho"):
            srv.request("POST", f"/api/v1/agents/{ids[u]}/wrapup-end", tok[u])

        # 3. Consult a number, conference, the agent leaves: the customer stays with it.
        far = Sipp(srv, "trunk_answer.xml", ["-p", str(TRUNK_PORT), "-mp", str(bt.free_port()),
                                             "-s", "+3312345", "-key", "codec", "8"], "trunk",
                   target="127.0.0.1:9")
        minji = Sipp(srv, "agent_hangup.xml", ["-p", ports["minji"][0], "-mp",
                                               ports["minji"][1], "-s", "1001", "-key", "codec",
                                               "8", "-d", "3000", "-rtp_echo"], "minji-3")
        time.sleep(0.2)
        st, _, _ = srv.request("POST", f"/api/v1/agents/{ids['minji']}/state", tok["minji"],
                               body={"state": "ready"})
        cust = customer(srv, "customer-3", 6000)
        iid = connected_call(srv, admin, 2)
        path = f"/api/v1/interactions/{iid}/party"
        st, _, body = srv.request("POST", path, tok["minji"],
                                  body={"mode": "consult", "number": "+3312345"})
        check(st == 202, f"consult a number: {st} {body}")
        wait_type(srv, admin, iid, "call.party_answered")
        st, _, body = srv.request("PATCH", path, tok["minji"], body={"mode": "conference"})
        check(st == 202, f"conference: {st} {body}")
        check(minji.wait() == 0, "minji's phone hung up during the conference")
        done = wait_type(srv, admin, iid, "call.party_completed")[0]["data"]
        check(done["number"] == "+3312345" and done["cause"] == "agent-left",
              f"the number took the call: {done}")
        check(cust.wait() == 0, "the customer talked to the number and hung up")
        check(far.wait() == 0, "the number's leg ended with the customer")
        stored = wait_for("minji's part over", lambda: (lambda s: s if s["state"] in (
            "wrap_up", "ended") else None)(srv.get_ok(f"/api/v1/interactions/{iid}", admin)))
        check(stored["state"] in ("wrap_up", "ended"), f"routing let go: {stored}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
