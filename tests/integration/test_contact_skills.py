"""A contact's own required skills (docs/routing.md §Queues and eligibility) through the API:
two agents of the billing queue, only Lina holds the new skill `vip`; an interaction created
with `skills: {"vip": 1}` is offered to Lina although Minji has been idle longer, a plain one
goes to Minji; an unknown skill name is refused with 422 naming it; after a kill -9 and a
restart a waiting vip interaction is restored with its skills (still not offered to Minji,
offered to Lina once she is free). The stored interaction keeps its `skills`. Then an IVR flow
whose `set` node sets `skills: "vip"` is called with SIPp: the call's interaction carries
{"vip": 1} and is offered to Lina, not to Minji; a flow whose literal `skills` does not parse is
refused with 422 naming the node."""

import json
import os
import tempfile

import blendtest as bt
from blendtest import Sipp, check, wait_for

def post(srv, path, token, body=None, want=200):
    st, _, doc = srv.request("POST", path, token, body=body)
    check(st == want, f"POST {path}: expected {want}, got {st} {doc!r}"[:600])
    return doc


def provisioning(tmp):
    """The demo provisioning plus the skill `vip`, held by Lina only (provisioning is applied
    again at every start, so the skill must be in the file to survive the restart)."""
    with open(bt.DEMO, encoding="utf-8") as f:
        doc = json.load(f)
    doc["skills"].append({"name": "vip", "description": "VIP customers"})
    for agent in doc["agents"]:
        if agent["name"] == "lina":
            agent["skills"].append({"skill": "vip", "proficiency": 5})
    path = os.path.join(tmp, "provision.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path


def run():
    with tempfile.TemporaryDirectory() as tmp, bt.Server(provision=provisioning(tmp)) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        lina_tok = srv.login("lina")
        minji = srv.agent_of_user(admin, "minji")["id"]
        lina = srv.agent_of_user(admin, "lina")["id"]

        # Minji goes ready first: longest idle.
        post(srv, f"/api/v1/agents/{minji}/state", minji_tok, {"state": "ready"})
        post(srv, f"/api/v1/agents/{lina}/state", lina_tok, {"state": "ready"})

        # An unknown skill name: 422 naming it, nothing created.
        st, _, body = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "voice", "queue": "billing",
                                        "skills": {"no-such-skill": 2}})
        check(st == 422 and "skills.no-such-skill" in bt.error_paths(body),
              f"an unknown own skill: {st} {body!r}")
        for bad in ({"vip": 0}, {"vip": 11}, {"vip": "high"}, ["vip"]):
            st, _, body = srv.request("POST", "/api/v1/interactions", admin,
                                      body={"channel": "voice", "queue": "billing",
                                            "skills": bad})
            check(st == 422, f"malformed skills {bad!r}: {st} {body!r}")

        # The vip interaction goes to Lina, not to Minji who has waited longer.
        vip = post(srv, "/api/v1/interactions", admin,
                   {"channel": "voice", "queue": "billing", "skills": {"vip": 1}}, want=201)
        check(vip["routing"]["state"] == "offered" and vip["routing"]["agent_id"] == lina,
              f"the vip call must be offered to lina: {vip['routing']}")
        check(vip.get("skills") == {"vip": 1}, f"the interaction keeps its skills: {vip}")
        stored = srv.get_ok(f"/api/v1/interactions/{vip['id']}", admin)
        check(stored.get("skills") == {"vip": 1}, f"stored skills: {stored}")
        post(srv, f"/api/v1/interactions/{vip['id']}/accept", lina_tok)

        # Lina busy: a second vip call waits although Minji is idle.
        waiting = post(srv, "/api/v1/interactions", admin,
                       {"channel": "voice", "queue": "billing", "skills": {"vip": 3}},
                       want=201)
        check(waiting["routing"]["state"] == "waiting",
              f"a vip call waits for lina while minji is idle: {waiting['routing']}")
        # A plain call goes to Minji at once.
        plain = post(srv, "/api/v1/interactions", admin,
                     {"channel": "voice", "queue": "billing"}, want=201)
        check(plain["routing"]["agent_id"] == minji, f"a plain call: {plain['routing']}")
        post(srv, f"/api/v1/interactions/{plain['id']}/accept", minji_tok)
        post(srv, f"/api/v1/interactions/{plain['id']}/end", minji_tok)
        post(srv, f"/api/v1/agents/{minji}/wrapup-end", minji_tok)
        view = srv.get_ok(f"/api/v1/interactions/{waiting['id']}/routing", admin)
        check(view["state"] == "waiting", f"minji, free again, is not offered it: {view}")

        # kill -9 and restart: the waiting call comes back with its skills.
        srv.kill9()
        srv.start()
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        lina_tok = srv.login("lina")
        check(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["state"] == "ready",
              "minji is ready after the restart")
        view = srv.get_ok(f"/api/v1/interactions/{waiting['id']}/routing", admin)
        check(view["state"] == "waiting",
              f"after the restart the vip call still waits (minji lacks vip): {view}")
        # Lina ends her call and her wrap-up: the vip call is offered to her.
        post(srv, f"/api/v1/interactions/{vip['id']}/end", lina_tok)
        post(srv, f"/api/v1/agents/{lina}/wrapup-end", lina_tok)
        view = srv.get_ok(f"/api/v1/interactions/{waiting['id']}/routing", admin)
        check(view["state"] == "offered" and view["agent_id"] == lina,
              f"the restored vip call goes to lina: {view}")
        post(srv, f"/api/v1/interactions/{waiting['id']}/reject", lina_tok)
        post(srv, f"/api/v1/interactions/{waiting['id']}/abandon", admin)
        ivr_sets_skills(srv, admin, minji, lina)
        srv.stop()


