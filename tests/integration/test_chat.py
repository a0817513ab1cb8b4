"""The web chat channel (docs/chat-protocol.md) against `blend serve` with the demo, a visitor
played by a WebSocket client of this test:
1. hello -> welcome (online: jiho is ready on chat); the first message is acknowledged once
   stored and opens a conversation routed to jiho; jiho accepts and the visitor sees `state`
   connected with his name; jiho's reply (POST /api/v1/interactions/{id}/messages) reaches the
   visitor; typing and read receipts both ways.
2. A reload (a new socket with the resume token) gets the conversation and its history back.
3. kill -9 with messages acknowledged, restart: the resume works and every acknowledged message
   is in the history, none twice (a message sent again after a lost ack is acknowledged with the
   same id); jiho's reply after the restart reaches the visitor.
4. Bad frames (not JSON, unknown type, text over 4000 bytes, a message before hello) get error
   frames; the connection and the stored conversation are intact.
5. The rate limit: a burst over 10 messages gets `rate_limited` errors, every acked message is
   stored.
6. Files: the visitor sends a picture (POST /api/v1/chat/attachments with its resume token): it
   is stored as a message of the conversation with the file in meta.attachments (its name
   sanitised), echoed to the visitor's socket, and jiho downloads the same bytes; an SVG (415),
   a file over 2 MiB (413), an unknown token (401), no client_id (422) and a foreign origin
   (403) are refused and store nothing.
7. An entry point's own settings: its allowed origins let a shop's page chat on it (and post
   files, with CORS) but not on another entry point; its pre-chat topics send a conversation to
   the topic's queue with the topic's skills; bad origins or skills are refused with 422.
8. The visitor ends the chat: `state` ended, then a rating stored as a `chat.rating` event.
9. Offline: with nobody logged in on chat the welcome says offline and the message left becomes
   a queued interaction.
10. A page from an origin not allowed is refused before the upgrade (403); the server's own
   origin is accepted."""

import base64
import http.client
import json
import time
import uuid

import blendtest as bt
from blendtest import check, wait_for

EP = "web-support"


class Visitor:
    """One socket of a chat visitor; frames that arrive while waiting for another type are kept."""

    def __init__(self, srv, token=None, headers=None, name="Mina Park", email=None, ep=EP,
                 topic="billing", expect_welcome=True):
        self.srv = srv
        self.ws = srv.ws_connect("/api/v1/chat", headers=headers)
        self.kept = []
        hello = {"type": "hello", "entry_point": ep, "name": name, "topic": topic}
        if token:
            hello["resume_token"] = token
        if email:
            hello["email"] = email
        self.send(hello)
        if not expect_welcome:
            return
        self.welcome = self.expect("welcome")
        self.token = self.welcome["resume_token"]

    def send(self, doc):
        self.ws.send_text(json.dumps(doc))

    def expect(self, type_, timeout=15, where=None):
        """The first frame of that type (and matching `where`), kept ones first."""
        for i, f in enumerate(self.kept):
            if f["type"] == type_ and (where is None or where(f)):
                return self.kept.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise bt.TestFailure(f"no {type_} frame (kept: {self.kept[-5:]})")
            try:
                f = self.ws.recv_json(timeout=left)
            except TimeoutError:
                raise bt.TestFailure(f"no {type_} frame in {timeout} s (kept: {self.kept[-5:]})")
            if f["type"] == type_ and (where is None or where(f)):
                return f
            self.kept.append(f)

    def say(self, text, client_id=None):
        cid = client_id or uuid.uuid4().hex[:12]
        self.send({"type": "message", "client_id": cid, "text": text})
        return cid

    def say_acked(self, text):
        """Sends until acknowledged: a rate_limited refusal is answered by sending the same
        message (same client_id) again, as the widget does (bounded by expect's timeout)."""
        cid = self.say(text)
        deadline = time.monotonic() + 15
        while True:
            f = None
            for i, k in enumerate(self.kept):
                if k.get("client_id") == cid and k["type"] in ("ack", "error"):
                    f = self.kept.pop(i)
                    break
            if f is None:
                f = self.ws.recv_json(timeout=max(0.1, deadline - time.monotonic()))
                if f.get("client_id") != cid or f["type"] not in ("ack", "error"):
                    self.kept.append(f)
                    continue
            if f["type"] == "ack":
                return f
            check(f["code"] == "rate_limited", f"message refused: {f}")
            check(time.monotonic() < deadline, "still rate limited after 15 s")
            time.sleep(0.2)  # the bucket refills one message every 200 ms
            self.say(text, client_id=cid)

    def close(self):
        self.ws.close()


