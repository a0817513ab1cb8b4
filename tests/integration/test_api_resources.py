"""Resource routes of the HTTP API against a live server with the demo center.

Covers the contract's generic resource behaviour on skills and agents (every resource shares the
same code path): create/get/patch/delete with ETag, Location and If-Match; errors with their
status, code and field paths (409, 412, 422 listing every error, nested child paths); delete of
a referenced row; keyset pagination visiting every item once; 404/405; write-only fields never
returned; and the body checks (413, 400 for depth, UTF-8 and duplicate keys, 415).
"""

import http.client
import re

import blendtest as bt
from blendtest import check, check_error


def etag_version(headers, what):
    tag = headers.get("ETag")
    check(tag is not None, f"{what}: no ETag header in {headers!r}")
    m = re.fullmatch(r'(?:W/)?"(\d+)"', tag.strip())
    check(m is not None, f'{what}: ETag {tag!r} is not "<version>"')
    return int(m.group(1))


def demo_lists(srv, tok):
    skills = {s["name"] for s in srv.list_all("/api/v1/skills", tok)}
    for name in ("billing", "tech", "sales", "korean", "english"):
        check(name in skills, f"demo skill {name!r} missing from GET /api/v1/skills: {skills}")
    queues = {q["name"] for q in srv.list_all("/api/v1/queues", tok)}
    for name in ("billing", "tech-support", "sales"):
        check(name in queues, f"demo queue {name!r} missing from GET /api/v1/queues: {queues}")
    agents = srv.list_all("/api/v1/agents", tok)
    check(len(agents) >= 6, f"expected at least 6 demo agents, got {len(agents)}")
    body = srv.get_ok("/api/v1/skills", tok)
    check(
        isinstance(body, dict) and isinstance(body.get("items"), list) and "next_cursor" in body,
        f"list body must be {{items, next_cursor}}: {body!r}"[:500],
    )


def skill_lifecycle(srv, tok):
    st, h, doc = srv.request(
        "POST", "/api/v1/skills", tok, body={"name": "itest-french", "description": "French"}
    )
    check(st == 201, f"POST /api/v1/skills: expected 201, got {st}: {doc!r}")
    for k in ("id", "version", "created_at", "updated_at", "name", "description"):
        check(k in doc, f"created skill lacks {k!r}: {doc!r}")
    check(doc["version"] == 1, f"new document must have version 1: {doc!r}")
    sid = doc["id"]
    loc = h.get("Location")
    check(
        loc is not None and loc.endswith(f"/api/v1/skills/{sid}"),
        f"Location {loc!r} should end with /api/v1/skills/{sid}",
    )
    check(etag_version(h, "POST skill") == 1, "POST skill: ETag must be \"1\"")
    path = f"/api/v1/skills/{sid}"
    st, h, got = srv.request("GET", path, tok)
    check(st == 200, f"GET {path}: {st} {got!r}")
    check(got["name"] == "itest-french" and got["id"] == sid, f"GET {path} returned {got!r}")
    check(etag_version(h, "GET skill") == 1, "GET skill: ETag must be \"1\"")

    st, h, got = srv.request(
        "PATCH", path, tok, body={"description": "French speakers"}, headers={"If-Match": '"1"'}
    )
    check(st == 200, f"PATCH {path} with If-Match \"1\": expected 200, got {st}: {got!r}")
    check(got["version"] == 2 and got["description"] == "French speakers", f"PATCH gave {got!r}")
    check(etag_version(h, "PATCH skill") == 2, "PATCH skill: ETag must be \"2\"")

    st, _, got = srv.request(
        "PATCH", path, tok, body={"description": "stale"}, headers={"If-Match": '"1"'}
    )
    check_error(st, got, 412, "version_mismatch", f"PATCH {path} with stale If-Match")
    got = srv.get_ok(path, tok)
    check(got["description"] == "French speakers", f"a refused PATCH changed the skill: {got!r}")

    st, _, got = srv.request("POST", "/api/v1/skills", tok, body={"name": "itest-french"})
    check_error(st, got, 409, "conflict", "POST duplicate skill name")
    check("name" in bt.error_paths(got), f"409 details must name path 'name': {got!r}")

    # Delete with a stale If-Match is refused; then a real delete; then 404.
    st, _, got = srv.request("DELETE", path, tok, headers={"If-Match": '"1"'})
    check_error(st, got, 412, "version_mismatch", f"DELETE {path} with stale If-Match")
    st, _, got = srv.request("DELETE", path, tok, headers={"If-Match": '"2"'})
    check(st == 204, f"DELETE {path}: expected 204, got {st}: {got!r}")
    st, _, got = srv.request("GET", path, tok)
    check_error(st, got, 404, "not_found", f"GET {path} after delete")


