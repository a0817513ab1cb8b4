"""Several mailboxes, attachments and signatures on real mail servers (docs/email.md; the
servers are mailservers.py's: Dovecot with three users, OpenSMTPD into one maildir).
1. Three mailboxes: [email] (support), [email.sales] (its own user and queue) and
   [email.broken] (a wrong password). Mail to support and to sales opens conversations in their
   own queues; the broken mailbox does not hold the others up; /metrics shows each mailbox's
   state (blend_email_mailbox_up) and its count of messages.
2. An inbound mail with a PDF and an HTML attachment: both download byte-identical through
   GET .../messages/{mid}/attachments/{n} with Content-Disposition (RFC 5987 name), nosniff and
   a sandbox CSP; the HTML one as application/octet-stream. Another agent gets 403; a wrong
   index, message or interaction 404; a file gone from disk 410.
3. David (with a signature of his own) replies to the support conversation with a file: the
   delivered mail comes from support@, carries the file byte for byte (parsed with Python's
   email package) and ends with his signature. The reply's meta.attachments names the file.
   Bad attachments are refused (422: not base64, 11 files).
4. The reply to the sales conversation leaves from sales@ (the mailbox it came through)."""

import base64
import hashlib
import http.client
import os
import re
import urllib.parse

import blendtest as bt
from blendtest import check, wait_for
from mailservers import CUSTOMER, MAILBOX_PASS, MAILBOX_USER, MailServers
from test_email import email_interactions, messages, raw

SALES_USER = "sales@blend.test"
SALES_PASS = "sales-pass-1"
BROKEN_USER = "broken@blend.test"
SIGNATURE = "David Park\nBilling team · 청구팀"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
HTML = b"<html><body><script>alert(1)</script>hi</body></html>"


def config(ms):
    return ("[email]\n"
            f"imap_url = imap://127.0.0.1:{ms.imap_port}/INBOX\n"
            f"username = {MAILBOX_USER}\n"
            f"password = {MAILBOX_PASS}\n"
            "poll_s = 1\n"
            "queue = email-support\n"
            f"smtp_url = smtp://127.0.0.1:{ms.smtp_port}\n"
            "from = support@blend.test\n"
            "from_name = \"Blend Support\"\n"
            "[email.broken]\n"
            f"imap_url = imap://127.0.0.1:{ms.imap_port}/INBOX\n"
            f"username = {BROKEN_USER}\n"
            "password = wrong-password\n"
            "poll_s = 1\n"
            "queue = email-support\n"
            "from = broken@blend.test\n"
            "[email.sales]\n"
            f"imap_url = imap://127.0.0.1:{ms.imap_port}/INBOX\n"
            f"username = {SALES_USER}\n"
            f"password = {SALES_PASS}\n"
            "poll_s = 1\n"
            "queue = email-sales\n"
            "from = sales@blend.test\n"
            "from_name = \"Blend Sales\"\n")


def with_files(headers, text, files):
    """A multipart/mixed message: the text, then (filename, content_type, bytes) parts."""
    b = "b0undary-xyz"
    out = "\r\n".join(f"{k}: {v}" for k, v in headers) + "\r\n"
    out += f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n"
    out += f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    for name, ctype, data in files:
        enc = base64.encodebytes(data).decode().replace("\n", "\r\n")
        out += (f"--{b}\r\nContent-Type: {ctype}\r\n"
                f"Content-Disposition: attachment; filename*=UTF-8''{urllib.parse.quote(name)}\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{enc}")
    out += f"--{b}--\r\n"
    return out.encode()


def text_of(m):
    """The text of a delivered mail, single part or multipart/mixed."""
    return m.get_body(("plain",)).get_content()