def set_state(srv, token, agent_id, state):
    st, _, body = srv.request("POST", f"/api/v1/agents/{agent_id}/state", token,
                              body={"state": state})
    check(st == 200, f"agent {agent_id} -> {state}: {st} {body}")


def messages(srv, admin, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}/messages", admin)["items"]


def conversation(srv, admin, jiho, state):
    v = Visitor(srv)
    check(v.welcome["online"] is True, f"online with jiho ready: {v.welcome}")
    check(v.welcome["conversation"] is None and v.welcome["history"] == [],
          f"a new visitor has no conversation: {v.welcome}")
    check(len(v.token) >= 32, f"resume token: {v.token!r}")
    ack = v.say_acked("Hello, my invoice is wrong")
    iid = ack["conversation"]
    check(isinstance(ack["id"], int) and iid, f"ack: {ack}")
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["channel"] == "chat" and row["queue"] == "chat-support", f"interaction: {row}")
    check(row["contact"], f"a contact was made: {row}")
    contact = srv.get_ok(f"/api/v1/contacts/{row['contact']}", admin)
    check(contact["name"] == "Mina Park" and contact["identities"][0]["kind"] == "chat",
          f"contact: {contact}")
    check(v.token not in json.dumps(contact), "the resume token itself is never stored")
    msgs = messages(srv, admin, iid)
    check([m["body"] for m in msgs] == ["Hello, my invoice is wrong"] and
          msgs[0]["id"] == ack["id"], f"stored: {msgs}")
    wait_for("offer to jiho", lambda: srv.get_ok(f"/api/v1/interactions/{iid}", admin)["state"]
             == "offered")
    offers = [e for e in bt.events_of(srv, admin, iid) if e["type"] == "contact.offered"]
    check(offers and offers[-1]["data"]["agent_id"] == state["jiho_id"],
          f"offered to jiho: {offers}")
    st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/accept", jiho, body={})
    check(st == 200, f"accept: {st} {body}")
    conn = v.expect("state", where=lambda f: f["state"] == "connected")
    check(conn["agent"] and conn["conversation"] == iid, f"connected: {conn}")
    # The agent's reply reaches the visitor.
    st, _, rep = srv.request("POST", f"/api/v1/interactions/{iid}/messages", jiho,
                             body={"body": "Let me check that for you."})
    check(st == 201 and rep["state"] == "sent", f"reply: {st} {rep}")
    m = v.expect("message")["message"]
    check(m["from"] == "agent" and m["text"] == "Let me check that for you." and
          m["id"] == rep["id"] and m["name"] == conn["agent"], f"pushed reply: {m}")
    # Typing, both ways.
    v.send({"type": "typing", "on": True})
    wait_for("visitor typing seen by the agent", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}/chat", jiho)["visitor_typing"])
    v.send({"type": "typing", "on": False})
    wait_for("visitor stopped typing", lambda: not srv.get_ok(
        f"/api/v1/interactions/{iid}/chat", jiho)["visitor_typing"])
    st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/typing", jiho,
                              body={"on": True})
    check(st == 200 and body["delivered"], f"agent typing: {st} {body}")
    t = v.expect("typing")
    check(t["from"] == "agent" and t["on"] is True, f"typing frame: {t}")
    # Read receipts, both ways.
    v.send({"type": "read", "up_to": rep["id"]})
    wait_for("visitor read", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}/chat", jiho)["visitor_read_up_to"] == rep["id"])
    st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/read", jiho,
                              body={"up_to": ack["id"]})
    check(st == 200, f"agent read: {st} {body}")
    r = v.expect("read")
    check(r["by"] == "agent" and r["up_to"] == ack["id"], f"read frame: {r}")
    # Another agent may not act on jiho's conversation.
    david = srv.login("david")
    st, _, _ = srv.request("POST", f"/api/v1/interactions/{iid}/typing", david, body={})
    check(st == 403, f"david on jiho's chat: {st}")
    state.update(visitor=v, iid=iid, first_ack=ack["id"], reply=rep["id"])


