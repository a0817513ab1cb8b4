"""A supervisor moves a contact that is not connected yet (docs/routing.md §Transfers, moving a
waiting contact): a chat waiting in chat-support with nobody able to take it is moved to a chat
queue created here for sales agents (the row follows, it is offered there); then, offered to
one agent, it is moved to another named agent (the first offer withdrawn, reason `moved`).
An agent may not move a waiting contact (403), a number stays for connected phone calls (409),
a connected contact is transferred as before, and a moved contact stays in its new queue
across `kill -9` and a restart."""

import blendtest as bt
from blendtest import check, wait_for


def post(srv, path, token, body=None, want=200):
    st, _, doc = srv.request("POST", path, token, body=body)
    check(st == want, f"POST {path}: expected {want}, got {st} {doc!r}"[:600])
    return doc


def set_state(srv, agent_id, token, state, reason=None):
    body = {"state": state}
    if reason:
        body["reason"] = reason
    post(srv, f"/api/v1/agents/{agent_id}/state", token, body)


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        sophia = srv.login("sophia")
        tok = {u: srv.login(u) for u in ("minji", "wei", "lina")}
        ids = {u: srv.agent_of_user(admin, u)["id"] for u in tok}
        # A chat queue for sales (wei and lina have the skill; neither has tech, which
        # chat-support asks for).
        st, _, q = srv.request("POST", "/api/v1/queues", admin,
                               body={"name": "chat-sales", "channels": ["chat"],
                                     "skills": [{"skill": "sales", "min_proficiency": 5}]})
        check(st == 201, f"queue chat-sales: {st} {q}")
        sales_id = q["id"]
        set_state(srv, ids["wei"], tok["wei"], "ready")
        chat = post(srv, "/api/v1/interactions", admin,
                    {"channel": "chat", "queue": "chat-support"}, want=201)
        iid = chat["id"]
        view = srv.get_ok(f"/api/v1/interactions/{iid}/routing", admin)
        check(view["state"] == "waiting", f"nobody in chat-support can take it: {view}")
        support_id = view["queue_id"]

        # Refusals: an agent may not move it; a number is for connected phone calls; a queue
        # that does not take chat or does not exist; nothing changes.
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", tok["minji"],
                                  body={"queue": "chat-sales"})
        bt.check_error(st, body, 403, "forbidden", "an agent moving a waiting chat")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", sophia,
                                  body={"number": "+15551234"})
        bt.check_error(st, body, 409, "conflict", "a waiting chat to a number")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", sophia,
                                  body={"queue": "billing"})
        bt.check_error(st, body, 422, "validation_failed", "a voice queue for a chat")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", sophia,
                                  body={"queue": "no-such-queue"})
        bt.check_error(st, body, 422, "validation_failed", "an unknown queue")
        check(srv.get_ok(f"/api/v1/interactions/{iid}/routing", admin)["queue_id"] == support_id,
              "still in chat-support")

        # Moved to chat-sales: offered there to wei; the row's queue follows.
        view = post(srv, f"/api/v1/interactions/{iid}/transfer", sophia, {"queue": "chat-sales"})
        check(view["queue_id"] == sales_id and view["state"] == "offered"
              and view["agent_id"] == ids["wei"], f"after the move: {view}")
        row = wait_for("the row's queue", lambda: [
            r for r in [srv.get_ok(f"/api/v1/interactions/{iid}", admin)]
            if r["queue"] == "chat-sales" and r["state"] == "offered"])
        check(row, "row")
        queued = [e for e in bt.events_of(srv, admin, iid) if e["type"] == "contact.queued"]
        check(len(queued) == 2 and queued[1]["data"]["queue_id"] == sales_id
              and queued[1]["data"].get("moved") is True and not queued[0]["data"].get("moved"),
              f"contact.queued events: {queued}")

        # Offered to wei, moved to lina by name: wei's offer is withdrawn (moved), lina gets it.
        set_state(srv, ids["lina"], tok["lina"], "ready")
        view = post(srv, f"/api/v1/interactions/{iid}/transfer", admin, {"agent_id": ids["lina"]})
        check(view["state"] == "offered" and view["agent_id"] == ids["lina"]
              and view["queue_id"] == sales_id, f"after the move to lina: {view}")
        evs = bt.events_of(srv, admin, iid)
        withdrawn = [e for e in evs if e["type"] == "contact.withdrawn"]
        check(len(withdrawn) == 1 and withdrawn[0]["data"]["reason"] == "moved"
              and withdrawn[0]["data"]["agent_id"] == ids["wei"], f"withdrawn: {withdrawn}")
        offers = [e["data"]["agent_id"] for e in evs if e["type"] == "contact.offered"]
        check(offers == [ids["wei"], ids["lina"]], f"offers: {offers}")
        # Wei may not accept any more; lina does.
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/accept", tok["wei"])
        check(st in (403, 409), f"wei's offer is gone: {st} {body}")
        post(srv, f"/api/v1/interactions/{iid}/accept", tok["lina"])

        # Connected: a transfer as before (the agent's part ends, marked as a transfer).
        view = post(srv, f"/api/v1/interactions/{iid}/transfer", tok["lina"],
                    {"queue": "chat-support"})
        check(view["queue_id"] == support_id, f"transferred: {view}")
        ends = [e for e in bt.events_of(srv, admin, iid) if e["type"] == "contact.ended"]
        check(len(ends) == 1 and ends[0]["data"]["transfer"] is True
              and ends[0]["data"]["agent_id"] == ids["lina"], f"transfer end: {ends}")

        # A second chat moved while nobody can take it in chat-sales either, then kill -9.
        set_state(srv, ids["wei"], tok["wei"], "not-ready", "break")
        set_state(srv, ids["lina"], tok["lina"], "not-ready", "break")
        chat2 = post(srv, "/api/v1/interactions", admin,
                     {"channel": "chat", "queue": "chat-support"}, want=201)
        iid2 = chat2["id"]
        view = post(srv, f"/api/v1/interactions/{iid2}/transfer", sophia, {"queue": "chat-sales"})
        check(view["state"] == "waiting" and view["queue_id"] == sales_id, f"moved: {view}")
        wait_for("chat2's row in chat-sales", lambda: srv.get_ok(
            f"/api/v1/interactions/{iid2}", admin)["queue"] == "chat-sales")
        srv.kill9()
        srv.restart()
        admin = srv.login("admin")
        after = srv.get_ok(f"/api/v1/interactions/{iid2}/routing", admin)
        check(after["queue_id"] == sales_id and after["state"] == "waiting",
              f"restored in its new queue: {after}")
        check(srv.get_ok(f"/api/v1/interactions/{iid2}", admin)["queue"] == "chat-sales",
              "row still in chat-sales")
        # Wei comes back: the restored contact is offered in chat-sales.
        wei = srv.login("wei")
        set_state(srv, ids["wei"], wei, "ready")
        after = wait_for("chat2 offered to wei", lambda: [
            v for v in [srv.get_ok(f"/api/v1/interactions/{iid2}/routing", admin)]
            if v["state"] == "offered" and v["agent_id"] == ids["wei"]])
        check(after, "offered after restart")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