def validation(srv, tok):
    st, _, got = srv.request(
        "POST", "/api/v1/skills", tok, body={"name": 5, "description": 7, "bogus": True}
    )
    check_error(st, got, 422, "validation_failed", "POST skill with wrong types + unknown field")
    paths = bt.error_paths(got)
    for p in ("name", "description", "bogus"):
        check(p in paths, f"422 must list every error; path {p!r} missing from {got!r}")

    st, _, got = srv.request("POST", "/api/v1/skills", tok, body={"description": "no name"})
    check_error(st, got, 422, "validation_failed", "POST skill without the required name")
    check("name" in bt.error_paths(got), f"422 for a missing name must name 'name': {got!r}")

    st, _, got = srv.request(
        "POST",
        "/api/v1/agents",
        tok,
        body={
            "name": "itest-nested",
            "skills": [{"skill": "billing", "proficiency": 11}, {"skill": "tech"}],
            "capacity": {"chat": 99},
        },
    )
    check_error(st, got, 422, "validation_failed", "POST agent with bad children")
    paths = bt.error_paths(got)
    for p in ("skills[0].proficiency", "skills[1].proficiency", "capacity.chat"):
        check(p in paths, f"nested error path {p!r} missing from {got!r}")

    st, _, got = srv.request("POST", "/api/v1/skills", tok, body={"name": "x", "id": 7})
    check_error(st, got, 422, "validation_failed", "POST skill with read-only field id")
    check("id" in bt.error_paths(got), f"422 must name the read-only field 'id': {got!r}")


def referenced_delete(srv, tok):
    st, _, sk = srv.request("POST", "/api/v1/skills", tok, body={"name": "itest-used"})
    check(st == 201, f"POST skill itest-used: {st} {sk!r}")
    st, _, ag = srv.request(
        "POST",
        "/api/v1/agents",
        tok,
        body={"name": "itest-user-of-skill", "skills": [{"skill": "itest-used", "proficiency": 5}]},
    )
    check(st == 201, f"POST agent with skill itest-used: {st} {ag!r}")
    check(
        ag.get("skills") == [{"skill": "itest-used", "proficiency": 5}],
        f"agent skills must come back as given (skill by name): {ag!r}",
    )
    st, _, got = srv.request("DELETE", f"/api/v1/skills/{sk['id']}", tok)
    check_error(st, got, 409, "conflict", "DELETE a skill still used by an agent")
    srv.get_ok(f"/api/v1/skills/{sk['id']}", tok)
    # An unknown reference is a 422 (or 409) naming the child path, never a 500.
    st, _, got = srv.request(
        "POST",
        "/api/v1/agents",
        tok,
        body={"name": "itest-bad-ref", "skills": [{"skill": "no-such-skill", "proficiency": 5}]},
    )
    check(st in (409, 422), f"agent with unknown skill: expected 422, got {st}: {got!r}")
    check(
        "skills[0].skill" in bt.error_paths(got),
        f"unknown reference must name 'skills[0].skill': {got!r}",
    )


