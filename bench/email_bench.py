#!/usr/bin/env python3
"""Inbound email ingestion benchmark (docs/performance.md "Email ingestion"): Dovecot on
loopback (the email tests' MailServers, tests/integration/mailservers.py; needs root,
dovecot-imapd and opensmtpd), its support
mailbox filled with M messages before Blend starts, then the release `blend serve` with the demo
center and `[email] poll_s = 1` polling it. The bench polls the interactions list
(`GET /api/v1/interactions?channel=email`) until every message is stored; each message comes
from its own sender, so each is a new contact, a new interaction routed to email-support and
its message (a contact write, then the interaction and its message in one commit:
src/api/email.c).

The mix cycles over five kinds: plain ASCII text; HTML only; multipart/mixed with a text part
and a 24 KiB PDF attachment; Korean in EUC-KR (RFC 2047 subject); Chinese in GB2312 as
multipart/alternative (text and HTML).

Prints:
  email.ingest msgs=M seconds=… msgs_per_s=… first_s=… steady_msgs_per_s=…
(seconds: from the server answering /healthz to the last message stored; first_s: to the first
one; steady: between the first and the last.) Exit status 1 when not every message is stored
within the time bound; 0 with a "skipped" line when Dovecot or root is missing.

Usage: BLEND_BIN=build-rel/blend python3 bench/email_bench.py [BUILD_DIR] [M]"""

import email.policy
import imaplib
import os
import sys
import time
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.header import Header

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

INGEST_LIMIT_S = 100  # the whole run stays under two minutes


def kinds(i):
    """The i-th message of the mix, as bytes."""
    sender = f"customer{i}@example.com"
    k = i % 5
    if k == 0:
        m = EmailMessage(policy=email.policy.SMTP)
        m.set_content(f"Hello,\n\nmy order {i} has not arrived yet. Can you check?\n\nThanks\n")
    elif k == 1:
        m = EmailMessage(policy=email.policy.SMTP)
        m.set_content(f"<html><body><p>Order <b>{i}</b>: the parcel is damaged.</p>"
                      "<p>Photos follow.</p></body></html>", subtype="html")
    elif k == 2:
        m = EmailMessage(policy=email.policy.SMTP)
        m.set_content(f"Please find invoice {i} attached.\n")
        pdf = (b"%PDF-1.4\n" + bytes(range(256)) * 96)[:24 * 1024]
        m.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"invoice-{i}.pdf")
    elif k == 3:
        m = MIMEText(f"안녕하세요, 주문 {i}번 배송이 아직 안 왔습니다. 확인 부탁드립니다.\n",
                     "plain", "euc-kr")
        m["Subject"] = Header(f"배송 문의 {i}", "euc-kr")
    else:
        m = MIMEMultipart("alternative")
        m.attach(MIMEText(f"您好，订单 {i} 还没有到。请帮我查一下。\n", "plain", "gb2312"))
        m.attach(MIMEText(f"<p>您好，订单 <b>{i}</b> 还没有到。</p>", "html", "gb2312"))
        m["Subject"] = Header(f"订单查询 {i}", "gb2312")
    if "Subject" not in m:
        m["Subject"] = f"Order {i}"
    m["From"] = f"Customer {i} <{sender}>"
    m["To"] = "support@blend.test"
    m["Message-ID"] = f"<bench-{i}@example.com>"
    m["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def config(ms, user, password):
    """The [email] section: the support mailbox polled every second into email-support."""
    return ("[email]\n"
            f"imap_url = imap://127.0.0.1:{ms.imap_port}/INBOX\n"
            f"username = {user}\n"
            f"password = {password}\n"
            "poll_s = 1\n"
            "queue = email-support\n"
            f"smtp_url = smtp://127.0.0.1:{ms.smtp_port}\n"
            "from = support@blend.test\n")


def fill(ms, user, password, count):
    m = imaplib.IMAP4("127.0.0.1", ms.imap_port)
    m.login(user, password)
    for i in range(count):
        typ, _ = m.append("INBOX", None, None, kinds(i))
        if typ != "OK":
            raise RuntimeError(f"APPEND {i}: {typ}")
    m.logout()


def stored(srv, token):
    """Email interactions stored so far."""
    return len(srv.list_all("/api/v1/interactions?channel=email", token))


def main():
    args = [a for a in sys.argv[1:]]
    if args and os.path.isdir(args[0]):
        os.environ["BLEND_BIN"] = os.path.join(os.path.abspath(args.pop(0)), "blend")
    count = int(args[0]) if args else 500
    if not all(os.path.exists(p) for p in ("/usr/sbin/dovecot", "/usr/sbin/smtpd")) or \
            os.geteuid() != 0:
        print("email.ingest skipped: needs root, /usr/sbin/dovecot (dovecot-imapd) and "
              "/usr/sbin/smtpd (opensmtpd)")
        return 0
    os.environ.setdefault("BLEND_SRC", os.path.abspath(os.path.join(HERE, "..")))
    import blendtest as bt  # after BLEND_BIN and BLEND_SRC are set
    try:
        import mailservers as mail
    except ImportError:  # before the mail servers moved out of test_email.py
        import test_email as mail

    ms = mail.MailServers()
    try:
        t0 = time.monotonic()
        fill(ms, mail.MAILBOX_USER, mail.MAILBOX_PASS, count)
        fill_s = time.monotonic() - t0
        with bt.Server(extra_config=config(ms, mail.MAILBOX_USER, mail.MAILBOX_PASS)) as srv:
            start = time.monotonic()
            admin = srv.login("admin")
            first = last = None
            n = 0
            while time.monotonic() - start < INGEST_LIMIT_S:
                n = stored(srv, admin)
                now = time.monotonic()
                if n and first is None:
                    first = now
                if n >= count:
                    last = now
                    break
                time.sleep(0.2)  # polling interval of a bounded wait
            if last is None:
                print(f"email.ingest msgs={count} stored={n} error=not every message stored "
                      f"within {INGEST_LIMIT_S} s")
                return 1
            total = last - start
            steady = last - first
            print(f"email.ingest msgs={count} seconds={total:.2f} "
                  f"msgs_per_s={count / total:.1f} first_s={first - start:.2f} "
                  f"steady_msgs_per_s={(count - 1) / steady if steady > 0 else float('nan'):.1f} "
                  f"fill_s={fill_s:.1f}")
    finally:
        ms.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
