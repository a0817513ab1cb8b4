"""The email channel against real mail servers on loopback (docs/email.md): Dovecot serves the
support mailbox over IMAP (the test drops customers' mail in with APPEND, as a mail server's
delivery would), OpenSMTPD takes Blend's replies and delivers them to a maildir the test reads.
1. A customer writes (Korean, EUC-KR body, RFC 2047 subject): a contact and an email
   interaction are created and routed to the agent with email capacity (David), who accepts;
   the conversation shows the decoded message; the raw message is kept by checksum; the
   mailbox marks it $BlendStored.
2. David replies: stored queued (201), then sent; the delivered mail is addressed to the
   customer, threaded (In-Reply-To, References, "Re: ... [#BL-<id>]") and signed.
3. The customer answers the reply (In-Reply-To): it joins the same conversation; a message that
   only carries the token in its subject joins it too; an out-of-office answer opening nothing
   is kept on an interaction ended at once, never routed.
4. The SMTP server is down: a reply stays queued with its attempts counted, and goes out once
   the server is back.
5. kill -9 while messages arrive: after the restart every message is stored exactly once.
6. A broken message (no sender, multipart without boundary) is kept, flagged malformed."""

import hashlib
import os
import time

import blendtest as bt
from blendtest import check, wait_for
from mailservers import CUSTOMER, MAILBOX_PASS, MAILBOX_USER, MailServers

def config(ms):
    return ("[email]\n"
            f"imap_url = imap://127.0.0.1:{ms.imap_port}/INBOX\n"
            f"username = {MAILBOX_USER}\n"
            f"password = {MAILBOX_PASS}\n"
            "poll_s = 1\n"
            "queue = email-support\n"
            f"smtp_url = smtp://127.0.0.1:{ms.smtp_port}\n"
            "from = support@blend.test\n"
            "from_name = \"Blend Support\"\n")


def raw(headers, body=b"", charset=None):
    lines = [f"{k}: {v}" for k, v in headers]
    if charset:
        lines.append(f"Content-Type: text/plain; charset={charset}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body + b"\r\n"


def email_interactions(srv, admin):
    """Interaction documents of the email channel, oldest first."""
    items = srv.get_ok("/api/v1/interactions?limit=500", admin)["items"]
    return [i for i in items if i["channel"] == "email"]


def messages(srv, token, iid):
    return srv.get_ok(f"/api/v1/interactions/{iid}/messages", token)["items"]


def run():
    ms = MailServers()
    try:
        with bt.Server(extra_config=config(ms)) as srv:
            admin = srv.login("admin")
            david = srv.login("david")
            did = srv.agent_of_user(admin, "david")["id"]
            st, _, resp = srv.request("POST", f"/api/v1/agents/{did}/state", david,
                                      body={"state": "ready"})
            check(st == 200, f"david ready: {st} {resp}")
            parts = bt.Sections()
            state = {}
            parts.run("a customer writes", first_message, srv, ms, admin, david, did, state)
            parts.run("the agent replies", reply, srv, ms, admin, david, state)
            parts.run("the customer answers", threading, srv, ms, admin, david, state)
            parts.run("SMTP down", smtp_outage, srv, ms, admin, david, state)
            parts.run("kill -9", crash, srv, ms, admin, state)
            parts.run("broken mail", broken, srv, ms, admin)
            parts.finish()
            srv.stop()
    finally:
        ms.close()


def first_message(srv, ms, admin, david, did, state):
    body = "안녕하세요. 청구서가 두 번 왔습니다.".encode("euc-kr")
    ms.deliver(raw([("From", "=?UTF-8?B?6rmA66+87KeA?= <Minji.Kim@Example.com>"),
                    ("To", "support@blend.test"),
                    ("Subject", "=?UTF-8?B?7LKt6rWs7IScIOusuOydmA==?="),
                    ("Message-ID", "<m1@example.com>"),
                    ("Date", "Sun, 22 Nov 2026 10:00:00 +0900"),
                    ("MIME-Version", "1.0")], body, charset="euc-kr"))
    iid = wait_for("the email interaction", lambda: [i["id"] for i in email_interactions(
        srv, admin)])[0]
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["queue"] == "email-support" and row["address"] == CUSTOMER, f"row: {row}")
    check(row.get("contact") is not None, f"a contact was made for the sender: {row}")
    contact = srv.get_ok(f"/api/v1/contacts/{row['contact']}", admin)
    check(contact["name"] == "김민지" and
          any(i["kind"] == "email" and i["value"] == CUSTOMER for i in contact["identities"]),
          f"contact: {contact}")
    wait_for("offered to david", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/accept", david, body={})
    check(st == 200, f"accept: {st} {resp}")
    msgs = messages(srv, david, iid)
    check(len(msgs) == 1, f"one message: {msgs}")
    m = msgs[0]
    check(m["subject"] == "청구서 문의" and m["body"] == "안녕하세요. 청구서가 두 번 왔습니다.",
          f"decoded: {m}")
    check(m["message_id"] == "m1@example.com" and m["direction"] == "inbound"
          and m["meta"]["from"] == CUSTOMER, f"fields: {m}")
    kept = os.path.join(srv.dir, "files", m["meta"]["raw"]["sha256"])
    check(os.path.exists(kept), "the raw message is kept")
    with open(kept, "rb") as f:
        check(hashlib.sha256(f.read()).hexdigest() == m["meta"]["raw"]["sha256"], "checksum")
    wait_for("marked in the mailbox", lambda: all("$BlendStored" in f for f in ms.stored_flags()))
    # Another agent does not see the conversation.
    minji = srv.login("minji")
    st, _, _ = srv.request("GET", f"/api/v1/interactions/{iid}/messages", minji)
    check(st == 403, f"another agent: {st}")
    state["iid"] = iid


def reply(srv, ms, admin, david, state):
    iid = state["iid"]
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                              body={"body": "확인 후 환불해 드리겠습니다."})
    check(st == 201 and resp["state"] == "queued", f"reply stored: {st} {resp}")
    st, _, resp2 = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                               body={"body": ""})
    check(st == 422, f"an empty reply: {st} {resp2}")
    wait_for("sent", lambda: [m for m in messages(srv, david, iid)
                              if m["direction"] == "outbound" and m["state"] == "sent"])
    out = wait_for("delivered", lambda: ms.sent())[0]
    check(out["To"] == CUSTOMER, f"To: {out['To']}")
    check(out["Subject"] == f"Re: 청구서 문의 [#BL-{iid}]", f"Subject: {out['Subject']}")
    check(out["In-Reply-To"] == "<m1@example.com>", f"In-Reply-To: {out['In-Reply-To']}")
    check("<m1@example.com>" in out["References"], f"References: {out['References']}")
    text = out.get_content()
    check("확인 후 환불해 드리겠습니다." in text and "david" in text, f"body: {text!r}")
    state["reply_id"] = out["Message-ID"].strip("<>")