def reload(srv, admin, jiho, state):
    state["visitor"].close()
    v = Visitor(srv, token=state["visitor"].token)
    w = v.welcome
    check(w["conversation"] == state["iid"] and w["resume_token"] == state["visitor"].token,
          f"welcome after reload: {w}")
    hist = [(m["from"], m["id"]) for m in w["history"]]
    check(hist == [("visitor", state["first_ack"]), ("agent", state["reply"])],
          f"history: {w['history']}")
    s = v.expect("state")
    check(s["state"] == "connected", f"state after reload: {s}")
    # The agent's event stream shows the visitor's messages of his conversation.
    stream = srv.ws_connect("/api/v1/events", token=jiho)
    ack = v.say_acked("are you still there?")
    deadline = time.monotonic() + 15
    while True:
        check(time.monotonic() < deadline, "no interaction.message on jiho's stream")
        f = stream.recv_json(timeout=max(0.1, deadline - time.monotonic()))
        e = f.get("event") or {}
        if e.get("type") == "interaction.message" and e["data"]["message"] == ack["id"]:
            check(e["data"]["interaction_id"] == state["iid"] and
                  e["data"]["agent_id"] == state["jiho_id"], f"event: {e}")
            break
    stream.close()
    state["visitor"] = v


def crash(srv, admin, jiho, state):
    v = state["visitor"]
    acked = [v.say_acked(f"before the crash {i}")["id"] for i in range(5)]
    # A message sent again with the same client_id (its ack lost): the same id, stored once.
    cid = v.say("sent twice")
    first = v.expect("ack", where=lambda f: f["client_id"] == cid)["id"]
    v.say("sent twice", client_id=cid)
    again = v.expect("ack", where=lambda f: f["client_id"] == cid)["id"]
    check(first == again, f"a message sent again is acknowledged with its id: {first} {again}")
    acked.append(first)
    v.close()
    srv.kill9()
    srv.start()
    v = Visitor(srv, token=v.token)
    w = v.welcome
    check(w["conversation"] == state["iid"], f"conversation after the restart: {w}")
    ids = [m["id"] for m in w["history"]]
    check(all(i in ids for i in acked), f"every acknowledged message kept: {acked} / {ids}")
    check(len(ids) == len(set(ids)) and len([m for m in w["history"]
                                             if m["text"] == "sent twice"]) == 1,
          f"nothing twice: {w['history']}")
    s = v.expect("state")
    check(s["state"] == "connected", f"routing restored the connection: {s}")
    jiho = srv.login("jiho")
    state["jiho"] = jiho
    st, _, rep = srv.request("POST", f"/api/v1/interactions/{state['iid']}/messages", jiho,
                             body={"body": "Back after the restart"})
    check(st == 201, f"reply after the restart: {st} {rep}")
    m = v.expect("message")["message"]
    check(m["id"] == rep["id"], f"pushed after the restart: {m}")
    state["visitor"] = v


def bad_frames(srv, admin, jiho, state):
    v = state["visitor"]
    before = len(messages(srv, admin, state["iid"]))
    v.ws.send_text("this is not json")
    check(v.expect("error")["code"] == "bad_json", "not JSON")
    v.send({"type": "dance"})
    check(v.expect("error")["code"] == "unknown_type", "unknown type")
    v.send({"type": "message", "client_id": "long", "text": "x" * 4001})
    check(v.expect("error")["code"] == "too_long", "over 4000 bytes")
    v.send({"type": "message", "client_id": "blank", "text": "   "})
    check(v.expect("error")["code"] == "bad_field", "blank text")
    v.send({"type": "hello", "entry_point": EP})
    check(v.expect("error")["code"] == "bad_state", "a second hello")
    v.send({"type": "ping"})
    v.expect("pong")
    check(len(messages(srv, admin, state["iid"])) == before, "nothing stored by bad frames")
    ok = v.say_acked("still here")
    check(ok["conversation"] == state["iid"], f"the connection still works: {ok}")
    # A message before hello, and an unknown entry point.
    ws = srv.ws_connect("/api/v1/chat")
    ws.send_text(json.dumps({"type": "message", "client_id": "c", "text": "hi"}))
    check(ws.recv_json()["code"] == "bad_state", "message before hello")
    ws.send_text(json.dumps({"type": "hello", "entry_point": "no-such-address"}))
    check(ws.recv_json()["code"] == "unknown_entry_point", "unknown entry point")
    ws.close()


