"""Canned responses (/api/v1/canned_responses, docs/web.md §Canned responses): the demo's four
are provisioned; an admin creates, reads, patches (If-Match) and deletes one, each write audited;
a body with unknown placeholders is refused with 422 naming them on `body`, and so are a bad
language tag, a voice channel, an unknown queue and a duplicate name (409 or 422); every
signed-in role reads them, and an agent, a supervisor or QA cannot write them (403). A queue
named by a canned response cannot be deleted while it is named."""

import blendtest as bt
from blendtest import check

PATH = "/api/v1/canned_responses"


def field_error(body, path):
    for d in (body.get("error") or {}).get("details") or []:
        if d.get("path") == path:
            return d.get("message") or ""
    return None


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        david = srv.login("david")

        # The demo's entries, readable by an agent.
        items = srv.list_all(PATH, david)
        names = {c["name"]: c for c in items}
        for n in ("greeting", "greeting-ko", "greeting-zh", "closing"):
            check(n in names, f"demo canned response {n} missing: {sorted(names)}")
        check(names["greeting-ko"]["language"] == "ko", f"{names['greeting-ko']}")
        check(names["closing"]["channels"] == ["chat", "sms", "social"], f"{names['closing']}")
        check(names["closing"]["queues"] == [{"queue": "chat-support"}], f"{names['closing']}")
        check(names["greeting"]["channels"] == [] and names["greeting"]["queues"] == [],
              f"an unrestricted response lists no channels or queues: {names['greeting']}")

        # Create.
        doc = {"name": "refund", "title": "Refund on its way",
               "body": "Dear {customer_name}, {agent_name} here: your refund is on its way.",
               "language": "en", "channels": ["email", "chat"],
               "queues": [{"queue": "email-support"}]}
        st, hdr, made = srv.request("POST", PATH, admin, body=doc)
        check(st == 201, f"create: {st} {made}")
        check(hdr.get("Location", "").endswith(f"{PATH}/{made['id']}"), f"Location: {hdr}")
        check(made["version"] == 1 and made["body"] == doc["body"], f"created: {made}")
        got = srv.get_ok(f"{PATH}/{made['id']}", david)
        check(got["queues"] == [{"queue": "email-support"}] and got["channels"] == ["email", "chat"],
              f"read back: {got}")

        # Unknown placeholders: 422 naming each, on body.
        bad = dict(doc, name="typo", body="Hi {customer}, your order {order_id} ({customer_name})")
        st, _, body = srv.request("POST", PATH, admin, body=bad)
        bt.check_error(st, body, 422, "validation_failed", "unknown placeholders")
        msg = field_error(body, "body")
        check(msg is not None and "{customer}" in msg and "{order_id}" in msg
              and "{customer_name}" not in msg.split(":")[0], f"body error: {body}")

        # More refusals, each beside its field.
        for field, value in (("language", "not a tag"), ("channels", ["voice"]),
                             ("name", "Has Spaces"), ("body", "x" * 4001)):
            st, _, body = srv.request("POST", PATH, admin,
                                      body={**doc, "name": "other", field: value})
            bt.check_error(st, body, 422, "validation_failed", f"bad {field}")
            check(any(p.split("[")[0] == field for p in bt.error_paths(body)),
                  f"{field} error: {body}")
        # 4000 Korean characters are 12000 bytes: within the limit, which counts characters.
        st, _, body = srv.request("POST", PATH, admin,
                                  body=dict(doc, name="long-ko", body="가" * 4000))
        check(st == 201, f"4000 Korean characters: {st} {body}")
        st, _, body = srv.request("POST", PATH, admin,
                                  body=dict(doc, name="ghost", queues=[{"queue": "nowhere"}]))
        check(st == 422 and any(p.startswith("queues") for p in bt.error_paths(body)),
              f"unknown queue: {st} {body}")
        st, _, body = srv.request("POST", PATH, admin, body=doc)
        check(st in (409, 422), f"duplicate name: {st} {body}")

        # Patch with If-Match; a stale version is refused.
        rid = made["id"]
        st, _, body = srv.request("PATCH", f"{PATH}/{rid}", admin, body={"title": "Refund sent"},
                                  headers={"If-Match": '"1"'})
        check(st == 200 and body["version"] == 2 and body["title"] == "Refund sent",
              f"patch: {st} {body}")
        st, _, body = srv.request("PATCH", f"{PATH}/{rid}", admin, body={"title": "Again"},
                                  headers={"If-Match": '"1"'})
        check(st == 412, f"stale If-Match: {st} {body}")
        st, _, body = srv.request("PATCH", f"{PATH}/{rid}", admin, body={"body": "Hi {nme}"})
        bt.check_error(st, body, 422, "validation_failed", "patch with unknown placeholder")
        check("{nme}" in (field_error(body, "body") or ""), f"patch body error: {body}")

        # RBAC: everybody reads, only admins write.
        for user in ("sophia", "quinn", "david"):
            tok = srv.login(user)
            srv.get_ok(PATH, tok)
            st, _, body = srv.request("POST", PATH, tok, body=dict(doc, name=f"by-{user}"))
            check(st == 403, f"{user} create: {st} {body}")
            st, _, body = srv.request("PATCH", f"{PATH}/{rid}", tok, body={"title": "x"})
            check(st == 403, f"{user} patch: {st} {body}")
            st, _, body = srv.request("DELETE", f"{PATH}/{rid}", tok)
            check(st == 403, f"{user} delete: {st} {body}")
        st, _, _ = srv.request("GET", PATH)
        check(st == 401, f"anonymous read: {st}")

        # A queue a response names cannot go; the events and audit show the writes.
        queues = {q["name"]: q for q in srv.list_all("/api/v1/queues", admin)}
        st, _, body = srv.request("DELETE", f"/api/v1/queues/{queues['email-support']['id']}",
                                  admin)
        check(st == 409, f"deleting a named queue: {st} {body}")

        st, _, _ = srv.request("DELETE", f"{PATH}/{rid}", admin)
        check(st == 204, f"delete: {st}")
        st, _, _ = srv.request("GET", f"{PATH}/{rid}", admin)
        check(st == 404, f"deleted: {st}")
        types = [e["type"] for e in srv.event_log(admin) if e.get("subject") == f"canned_responses/{rid}"]
        check(types == ["canned_responses.created", "canned_responses.updated",
                        "canned_responses.deleted"], f"events: {types}")
        actions = sorted(a.get("action") for a in srv.list_all("/api/v1/audit", admin)
                         if a.get("resource") == "canned_responses" and a.get("resource_id") == rid)
        check(actions == ["create", "delete", "update"], f"audit of {rid}: {actions}")

if __name__ == "__main__":
    bt.main(run)
