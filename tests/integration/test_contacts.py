"""One customer (docs/contacts.md) on a live server: resolution finds the same contact twice and
for differently written numbers; identities written through the contacts resource are stored in
canonical form (422 naming the field otherwise); a merge moves identities and interactions (the
target's timeline shows both, the source answers `merged_into`) and its undo restores exactly
the state before; a kill -9 right after a merge is acknowledged, and another while merges are
in flight, leave every contact either wholly merged or wholly not; the timeline pages newest
first on a stable cursor while new interactions arrive; RBAC (an agent cannot merge, may edit
notes only of an interaction it handles, only notes and disposition); consent edits are in the
audit log with old and new values; and the time of one timeline page of 50 with 1,000
interactions is printed (not asserted).
"""

import threading
import time

import blendtest as bt
from blendtest import check


def req(srv, method, path, token, body=None, want=200, headers=None):
    st, hdrs, doc = srv.request(method, path, token, body=body, headers=headers)
    check(st == want, f"{method} {path}: expected {want}, got {st}: {doc!r}"[:1500])
    return doc


def resolve(srv, tok, kind, value, want=None, **extra):
    body = dict(kind=kind, value=value, **extra)
    st, _, doc = srv.request("POST", "/api/v1/contacts/resolve", tok, body=body)
    check(st in (200, 201) and (want is None or st == want),
          f"resolve {body}: {st} {doc!r}"[:1000])
    return st, doc


def new_interaction(srv, tok, contact_id, channel="email", queue="email-support"):
    return req(srv, "POST", "/api/v1/interactions", tok,
               {"channel": channel, "direction": "inbound", "queue": queue,
                "contact": contact_id}, want=201)


def values(contact):
    return sorted((i["kind"], i["value"]) for i in contact.get("identities", []))


def timeline_all(srv, tok, cid, limit=50):
    out, cursor = [], None
    for _ in range(1000):
        url = f"/api/v1/contacts/{cid}/timeline?limit={limit}"
        if cursor:
            url += f"&cursor={cursor}"
        page = srv.get_ok(url, tok)
        out += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return out
    raise bt.TestFailure("timeline paging never ended")


def resolution(srv, admin):
    st1, a = resolve(srv, admin, "phone", "010-1234-5678", country_code="82", name="김민지")
    check(st1 == 201 and values(a) == [("phone", "+821012345678")], f"created {a}")
    st2, b = resolve(srv, admin, "phone", "+82 10 1234 5678", want=200)
    check(b["id"] == a["id"], f"normalised duplicate resolved to another contact: {a} {b}")
    st3, c = resolve(srv, admin, "phone", "0082-10-1234-5678", want=200)
    check(c["id"] == a["id"], "00 prefix must resolve to the same contact")
    _, d = resolve(srv, admin, "email", " Minji.Kim@Example.COM ", want=201)
    _, e = resolve(srv, admin, "email", "minji.kim@example.com", want=200)
    check(d["id"] == e["id"] and values(d) == [("email", "minji.kim@example.com")], f"{d} {e}")
    # Refusals name the field.
    for body, field in (({"kind": "phone", "value": "1-800-FLOWERS"}, "value"),
                        ({"kind": "phone", "value": "010-1234-5678"}, "value"),
                        ({"kind": "fax", "value": "1"}, "kind"),
                        ({"kind": "phone", "value": "0101234", "country_code": "0"},
                         "country_code")):
        st, _, err = srv.request("POST", "/api/v1/contacts/resolve", admin, body=body)
        check(st == 422 and bt.error_paths(err) == [field], f"{body}: {st} {err!r}")


