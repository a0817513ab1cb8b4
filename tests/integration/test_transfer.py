"""Blind transfers through the API: an agent transfers a connected chat to a queue (she wraps up,
the chat joins the queue as a new stay and is offered to the next agent) and the next agent
transfers it to a named agent (offered to that agent first). A number transfer is for phone
calls only; bad bodies are refused. The event log and today's figures show the transfers."""

import blendtest as bt
from blendtest import check


def post(srv, path, token, body=None, want=200):
    st, _, doc = srv.request("POST", path, token, body=body)
    check(st == want, f"POST {path}: expected {want}, got {st} {doc!r}"[:600])
    return doc


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        tok = {u: srv.login(u) for u in ("minji", "jiho", "wei")}
        ids = {u: srv.agent_of_user(admin, u)["id"] for u in tok}
        post(srv, f"/api/v1/agents/{ids['minji']}/state", tok["minji"], {"state": "ready"})
        chat = post(srv, "/api/v1/interactions", admin, {"channel": "chat",
                                                         "queue": "chat-support"}, want=201)
        iid = chat["id"]
        check(chat["routing"]["agent_id"] == ids["minji"], f"offered to minji: {chat['routing']}")
        post(srv, f"/api/v1/interactions/{iid}/accept", tok["minji"])

        # Bad requests first: nothing changes.
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", tok["minji"],
                                  body={"queue": "billing", "agent_id": 3})
        bt.check_error(st, body, 422, "validation_failed", "two targets")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", tok["minji"],
                                  body={"queue": "no-such-queue"})
        bt.check_error(st, body, 422, "validation_failed", "unknown queue")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", tok["jiho"],
                                  body={"queue": "chat-support"})
        bt.check_error(st, body, 403, "forbidden", "another agent's chat")
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/transfer", tok["minji"],
                                  body={"number": "+15551234"})
        bt.check_error(st, body, 409, "conflict", "a chat to a number")

        # To a queue: Minji wraps up; Jiho, ready, gets the chat.
        post(srv, f"/api/v1/agents/{ids['jiho']}/state", tok["jiho"], {"state": "ready"})
        view = post(srv, f"/api/v1/interactions/{iid}/transfer", tok["minji"],
                    {"queue": "chat-support"})
        check(view["state"] == "offered" and view["agent_id"] == ids["jiho"],
              f"after the transfer to the queue: {view}")
        check(srv.get_ok(f"/api/v1/agents/{ids['minji']}/state", admin)["state"] == "wrap-up",
              "minji wraps up her part")
        post(srv, f"/api/v1/interactions/{iid}/accept", tok["jiho"])

        # To an agent: Wei is offered it first even though other agents are ready.
        post(srv, f"/api/v1/agents/{ids['wei']}/state", tok["wei"], {"state": "ready"})
        view = post(srv, f"/api/v1/interactions/{iid}/transfer", tok["jiho"],
                    {"agent_id": ids["wei"]})
        check(view["state"] == "offered" and view["agent_id"] == ids["wei"],
              f"after the transfer to wei: {view}")
        post(srv, f"/api/v1/interactions/{iid}/accept", tok["wei"])
        stored = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
        check(stored["state"] == "connected" and stored["agent"] == "wei"
              and stored["queue"] == "chat-support", f"stored: {stored}")

        ends = [e for e in srv.event_log(admin) if e["type"] == "contact.ended"
                and e["subject"] == f"interactions/{iid}"]
        check(len(ends) == 2 and all(e["data"]["transfer"] for e in ends)
              and ends[1]["data"]["to_agent_id"] == ids["wei"], f"transfer ends: {ends}")
        q = [q for q in srv.get_ok("/api/v1/stats/queues", admin)["items"]
             if q["name"] == "chat-support"][0]
        check(q["today"]["transferred"] == 2, f"chat-support today: {q['today']}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
