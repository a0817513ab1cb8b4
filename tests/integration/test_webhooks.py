"""The webhook channel for SMS and social messages (docs/webhooks.md), with a provider played by
an HTTP server in this test (it receives Blend's replies, checks their signature, and can be
made to fail), against `blend serve`:
1. Signed inbound SMS: a national number is normalised to E.164, a contact is made, the
   conversation is routed to the agent with SMS capacity; the 200 comes with the stored ids;
   a second message joins the open conversation.
2. Signature failures (none, wrong, stale timestamp) get 401 and store nothing; a replayed
   message id is answered as a duplicate and stored once; a bad body gets 422.
3. The agent replies: the provider receives it signed, with the bearer token; its id comes back
   as the reply's message_id; a status callback marks it delivered.
4. The provider fails (503) three times, then recovers: the reply stays queued with its attempts
   counted and reaches the provider exactly once; a 400 from the provider fails it for good.
5. A social direct message opens a conversation in the social queue; a public post keeps its
   URL on the message; the agent's reply to the post goes out as a public reply (kind "post",
   reply_to the post's id and URL), the reply to the direct message as a direct message."""

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import blendtest as bt
from blendtest import check, wait_for

SECRET = "webhook-test-secret-0123456789"
TOKEN = "provider-token-42"


def sign(ts, body):
    return "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body,
                                hashlib.sha256).hexdigest()


class Provider:
    """The SMS provider's send endpoint: records what it took, fails on demand."""

    def __init__(self):
        self.taken = []
        self.fail_next = 0
        self.fail_code = 503
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ts = self.headers.get("X-Blend-Timestamp", "")
                ok_sig = self.headers.get("X-Blend-Signature") == sign(ts, body)
                ok_auth = self.headers.get("Authorization") == f"Bearer {TOKEN}"
                with outer.lock:
                    if outer.fail_next > 0:
                        outer.fail_next -= 1
                        self.send_response(outer.fail_code)
                        self.end_headers()
                        return
                    doc = json.loads(body)
                    outer.taken.append({"doc": doc, "sig": ok_sig, "auth": ok_auth})
                    pid = f"prov-{len(outer.taken)}"
                out = json.dumps({"id": pid}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def post_signed(srv, path, doc, ts=None, signature=None):
    body = json.dumps(doc).encode()
    ts = str(int(time.time())) if ts is None else ts
    headers = {"Content-Type": "application/json", "X-Blend-Timestamp": ts,
               "X-Blend-Signature": signature if signature is not None else sign(ts, body)}
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", data=body,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def messages(srv, tok, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}/messages", tok)["items"]


def run():
    prov = Provider()
    conf = ("[webhook]\n"
            f"secret = {SECRET}\n"
            f"provider_url = http://127.0.0.1:{prov.port}/send\n"
            f"provider_token = {TOKEN}\n"
            "sms_queue = sms-support\n"
            "social_queue = sms-support\n"
            "country_code = 82\n")
    try:
        with bt.Server(extra_config=conf) as srv:
            admin = srv.login("admin")
            # A queue for SMS and social; David takes them.
            st, _, q = srv.request("POST", "/api/v1/queues", admin,
                                   body={"name": "sms-support", "channels": ["sms", "social"]})
            check(st == 201, f"queue: {st} {q}")
            did = srv.agent_of_user(admin, "david")["id"]
            agent = srv.get_ok(f"/api/v1/agents/{did}", admin)
            cap = dict(agent["capacity"])
            cap.update({"sms": 3, "social": 3})
            st, _, a = srv.request("PATCH", f"/api/v1/agents/{did}", admin,
                                   body={"capacity": cap},
                                   headers={"If-Match": f'"{agent["version"]}"'})
            check(st == 200, f"david takes SMS: {st} {a}")
            david = srv.login("david")
            st, _, _ = srv.request("POST", f"/api/v1/agents/{did}/state", david,
                                   body={"state": "ready"})
            check(st == 200, "david ready")
            parts = bt.Sections()
            state = {}
            parts.run("inbound SMS", inbound, srv, admin, david, state)
            parts.run("signatures and replays", refusals, srv, admin, state)
            parts.run("reply and status", reply, srv, prov, david, state)
            parts.run("provider outage", outage, srv, prov, david, state)
            parts.run("social", social, srv, admin, prov, david)
            parts.finish()
            srv.stop()
    finally:
        prov.close()