def identities_on_write(srv, admin, agent):
    doc = req(srv, "POST", "/api/v1/contacts", agent,
              {"name": "Li Wei", "attributes": {"country_code": "86"},
               "identities": [{"kind": "phone", "value": "138 0013 8000"},
                              {"kind": "social", "value": "WeChat:@LiWei"}]}, want=201)
    check(values(doc) == [("phone", "+8613800138000"), ("social", "wechat:liwei")], f"{doc}")
    st, _, err = srv.request("POST", "/api/v1/contacts", admin,
                             body={"identities": [{"kind": "email", "value": "x@y.cn"},
                                                  {"kind": "phone", "value": "abc"}]})
    check(st == 422 and bt.error_paths(err) == ["identities[1].value"], f"{st} {err!r}")
    # A duplicate in another spelling is the same identity: 409 on the unique pair.
    st, _, err = srv.request("POST", "/api/v1/contacts", admin,
                             body={"identities": [{"kind": "phone",
                                                   "value": "+86 138-0013-8000"}]})
    check(st == 409, f"duplicate identity in another spelling: {st} {err!r}")
    # PATCH normalises with the stored attributes' country code.
    got = req(srv, "PATCH", f"/api/v1/contacts/{doc['id']}", admin,
              {"identities": [{"kind": "phone", "value": "010-6552-9988"}]})
    check(values(got) == [("phone", "+861065529988")], f"patched {got}")


def merge_and_undo(srv, admin, agent):
    _, a = resolve(srv, admin, "phone", "+82 10 5555 0001", name="Park A")
    _, b = resolve(srv, admin, "email", "park@example.kr", name="Park B")
    req(srv, "PATCH", f"/api/v1/contacts/{a['id']}", admin,
        {"attributes": {"tier": "gold", "city": "Seoul"}})
    req(srv, "PATCH", f"/api/v1/contacts/{b['id']}", admin,
        {"attributes": {"tier": "silver", "crm": "77"}})
    ia = [new_interaction(srv, admin, a["id"])["id"] for _ in range(2)]
    ib = [new_interaction(srv, admin, b["id"])["id"] for _ in range(3)]
    before_a = srv.get_ok(f"/api/v1/contacts/{a['id']}", admin)
    before_b = srv.get_ok(f"/api/v1/contacts/{b['id']}", admin)

    st, _, err = srv.request("POST", f"/api/v1/contacts/{a['id']}/merge", agent,
                             body={"from": b["id"]})
    check(st == 403, f"an agent merging: {st} {err!r}")
    st, _, err = srv.request("POST", f"/api/v1/contacts/{a['id']}/merge", admin,
                             body={"from": a["id"]})
    check(st == 422 and bt.error_paths(err) == ["from"], f"self merge: {st} {err!r}")

    m = req(srv, "POST", f"/api/v1/contacts/{a['id']}/merge", admin, {"from": b["id"]}, want=201)
    check(sorted(m["interactions"]) == sorted(ib), f"moved interactions {m}")
    after_a = srv.get_ok(f"/api/v1/contacts/{a['id']}", admin)
    after_b = srv.get_ok(f"/api/v1/contacts/{b['id']}", admin)
    check(values(after_a) == sorted(values(before_a) + values(before_b)), f"{after_a}")
    check(after_a["attributes"] == {"tier": "gold", "city": "Seoul", "crm": "77"},
          f"target wins on conflicts: {after_a['attributes']}")
    check(after_b["merged_into"] == a["id"] and values(after_b) == [], f"source {after_b}")
    for iid in ib:
        check(srv.get_ok(f"/api/v1/interactions/{iid}", admin)["contact"] == a["id"],
              f"interaction {iid} not moved")
    # Resolving the source's identity now finds the target.
    _, r = resolve(srv, admin, "email", "PARK@example.kr", want=200)
    check(r["id"] == a["id"], f"resolve after merge {r}")
    tl = timeline_all(srv, admin, a["id"])
    check(sorted(x["id"] for x in tl) == sorted(ia + ib), f"timeline after merge {tl}")
    st, _, err = srv.request("POST", f"/api/v1/contacts/{a['id']}/merge", admin,
                             body={"from": b["id"]})
    check(st == 409, f"merging a merged contact again: {st} {err!r}")

    audit = srv.list_all("/api/v1/audit", admin)
    check(any(x["action"] == "merge" and x["resource_id"] == a["id"] for x in audit),
          "the merge is not in the audit log")

    u = req(srv, "POST", f"/api/v1/contacts/merges/{m['merge_id']}/undo", admin)
    check(u["state"] == "undone", f"undo {u}")
    undone_a = srv.get_ok(f"/api/v1/contacts/{a['id']}", admin)
    undone_b = srv.get_ok(f"/api/v1/contacts/{b['id']}", admin)
    check(values(undone_a) == values(before_a) and values(undone_b) == values(before_b),
          f"identities after undo {undone_a} {undone_b}")
    check(undone_a["attributes"] == before_a["attributes"], f"attributes {undone_a}")
    check(undone_b["attributes"] == before_b["attributes"], f"attributes {undone_b}")
    check(undone_b["merged_into"] is None, f"source still merged {undone_b}")
    for iid in ib:
        check(srv.get_ok(f"/api/v1/interactions/{iid}", admin)["contact"] == b["id"],
              f"interaction {iid} not moved back")
    for iid in ia:
        check(srv.get_ok(f"/api/v1/interactions/{iid}", admin)["contact"] == a["id"],
              f"interaction {iid} moved though it was not part of the merge")
    st, _, err = srv.request("POST", f"/api/v1/contacts/merges/{m['merge_id']}/undo", admin)
    check(st == 409, f"undo twice: {st} {err!r}")
    st, _, _ = srv.request("POST", "/api/v1/contacts/merges/999999/undo", admin)
    check(st == 404, f"undo of no merge: {st}")


