"""Every row of the access table in docs/rbac.md, with every role, on a live server.

For each row and role: `deny` must answer 403; `allow` must not answer 401/403 (nor 405 or a
5xx, which would mean the route is missing or broken). Every non-public row must answer 401
without credentials. Routes with `{id}` use objects that exist (fixtures created as admin first);
DELETE rows delete a throwaway object created for that one call. An agent changing presence uses
its own agent (and another agent's must be refused with 403). The WebSocket row is checked on the
upgrade request. All mismatches are collected and reported together.
"""

import itertools

import blendtest as bt
from blendtest import check

_seq = itertools.count(1)


def uniq(prefix):
    return f"{prefix}-{next(_seq)}"


class Fixtures:
    """Objects created as admin so that every `{id}` route has a real target."""

    def __init__(self, srv, admin):
        self.srv, self.admin = srv, admin
        self.ids = {}
        for res in ("users", "skills", "agents", "calendars", "queues", "flows", "entry-points",
                    "contacts", "canned_responses"):
            self.ids[res] = self.create(res)
        self.ids["interactions"] = self.create("interactions")
        self.own_agent = srv.agent_of_user(admin, "minji")["id"]

    def first_id(self, path):
        items = self.srv.get_ok(path + "?limit=1", self.admin)["items"]
        return items[0]["id"] if items else None

    def body(self, res):
        n = uniq("rbac")
        return {
            "users": {"username": n, "role": "qa", "password": "rbac-password-1"},
            "skills": {"name": n},
            "agents": {"name": n},
            "calendars": {"name": n, "time_zone": "UTC"},
            "queues": {"name": n},
            "flows": {"name": n, "start": "bye", "nodes": {"bye": {"type": "hangup"}}},
            "entry-points": {"name": n, "channel": "chat", "address": n},
            "canned_responses": {"name": n, "title": "RBAC", "body": "Hi {customer_name}"},
            "contacts": {"name": "RBAC Contact", "identities": [{"kind": "email", "value": n + "@x.example"}]},
            "interactions": {"channel": "voice", "queue": "billing"},
        }[res]

    def create(self, res, token=None):
        st, _, doc = self.srv.request(
            "POST", f"/api/v1/{res}", token or self.admin, body=self.body(res)
        )
        check(st == 201, f"fixture POST /api/v1/{res} as admin: {st} {doc!r}")
        return doc["id"]


PATCH_BODIES = {
    "users": {"display_name": "RBAC"},
    "skills": {"description": "RBAC"},
    "agents": {"display_name": "RBAC"},
    "calendars": {"time_zone": "UTC"},
    "queues": {"priority": 1},
    "flows": {"description": "RBAC"},
    "entry-points": {"enabled": True},
    "canned_responses": {"title": "RBAC changed"},
    "contacts": {"name": "RBAC Changed"},
    "interactions": {"notes": "RBAC"},
}


def resource_of(path):
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "api" else None