def inbound(srv, admin, david, state):
    st, got = post_signed(srv, "/api/v1/channels/sms/messages",
                          {"id": "sm-1", "from": "010-5555-1234", "to": "+8215880000",
                           "text": "배송이 언제 되나요?"})
    check(st == 200 and got["stored"] and got["interaction_id"] > 0, f"stored: {st} {got}")
    iid = got["interaction_id"]
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["channel"] == "sms" and row["address"] == "+821055551234" and row["contact"],
          f"row: {row}")
    contact = srv.get_ok(f"/api/v1/contacts/{row['contact']}", admin)
    check(any(i["kind"] == "sms" and i["value"] == "+821055551234"
              for i in contact["identities"]), f"contact: {contact}")
    wait_for("offered to david", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/accept", david, body={})
    check(st == 200, f"accept: {st} {resp}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages",
                          {"id": "sm-2", "from": "+82 10 5555 1234", "text": "주문번호 7"})
    check(st == 200 and got["interaction_id"] == iid, f"joins the conversation: {st} {got}")
    msgs = messages(srv, david, iid)
    check([m["body"] for m in msgs] == ["배송이 언제 되나요?", "주문번호 7"], f"messages: {msgs}")
    state["iid"] = iid


def refusals(srv, admin, state):
    before = len(messages(srv, admin, state["iid"]))
    doc = {"id": "sm-3", "from": "01055551234", "text": "x"}
    st, got = post_signed(srv, "/api/v1/channels/sms/messages", doc, signature="")
    check(st == 401, f"no signature: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages", doc,
                          signature="sha256=" + "0" * 64)
    check(st == 401 and got["error"]["code"] == "bad_signature", f"wrong: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages", doc,
                          ts=str(int(time.time()) - 3600))
    check(st == 401 and got["error"]["code"] == "stale", f"stale: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages",
                          {"id": "sm-2", "from": "01055551234", "text": "replayed"})
    check(st == 200 and got.get("duplicate"), f"replay: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages", {"id": "sm-4", "text": "x"})
    check(st == 422, f"no sender: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/messages",
                          {"id": "sm-5", "from": "call me", "text": "x"})
    check(st == 422 and "from" in got["error"]["message"], f"not a number: {st} {got}")
    st, got = post_signed(srv, "/api/v1/channels/fax/messages", doc)
    check(st == 404, f"no fax channel: {st} {got}")
    check(len(messages(srv, admin, state["iid"])) == before, "nothing stored by the refusals")


def reply(srv, prov, david, state):
    iid = state["iid"]
    st, _, r = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                           body={"body": "내일 도착합니다."})
    check(st == 201 and r["state"] == "queued", f"queued: {st} {r}")
    sent = wait_for("sent", lambda: [m for m in messages(srv, david, iid)
                                     if m["id"] == r["id"] and m["state"] == "sent"])[0]
    check(len(prov.taken) == 1, f"the provider took one: {prov.taken}")
    t = prov.taken[0]
    check(t["sig"] and t["auth"] and t["doc"]["to"] == "+821055551234"
          and t["doc"]["text"] == "내일 도착합니다." and t["doc"]["reference"] == r["id"],
          f"what the provider got: {t}")
    check(sent["message_id"] == "prov-1", f"the provider's id kept: {sent}")
    st, got = post_signed(srv, "/api/v1/channels/sms/status", {"id": "prov-1",
                                                               "status": "delivered"})
    check(st == 200, f"status: {st} {got}")
    got = [m for m in messages(srv, david, iid) if m["id"] == r["id"]][0]
    check(got["state"] == "delivered", f"delivered: {got}")
    st, got = post_signed(srv, "/api/v1/channels/sms/status", {"id": "nope", "status": "failed"})
    check(st == 404, f"unknown provider id: {st} {got}")


