"""Mail servers for the email tests, on loopback: Dovecot serves IMAP mailboxes (one per user,
passwords in a passwd file; the tests drop customers' mail in with APPEND, as a mail server's
delivery would) and OpenSMTPD takes Blend's replies and delivers them into one maildir the tests
read. Shared by test_email.py and test_email_mailboxes.py."""

import email
import email.policy
import glob
import imaplib
import os
import shutil
import subprocess
import tempfile

import blendtest as bt
from blendtest import check, wait_for

MAILBOX_USER = "support@blend.test"
MAILBOX_PASS = "mail-test-pass"
CUSTOMER = "minji.kim@example.com"


class MailServers:
    """Dovecot (IMAP) and OpenSMTPD (SMTP into a maildir) on free loopback ports."""

    def __init__(self, users=None):
        """users: {address: password} of the IMAP mailboxes (default: the support mailbox)."""
        self.users = dict(users or {MAILBOX_USER: MAILBOX_PASS})
        for prog in ("/usr/sbin/dovecot", "/usr/sbin/smtpd"):
            check(os.path.exists(prog), f"{prog} missing: scripts/deps.sh installs dovecot-imapd "
                                        "and opensmtpd")
        check(os.geteuid() == 0, "the mail servers need root (they drop to their own users)")
        self.dir = tempfile.mkdtemp(prefix="blend-mail-")
        os.chmod(self.dir, 0o755)
        self.imap_port = bt.free_port()
        self.smtp_port = bt.free_port()
        self.mail = os.path.join(self.dir, "mail")
        self.out = os.path.join(self.dir, "out")
        for d in (self.mail, self.out):
            os.mkdir(d)
            shutil.chown(d, "nobody", "nogroup")
        os.mkdir(os.path.join(self.dir, "run"))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, password in self.users.items():
                f.write(f"{user}:{{PLAIN}}{password}\n")
        with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
            f.write(f"""base_dir = {self.dir}/run
log_path = {self.dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
mail_location = maildir:{self.mail}/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
        with open(os.path.join(self.dir, "vusers"), "w") as f:
            f.write("@ nobody\n")
        conf = os.path.join(self.dir, "smtpd.conf")
        with open(conf, "w") as f:
            f.write(f"""table vusers file:{self.dir}/vusers
listen on 127.0.0.1 port {self.smtp_port}
action "keep" maildir "{self.out}" virtual <vusers>
match from any for any action "keep"
""")
        os.chmod(conf, 0o600)
        self.dovecot = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", os.path.join(self.dir, "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.smtpd = None
        try:
            # OpenSMTPD has one control socket per machine: another instance running makes
            # this one exit ("control socket already listening", in smtpd.log).
            self.start_smtpd()
            wait_for("dovecot listening", lambda: self._imap_up(), limit_s=20)
        except BaseException:
            self.close()  # no server left behind when the setup fails
            raise

    def _imap_up(self):
        try:
            m = imaplib.IMAP4("127.0.0.1", self.imap_port)
            m.logout()
            return True
        except OSError:
            return False

    def start_smtpd(self):
        self.smtpd = subprocess.Popen(
            ["/usr/sbin/smtpd", "-d", "-f", os.path.join(self.dir, "smtpd.conf")],
            stdout=open(os.path.join(self.dir, "smtpd.log"), "a"), stderr=subprocess.STDOUT)

        def up():
            import socket
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for("opensmtpd listening", up, limit_s=20)

    def stop_smtpd(self):
        self.smtpd.terminate()
        self.smtpd.wait(timeout=20)

    def deliver(self, raw, user=MAILBOX_USER):
        """Drops a message into a mailbox (IMAP APPEND)."""
        m = imaplib.IMAP4("127.0.0.1", self.imap_port)
        m.login(user, self.users[user])
        typ, _ = m.append("INBOX", None, None, raw)
        m.logout()
        check(typ == "OK", "APPEND")

    def stored_flags(self, user=MAILBOX_USER):
        """The keywords of every message in a mailbox, by UID."""
        m = imaplib.IMAP4("127.0.0.1", self.imap_port)
        m.login(user, self.users[user])
        m.select("INBOX", readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        m.logout()
        return [d.decode() if isinstance(d, bytes) else str(d) for d in data if d]

    def sent(self):
        """Messages OpenSMTPD delivered (parsed), oldest first."""
        files = sorted(glob.glob(os.path.join(self.out, "new", "*")), key=os.path.getmtime)
        return [email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
                for p in files]

    def close(self):
        for p in (self.smtpd, self.dovecot):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


