"""A supervisor changes a waiting contact's priority (docs/routing.md): routing takes it at once,
the interaction's row keeps it (a `kill -9` and restart restore the contact with it), and the
event `contact.priority` tells every wallboard. Out-of-range values get 422."""

import blendtest as bt
from blendtest import check, wait_for


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        sophia = srv.login("sophia")
        st, _, chat = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "chat", "queue": "chat-support"})
        check(st == 201, f"a waiting chat: {st} {chat}")
        iid = chat["id"]
        before = srv.get_ok(f"/api/v1/interactions/{iid}/routing", admin)["priority"]
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/priority", sophia,
                                  body={"priority": 2000})
        bt.check_error(st, body, 422, "validation_failed", "a priority over 1000")
        st, _, view = srv.request("POST", f"/api/v1/interactions/{iid}/priority", sophia,
                                  body={"priority": 300})
        check(st == 200 and view["priority"] >= before + 300, f"routing took it: {st} {view}")
        row = wait_for("the row keeps it", lambda: [
            r for r in [srv.get_ok(f"/api/v1/interactions/{iid}", admin)] if r["priority"] == 300])
        check(row, "row priority")
        evs = [e for e in bt.events_of(srv, admin, iid) if e["type"] == "contact.priority"]
        check(len(evs) == 1 and evs[0]["data"]["priority"] == 300, f"the event: {evs}")
        srv.kill9()
        srv.restart()
        admin = srv.login("admin")
        after = srv.get_ok(f"/api/v1/interactions/{iid}/routing", admin)
        check(after["priority"] >= before + 300, f"restored with its priority: {after}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