def outage(srv, prov, david, state):
    iid = state["iid"]
    before = len(prov.taken)
    prov.fail_next = 3
    st, _, r = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                           body={"body": "second"})
    check(st == 201, f"queued: {st} {r}")
    wait_for("a failed attempt counted", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r["id"] and m["attempts"] >= 1
        and m["state"] == "queued"])
    wait_for("taken after the outage", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r["id"] and m["state"] == "sent"],
        limit_s=40)
    texts = [t["doc"]["text"] for t in prov.taken[before:]]
    check(texts == ["second"], f"exactly once: {texts}")
    prov.fail_next, prov.fail_code = 1, 400
    st, _, r2 = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                            body={"body": "refused"})
    check(st == 201, f"queued: {st} {r2}")
    wait_for("failed for good", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r2["id"] and m["state"] == "failed"])
    prov.fail_code = 503


def accept_and_reply(srv, prov, admin, david, iid, text):
    wait_for("offered to david", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/accept", david, body={})
    check(st == 200, f"accept: {st} {resp}")
    st, _, r = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                           body={"body": text})
    check(st == 201, f"queued: {st} {r}")
    wait_for("sent", lambda: [m for m in messages(srv, david, iid)
                              if m["id"] == r["id"] and m["state"] == "sent"])
    return [t["doc"] for t in prov.taken if t["doc"]["reference"] == r["id"]]


def social(srv, admin, prov, david):
    st, got = post_signed(srv, "/api/v1/channels/social/messages",
                          {"id": "dm-1", "network": "x", "author": "@Kim_Seoul", "kind": "dm",
                           "text": "안녕하세요", "name": "Kim"})
    check(st == 200 and got["stored"], f"stored: {st} {got}")
    dm_iid = got["interaction_id"]
    row = srv.get_ok(f"/api/v1/interactions/{dm_iid}", admin)
    check(row["channel"] == "social" and row["address"] == "x:kim_seoul", f"row: {row}")
    taken = accept_and_reply(srv, prov, admin, david, dm_iid, "DM으로 답합니다")
    check(len(taken) == 1 and taken[0]["kind"] == "dm" and "reply_to" not in taken[0]
          and taken[0]["to"] == "x:kim_seoul", f"a direct message back: {taken}")
    url = "https://x.example/lee_busan/status/9001"
    st, got = post_signed(srv, "/api/v1/channels/social/messages",
                          {"id": "9001", "network": "x", "author": "@lee_busan", "kind": "post",
                           "text": "@shop 환불은 언제?", "url": url})
    check(st == 200 and got["stored"], f"post stored: {st} {got}")
    post_iid = got["interaction_id"]
    msg = messages(srv, admin, post_iid)[0]
    check(msg["meta"]["url"] == url and msg["meta"]["kind"] == "post"
          and msg["meta"]["author"] == "@lee_busan", f"the post's URL kept: {msg}")
    taken = accept_and_reply(srv, prov, admin, david, post_iid, "DM 주시면 확인해 드릴게요")
    check(len(taken) == 1 and taken[0]["kind"] == "post" and taken[0]["reply_to"] == "9001"
          and taken[0]["reply_to_url"] == url and taken[0]["network"] == "x",
          f"a public reply to the post: {taken}")
    st, got = post_signed(srv, "/api/v1/channels/social/messages",
                          {"id": "dm-2", "network": "x", "author": "kim", "kind": "story",
                           "text": "x"})
    check(st == 422, f"a kind that is not post or dm: {st} {got}")


if __name__ == "__main__":
    bt.main(run)
