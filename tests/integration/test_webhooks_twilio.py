"""The webhook channel's SMS preset `twilio` (docs/webhooks.md, ADR 0018) against `blend serve`,
with the SMS provider played by this test: it signs its form posts the provider's way
(X-Twilio-Signature = Base64(HMAC-SHA1(auth token, public URL + path + the fields sorted by name,
each name followed by its value))) and its Messages endpoint is an HTTP server of the test that
reads Blend's form posts, checks their Basic auth, and can be made to fail.
1. A signed inbound form post opens a conversation: the sender in E.164, the SMS queue, the
   answer an empty TwiML document; an MMS keeps its media URLs; a second message joins.
2. A missing or wrong signature, a signature over another URL or over other fields: 401 with a
   JSON body and nothing stored; a replayed MessageSid is answered as a duplicate, stored once;
   a form without From gets 422 naming From.
3. The agent's reply reaches the provider form-encoded (To, From, Body, StatusCallback) with
   Basic auth; its sid becomes the reply's message_id.
4. The provider answers 503 then 201: the reply reaches it exactly once; a signed status
   callback marks it delivered, a late "sent" does not take that back, an unsigned one gets 401,
   an unknown MessageSid 404; "undelivered" fails a reply; a 400 from the provider fails one."""

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import blendtest as bt
from blendtest import check, wait_for

SECRET = "webhook-test-secret-0123456789"
SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-0123456789"
PUBLIC = "https://blend.example.com"
FROM = "+8215880000"
INBOUND = "/api/v1/channels/sms/messages"
STATUS = "/api/v1/channels/sms/status"