def plan(method, path, role, token, fx, srv):
    """(method, concrete path, token, body, allowed extra statuses) for one call.
    `token` may be None for the unauthenticated check; the plan must then not create anything
    that needs a role."""
    res = resource_of(path)
    body = None
    ok_extra = set()
    concrete = path
    if path == "/api/v1/auth/login":
        user = bt.ROLE_USERS[role] if role else "admin"
        body = {"username": user, "password": bt.PASSWORDS[user]}
    elif path == "/api/v1/auth/logout":
        if token:
            # Log out a fresh session so the role's main token keeps working.
            token = srv.login(bt.ROLE_USERS[role])
    elif path == "/api/v1/tokens" and method == "POST":
        body = {"name": uniq("rbac-token")}
    elif path == "/api/v1/tokens/{id}":
        owner = token or fx.admin
        st, _, doc = srv.request("POST", "/api/v1/tokens", owner, body={"name": uniq("rbac-del")})
        check(st == 201, f"POST /api/v1/tokens (throwaway for DELETE): {st} {doc!r}")
        concrete = f"/api/v1/tokens/{doc['id']}"
    elif path == "/api/v1/agents/{id}/state":
        target = fx.own_agent if role == "agent" else fx.ids["agents"]
        concrete = f"/api/v1/agents/{target}/state"
        if method == "POST":
            body = {"state": "not-ready", "reason": "break"}
            ok_extra.add(409)  # not allowed in the current state: still past RBAC
    elif path == "/api/v1/agents/{id}/wrapup-end":
        target = fx.own_agent if role == "agent" else fx.ids["agents"]
        concrete = f"/api/v1/agents/{target}/wrapup-end"
        ok_extra.add(409)  # not in wrap-up: still past RBAC
    elif path == "/api/v1/calls" and method == "POST":
        # The SIP adapter is off in this server: past RBAC the answer is 409 (or 422 for a
        # user without an agent); test_click_to_call.py places real calls.
        body = {"number": "+3312345"}
        ok_extra.update({409, 422})
    elif path.startswith("/api/v1/interactions/{id}/"):
        concrete = path.replace("{id}", str(fx.ids["interactions"]))
        if path.endswith("/priority"):
            body = {"priority": 5}
        elif path.endswith("/transfer"):
            body = {"queue": "billing"}
            if role == "agent":
                # Object rule: agents may not move a contact that is not connected to them
                # (test_move.py checks it); the fixture is waiting.
                ok_extra.add(403)
        elif path.endswith("/recording"):
            body = {"action": "start"}
        elif path.endswith("/party") and method in ("POST", "PATCH"):
            body = {"mode": "consult", "number": "+3312345"} if method == "POST" else {
                "mode": "conference"}
        elif path.endswith("/hold"):
            body = {"hold": True}
        elif path.endswith("/messages"):
            body = {"body": "RBAC"} if method == "POST" else None
            if role == "agent":
                # Object rule (docs/email.md): an agent sees only conversations it handles;
                # the fixture is nobody's (test_email.py checks a real one).
                ok_extra.add(403)
        elif path.endswith("/attachments/{n}"):
            # No such message here: past RBAC the answer is 404, or 403 for an agent by the
            # object rule of the conversation (test_email_mailboxes.py downloads real files).
            concrete = concrete.replace("{mid}", "999999").replace("{n}", "0")
            if role == "agent":
                ok_extra.add(403)
        # Past RBAC the action may not fit the interaction's state (409) or it may have left
        # routing after an earlier call of this walk (404).
        ok_extra.update({404, 409})
    elif path == "/api/v1/interactions/{id}" and method == "PATCH":
        concrete = path.replace("{id}", str(fx.ids["interactions"]))
        body = {"notes": "RBAC"}
        if role == "agent":
            # Object rule (docs/rbac.md): an agent edits only an interaction it handles; the
            # fixture is nobody's, so past the role check the answer is 403 (the route's own
            # refusal, checked with a real handled interaction in test_contacts.py).
            ok_extra.add(403)
    elif path.startswith("/api/v1/channels/{channel}/"):
        # Public for RBAC, authenticated by the webhook's signature (docs/webhooks.md): an
        # unsigned call reaches the handler and gets its 401 "unsigned" (test_webhooks.py signs).
        concrete = path.replace("{channel}", "sms")
        body = {}
        ok_extra.add(401)
    elif path == "/api/v1/chat/attachments":
        # Public for RBAC, the visitor proven by its resume token (docs/chat-protocol.md): an
        # unknown token reaches the handler and gets its 401; the preflight of a same-origin
        # request is 204 (test_chat.py sends real files).
        body = {"token": "rbac", "client_id": "rbac", "file": {"filename": "a.txt",
                                                                "content_type": "text/plain",
                                                                "data": "eA=="}}
        if method == "OPTIONS":
            body = None
        ok_extra.update({401, 204})
    elif path == "/api/v1/contacts/resolve":
        body = {"kind": "email", "value": uniq("rbac") + "@x.example"}
    elif path == "/api/v1/contacts/{id}/merge":
        concrete = path.replace("{id}", str(fx.ids["contacts"]))
        if token:
            body = {"from": fx.create("contacts")}
        else:
            body = {"from": 1}
    elif path == "/api/v1/contacts/merges/{merge_id}/undo":
        # No merge to undo here: past RBAC the answer is 404 (test_contacts.py undoes merges).
        concrete = path.replace("{merge_id}", "999999")
        ok_extra.add(404)
    elif path == "/api/v1/contacts/{id}/timeline":
        concrete = path.replace("{id}", str(fx.ids["contacts"]))
    elif path.startswith("/api/v1/recordings/{id}"):
        # No call was recorded here: past RBAC the answer is 404 (test_recording.py reads real
        # recordings).
        concrete = path.replace("{id}", "1")
        ok_extra.add(404)
    elif path == "/api/v1/provision":
        body = {"version": 1, "skills": [{"name": uniq("rbac-prov")}]}
    elif res and path.endswith("/{id}"):
        if method == "DELETE":
            concrete = path.replace("{id}", str(fx.create(res)))
        else:
            concrete = path.replace("{id}", str(fx.ids[res]))
            if method == "PATCH":
                body = PATCH_BODIES[res]
    elif res and method == "POST":
        body = fx.body(res)
    return method, concrete, token, body, ok_extra