def ivr_sets_skills(srv, admin, minji, lina):
    """A flow's `set` node gives the caller skills "vip": the call is offered to Lina."""
    st, _, body = srv.request("POST", "/api/v1/flows", admin, body={
        "name": "bad-skills", "start": "s", "nodes": {
            "s": {"type": "set", "vars": {"skills": "vip:11"}, "next": "q"},
            "q": {"type": "queue", "queue": "billing"}}})
    check(st == 422 and "nodes.s.vars.skills" in bt.error_paths(body),
          f"a literal skills value that does not parse: {st} {body!r}")
    st, _, body = srv.request("POST", "/api/v1/flows", admin, body={
        "name": "vip-line", "start": "s", "nodes": {
            "s": {"type": "set", "vars": {"skills": "vip"}, "next": "q"},
            "q": {"type": "queue", "queue": "billing"}}})
    check(st == 201, f"flow vip-line: {st} {body}")
    st, _, body = srv.request("POST", "/api/v1/entry-points", admin, body={
        "name": "vip-line", "channel": "voice", "address": "+8225550177", "flow": "vip-line"})
    check(st == 201, f"entry point vip-line: {st} {body}")
    # Both agents idle again, Minji longest (Lina just rejected and is ready since).
    check(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["state"] == "ready", "minji ready")
    cust = Sipp(srv, "customer_waits_then_bye.xml",
                ["-s", "+8225550177", "-key", "caller", "0105550077", "-mp", str(bt.free_port()),
                 "-d", "4000"], "vip-caller")

    def offered():
        rows = srv.list_all("/api/v1/interactions", admin)
        mine = [r for r in rows if r.get("address") == "0105550077"]
        if not mine:
            return None
        offers = [e for e in bt.events_of(srv, admin, mine[0]["id"])
                  if e["type"] == "contact.offered"]
        return (mine[0], offers) if offers else None

    got = wait_for("the IVR call's offer", offered, limit_s=20, step_s=0.2)
    row, offers = got
    check(row.get("skills") == {"vip": 1}, f"the IVR call carries its skills: {row}")
    check(offers[0]["data"]["agent_id"] == lina,
          f"the vip caller is offered to lina, not minji: {offers}")
    check(cust.wait(60) == 0, "the vip caller hangs up")


if __name__ == "__main__":
    bt.main(run)