def threading(srv, ms, admin, david, state):
    iid = state["iid"]
    before = len(email_interactions(srv, admin))
    ms.deliver(raw([("From", CUSTOMER), ("To", "support@blend.test"),
                    ("Subject", "Re: 청구서 문의"),  # no token: In-Reply-To alone threads it
                    ("Message-ID", "<m2@example.com>"),
                    ("In-Reply-To", f"<{state['reply_id']}>"),
                    ("References", f"<m1@example.com> <{state['reply_id']}>")],
                   "감사합니다".encode(), charset="utf-8"))
    ms.deliver(raw([("From", CUSTOMER), ("To", "support@blend.test"),
                    ("Subject", f"one more thing [#BL-{iid}]"), ("Message-ID", "<m3@example.com>")],
                   b"by token only", charset="us-ascii"))
    wait_for("both joined the conversation",
             lambda: len([m for m in messages(srv, david, iid) if m["direction"] == "inbound"]) == 3)
    check(len(email_interactions(srv, admin)) == before, "no new conversation")
    ms.deliver(raw([("From", "someone@example.org"), ("To", "support@blend.test"),
                    ("Subject", "Out of office"), ("Auto-Submitted", "auto-replied"),
                    ("Message-ID", "<ooo@example.org>")], b"I am away.", charset="us-ascii"))
    auto = wait_for("the auto-reply kept", lambda: [
        i for i in email_interactions(srv, admin) if i["address"] == "someone@example.org"])[0]
    check(auto["state"] == "ended", f"never routed: {auto}")
    msgs = messages(srv, admin, auto["id"])
    check(msgs[0]["meta"]["flags"] == ["auto-reply"], f"flagged: {msgs}")


def smtp_outage(srv, ms, admin, david, state):
    iid = state["iid"]
    ms.stop_smtpd()
    sent_before = len(ms.sent())
    st, _, resp = srv.request("POST", f"/api/v1/interactions/{iid}/messages", david,
                              body={"body": "second reply while the server is down"})
    check(st == 201, f"stored: {st} {resp}")
    rid = resp["id"]
    wait_for("a failed attempt counted", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == rid and m["attempts"] >= 1
        and m["state"] == "queued"])
    ms.start_smtpd()
    wait_for("sent after the outage", lambda: [
        m for m in messages(srv, david, iid) if m["id"] == rid and m["state"] == "sent"],
        limit_s=60)
    def delivered():
        return [m for m in ms.sent() if "while the server is down" in m.get_content()]
    wait_for("delivered", delivered, limit_s=30)
    time.sleep(1)
    check(len(delivered()) == 1, f"delivered once: {len(delivered())} (of {len(ms.sent())}, "
                                 f"{sent_before} before)")


def crash(srv, ms, admin, state):
    for n in range(5):
        ms.deliver(raw([("From", f"crash{n}@example.net"), ("To", "support@blend.test"),
                        ("Subject", f"crash test {n}"), ("Message-ID", f"<crash{n}@example.net>")],
                       b"hello", charset="us-ascii"))
    time.sleep(1.2)  # some are being stored when the server dies
    srv.kill9()
    srv.restart()
    admin = srv.login("admin")
    addresses = [f"crash{n}@example.net" for n in range(5)]

    def all_stored():
        seen = [i["address"] for i in email_interactions(srv, admin)]
        return all(a in seen for a in addresses) and seen
    seen = wait_for("every message after the restart", all_stored, limit_s=60)
    for a in addresses:
        check(seen.count(a) == 1, f"{a} stored exactly once: {seen.count(a)}")
    wait_for("all marked", lambda: all("$BlendStored" in f for f in ms.stored_flags()))


def broken(srv, ms, admin):
    ms.deliver(b"Subject: no sender here\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n")
    admin = srv.login("admin")
    row = wait_for("the broken message kept", lambda: [
        i for i in email_interactions(srv, admin) if not i.get("address")])[0]
    msgs = messages(srv, admin, row["id"])
    check("malformed" in msgs[0]["meta"]["flags"], f"flagged: {msgs[0]['meta']}")
    check(os.path.exists(os.path.join(srv.dir, "files", msgs[0]["meta"]["raw"]["sha256"])),
          "raw kept")


if __name__ == "__main__":
    bt.main(run)