def pagination(srv, tok):
    for i in range(8):
        st, _, got = srv.request("POST", "/api/v1/skills", tok, body={"name": f"itest-page-{i}"})
        check(st == 201, f"POST skill itest-page-{i}: {st} {got!r}")
    everything = {s["id"]: s["name"] for s in srv.list_all("/api/v1/skills", tok)}
    check(len(everything) >= 10, f"expected 10+ skills, got {len(everything)}")
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/skills?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = srv.get_ok(url, tok)
        check(len(body["items"]) <= 3, f"limit=3 returned {len(body['items'])} items")
        pages += 1
        check(pages <= len(everything) + 2, "pagination does not end")
        seen += [s["id"] for s in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
        check(len(body["items"]) == 3, f"a non-last page must be full: {body!r}"[:500])
    dups = {i for i in seen if seen.count(i) > 1}
    check(not dups, f"pagination returned ids more than once: {sorted(dups)}")
    check(
        set(seen) == set(everything),
        f"pagination missed {sorted(set(everything) - set(seen))} / extra "
        f"{sorted(set(seen) - set(everything))}",
    )
    check(pages >= 4, f"{len(seen)} items with limit=3 must take 4+ pages, took {pages}")
    problems = []
    # A %00 in a URL is refused by libwebsockets itself, which closes the connection before the
    # request reaches Blend (docs/openapi.yaml notes it); every other bad value is a 400.
    for bad in ("limit=0", "limit=501", "limit=abc", "cursor=garbage%ff", "cursor=-3"):
        try:
            st, _, got = srv.request("GET", f"/api/v1/skills?{bad}", tok)
            check_error(st, got, 400, "bad_request", f"GET /api/v1/skills?{bad}")
        except bt.TestFailure as e:
            problems.append(str(e))
        except (OSError, http.client.HTTPException) as e:
            problems.append(f"GET /api/v1/skills?{bad}: no response ({e!r})")
    check(not problems, "bad query parameters:\n    " + "\n    ".join(problems))


def not_found_and_methods(srv, tok):
    for path in ("/api/v1/skills/999999", "/api/v1/agents/999999", "/api/v1/no-such-thing"):
        st, _, got = srv.request("GET", path, tok)
        check_error(st, got, 404, "not_found", f"GET {path}")
    st, h, got = srv.request("DELETE", "/api/v1/skills", tok)
    check_error(st, got, 405, "method_not_allowed", "DELETE /api/v1/skills")
    allow = {m.strip().upper() for m in (h.get("Allow") or "").split(",")}
    check({"GET", "POST"} <= allow, f"Allow for /api/v1/skills must list GET, POST: {allow}")
    st, h, got = srv.request("PUT", "/api/v1/skills/1", tok, body={"name": "x"})
    check_error(st, got, 405, "method_not_allowed", "PUT /api/v1/skills/1")
    allow = {m.strip().upper() for m in (h.get("Allow") or "").split(",")}
    check(
        {"GET", "PATCH", "DELETE"} <= allow,
        f"Allow for /api/v1/skills/{{id}} must list GET, PATCH, DELETE: {allow}",
    )


def write_only(srv, tok):
    st, _, ag = srv.request(
        "POST",
        "/api/v1/agents",
        tok,
        body={"name": "itest-sip", "extension": "1999", "sip_password": "sip-secret-123"},
    )
    check(st == 201, f"POST agent with sip_password: {st} {ag!r}")
    check("sip_password" not in ag, f"POST response returned sip_password: {ag!r}")
    got = srv.get_ok(f"/api/v1/agents/{ag['id']}", tok)
    check("sip_password" not in got, f"GET agent returned sip_password: {got!r}")
    for a in srv.list_all("/api/v1/agents", tok):
        check("sip_password" not in a, f"agent list returned sip_password: {a!r}")
    st, _, us = srv.request(
        "POST",
        "/api/v1/users",
        tok,
        body={"username": "itest-wo", "role": "qa", "password": "itest-password-1"},
    )
    check(st == 201, f"POST user with password: {st} {us!r}")
    hidden = ("password", "password_hash", "failed_logins", "locked_until")
    for u in [us, srv.get_ok(f"/api/v1/users/{us['id']}", tok)] + srv.list_all(
        "/api/v1/users", tok
    ):
        for k in hidden:
            check(k not in u, f"user document exposes {k!r}: {u!r}")
    st, _, got = srv.request(
        "POST", "/api/v1/users", tok, body={"username": "itest-short", "role": "qa", "password": "x"}
    )
    check_error(st, got, 422, "validation_failed", "POST user with a 1-byte password")
    check("password" in bt.error_paths(got), f"short password error must name 'password': {got!r}")


def bodies(srv, tok):
    parts = bt.Sections()

    def too_large():
        head = (
            f"POST /api/v1/skills HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {4 * 1024 * 1024 + 1024}\r\n\r\n"
        ).encode()
        big = b'{"name":"big","description":"' + b"x" * (4 * 1024 * 1024) + b'"}'
        big += b" " * (4 * 1024 * 1024 + 1024 - len(big))
        st, _, got = srv.raw_exchange(head, big)
        check_error(st, got, 413, "payload_too_large", "POST a 4 MiB + 1 KiB body")

    codes = {
        "nesting 100 deep": "json_too_deep",
        "invalid UTF-8": "invalid_json",
        "duplicate keys": "duplicate_key",
        "truncated JSON": "invalid_json",
    }

    def bad_json(what, raw):
        st, _, got = srv.request(
            "POST", "/api/v1/skills", tok, raw=raw, headers={"Content-Type": "application/json"}
        )
        check_error(st, got, 400, codes.get(what, "invalid_json"), f"POST skill with {what}")

    def wrong_type():
        st, _, got = srv.request(
            "POST",
            "/api/v1/skills",
            tok,
            raw=b'{"name":"plain"}',
            headers={"Content-Type": "text/plain"},
        )
        check_error(st, got, 415, "unsupported_media_type", "POST skill as text/plain")

    parts.run("413", too_large)
    cases = [
        ("nesting 100 deep", b'{"name":"deep","description":' + b"[" * 100 + b"]" * 100 + b"}"),
        ("invalid UTF-8", b'{"name":"bad-\xff\xfe"}'),
        ("duplicate keys", b'{"name":"dup-a","name":"dup-b"}'),
        ("truncated JSON", b'{"name":"trunc"'),
    ]
    for what, raw in cases:
        parts.run(what, bad_json, what, raw)
    parts.run("415", wrong_type)
    names = {s["name"] for s in srv.list_all("/api/v1/skills", tok)}
    for n in ("big", "deep", "dup-a", "dup-b", "plain", "trunc"):
        check(n not in names, f"a refused body created skill {n!r}")
    parts.finish()


def filters(srv, tok):
    """One equality filter by a field's name, on any list."""
    made = []
    for q, ch in (("billing", "voice"), ("chat-support", "chat"), ("chat-support", "chat")):
        st, _, doc = srv.request("POST", "/api/v1/interactions", tok,
                                 body={"channel": ch, "queue": q})
        check(st == 201, f"interaction: {st} {doc}")
        made.append(doc["id"])
    chats = srv.get_ok("/api/v1/interactions?channel=chat&limit=100", tok)["items"]
    check({i["id"] for i in chats} >= set(made[1:]) and all(i["channel"] == "chat" for i in chats),
          f"channel=chat: {chats}")
    billing = srv.get_ok("/api/v1/interactions?queue=billing", tok)["items"]
    check(made[0] in [i["id"] for i in billing] and all(i["queue"] == "billing" for i in billing),
          f"queue=billing (a reference by its key): {billing}")
    none = srv.get_ok("/api/v1/interactions?queue=no-such-queue", tok)["items"]
    check(none == [], f"a reference to nothing matches nothing: {none}")
    skills = srv.get_ok("/api/v1/skills?name=billing", tok)["items"]
    check([x["name"] for x in skills] == ["billing"], f"skills by name: {skills}")
    st, _, body = srv.request("GET", "/api/v1/interactions?channel=chat&queue=billing", tok)
    bt.check_error(st, body, 400, "bad_request", "two filters")
    st, _, body = srv.request("GET", "/api/v1/interactions?priority=high", tok)
    bt.check_error(st, body, 400, "bad_request", "a value of the wrong type")


def dry_run(srv, tok):
    """?dry_run=1 validates as a write would and stores nothing."""
    flows = len(srv.get_ok("/api/v1/flows?limit=500", tok)["items"])
    good = {"name": "dry-flow", "start": "bye", "nodes": {"bye": {"type": "hangup"}}}
    st, _, got = srv.request("POST", "/api/v1/flows?dry_run=1", tok, body=good)
    check(st == 200 and got["valid"] and got["dry_run"] and got["document"]["name"] == "dry-flow",
          f"a valid flow: {st} {got}")
    bad = {"name": "dry-bad", "start": "menu",
           "nodes": {"menu": {"type": "menu", "prompt": "x", "options": {"1": "nowhere"}}}}
    st, _, got = srv.request("POST", "/api/v1/flows?dry_run=1", tok, body=bad)
    check(st == 422 and "nodes.menu" in str(got), f"a bad flow names its node: {st} {got}")
    check(len(srv.get_ok("/api/v1/flows?limit=500", tok)["items"]) == flows, "nothing stored")
    q = srv.get_ok("/api/v1/queues?name=billing", tok)["items"][0]
    st, _, got = srv.request("PATCH", f"/api/v1/queues/{q['id']}?dry_run=1", tok,
                             body={"priority": 7}, headers={"If-Match": f'"{q["version"]}"'})
    check(st == 200 and got["valid"], f"a patch: {st} {got}")
    again = srv.get_ok(f"/api/v1/queues/{q['id']}", tok)
    check(again["version"] == q["version"] and again["priority"] == q["priority"],
          f"the queue unchanged: {again}")


def audit_order(srv, tok):
    """The audit log newest first, paged back with the cursor."""
    asc = srv.get_ok("/api/v1/audit?limit=500", tok)["items"]
    check(len(asc) >= 3, f"audit entries to page: {len(asc)}")
    page = srv.get_ok("/api/v1/audit?order=desc&limit=2", tok)
    ids = [e["id"] for e in page["items"]]
    check(ids == sorted([e["id"] for e in asc], reverse=True)[:2], f"newest first: {ids}")
    older = srv.get_ok(f"/api/v1/audit?order=desc&limit=2&cursor={page['next_cursor']}", tok)
    check(older["items"][0]["id"] < ids[-1], f"the next page is older: {older['items']}")
    st, _, body = srv.request("GET", "/api/v1/audit?order=sideways", tok)
    bt.check_error(st, body, 400, "bad_request", "an unknown order")


def run():
    with bt.Server() as srv:
        tok = srv.login("admin")
        parts = bt.Sections()
        for name, fn in (
            ("demo lists", demo_lists),
            ("skill lifecycle", skill_lifecycle),
            ("validation", validation),
            ("referenced delete", referenced_delete),
            ("pagination", pagination),
            ("404/405", not_found_and_methods),
            ("write-only fields", write_only),
            ("body checks", bodies),
            ("filters", filters),
            ("dry run", dry_run),
            ("audit order", audit_order),
        ):
            parts.run(name, fn, srv, tok)
        # The API stays healthy after all the refused requests.
        st, _, got = srv.request("GET", "/healthz")
        check(st == 200 and got.get("status") == "ok", f"/healthz after the test: {st} {got!r}")
        srv.stop()
        parts.finish()


if __name__ == "__main__":
    bt.main(run)