def rate_limit(srv, admin, jiho, state):
    v = state["visitor"]
    before = len(messages(srv, admin, state["iid"]))
    cids = [v.say(f"flood {i}") for i in range(25)]
    acked, limited = {}, set()
    while len(acked) + len(limited) < len(cids):
        f = v.ws.recv_json()
        if f["type"] == "ack":
            acked[f["client_id"]] = f["id"]
        elif f["type"] == "error" and f["code"] == "rate_limited":
            limited.add(f["client_id"])
        else:
            v.kept.append(f)
    check(limited, "a burst over the limit is refused")
    check(len(acked) <= 10 + 5 * 2, f"at most the burst plus the rate got through: {len(acked)}")
    after = messages(srv, admin, state["iid"])
    check(len(after) == before + len(acked), f"every acked message stored: {len(after)}")
    check(not any(m["meta"].get("client_id") in limited for m in after),
          "no refused message stored")


def download(srv, token, path):
    """(status, headers, raw bytes)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def upload(srv, token, data, filename="receipt.png", content_type="image/png", client_id=None,
           headers=None):
    """POST /api/v1/chat/attachments; a 429 (files share the visitor's message rate) is answered
    by sending again, as the widget does, for up to 15 s."""
    body = {"token": token, "client_id": client_id or uuid.uuid4().hex[:12],
            "file": {"filename": filename, "content_type": content_type,
                     "data": base64.b64encode(data).decode()}}
    deadline = time.monotonic() + 15
    while True:
        st, h, got = srv.request("POST", "/api/v1/chat/attachments", body=body, headers=headers)
        if st != 429 or time.monotonic() > deadline:
            return st, h, got
        time.sleep(0.2)  # the bucket refills one message every 200 ms


def files(srv, admin, jiho, state):
    v, iid = state["visitor"], state["iid"]
    png = bytes.fromhex("89504e470d0a1a0a") + bytes(range(256)) * 8
    own = f"http://{srv.host}:{srv.port}"
    st, h, got = upload(srv, v.token, png, filename="../../영수증 receipt.png",
                        headers={"Origin": own})
    check(st == 201 and got["conversation"] == iid and got["message"]["file"]["size"] == len(png),
          f"upload: {st} {got}")
    check(h.get("Access-Control-Allow-Origin") == own, f"CORS header for the page: {h}")
    echo = v.expect("message", where=lambda f: f["message"]["id"] == got["id"])
    check(echo["message"]["file"]["content_type"] == "image/png", f"echo: {echo}")
    msgs = messages(srv, admin, iid)
    m = [x for x in msgs if x["id"] == got["id"]][0]
    att = m["meta"]["attachments"][0]
    check(att["filename"] == "영수증 receipt.png" and att["size"] == len(png) and
          m["direction"] == "inbound", f"stored: {m}")
    st, h, raw = download(srv, jiho, f"/api/v1/interactions/{iid}/messages/{m['id']}/attachments/0")
    check(st == 200 and raw == png and h["content-type"] == "image/png" and
          h["x-content-type-options"] == "nosniff", f"jiho downloads it: {st} {h}")
    # Refusals: nothing stored for any of them.
    before = len(messages(srv, admin, iid))
    st, _, e = upload(srv, v.token, b"<svg onload=alert(1)>", "x.svg", "image/svg+xml")
    check(st == 415 and e["error"]["code"] == "unsupported_type", f"svg: {st} {e}")
    st, _, e = upload(srv, v.token, b"x" * (2 * 1024 * 1024 + 1), "big.txt", "text/plain")
    check(st == 413, f"over 2 MiB: {st} {e}")
    st, _, e = upload(srv, "not-a-token-of-anyone", png)
    check(st == 401 and e["error"]["code"] == "unknown_visitor", f"unknown token: {st} {e}")
    st, _, e = srv.request("POST", "/api/v1/chat/attachments",
                           body={"token": v.token, "file": {"filename": "a.txt", "data": "eA=="}})
    check(st == 422 and e["error"]["details"][0]["path"] == "client_id", f"no client_id: {st} {e}")
    st, _, e = upload(srv, v.token, b"hello", "a.txt", "text/plain",
                      headers={"Origin": "https://evil.example"})
    check(st == 403, f"foreign origin: {st} {e}")
    check(len(messages(srv, admin, iid)) == before, "a refused file is not stored")


def entry_point_settings(srv, admin, jiho, state):
    """A chat entry point with its own allowed origins and pre-chat topics."""
    st, _, q = srv.request("POST", "/api/v1/queues", admin,
                           body={"name": "chat-korean", "channels": ["chat"]})
    check(st == 201, f"queue: {st} {q}")
    ep = {"name": "web-shop", "channel": "chat", "address": "web-shop", "queue": "chat-support",
          "allowed_origins": "https://shop.example, https://www.shop.example",
          "topics": [{"topic": "한국어 상담", "queue": "chat-korean", "skills": "korean:3"},
                     {"topic": "Other"}]}
    for field, bad, where in (("allowed_origins", "ftp://shop.example", "allowed_origins"),
                              ("topics", [{"topic": "x", "skills": "korean:99"}],
                               "topics[0].skills")):
        st, _, e = srv.request("POST", "/api/v1/entry-points", admin, body={**ep, field: bad})
        check(st == 422 and any(d["path"] == where for d in e["error"]["details"]),
              f"bad {field}: {st} {e}")
    st, _, doc = srv.request("POST", "/api/v1/entry-points", admin, body=ep)
    check(st == 201 and [t["topic"] for t in doc["topics"]] == ["한국어 상담", "Other"],
          f"entry point: {st} {doc}")
    shop = {"Origin": "https://shop.example"}
    # The shop's page may open a socket (its entry point lists it) ...
    v = Visitor(srv, headers=shop, ep="web-shop", topic="한국어 상담")
    check(v.welcome["topics"] == ["한국어 상담", "Other"], f"welcome: {v.welcome}")
    ack = v.say_acked("안녕하세요")
    row = srv.get_ok(f"/api/v1/interactions/{ack['conversation']}", admin)
    check(row["queue"] == "chat-korean" and row["skills"] == {"korean": 3},
          f"the topic's queue and skills: {row}")
    st, h, got = upload(srv, v.token, b"hello", "note.txt", "text/plain", headers=shop)
    check(st == 201 and h.get("Access-Control-Allow-Origin") == "https://shop.example",
          f"a file from the shop's page: {st} {got}")
    v.close()
    # ... but not use another entry point, whose origins are the server's ([chat]).
    other = Visitor(srv, headers=shop, ep=EP, expect_welcome=False)
    e = other.expect("error")
    check(e["code"] == "forbidden_origin", f"the shop's page on web-support: {e}")
    other.close()
    # A topic the entry point does not know keeps its queue.
    v = Visitor(srv, headers=shop, ep="web-shop", topic="something else")
    ack = v.say_acked("hi")
    row = srv.get_ok(f"/api/v1/interactions/{ack['conversation']}", admin)
    check(row["queue"] == "chat-support" and not row.get("skills"), f"unknown topic: {row}")
    v.close()


def end_and_rating(srv, admin, jiho, state):
    v = state["visitor"]
    v.send({"type": "end"})
    s = v.expect("state", where=lambda f: f["state"] == "ended")
    check(s["conversation"] == state["iid"], f"ended: {s}")
    row = srv.get_ok(f"/api/v1/interactions/{state['iid']}", admin)
    check(row["state"] in ("wrap_up", "ended") and row["ended_at"], f"row after end: {row}")
    v.send({"type": "rating", "rating": 5, "comment": "quick and kind"})
    v.expect("rated")
    v.send({"type": "rating", "rating": 1})
    check(v.expect("error")["code"] == "already_rated", "one rating per conversation")
    evs = [e for e in srv.event_log(admin) if e["type"] == "chat.rating"]
    check(len(evs) == 1 and evs[0]["data"]["value"] == 5 and
          evs[0]["data"]["interaction_id"] == state["iid"] and
          evs[0]["subject"] == f"interactions/{state['iid']}", f"rating event: {evs}")
    # After the end, a new message opens a new conversation.
    ack = v.say_acked("one more question")
    check(ack["conversation"] != state["iid"], f"a new conversation: {ack}")
    v.send({"type": "end"})
    v.expect("state", where=lambda f: f["state"] == "ended")
    v.close()


def offline(srv, admin, jiho, state):
    st, _, body = srv.request("POST", f"/api/v1/agents/{state['jiho_id']}/wrapup-end", jiho)
    wait_for("jiho out of wrap-up", lambda: srv.get_ok(
        f"/api/v1/agents/{state['jiho_id']}/state", admin)["state"] != "wrap-up")
    set_state(srv, state["jiho"], state["jiho_id"], "logged-out")
    v = Visitor(srv, name="Night Owl", email="owl@example.com")
    check(v.welcome["online"] is False, f"offline with nobody on chat: {v.welcome}")
    ack = v.say_acked("Please call me back tomorrow")
    row = srv.get_ok(f"/api/v1/interactions/{ack['conversation']}", admin)
    check(row["state"] == "queued" and row["channel"] == "chat", f"left message queued: {row}")
    msgs = messages(srv, admin, row["id"])
    check(msgs[0]["meta"].get("offline") is True, f"marked offline: {msgs}")
    contact = srv.get_ok(f"/api/v1/contacts/{row['contact']}", admin)
    check(contact["attributes"].get("chat_email") == "owl@example.com" and
          all(i["kind"] != "email" for i in contact["identities"]),
          f"the email given is kept, not made an identity: {contact}")
    s = v.expect("state")
    check(s["state"] == "queued" and s["position"] >= 1, f"queued: {s}")
    v.close()


def origins(srv, admin, jiho, state):
    try:
        ws = srv.ws_connect("/api/v1/chat", headers={"Origin": "https://evil.example"})
        ws.close()
        raise bt.TestFailure("a foreign origin was accepted")
    except bt.WSRefused as e:
        check(e.status == 403, f"foreign origin: {e.status}")
    v = Visitor(srv, headers={"Origin": f"http://127.0.0.1:{srv.port}"})
    v.close()
    st, _, info = srv.request("GET", "/api/v1/chat")
    check(st == 200 and info["websocket"] == "/api/v1/chat", f"GET /api/v1/chat: {st} {info}")


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        jiho = srv.login("jiho")
        jiho_id = srv.agent_of_user(admin, "jiho")["id"]
        set_state(srv, jiho, jiho_id, "ready")
        state = {"jiho_id": jiho_id, "jiho": jiho}
        parts = bt.Sections()
        parts.run("conversation", conversation, srv, admin, jiho, state)
        if "iid" in state:
            parts.run("reload", reload, srv, admin, jiho, state)
            parts.run("kill -9 and resume", crash, srv, admin, jiho, state)
            parts.run("bad frames", bad_frames, srv, admin, state["jiho"], state)
            parts.run("rate limit", rate_limit, srv, admin, state["jiho"], state)
            parts.run("files", files, srv, admin, state["jiho"], state)
            parts.run("entry point settings", entry_point_settings, srv, admin, state["jiho"],
                      state)
            parts.run("end and rating", end_and_rating, srv, admin, state["jiho"], state)
            parts.run("offline", offline, srv, admin, state["jiho"], state)
        parts.run("origins", origins, srv, admin, jiho, state)
        parts.run("clean stop", srv.stop)  # exit 0 after SIGTERM (leak-checked under ASan)
        parts.finish()


if __name__ == "__main__":
    bt.main(run)