def ws_status(srv, token):
    try:
        ws = srv.ws_connect("/api/v1/events", token=token)
    except bt.WSRefused as e:
        return e.status
    ws.close()
    return 101


def run():
    table = bt.rbac_table()
    problems = []
    calls = 0
    # The webhook channel on, so its public routes reach their handler.
    hooks = "[webhook]\nsecret = rbac-webhook-secret-0123\nsms_queue = billing\n"
    with bt.Server(extra_config=hooks) as srv:
        admin = srv.login("admin")
        tokens = {role: srv.login(user) for role, user in bt.ROLE_USERS.items()}
        fx = Fixtures(srv, admin)
        for method, path, cells in table:
            public = all(v == "public" for v in cells.values())
            is_ws = path == "/api/v1/events"
            for role in bt.ROLES:
                want = cells[role]
                if is_ws:
                    st = ws_status(srv, tokens[role])
                    calls += 1
                    if want == "deny" and st != 403:
                        problems.append(f"WS {path} as {role}: expected 403, got {st}")
                    if want in ("allow", "public") and st != 101:
                        problems.append(f"WS {path} as {role}: expected 101, got {st}")
                    continue
                m, p, tok, body, ok_extra = plan(method, path, role, tokens[role], fx, srv)
                st, _, got = srv.request(m, p, token=tok, body=body)
                calls += 1
                desc = f"{m} {p} as {role} ({want}): got {st} {got!r}"[:400]
                if want == "deny":
                    if st != 403 or bt.error_code(got) != "forbidden":
                        problems.append(desc + " — expected 403 forbidden")
                elif (st in (401, 403, 405) and st not in ok_extra) or st >= 500:
                    problems.append(desc + " — expected success")
                elif not (200 <= st < 300 or st in ok_extra):
                    problems.append(desc + " — expected 2xx")
            # Without credentials.
            if is_ws:
                st = ws_status(srv, None)
                calls += 1
                if st != 401:
                    problems.append(f"WS {path} without token: expected 401, got {st}")
                continue
            m, p, _, body, ok_extra = plan(method, path, None, None, fx, srv)
            st, _, got = srv.request(m, p, body=body)
            calls += 1
            if public:
                # Past RBAC, the route's own proof: a webhook's signature, a visitor's token.
                signed = st == 401 and 401 in ok_extra and bt.error_code(got) in (
                    "unsigned", "unknown_visitor")
                if not (200 <= st < 300 or signed):
                    problems.append(f"{m} {p} (public) without token: expected 2xx, got {st}")
            elif st != 401 or bt.error_code(got) != "unauthenticated":
                problems.append(f"{m} {p} without token: expected 401, got {st} {got!r}"[:300])

        # Object-level rule: an agent may change only its own agent's presence.
        others = [a["id"] for a in srv.list_all("/api/v1/agents", admin) if a["id"] != fx.own_agent]
        st, _, got = srv.request(
            "POST",
            f"/api/v1/agents/{others[0]}/state",
            tokens["agent"],
            body={"state": "ready"},
        )
        if st != 403:
            problems.append(f"agent minji changing agent {others[0]}'s state: expected 403, got {st}")
        # ... and the session cookie carries the same rights as the bearer token.
        st, _, got = srv.request(
            "GET", "/api/v1/audit", headers={"Cookie": f"blend_session={tokens['agent']}"}
        )
        if st != 403:
            problems.append(f"GET /api/v1/audit as agent via cookie: expected 403, got {st}")
        srv.stop()
    bt.log(f"{len(table)} rows, {calls} calls")
    check(not problems, f"{len(problems)} RBAC mismatches:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    bt.main(run)