def merge_state(srv, admin, a, b, ib):
    """'merged', 'separate', or a description of a half state."""
    ca = srv.get_ok(f"/api/v1/contacts/{a}", admin)
    cb = srv.get_ok(f"/api/v1/contacts/{b}", admin)
    owners = {srv.get_ok(f"/api/v1/interactions/{i}", admin)["contact"] for i in ib}
    if cb["merged_into"] == a and not cb["identities"] and owners == {a} and \
            len(ca["identities"]) == 2:
        return "merged"
    if cb["merged_into"] is None and len(cb["identities"]) == 1 and owners == {b} and \
            len(ca["identities"]) == 1:
        return "separate"
    return f"HALF: a={ca} b={cb} owners={owners}"


def crash_during_merge(srv, admin):
    pairs = []
    for i in range(8):
        _, a = resolve(srv, admin, "phone", f"+82 10 7000 {i:04d}")
        _, b = resolve(srv, admin, "phone", f"+82 10 8000 {i:04d}")
        ib = [new_interaction(srv, admin, b["id"])["id"] for _ in range(40)]
        pairs.append((a["id"], b["id"], ib))
    # One merge acknowledged, then kill -9: it must survive whole.
    a0, b0, ib0 = pairs[0]
    req(srv, "POST", f"/api/v1/contacts/{a0}/merge", admin, {"from": b0}, want=201)
    srv.kill9()
    srv.start()
    admin = srv.login("admin")
    check(merge_state(srv, admin, a0, b0, ib0) == "merged", "acknowledged merge lost")
    # Merges one after another in a thread; the process dies once two are acknowledged, while
    # the next one is being submitted or committed: each merge is whole or absent.
    results = {}

    def fire():
        for a, b, _ in pairs[1:]:
            try:
                st, _, _ = srv.request("POST", f"/api/v1/contacts/{a}/merge", admin,
                                       body={"from": b}, timeout=10)
                results[a] = st
            except OSError as e:
                results[a] = repr(e)
                return

    t = threading.Thread(target=fire)
    t.start()
    bt.wait_for("two merges acknowledged",
                lambda: sum(1 for v in list(results.values()) if v == 201) >= 2, limit_s=30)
    srv.kill9()
    t.join()
    srv.start()
    admin = srv.login("admin")
    states = []
    for a, b, ib in pairs[1:]:
        s = merge_state(srv, admin, a, b, ib)
        check(not s.startswith("HALF"), f"merge {b}->{a} half done after kill -9: {s}"[:1500])
        if results.get(a) == 201:
            check(s == "merged", f"acknowledged merge {b}->{a} lost")
        states.append(s)
    bt.log(f"after kill -9 during merges: {states} (answers {results})")