def download(srv, token, path):
    """(status, headers, raw bytes): blendtest decodes some bodies as text."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def mailbox_metrics(srv):
    """{(family, mailbox): value} of the email series in /metrics."""
    st, _, text = srv.request("GET", "/metrics")
    check(st == 200, f"/metrics: {st}")
    out = {}
    for m in re.finditer(r'^(blend_email_\w+)\{mailbox="([^"]*)"\} (\S+)$', text, re.M):
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def run():
    ms = MailServers({MAILBOX_USER: MAILBOX_PASS, SALES_USER: SALES_PASS,
                      BROKEN_USER: "the-real-password"})
    try:
        with bt.Server(extra_config=config(ms)) as srv:
            admin = srv.login("admin")
            david = srv.login("david")
            did = srv.agent_of_user(admin, "david")["id"]
            st, _, resp = srv.request("POST", "/api/v1/queues", admin, body={
                "name": "email-sales", "channels": ["email"],
                "skills": [{"skill": "billing", "min_proficiency": 1}],
                "offer_timeout_s": 120})
            check(st == 201, f"the sales queue: {st} {resp}")
            agent = srv.get_ok(f"/api/v1/agents/{did}", admin)
            st, _, resp = srv.request("PATCH", f"/api/v1/agents/{did}", admin,
                                      body={"signature": SIGNATURE},
                                      headers={"If-Match": f'"{agent["version"]}"'})
            check(st == 200 and resp["signature"] == SIGNATURE, f"signature: {st} {resp}")
            st, _, resp = srv.request("PATCH", f"/api/v1/agents/{did}", admin,
                                      body={"signature": "가" * 1001},
                                      headers={"If-Match": f'"{resp["version"]}"'})
            check(st == 422, f"a signature of 1001 characters: {st} {resp}")
            st, _, resp = srv.request("POST", f"/api/v1/agents/{did}/state", david,
                                      body={"state": "ready"})
            check(st == 200, f"david ready: {st} {resp}")
            parts = bt.Sections()
            state = {}
            parts.run("mailboxes route to their queues", mailboxes, srv, ms, admin, state)
            parts.run("attachments download", downloads, srv, ms, admin, david, state)
            parts.run("a reply with a file and a signature", reply_with_file, srv, ms, david,
                      state)
            parts.run("the sales reply leaves from sales", sales_reply, srv, ms, admin, david,
                      state)
            parts.finish()
            srv.stop()
    finally:
        ms.close()


def accept(srv, admin, david, iid):
    wait_for(f"{iid} offered", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/accept", david, body={})
    check(st == 200, f"accept {iid}: {st} {resp}")


def mailboxes(srv, ms, admin, state):
    ms.deliver(with_files([("From", f"Minji Kim <{CUSTOMER}>"), ("To", MAILBOX_USER),
                           ("Subject", "invoice"), ("Message-ID", "<att1@example.com>")],
                          "see the files", [("청구서 2026.pdf", "application/pdf", PDF),
                                            ("page.html", "text/html", HTML)]))
    ms.deliver(raw([("From", "buyer@example.org"), ("To", SALES_USER),
                    ("Subject", "a quote please"), ("Message-ID", "<sales1@example.org>")],
                   b"How much for 10?", charset="us-ascii"), user=SALES_USER)

    def both():
        rows = {i["address"]: i for i in email_interactions(srv, admin)}
        return rows if CUSTOMER in rows and "buyer@example.org" in rows else None
    rows = wait_for("both conversations", both, limit_s=30)
    check(rows[CUSTOMER]["queue"] == "email-support", f"support: {rows[CUSTOMER]}")
    check(rows["buyer@example.org"]["queue"] == "email-sales",
          f"sales: {rows['buyer@example.org']}")
    sales_msgs = messages(srv, admin, rows["buyer@example.org"]["id"])
    check(sales_msgs[0]["meta"].get("mailbox") == "sales", f"remembered: {sales_msgs[0]}")
    check("mailbox" not in messages(srv, admin, rows[CUSTOMER]["id"])[0]["meta"],
          "[email]'s messages name no mailbox")
    # The broken mailbox never read anything, and the others went on: a second sales mail.
    ms.deliver(raw([("From", "buyer2@example.org"), ("To", SALES_USER), ("Subject", "another"),
                    ("Message-ID", "<sales2@example.org>")], b"hi", charset="us-ascii"),
               user=SALES_USER)
    wait_for("the sales mailbox goes on", lambda: [
        i for i in email_interactions(srv, admin) if i["address"] == "buyer2@example.org"])
    check(not any("$BlendStored" in f for f in ms.stored_flags(BROKEN_USER)), "broken: untouched")
    # Per-mailbox state in /metrics.
    series = wait_for("mailbox metrics", lambda: mailbox_metrics(srv).get(
        ("blend_email_mailbox_up", "email.sales")) == 1 and mailbox_metrics(srv))
    check(series.get(("blend_email_mailbox_up", "email")) == 1
          and series.get(("blend_email_mailbox_up", "email.broken")) == 0, f"up: {series}")
    check(series.get(("blend_email_messages_total", "email.sales")) == 2
          and series.get(("blend_email_messages_total", "email.broken")) == 0, f"count: {series}")
    state["support"] = rows[CUSTOMER]["id"]
    state["sales"] = rows["buyer@example.org"]["id"]


def downloads(srv, ms, admin, david, state):
    iid = state["support"]
    accept(srv, admin, david, iid)
    m = messages(srv, david, iid)[0]
    atts = m["meta"]["attachments"]
    check([a["filename"] for a in atts] == ["청구서 2026.pdf", "page.html"], f"files: {atts}")
    base = f"/api/v1/interactions/{iid}/messages/{m['id']}/attachments"
    st, h, body = download(srv, david, f"{base}/0")
    check(st == 200 and body == PDF, f"the PDF: {st} {len(body)} bytes")
    check(h["content-type"] == "application/pdf", f"type: {h}")
    check(h["content-disposition"] == "attachment; filename=\"_________ 2026.pdf\"; "
          "filename*=UTF-8''%EC%B2%AD%EA%B5%AC%EC%84%9C%202026.pdf", f"disposition: {h}")
    check(h["x-content-type-options"] == "nosniff" and h["content-security-policy"] == "sandbox",
          f"headers: {h}")
    st, h, body = download(srv, david, f"{base}/1")
    check(st == 200 and body == HTML and h["content-type"] == "application/octet-stream",
          f"the HTML is not served as HTML: {st} {h}")
    st, _, _ = download(srv, admin, f"{base}/0")
    check(st == 200, f"an admin reads it: {st}")
    st, _, body = download(srv, srv.login("minji"), f"{base}/0")
    check(st == 403, f"another agent: {st} {body!r}")
    for path in (f"{base}/2", f"{base}/x", f"/api/v1/interactions/{iid}/messages/999999/attachments/0",
                 f"/api/v1/interactions/{state['sales']}/messages/{m['id']}/attachments/0",
                 "/api/v1/interactions/999999/messages/1/attachments/0"):
        st, h, body = download(srv, admin, path)
        check(st == 404 and h["content-type"].startswith("application/json"),
              f"{path}: {st} {body!r}")
    os.unlink(os.path.join(srv.dir, "files", atts[1]["sha256"]))
    st, _, body = download(srv, david, f"{base}/1")
    check(st == 410, f"a file gone from disk: {st} {body!r}")


def reply_with_file(srv, ms, david, state):
    iid = state["support"]
    data = bytes(range(256)) * 100
    url = f"/api/v1/interactions/{iid}/messages"
    st, _, resp = srv.request("POST", url, david, body={
        "body": "Here is the corrected invoice.",
        "attachments": [{"filename": "../invoice (fixed).bin", "content_type": "Application/Zip",
                         "data": base64.b64encode(data).decode()}]})
    check(st == 201, f"reply: {st} {resp}")
    att = resp["meta"]["attachments"]
    check(att == [{"filename": "invoice (fixed).bin", "content_type": "application/zip",
                   "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "inline": False, "content_id": ""}], f"meta.attachments: {att}")
    st, h, body = download(srv, david, f"{url}/{resp['id']}/attachments/0")
    check(st == 200 and body == data, f"the reply's file downloads too: {st}")
    for bad, why in ((["x"], "not an object"),
                     ([{"filename": "a", "data": "!!!"}], "not base64"),
                     ([{"filename": "a", "data": ""}] * 11, "11 files")):
        st, _, r = srv.request("POST", url, david, body={"body": "x", "attachments": bad})
        check(st == 422 and r["error"]["details"][0]["path"].startswith("attachments"),
              f"{why}: {st} {r}")

    def delivered():
        return [m for m in ms.sent() if "corrected invoice" in text_of(m)]
    out = wait_for("the reply delivered", delivered, limit_s=30)[0]
    check(out["From"].addresses[0].addr_spec == "support@blend.test", f"From: {out['From']}")
    files = list(out.iter_attachments())
    check(len(files) == 1 and files[0].get_filename() == "invoice (fixed).bin"
          and files[0].get_content_type() == "application/zip"
          and files[0].get_content() == data, f"the file arrived: {files}")
    text = text_of(out)
    check(text.rstrip().endswith(SIGNATURE), f"signed by David's own signature: {text!r}")


def sales_reply(srv, ms, admin, david, state):
    iid = state["sales"]
    accept(srv, admin, david, iid)
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                              body={"body": "10 cost 100."})
    check(st == 201 and resp["meta"].get("mailbox") == "sales", f"reply: {st} {resp}")
    out = wait_for("the sales reply delivered", lambda: [
        m for m in ms.sent() if "10 cost 100." in text_of(m)], limit_s=30)[0]
    check(out["From"].addresses[0].addr_spec == "sales@blend.test"
          and out["From"].addresses[0].display_name == "Blend Sales", f"From: {out['From']}")
    check(out["To"] == "buyer@example.org", f"To: {out['To']}")


if __name__ == "__main__":
    bt.main(run)