def twilio_signature(url, fields, token=AUTH_TOKEN):
    data = url + "".join(k + fields[k] for k in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Provider:
    """The provider's Messages endpoint: records the form posts it took, fails on demand."""

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
                with outer.lock:
                    if outer.fail_next > 0:
                        outer.fail_next -= 1
                        self.send_response(outer.fail_code)
                        self.end_headers()
                        return
                    fields = urllib.parse.parse_qs(body.decode(), keep_blank_values=True,
                                                   strict_parsing=True)
                    outer.taken.append({"path": self.path, "fields": fields,
                                        "type": self.headers.get("Content-Type"),
                                        "auth": self.headers.get("Authorization")})
                    sid = f"SMout{len(outer.taken):04d}"
                out = json.dumps({"sid": sid, "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def post_form(srv, path, fields, signature=None, url=None):
    """Posts fields form-encoded, signed over PUBLIC + path unless told otherwise."""
    body = urllib.parse.urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    sig = twilio_signature(url or PUBLIC + path, fields) if signature is None else signature
    if sig != "":
        headers["X-Twilio-Signature"] = sig
    return srv.request("POST", path, headers=headers, raw=body)


def inbound_fields(sid, frm, text, **more):
    f = {"MessageSid": sid, "AccountSid": SID, "From": frm, "To": FROM, "Body": text,
         "NumMedia": "0", "ApiVersion": "2010-04-01"}
    f.update(more)
    return f


def messages(srv, tok, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}/messages", tok)["items"]


def run():
    prov = Provider()
    conf = ("[webhook]\n"
            f"secret = {SECRET}\n"
            "sms_queue = sms-support\n"
            "country_code = 82\n"
            "sms_preset = twilio\n"
            f"public_url = {PUBLIC}/\n"
            f"account_sid = {SID}\n"
            f"auth_token = {AUTH_TOKEN}\n"
            f"sms_from = {FROM}\n"
            f"sms_provider_url = http://127.0.0.1:{prov.port}/2010-04-01/Accounts/{SID}"
            "/Messages.json\n")
    try:
        with bt.Server(extra_config=conf) as srv:
            admin = srv.login("admin")
            st, _, q = srv.request("POST", "/api/v1/queues", admin,
                                   body={"name": "sms-support", "channels": ["sms"]})
            check(st == 201, f"queue: {st} {q}")
            did = srv.agent_of_user(admin, "david")["id"]
            agent = srv.get_ok(f"/api/v1/agents/{did}", admin)
            cap = dict(agent["capacity"])
            cap.update({"sms": 3})
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
            parts.run("inbound form post", inbound, srv, admin, david, state)
            parts.run("signatures and replays", refusals, srv, admin, state)
            parts.run("reply to the provider", reply, srv, prov, david, state)
            parts.run("outage and status callbacks", outage, srv, prov, david, state)
            parts.finish()
            srv.stop()
    finally:
        prov.close()


def inbound(srv, admin, david, state):
    st, hdrs, body = post_form(srv, INBOUND, inbound_fields(
        "SM0001", "010-5555-1234", "배송이 언제 되나요? a+b=c & d"))
    check(st == 200 and hdrs.get("Content-Type", "").startswith("text/xml")
          and "<Response/>" in str(body), f"TwiML answer: {st} {hdrs} {body}")
    iid = int(hdrs.get("X-Blend-Interaction-Id", "0"))
    check(iid > 0, f"interaction id header: {hdrs}")
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["channel"] == "sms" and row["address"] == "+821055551234" and row["contact"]
          and row["queue"] == "sms-support", f"row: {row}")
    contact = srv.get_ok(f"/api/v1/contacts/{row['contact']}", admin)
    check(any(i["kind"] == "sms" and i["value"] == "+821055551234"
              for i in contact["identities"]), f"contact: {contact}")
    wait_for("offered to david", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/accept", david, body={})
    check(st == 200, f"accept: {st} {resp}")
    # An MMS joins the open conversation with its media URLs kept.
    st, hdrs, body = post_form(srv, INBOUND, inbound_fields(
        "MM0002", "+821055551234", "사진", NumMedia="1",
        MediaUrl0="https://api.example/media/ME1", MediaContentType0="image/jpeg"))
    check(st == 200 and int(hdrs.get("X-Blend-Interaction-Id", "0")) == iid,
          f"joins the conversation: {st} {hdrs} {body}")
    msgs = messages(srv, david, iid)
    check([m["body"] for m in msgs] == ["배송이 언제 되나요? a+b=c & d", "사진"],
          f"messages: {msgs}")
    check(msgs[0]["meta"].get("preset") == "twilio" and msgs[0]["meta"].get("to") == FROM
          and msgs[0]["source"] == "sms:SM0001", f"first message: {msgs[0]}")
    check(msgs[1]["meta"].get("media") == ["https://api.example/media/ME1"],
          f"media kept: {msgs[1]}")
    state["iid"] = iid


def refusals(srv, admin, state):
    iid = state["iid"]
    before = len(messages(srv, admin, iid))
    total_before = len(srv.list_all("/api/v1/interactions", admin))
    fresh = inbound_fields("SM0003", "+821099998888", "x")
    cases = [
        ("no signature", dict(signature="")),
        ("a wrong signature", dict(signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        ("signed over another URL", dict(url="https://evil.example.com" + INBOUND)),
        ("signed with another token",
         dict(signature=twilio_signature(PUBLIC + INBOUND, fresh, token="another-token"))),
    ]
    for what, kw in cases:
        st, hdrs, body = post_form(srv, INBOUND, fresh, **kw)
        check(st == 401 and isinstance(body, dict) and body["error"]["code"] in
              ("unsigned", "bad_signature"), f"{what}: {st} {body}")
    # Fields changed after signing: the signature covers them.
    sig = twilio_signature(PUBLIC + INBOUND, fresh)
    tampered = dict(fresh, Body="changed")
    st, _, body = post_form(srv, INBOUND, tampered, signature=sig)
    check(st == 401 and body["error"]["code"] == "bad_signature", f"tampered: {st} {body}")
    check(len(srv.list_all("/api/v1/interactions", admin)) == total_before,
          "no conversation opened by the refusals")
    # A replay of a message already stored: a duplicate, answered the provider's way.
    st, hdrs, body = post_form(srv, INBOUND, inbound_fields("SM0001", "+821055551234", "again"))
    check(st == 200 and hdrs.get("X-Blend-Duplicate") == "true" and "<Response/>" in str(body),
          f"replay: {st} {hdrs} {body}")
    # Signed but without a sender: 422 naming the provider's field.
    no_from = {k: v for k, v in inbound_fields("SM0004", "x", "y").items() if k != "From"}
    st, _, body = post_form(srv, INBOUND, no_from)
    check(st == 422 and "From" in body["error"]["message"], f"no From: {st} {body}")
    check(len(messages(srv, admin, iid)) == before, "nothing stored by the refusals")


def reply(srv, prov, david, state):
    iid = state["iid"]
    st, _, r = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                           body={"body": "내일 도착합니다. 1+1=2 & 감사합니다"})
    check(st == 201 and r["state"] == "queued", f"queued: {st} {r}")
    sent = wait_for("sent", lambda: [m for m in messages(srv, david, iid)
                                     if m["id"] == r["id"] and m["state"] == "sent"])[0]
    check(len(prov.taken) == 1, f"the provider took one: {prov.taken}")
    t = prov.taken[0]
    basic = "Basic " + base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
    check(t["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
          and t["type"] == "application/x-www-form-urlencoded" and t["auth"] == basic,
          f"posted to the Messages endpoint with Basic auth: {t}")
    check(t["fields"] == {"To": ["+821055551234"], "From": [FROM],
                          "Body": ["내일 도착합니다. 1+1=2 & 감사합니다"],
                          "StatusCallback": [PUBLIC + STATUS]}, f"the fields: {t['fields']}")
    check(sent["message_id"] == "SMout0001", f"the provider's sid kept: {sent}")
    state["first"] = r["id"]


def status(srv, sid, value, signature=None):
    return post_form(srv, STATUS, {"MessageSid": sid, "MessageStatus": value, "AccountSid": SID},
                     signature=signature)


def outage(srv, prov, david, state):
    iid = state["iid"]
    before = len(prov.taken)
    prov.fail_next, prov.fail_code = 1, 503
    st, _, r = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                           body={"body": "second"})
    check(st == 201, f"queued: {st} {r}")
    wait_for("a failed attempt counted", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r["id"] and m["attempts"] >= 1])
    sent = wait_for("taken after the outage", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r["id"] and m["state"] == "sent"],
        limit_s=40)[0]
    bodies = [t["fields"]["Body"] for t in prov.taken[before:]]
    check(bodies == [["second"]], f"exactly once: {bodies}")
    # Status callbacks, signed the provider's way.
    st, _, body = status(srv, sent["message_id"], "delivered", signature="")
    check(st == 401, f"unsigned status: {st} {body}")
    st, _, body = status(srv, sent["message_id"], "delivered", signature="x" * 28)
    check(st == 401 and body["error"]["code"] == "bad_signature", f"wrong status sig: {st} {body}")
    got = [m for m in messages(srv, david, iid) if m["id"] == r["id"]][0]
    check(got["state"] == "sent", f"still sent after the refused callbacks: {got}")
    st, _, body = status(srv, sent["message_id"], "delivered")
    check(st == 200 and body.get("recorded") is True, f"delivered: {st} {body}")
    got = [m for m in messages(srv, david, iid) if m["id"] == r["id"]][0]
    check(got["state"] == "delivered", f"delivered: {got}")
    st, _, body = status(srv, sent["message_id"], "sent")
    check(st == 200 and body.get("recorded") is False, f"late sent: {st} {body}")
    got = [m for m in messages(srv, david, iid) if m["id"] == r["id"]][0]
    check(got["state"] == "delivered", f"a late sent does not take it back: {got}")
    st, _, body = status(srv, "SMnever", "delivered")
    check(st == 404, f"unknown MessageSid: {st} {body}")
    first = [m for m in messages(srv, david, iid) if m["id"] == state["first"]][0]
    st, _, body = status(srv, first["message_id"], "undelivered")
    check(st == 200, f"undelivered: {st} {body}")
    first = [m for m in messages(srv, david, iid) if m["id"] == state["first"]][0]
    check(first["state"] == "failed", f"undelivered fails it: {first}")
    # A 400 from the provider (say, a number it cannot reach): failed for good.
    prov.fail_next, prov.fail_code = 1, 400
    st, _, r2 = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                            body={"body": "refused"})
    check(st == 201, f"queued: {st} {r2}")
    wait_for("failed for good", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == r2["id"] and m["state"] == "failed"])
    prov.fail_code = 503


if __name__ == "__main__":
    bt.main(run)