def timeline_paging(srv, admin):
    _, c = resolve(srv, admin, "chat", "visitor-paging-1")
    ids = [new_interaction(srv, admin, c["id"], "chat", "chat-support")["id"] for _ in range(25)]
    first = srv.get_ok(f"/api/v1/contacts/{c['id']}/timeline?limit=10", admin)
    got = [x["id"] for x in first["items"]]
    check(got == sorted(ids, reverse=True)[:10], f"first page newest first: {got}")
    # New interactions arrive while the client pages: they are newer than the cursor, so the
    # remaining pages hold exactly the older ones, none twice, none skipped.
    newer = [new_interaction(srv, admin, c["id"], "chat", "chat-support")["id"] for _ in range(5)]
    cursor, rest = first["next_cursor"], []
    while cursor:
        page = srv.get_ok(f"/api/v1/contacts/{c['id']}/timeline?limit=10&cursor={cursor}", admin)
        rest += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
    check(got + rest == sorted(ids, reverse=True), f"pages while arriving: {got + rest}")
    top = srv.get_ok(f"/api/v1/contacts/{c['id']}/timeline?limit=5", admin)
    check([x["id"] for x in top["items"]] == sorted(newer, reverse=True), f"new ones first {top}")
    item = top["items"][0]
    check(isinstance(item["messages"], list) and isinstance(item["recordings"], list),
          f"timeline item shape {item}")
    for bad in ("abc", "123", "12.x", ".5"):
        st, _, _ = srv.request("GET", f"/api/v1/contacts/{c['id']}/timeline?cursor={bad}", admin)
        check(st == 400, f"cursor {bad!r}: {st}")
    st, _, _ = srv.request("GET", "/api/v1/contacts/999999/timeline", admin)
    check(st == 404, f"timeline of no contact: {st}")


def consent_audit(srv, admin, agent):
    _, c = resolve(srv, admin, "email", "consent@example.com")
    req(srv, "PATCH", f"/api/v1/contacts/{c['id']}", agent,
        {"consent": {"sms": True}, "do_not_email": True, "name": "Consent"})
    audit = srv.list_all("/api/v1/audit", admin)
    rows = [x for x in audit if x["action"] == "consent" and x["resource_id"] == c["id"]]
    check(len(rows) == 1, f"consent audit rows {rows}")
    ch = rows[0]["detail"]["changes"]
    check(ch == {"consent.sms": {"old": False, "new": True},
                 "do_not_email": {"old": False, "new": True}}, f"changes {ch}")
    check(rows[0]["actor"] == "minji", f"actor {rows[0]}")
    # A patch that leaves the flags as they are writes no consent entry.
    req(srv, "PATCH", f"/api/v1/contacts/{c['id']}", admin, {"consent": {"sms": True}})
    audit = srv.list_all("/api/v1/audit", admin)
    check(len([x for x in audit if x["action"] == "consent" and x["resource_id"] == c["id"]])
          == 1, "an unchanged flag was audited")


