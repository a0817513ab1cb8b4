"""Hold and resume from the API (the agent desktop's hold button; docs/voice.md §Calls, Hold),
with SIPp as Minji's phone and as the customer: the customer must get Blend's re-INVITE with
a=sendonly, then a=sendrecv (customer_held.xml fails otherwise), and the steps are recorded as
call.held / call.resumed (leg agent). Bad bodies get 422, a QA analyst 403, a chat interaction
409, and nothing is held twice. The live call is listed by GET /api/v1/calls meanwhile."""

import time

import blendtest as bt
from blendtest import check, wait_for


def run():
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        quinn = srv.login("quinn")
        call = bt.agent_phone_call(srv, admin, "customer_held.xml", "0105551", 500)
        phone, cust, iid, minji_tok, minji = call.phone, call.cust, call.iid, call.token, call.agent
        # The wallboard's list of live calls (GET /api/v1/calls): supervisors and admins.
        calls = srv.get_ok("/api/v1/calls", admin)["items"]
        mine = [c for c in calls if c["interaction_id"] == iid]
        check(len(mine) == 1 and mine[0]["state"] == "connected" and mine[0]["agent_id"] == minji
              and mine[0]["caller"] == "0105551" and mine[0]["party"] is None,
              f"the live call: {calls}")
        st, _, body = srv.request("GET", "/api/v1/calls", minji_tok)
        check(st == 403, f"an agent does not list every call: {st}")
        path = f"/api/v1/interactions/{iid}/hold"
        st, _, body = srv.request("POST", path, minji_tok, body={"hold": "yes"})
        bt.check_error(st, body, 422, "validation_failed", "a string is not a boolean")
        st, _, body = srv.request("POST", path, quinn, body={"hold": True})
        check(st == 403, f"QA may not hold calls: {st} {body}")
        # The customer's SIPp takes a re-INVITE once it plays its audio (its step before).
        time.sleep(0.5)
        st, _, body = srv.request("POST", path, minji_tok, body={"hold": True})
        check(st == 202 and body["hold"] is True, f"hold: {st} {body}")

        def steps():
            return [e for e in bt.events_of(srv, admin, iid)
                    if e["type"] in ("call.held", "call.resumed")]
        wait_for("held", lambda: steps())
        st, _, body = srv.request("POST", path, minji_tok, body={"hold": True})
        check(st == 202, f"hold again: {st} {body}")
        st, _, body = srv.request("POST", path, minji_tok, body={"hold": False})
        check(st == 202, f"resume: {st} {body}")
        wait_for("resumed", lambda: len(steps()) == 2)
        got = steps()
        check([e["type"] for e in got] == ["call.held", "call.resumed"]
              and all(e["data"]["leg"] == "agent" for e in got), f"steps: {got}")
        check(cust.wait() == 0, "the customer was held, resumed, and hung up")
        check(phone.wait() == 0, "the phone got BYE")
        st, _, body = srv.request("POST", path, minji_tok, body={"hold": True})
        check(st in (404, 409), f"the call is over: {st} {body}")
        wait_for("the list empties", lambda: not [
            c for c in srv.get_ok("/api/v1/calls", admin)["items"] if c["interaction_id"] == iid])

        # A chat is not a phone call.
        st, _, chat = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "chat", "queue": "chat-support"})
        check(st == 201, f"chat: {st} {chat}")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{chat['id']}/hold", admin,
                                  body={"hold": True})
        check(st in (404, 409), f"a waiting chat cannot be held: {st} {body}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
