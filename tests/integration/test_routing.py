"""Routing through the API: agents go ready, an interaction is created and offered by the
queue's strategy, the agent sees the offer on the event stream, accepts, ends, wraps up; a
waiting interaction has a position and is abandoned; a restart restores presence and re-queues
what was open. Every step is checked in the event log too."""

import time

import blendtest as bt
from blendtest import check


def post(srv, path, token, body=None, want=200):
    st, _, doc = srv.request("POST", path, token, body=body)
    check(st == want, f"POST {path}: expected {want}, got {st} {doc!r}"[:600])
    return doc


def wait_event(ws, type_, pred=lambda e: True, limit=200):
    for _ in range(limit):
        msg = ws.recv_json()
        if msg.get("type") == "event" and msg["event"]["type"] == type_ and pred(msg["event"]):
            return msg["event"]
    raise bt.TestFailure(f"no {type_} event arrived")


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        lina_tok = srv.login("lina")
        minji = srv.agent_of_user(admin, "minji")["id"]
        lina = srv.agent_of_user(admin, "lina")["id"]

        ws = srv.ws_connect("/api/v1/events", token=minji_tok)
        snap = ws.recv_json()
        check(snap["type"] == "snapshot", f"first frame {snap!r}")

        # Minji first, then Lina: with longest-idle, Minji has waited longest.
        st = post(srv, f"/api/v1/agents/{minji}/state", minji_tok, {"state": "ready"})
        check(st["state"] == "ready", f"minji: {st}")
        post(srv, f"/api/v1/agents/{lina}/state", lina_tok, {"state": "ready"})

        doc = post(srv, "/api/v1/interactions", admin, {"channel": "voice", "queue": "billing"},
                   want=201)
        iid = doc["id"]
        check(doc["routing"]["state"] == "offered" and doc["routing"]["agent_id"] == minji,
              f"the billing call must be offered to minji (longest idle): {doc['routing']}")
        offer = wait_event(ws, "contact.offered", lambda e: e["data"]["contact_id"] == iid)
        check(offer["data"]["agent_id"] == minji, f"offer event {offer}")

        # Lina may not accept an offer made to Minji.
        st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/accept", lina_tok)
        check(st == 409, f"lina accepting minji's offer: {st} {body!r}")
        got = post(srv, f"/api/v1/interactions/{iid}/accept", minji_tok)
        check(got["state"] == "connected" and got["agent_id"] == minji, f"after accept: {got}")
        stored = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
        check(stored["state"] == "connected" and stored["agent"] == "minji",
              f"stored interaction after accept: {stored}")

        # A second call goes to Lina; a third waits with a position.
        second = post(srv, "/api/v1/interactions", admin, {"channel": "voice", "queue": "billing"},
                      want=201)
        second_at = time.monotonic()
        check(second["routing"]["agent_id"] == lina, f"second call: {second['routing']}")
        third = post(srv, "/api/v1/interactions", admin, {"channel": "voice", "queue": "billing"},
                     want=201)
        check(third["routing"]["state"] == "waiting" and third["routing"]["position"] == 1,
              f"third call must wait first in line: {third['routing']}")
        check(third["routing"]["ewt_s"] > 0, f"a waiting call has an estimated wait: {third}")

        # Minji ends her call: wrap-up (billing has 45 s), then she ends it early and the
        # waiting call is offered to her.
        post(srv, f"/api/v1/interactions/{iid}/end", minji_tok)
        st = srv.get_ok(f"/api/v1/agents/{minji}/state", minji_tok)
        check(st["state"] == "wrap-up", f"after end: {st}")
        post(srv, f"/api/v1/agents/{minji}/wrapup-end", minji_tok)
        routed = srv.get_ok(f"/api/v1/interactions/{third['id']}/routing", admin)
        check(routed["state"] == "offered" and routed["agent_id"] == minji,
              f"the waiting call goes to minji once she is free: {routed}")

        # The customer of the offered call hangs up: the offer is withdrawn.
        post(srv, f"/api/v1/interactions/{third['id']}/abandon", admin)
        st, _, _ = srv.request("GET", f"/api/v1/interactions/{third['id']}/routing", admin)
        check(st == 404, f"an abandoned call leaves routing: {st}")
        check(srv.get_ok(f"/api/v1/interactions/{third['id']}", admin)["state"] == "ended",
              "the abandoned interaction is stored as ended")

        # Bad requests are refused clearly.
        st, _, body = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "chat", "queue": "billing"})
        check(st == 422, f"a chat in a voice queue: {st} {body!r}")
        st, _, body = srv.request("POST", "/api/v1/interactions", admin,
                                  body={"channel": "voice", "queue": "no-such-queue"})
        check(st == 422, f"an unknown queue: {st} {body!r}")

        # Live statistics fold the same decisions (docs/kpis.md).
        billing = [q for q in srv.get_ok("/api/v1/stats/queues", admin)["items"]
                   if q["name"] == "billing"]
        check(len(billing) == 1, "billing in /api/v1/stats/queues")
        today = billing[0]["today"]
        # Answered: the first call (the second is still only offered to Lina); the third left
        # within the short-abandon threshold (5 s), so it is neither offered nor abandoned.
        check(today["answered"] == 1 and today["handled"] == 1 and today["short_abandoned"] == 1
              and today["abandoned"] == 0 and today["arrivals"] == 3, f"billing today: {today}")
        check(billing[0]["waiting"] == 0 and billing[0]["offered_now"] == 1
              and billing[0]["connected_now"] == 0, f"billing live: {billing[0]}")
        # Staffing: Minji is ready and idle, Lina has the second call on offer.
        check(billing[0]["agents"] == {"logged_in": 2, "ready": 1, "busy": 1, "not_ready": 0,
                                       "wrap_up": 0}, f"billing staffing: {billing[0]['agents']}")
        # A newcomer's estimated wait: position 1 x AHT / the 2 agents staffing billing.
        check(billing[0]["ewt_s"] > 0, f"billing EWT: {billing[0]}")
        st, _, metrics = srv.request("GET", "/metrics")
        text = metrics if isinstance(metrics, str) else metrics.decode()
        check(st == 200 and 'blend_queue_agents_busy{queue="billing"} 1' in text
              and 'blend_queue_ewt_seconds{queue="billing"}' in text,
              "queue staffing and EWT in /metrics")
        mine = srv.get_ok("/api/v1/stats/agents", minji_tok)["items"]
        check(len(mine) == 1 and mine[0]["agent_id"] == minji and mine[0]["handled"] == 1,
              f"an agent sees their own figures only: {mine}")

        # The stream also pushes the agent's own figures every few seconds.
        for _ in range(500):
            msg = ws.recv_json(timeout=20)
            if msg.get("type") == "stats":
                break
        check(msg.get("type") == "stats" and msg["agent"]["agent_id"] == minji
              and msg["agent"]["handled"] == 1, f"live figures pushed to the agent: {msg}")

        types = [e["type"] for e in srv.event_log(admin) if e["subject"] == f"interactions/{iid}"]
        for want in ("contact.queued", "contact.offered", "contact.connected", "contact.ended"):
            check(want in types, f"event log of interaction {iid} lacks {want}: {types}")
        # Every presence change names the state it left: each agent's chain links up.
        last = {}
        for e in srv.event_log(admin):
            if e["type"] != "agent.state":
                continue
            d = e["data"]
            check(d["from"] == last.get(d["agent_id"], "logged-out"),
                  f"agent.state {e['seq']} says from {d['from']}, the previous was "
                  f"{last.get(d['agent_id'], 'logged-out')}")
            last[d["agent_id"]] = d["to"]
        check(last.get(minji) == "wrap-up" or last.get(minji) == "ready", f"minji's chain: {last}")
        ws.close()

        # Restart: presence comes back from the log; the call offered to Lina lost its offer
        # (recorded as withdrawn by the restart) and waits again with its true age.
        def billing_today():
            return [q for q in srv.get_ok("/api/v1/stats/queues", admin)["items"]
                    if q["name"] == "billing"][0]["today"]

        today_before = billing_today()
        srv.restart()
        admin = srv.login("admin")
        check(srv.get_ok(f"/api/v1/agents/{lina}/state", admin)["state"] == "ready",
              "lina's presence after a restart")
        # Today's figures are folded again from the log: the same after the restart.
        today_after = billing_today()
        check(today_after == today_before,
              f"billing today changed across the restart: {today_before} -> {today_after}")
        minji_fig = [a for a in srv.get_ok("/api/v1/stats/agents", admin)["items"]
                     if a["agent_id"] == minji][0]
        check(minji_fig["handled"] == 1 and minji_fig["state"] == "ready",
              f"minji's figures after the restart: {minji_fig}")
        again = srv.get_ok(f"/api/v1/interactions/{second['id']}/routing", admin)
        check(again["state"] in ("waiting", "offered"),
              f"the call open at the restart is routed again: {again}")
        check(again["waited_ms"] >= (time.monotonic() - second_at) * 1000 - 50,
              f"the call keeps its age across the restart: {again}")
        sid = f"interactions/{second['id']}"
        check(any(e["type"] == "contact.withdrawn" and e["subject"] == sid
                  and e["data"]["reason"] == "restart" for e in srv.event_log(admin)),
              "the lost offer is recorded as withdrawn by the restart")

        # Connected and wrap-up survive a kill -9: the agent who takes the call is still
        # connected after it, ends it, and her wrap-up keeps its start after another one.
        who = again["agent_id"]
        check(who in (minji, lina), f"offered to a ready agent: {again}")
        tok = srv.login("minji" if who == minji else "lina")
        post(srv, f"/api/v1/interactions/{second['id']}/accept", tok)
        srv.kill9()
        srv.start()
        admin = srv.login("admin")
        tok = srv.login("minji" if who == minji else "lina")
        view = srv.get_ok(f"/api/v1/interactions/{second['id']}/routing", admin)
        check(view["state"] == "connected" and view["agent_id"] == who,
              f"a connected call stays connected across kill -9: {view}")
        before = srv.get_ok(f"/api/v1/agents/{who}/state", admin)
        check(before["active"]["voice"] == 1, f"the agent's capacity is taken: {before}")
        post(srv, f"/api/v1/interactions/{second['id']}/end", tok)
        wrap = srv.get_ok(f"/api/v1/agents/{who}/state", admin)
        check(wrap["state"] == "wrap-up", f"after end: {wrap}")
        srv.kill9()
        srv.start()
        admin = srv.login("admin")
        after = srv.get_ok(f"/api/v1/agents/{who}/state", admin)
        check(after["state"] == "wrap-up" and after["since"] == wrap["since"],
              f"wrap-up and its start survive: before {wrap}, after {after}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
