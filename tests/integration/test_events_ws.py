"""The WebSocket event stream against a live server.

Snapshot first; a REST change arrives as its event; after a disconnect, `?after=<last seq>`
replays exactly the missed events in order (compared with GET /api/v1/event-log, the same log over
HTTP) and then continues live; role filtering (an agent never sees `users.*`, `api_tokens.*` or
another agent's presence; qa never sees `users.*`/`api_tokens.*`); `?token=` and cookie
authentication; 401 before the upgrade without a valid token.
"""

import blendtest as bt
from blendtest import check

CONFIG_TYPES = ("skills.", "queues.", "calendars.", "entry_points.", "canned_responses.")


def next_event(ws, what, timeout=15):
    while True:
        try:
            msg = ws.recv_json(timeout)
        except TimeoutError:
            raise bt.TestFailure(f"no WebSocket message within {timeout}s while waiting for {what}")
        if msg.get("type") != "stats":  # live figures every few seconds, not events
            break
    check(msg.get("type") == "event" and isinstance(msg.get("event"), dict), f"not an event: {msg!r}")
    ev = msg["event"]
    for k in ("seq", "ts", "type", "subject", "actor", "data"):
        check(k in ev, f"event lacks {k!r}: {msg!r}")
    return ev


def wait_for(ws, pred, what, limit=500):
    """Reads events until pred(event); returns every event read (the match last)."""
    seen = []
    for _ in range(limit):
        ev = next_event(ws, what)
        seen.append(ev)
        if pred(ev):
            return seen
    raise bt.TestFailure(f"{what} not among {limit} events: {[e['type'] for e in seen]}")


def check_ordered(events, what, gapless):
    seqs = [e["seq"] for e in events]
    check(all(a < b for a, b in zip(seqs, seqs[1:])), f"{what}: seqs not increasing: {seqs}")
    if gapless:
        check(
            all(b == a + 1 for a, b in zip(seqs, seqs[1:])), f"{what}: gap in seqs: {seqs}"
        )


def snapshot_and_live(srv, admin):
    ws = srv.ws_connect("/api/v1/events", token=admin)
    try:
        snap = ws.recv_json(15)
    except TimeoutError:
        ws.close()
        raise bt.TestFailure("upgrade accepted (101) but no snapshot message within 15 s")
    check(snap.get("type") == "snapshot", f"first message must be the snapshot: {snap!r}")
    check(isinstance(snap.get("seq"), int), f"snapshot seq: {snap!r}")
    agents = snap.get("agents")
    check(isinstance(agents, list), f"snapshot agents must be a list: {snap!r}"[:500])
    for a in agents:
        for k in ("agent_id", "state", "since"):
            check(k in a, f"snapshot agent lacks {k!r}: {a!r}")
    health = srv.get_ok("/healthz", None)
    check(snap["seq"] <= health["event_seq"], f"snapshot seq {snap['seq']} > healthz {health}")

    st, _, sk = srv.request("POST", "/api/v1/skills", admin, body={"name": "ws-live"})
    check(st == 201, f"POST skill ws-live: {st} {sk!r}")
    subject = f"skills/{sk['id']}"
    seen = wait_for(
        ws, lambda e: e["type"] == "skills.created" and e["subject"] == subject, "skills.created"
    )
    check(seen[0]["seq"] == snap["seq"] + 1, f"first live event seq {seen[0]['seq']} != snapshot+1")
    check_ordered(seen, "live events", gapless=True)
    ev = seen[-1]
    check(ev["data"].get("name") == "ws-live", f"event data: {ev!r}")
    check(ev["actor"] == "admin", f"event actor: {ev!r}")
    ws.ping()
    ws.close()


def resume(srv, admin):
    st, _, sk = srv.request("POST", "/api/v1/skills", admin, body={"name": "ws-resume"})
    check(st == 201, f"POST skill ws-resume: {st} {sk!r}")
    skill_id = sk["id"]
    last_seq = srv.get_ok("/healthz", None)["event_seq"]
    # Two changes while disconnected.
    st, _, got = srv.request(
        "PATCH", f"/api/v1/skills/{skill_id}", admin, body={"description": "changed offline"}
    )
    check(st == 200, f"PATCH skill offline: {st} {got!r}")
    st, _, sk2 = srv.request("POST", "/api/v1/skills", admin, body={"name": "ws-offline"})
    check(st == 201, f"POST skill offline: {st} {sk2!r}")
    missed = srv.event_log(admin, after=last_seq)
    types = [(e["type"], e["subject"]) for e in missed]
    want = [("skills.updated", f"skills/{skill_id}"), ("skills.created", f"skills/{sk2['id']}")]
    check([t for t in types if t[0].startswith("skills.")] == want, f"event-log after {last_seq}: {types}")

    check(missed, f"GET /api/v1/event-log?after={last_seq} returned nothing after two changes")
    ws = srv.ws_connect(f"/api/v1/events?after={last_seq}", token=admin)
    replay = [next_event(ws, f"replayed event {i + 1}/{len(missed)}") for i in range(len(missed))]
    check(
        [e["seq"] for e in replay] == [e["seq"] for e in missed],
        f"replay after {last_seq}: got seqs {[e['seq'] for e in replay]}, "
        f"event-log has {[e['seq'] for e in missed]}",
    )
    check(
        [(e["type"], e["subject"]) for e in replay] == types, f"replay types differ: {replay!r}"
    )
    check(replay[0]["seq"] == last_seq + 1, f"replay must start at {last_seq + 1}: {replay[0]!r}")
    check_ordered(replay, "replay", gapless=True)
    # Then live, with nothing repeated.
    st, _, sk3 = srv.request("POST", "/api/v1/skills", admin, body={"name": "ws-after-replay"})
    check(st == 201, f"POST skill ws-after-replay: {st} {sk3!r}")
    live = wait_for(
        ws, lambda e: e["subject"] == f"skills/{sk3['id']}", "live event after the replay"
    )
    check_ordered(replay + live, "replay + live", gapless=True)
    ws.close()