def interaction_notes(srv, admin, agent_tok):
    minji = srv.agent_of_user(admin, "minji")["id"]
    req(srv, "POST", f"/api/v1/agents/{minji}/state", agent_tok, {"state": "ready"})
    mine = req(srv, "POST", "/api/v1/interactions", admin,
               {"channel": "voice", "queue": "billing"}, want=201)
    check(mine["routing"]["agent_id"] == minji, f"offered to minji? {mine['routing']}")
    req(srv, "POST", f"/api/v1/interactions/{mine['id']}/accept", agent_tok)
    other = new_interaction(srv, admin, None)
    path = f"/api/v1/interactions/{mine['id']}"
    got = req(srv, "PATCH", path, agent_tok,
              {"notes": "고객이 환불을 요청함 / 客户要求退款", "disposition": "refund"})
    check(got["notes"].startswith("고객") and got["disposition"] == "refund", f"{got}")
    st, hdrs, err = srv.request("PATCH", f"/api/v1/interactions/{other['id']}", agent_tok,
                                body={"notes": "not mine"})
    check(st == 403 and bt.error_code(err) == "forbidden", f"other's interaction: {st} {err!r}")
    st, _, err = srv.request("PATCH", path, agent_tok, body={"notes": "x", "priority": 5})
    check(st == 422 and bt.error_paths(err) == ["priority"], f"other field: {st} {err!r}")
    st, _, err = srv.request("PATCH", path, admin, body={"notes": "stale"},
                             headers={"If-Match": '"1"'})
    check(st == 412, f"stale If-Match: {st} {err!r}")
    cur = srv.get_ok(path, admin)
    got = req(srv, "PATCH", path, admin, {"notes": "checked by supervisor"},
              headers={"If-Match": f'"{cur["version"]}"'})
    check(got["version"] == cur["version"] + 1, f"version {got}")
    ev = [e for e in bt.events_of(srv, admin, mine["id"]) if e["type"] == "interactions.updated"]
    check(any(e["data"].get("notes") == "checked by supervisor" for e in ev),
          "no interactions.updated event with the note")
    st, _, _ = srv.request("PATCH", path, srv.login("quinn"), body={"notes": "qa"})
    check(st == 403, f"qa patching: {st}")


def timeline_timing(srv, admin):
    _, c = resolve(srv, admin, "phone", "+86 138 0000 1000")
    errors = []

    def make(n):
        for _ in range(n):
            st, _, doc = srv.request("POST", "/api/v1/interactions", admin,
                                     body={"channel": "email", "direction": "inbound",
                                           "queue": "email-support", "contact": c["id"]})
            if st != 201:
                errors.append((st, doc))

    threads = [threading.Thread(target=make, args=(125,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"creating 1,000 interactions: {errors[:3]}")
    url = f"/api/v1/contacts/{c['id']}/timeline?limit=50"
    srv.get_ok(url, admin)  # warm the page cache once
    times, cursor = [], None
    for _ in range(5):
        t0 = time.perf_counter()
        page = srv.get_ok(url + (f"&cursor={cursor}" if cursor else ""), admin)
        times.append((time.perf_counter() - t0) * 1000)
        check(len(page["items"]) == 50, f"page of {len(page['items'])}")
        cursor = page["next_cursor"]
    bt.log(f"timeline page of 50 with 1,000 interactions over HTTP on loopback: "
           f"median {sorted(times)[2]:.1f} ms (min {min(times):.1f}, max {max(times):.1f})")
    allitems = timeline_all(srv, admin, c["id"], limit=100)
    check(len(allitems) == 1000 and len({x["id"] for x in allitems}) == 1000,
          f"timeline holds {len(allitems)} interactions")


def run():
    sections = bt.Sections()
    with bt.Server() as srv:
        admin = srv.login("admin")
        agent = srv.login("minji")
        sections.run("interaction notes", interaction_notes, srv, admin, agent)
        sections.run("resolution", resolution, srv, admin)
        sections.run("identities on write", identities_on_write, srv, admin, agent)
        sections.run("merge and undo", merge_and_undo, srv, admin, agent)
        sections.run("timeline paging", timeline_paging, srv, admin)
        sections.run("consent audit", consent_audit, srv, admin, agent)
        sections.run("timeline timing", timeline_timing, srv, admin)
        # A clean stop: in the sanitizer build a leak makes the exit status non-zero.
        srv.stop()
    with bt.Server() as srv:
        sections.run("kill -9 and merges", crash_during_merge, srv, srv.login("admin"))
    sections.finish()


if __name__ == "__main__":
    bt.main(run)