def role_filter(srv, admin):
    agent_tok = srv.login("minji")
    qa_tok = srv.login("quinn")
    own = srv.agent_of_user(admin, "minji")["id"]
    other = next(a["id"] for a in srv.list_all("/api/v1/agents", admin) if a["id"] != own)

    # Streams opened before the changes, by every way of authenticating.
    ws_agent = srv.ws_connect(f"/api/v1/events?after=0&token={agent_tok}")
    ws_qa = srv.ws_connect("/api/v1/events?after=0", headers={"Cookie": f"blend_session={qa_tok}"})

    st, _, u = srv.request(
        "POST", "/api/v1/users", admin,
        body={"username": "ws-hidden", "role": "qa", "password": "ws-hidden-pass"},
    )
    check(st == 201, f"POST user ws-hidden: {st} {u!r}")
    st, _, got = srv.request(
        "POST", f"/api/v1/agents/{other}/state", admin, body={"state": "ready"}
    )
    check(st in (200, 409), f"state of agent {other}: {st} {got!r}")
    own_st, _, got = srv.request(
        "POST", f"/api/v1/agents/{own}/state", agent_tok, body={"state": "ready"}
    )
    check(own_st in (200, 409), f"minji sets own state: {own_st} {got!r}")
    st, _, sk = srv.request("POST", "/api/v1/skills", admin, body={"name": "ws-filter-mark"})
    check(st == 201, f"POST skill ws-filter-mark: {st} {sk!r}")
    mark = f"skills/{sk['id']}"

    seen = wait_for(ws_agent, lambda e: e["subject"] == mark, "the marker event as agent", 5000)
    check_ordered(seen, "agent stream", gapless=False)
    for e in seen:
        t = e["type"]
        ok = t.startswith(CONFIG_TYPES) or (
            (t == "agent.state" or t.startswith("agents.")) and e["subject"] == f"agents/{own}"
        )
        check(ok, f"agent minji received an event it may not see: {e!r}"[:500])
    check(
        any(e["type"] == "agent.state" and e["subject"] == f"agents/{own}" for e in seen)
        or own_st == 409,
        "agent minji did not receive its own agent.state event",
    )
    seen = wait_for(ws_qa, lambda e: e["subject"] == mark, "the marker event as qa", 5000)
    check_ordered(seen, "qa stream", gapless=False)
    for e in seen:
        check(
            not e["type"].startswith(("users.", "api_tokens.")),
            f"qa received {e['type']}: {e!r}"[:500],
        )
    check(
        any(e["type"] == "agent.state" and e["subject"] == f"agents/{other}" for e in seen),
        f"qa did not receive agent {other}'s agent.state event",
    )
    ws_agent.close()
    ws_qa.close()


def refused(srv):
    for path, headers in (
        ("/api/v1/events", None),
        ("/api/v1/events?token=garbage", None),
        ("/api/v1/events?token=blend_" + "A" * 43, None),
        ("/api/v1/events", {"Authorization": "Bearer blend_" + "B" * 43}),
    ):
        try:
            ws = srv.ws_connect(path, headers=headers)
        except bt.WSRefused as e:
            check(e.status == 401, f"WS {path} {headers}: expected 401, got {e.status}")
            continue
        ws.close()
        raise bt.TestFailure(f"WS {path} {headers}: upgrade accepted without a valid token")


def stats_push(srv, admin):
    """Live figures: queues for supervisors and QA, agents too for supervisors, an agent's own."""
    def first_stats(token):
        ws = srv.ws_connect(f"/api/v1/events?token={token}")
        try:
            for _ in range(2000):
                msg = ws.recv_json(15)
                if msg.get("type") == "stats":
                    return msg
        finally:
            ws.close()
        raise bt.TestFailure("no stats push")
    sup = first_stats(srv.login("sophia"))
    check(isinstance(sup.get("queues"), list) and isinstance(sup.get("agents"), list)
          and any(a.get("agent_id") for a in sup["agents"]), f"supervisor's push: {str(sup)[:300]}")
    qa = first_stats(srv.login("quinn"))
    check(isinstance(qa.get("queues"), list) and "agents" not in qa, f"QA's push: {list(qa)}")
    agent = first_stats(srv.login("minji"))
    check("agent" in agent and "agents" not in agent and "queues" not in agent,
          f"an agent's push: {list(agent)}")


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        parts = bt.Sections()
        parts.run("live figures", stats_push, srv, admin)
        parts.run("snapshot and live event", snapshot_and_live, srv, admin)
        parts.run("resume with ?after=", resume, srv, admin)
        parts.run("role filter", role_filter, srv, admin)
        parts.run("401 before the upgrade", refused, srv)
        srv.stop()
        parts.finish()


if __name__ == "__main__":
    bt.main(run)
