"""Harness for Blend's integration tests: runs the real `blend` binary on loopback.

Every test file under tests/integration/ imports this module. It gives:
- `Server`: a context manager that owns one temporary data directory, free loopback ports for
  HTTP and SIP and one configuration file, starts `blend serve` with the demo provisioning file, waits (bounded)
  for `GET /healthz` to answer 200 and offers plain HTTP helpers (`request`, `login`), process
  control (`stop` = SIGTERM and a checked exit, `kill9`, `restart`) and a WebSocket client.
- `WebSocket`: a minimal RFC 6455 client (handshake, masked client frames, text, ping/pong,
  close) over a plain socket, enough for the event stream.
- small helpers: `check` (assertion with a message that survives `python3 -O`), `run_cli`,
  `wait_for` (poll a condition with a bound), `events_of` (an interaction's log entries).
- SIP peers: `Sipp` (one SIPp process on a scenario of tests/sip/, its exit code and error log)
  and `register_phone` (a SIPp registration of an extension from a given port).

Only the Python standard library is used (CTest runs these files with Debian's python3). The
binary comes from $BLEND_BIN and the source tree from $BLEND_SRC (both set by CTest; defaults
below make a manual run from the repository root work). Nothing here sleeps for correctness:
every wait polls for a condition with a bound and fails with the server's log tail.
"""

import base64
import hashlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import types

SRC = os.path.abspath(os.environ.get("BLEND_SRC", os.getcwd()))
BIN = os.environ.get("BLEND_BIN", os.path.join(SRC, "build-main", "blend"))
DEMO = os.path.join(SRC, "examples", "demo.json")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
HTTP_TIMEOUT_S = 30.0

PASSWORDS = {
    "admin": "admin-demo-pass",
    "sophia": "super-demo-pass",
    "quinn": "qa-demo-pass",
    "minji": "agent-demo-pass",
    "jiho": "agent-demo-pass",
    "wei": "agent-demo-pass",
    "lina": "agent-demo-pass",
    "david": "agent-demo-pass",
    "sora": "agent-demo-pass",
}
# One demo user per role.
ROLE_USERS = {"admin": "admin", "supervisor": "sophia", "qa": "quinn", "agent": "minji"}
ROLES = ("admin", "supervisor", "qa", "agent")


class TestFailure(Exception):
    pass


def check(cond, message):
    """Fails the test with `message` when cond is false (works under python3 -O too)."""
    if not cond:
        raise TestFailure(message)


def log(message):
    print(message, flush=True)


def main(fn):
    """Runs fn() and turns the outcome into an exit code with a clear message."""
    if not os.path.exists(BIN):
        print(f"FAIL: blend binary not found at {BIN} (set BLEND_BIN)", file=sys.stderr)
        sys.exit(1)
    name = os.path.basename(sys.argv[0])
    try:
        fn()
    except TestFailure as e:
        print(f"FAIL {name}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"FAIL {name}: unexpected exception", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"PASS {name}", flush=True)
    sys.exit(0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args, stdin_text=None, timeout=60, env=None):
    """Runs `blend ARGS...` and returns CompletedProcess with text stdout/stderr."""
    return subprocess.run(
        [BIN] + list(args),
        input=stdin_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=SRC,
        env=env,
    )


def error_code(body):
    """The `error.code` of an error body, or None when the body is not one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def error_paths(body):
    """The `path` of every entry in `error.details` (a list), in order."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return []
    details = body["error"].get("details")
    if not isinstance(details, list):
        return []
    return [d.get("path") for d in details if isinstance(d, dict)]


def check_error(status, body, want_status, want_code, what):
    check(
        status == want_status,
        f"{what}: expected HTTP {want_status} ({want_code}), got {status}: {body!r}"[:2000],
    )
    check(
        isinstance(body, dict)
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("message"), str),
        f"{what}: error body is not {{'error':{{'code','message'}}}}: {body!r}"[:2000],
    )
    check(
        error_code(body) == want_code,
        f"{what}: expected error code {want_code!r}, got {error_code(body)!r}: {body!r}"[:2000],
    )


class Headers:
    """Case-insensitive response headers that keep repeated headers (Set-Cookie)."""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def get(self, name, default=None):
        for k, v in self.pairs:
            if k.lower() == name.lower():
                return v
        return default

    def get_all(self, name):
        return [v for k, v in self.pairs if k.lower() == name.lower()]

    def __repr__(self):
        return repr(self.pairs)


def _decode_body(ctype, data):
    if ctype and "json" in ctype.lower() and data:
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return data.decode("utf-8", "replace")
    if not data:
        return None
    if ctype and ctype.lower().startswith(("audio/", "application/octet-stream")):
        return data  # binary bodies stay bytes
    return data.decode("utf-8", "replace")


class Server:
    """One `blend serve` process with its own temporary directory, port and configuration."""

    def __init__(self, provision=DEMO, extra_config="", args=(), phones_required=False):
        self.dir = tempfile.mkdtemp(prefix="blend-itest-")
        self.port = free_port()
        self.sip_port = free_port()
        self.host = "127.0.0.1"
        self.provision = provision
        self.extra_args = list(args)
        self.config_path = os.path.join(self.dir, "blend.conf")
        self.stderr_path = os.path.join(self.dir, "server.stderr")
        self.stdout_path = os.path.join(self.dir, "server.stdout")
        self.proc = None
        self.starts = 0
        with open(self.config_path, "w") as f:
            f.write(
                "[http]\n"
                f"listen = 127.0.0.1:{self.port}\n"
                f"web_dir = {os.path.join(SRC, 'web')}\n"
                "[sip]\n"
                f"listen = 127.0.0.1:{self.sip_port}\n"
                f"voice_requires_phone = {'yes' if phones_required else 'no'}\n"
                "[store]\n"
                f"url = sqlite:{os.path.join(self.dir, 'blend.db')}\n"
                "[data]\n"
                f"dir = {self.dir}\n"
                "[log]\n"
                "level = info\n"
                "[auth]\n"
                "password_cost = min\n" + extra_config
            )

    # ---- process control ----------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if exc_type is None and not os.environ.get("BLEND_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        elif exc_type is not None:
            print(f"(server directory kept: {self.dir})", file=sys.stderr)
            self.print_log_tail()
        return False

    def command(self):
        cmd = [BIN, "serve", "--config", self.config_path]
        if self.provision:
            cmd += ["--provision", self.provision]
        return cmd + self.extra_args

    def start(self):
        check(self.proc is None or self.proc.poll() is not None, "server already running")
        self.starts += 1
        err = open(self.stderr_path, "a")
        out = open(self.stdout_path, "a")
        err.write(f"----- start #{self.starts}\n")
        err.flush()
        self.proc = subprocess.Popen(
            self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=SRC
        )
        err.close()
        out.close()
        self.wait_healthy()

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.print_log_tail()
                raise TestFailure(f"blend serve exited with {rc} during start-up")
            try:
                status, _, body = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return
                last = f"HTTP {status} {body!r}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)  # polling interval of a bounded wait, not a correctness sleep
        self.print_log_tail()
        raise TestFailure(f"server not healthy within {START_TIMEOUT_S}s (last: {last})")

    def log_tail(self, lines=40):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def print_log_tail(self, lines=40):
        print(f"--- tail of {self.stderr_path}:\n{self.log_tail(lines)}---", file=sys.stderr)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM; the server must exit 0 within STOP_TIMEOUT_S."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(STOP_TIMEOUT_S)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            self.print_log_tail()
            raise TestFailure(f"server did not exit within {STOP_TIMEOUT_S}s of SIGTERM")
        if rc != 0:
            self.print_log_tail()
            raise TestFailure(f"server exited with {rc} after SIGTERM (expected 0)")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        self.start()

    # ---- HTTP ----------------------------------------------------------------------------

    def request(self, method, path, token=None, body=None, headers=None, raw=None, timeout=None):
        """One request on a fresh connection. `body` is JSON-encoded with the JSON content type;
        `raw` (bytes) is sent as is with the headers given. Returns (status, Headers, parsed
        JSON or text or None)."""
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif raw is not None:
            data = raw
        if token:
            h.setdefault("Authorization", f"Bearer {token}")
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=timeout or HTTP_TIMEOUT_S
        )
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            hdrs = Headers(resp.getheaders())
            return resp.status, hdrs, _decode_body(hdrs.get("Content-Type"), payload)
        finally:
            conn.close()

    def raw_exchange(self, head, body=b"", chunk=65536, timeout=30):
        """Sends a raw request head and then the body in chunks, watching for an early answer
        (a server may refuse a large body before reading it). Returns (status, headers, body)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(head)
            off = 0
            while off < len(body):
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    break
                try:
                    s.sendall(body[off : off + chunk])
                except OSError:
                    break
                off += chunk
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    part = s.recv(65536)
                except OSError:
                    break
                if not part:
                    break
                data += part
                if b"\r\n\r\n" in data:
                    head_part, _, rest = data.partition(b"\r\n\r\n")
                    m = [
                        line.split(b":", 1)[1].strip()
                        for line in head_part.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ]
                    if m and len(rest) >= int(m[0]):
                        break
            check(data.startswith(b"HTTP/1."), f"no HTTP response to raw request: {data[:200]!r}")
            head_part, _, rest = data.partition(b"\r\n\r\n")
            lines = head_part.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            pairs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ":" in ln]
            hdrs = Headers(pairs)
            return status, hdrs, _decode_body(hdrs.get("Content-Type"), rest)
        finally:
            s.close()

    def login(self, user, password=None):
        status, _, body = self.request(
            "POST",
            "/api/v1/auth/login",
            body={"username": user, "password": password or PASSWORDS[user]},
        )
        check(status == 200, f"login as {user}: expected 200, got {status}: {body!r}")
        check(
            isinstance(body, dict) and isinstance(body.get("token"), str),
            f"login as {user}: no token in {body!r}",
        )
        return body["token"]

    def get_ok(self, path, token):
        status, _, body = self.request("GET", path, token=token)
        check(status == 200, f"GET {path}: expected 200, got {status}: {body!r}"[:2000])
        return body

    def list_all(self, path, token, limit=500):
        """Follows next_cursor over every page of a resource list."""
        items, cursor = [], None
        for _ in range(10000):
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}"
            if cursor:
                url += f"&cursor={cursor}"
            body = self.get_ok(url, token)
            items += body["items"]
            cursor = body.get("next_cursor")
            if not cursor:
                return items
        raise TestFailure(f"{path}: pagination never ended")

    def event_log(self, token, after=0, limit=500):
        """Every event with seq > after, following next_after."""
        events = []
        for _ in range(100000):
            body = self.get_ok(f"/api/v1/event-log?after={after}&limit={limit}", token)
            events += body["items"]
            nxt = body.get("next_after")
            if nxt is None:
                return events
            check(nxt > after, f"event-log next_after did not advance ({after} -> {nxt})")
            after = nxt
        raise TestFailure("event-log pagination never ended")

    def agent_of_user(self, token, username):
        for a in self.list_all("/api/v1/agents", token):
            if a.get("user") == username:
                return a
        raise TestFailure(f"no agent linked to user {username!r}")

    # ---- WebSocket -------------------------------------------------------------------------

    def ws_connect(self, path="/api/v1/events", token=None, headers=None, timeout=15):
        return WebSocket.connect(self.host, self.port, path, token, headers, timeout)


class WSRefused(Exception):
    """The server answered the upgrade request with an HTTP status other than 101."""

    def __init__(self, status, body):
        super().__init__(f"upgrade refused with HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class WSClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"websocket closed by server (code {code}, reason {reason!r})")
        self.code = code
        self.reason = reason


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    """Minimal RFC 6455 client: text frames, fragmentation, ping/pong, close."""

    def __init__(self, sock, leftover):
        self.sock = sock
        self.buf = leftover
        self.closed = False

    @classmethod
    def connect(cls, host, port, path, token=None, headers=None, timeout=15):
        sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            if time.monotonic() > deadline:
                sock.close()
                raise TestFailure(f"websocket handshake timed out: {data[:300]!r}")
            part = sock.recv(4096)
            if not part:
                break
            data += part
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n")[0].decode("latin-1")
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            # Read what is left of the refusal body (bounded) for the message.
            sock.settimeout(2)
            try:
                while len(rest) < 65536:
                    part = sock.recv(4096)
                    if not part:
                        break
                    rest += part
                    if b"}" in rest:
                        break
            except OSError:
                pass
            sock.close()
            raise WSRefused(status, rest.decode("utf-8", "replace"))
        hdrs = {}
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            sock.close()
            raise TestFailure(f"bad Sec-WebSocket-Accept {hdrs.get('sec-websocket-accept')!r}")
        return cls(sock, rest)

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("websocket read timed out")
            self.sock.settimeout(left)
            part = self.sock.recv(65536)
            if not part:
                raise WSClosed(1006, "connection closed without a close frame")
            self.buf += part
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_frame(self, deadline):
        b0, b1 = self._read_exact(2, deadline)
        fin, opcode = b0 & 0x80, b0 & 0x0F
        check(not (b1 & 0x80), "server frames must not be masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8, deadline))[0]
        return bool(fin), opcode, self._read_exact(n, deadline)

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def recv_text(self, timeout=15):
        """Next text message (pings answered, fragments joined). Raises TimeoutError, WSClosed."""
        deadline = time.monotonic() + timeout
        parts = []
        while True:
            fin, opcode, payload = self._read_frame(deadline)
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                if not self.closed:
                    try:
                        self.send_frame(0x8, payload[:2])
                    except OSError:
                        pass
                self.closed = True
                raise WSClosed(code, payload[2:].decode("utf-8", "replace"))
            if opcode in (0x1, 0x0, 0x2):
                parts.append(payload)
                if fin:
                    return b"".join(parts).decode("utf-8")

    def recv_json(self, timeout=15):
        return json.loads(self.recv_text(timeout))

    def ping(self, payload=b"hi", timeout=10):
        """Sends a ping and waits for the matching pong (data messages on the way are kept)."""
        self.send_frame(0x9, payload)
        deadline = time.monotonic() + timeout
        kept = []
        while True:
            fin, opcode, data = self._read_frame(deadline)
            if opcode == 0xA and data == payload:
                break
            if opcode == 0x9:
                self.send_frame(0xA, data)
            elif opcode in (0x0, 0x1):
                kept.append((fin, opcode, data))
            elif opcode == 0x8:
                raise WSClosed(1005, "closed while waiting for pong")
        # Put the data frames back in front of the buffer, re-encoded unmasked.
        re = b""
        for fin, opcode, data in kept:
            n = len(data)
            head = bytes([(0x80 if fin else 0) | opcode])
            if n < 126:
                head += bytes([n])
            elif n < 65536:
                head += bytes([126]) + struct.pack("!H", n)
            else:
                head += bytes([127]) + struct.pack("!Q", n)
            re += head + data
        self.buf = re + self.buf

    def close(self, code=1000):
        if not self.closed:
            try:
                self.send_frame(0x8, struct.pack("!H", code))
                deadline = time.monotonic() + 5
                while True:
                    _, opcode, _ = self._read_frame(deadline)
                    if opcode == 0x8:
                        break
            except (OSError, WSClosed, TimeoutError):
                pass
            self.closed = True
        self.sock.close()


def rbac_table(path=None):
    """Rows of the access table in docs/rbac.md: [(METHOD, path, {role: allow|deny|public})]."""
    path = path or os.path.join(SRC, "docs", "rbac.md")
    with open(path) as f:
        rows = [ln for ln in f.read().splitlines() if ln.startswith("|")]
    check(len(rows) > 2, f"{path}: no table")
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    check(header == ["method", "path"] + list(ROLES), f"{path}: unexpected header {header}")
    out = []
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        check(len(cells) == 6, f"{path}: bad row {ln!r}")
        out.append((cells[0].upper(), cells[1], dict(zip(ROLES, cells[2:]))))
    return out


class Sections:
    """Runs independent parts of a test, collecting failures so one report lists all of them.

        sections = Sections()
        sections.run("pagination", pagination, srv, tok)
        sections.finish()   # raises TestFailure naming every failed part
    """

    def __init__(self):
        self.failures = []

    def run(self, name, fn, *args):
        try:
            fn(*args)
            log(f"ok   {name}")
        except TestFailure as e:
            log(f"FAIL {name}: {e}")
            self.failures.append(f"{name}: {e}")
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError,
                StopIteration) as e:
            import traceback

            where = traceback.extract_tb(e.__traceback__)[-1]
            msg = f"{type(e).__name__}: {e} (at {os.path.basename(where.filename)}:{where.lineno})"
            log(f"FAIL {name}: {msg}")
            self.failures.append(f"{name}: {msg}")

    def finish(self):
        check(
            not self.failures,
            f"{len(self.failures)} part(s) failed:\n  " + "\n  ".join(self.failures),
        )

# ---- SIP peers and waiting ---------------------------------------------------------------------

SIP_SCENARIOS = os.path.join(SRC, "tests", "sip")


def wait_for(what, fn, limit_s=15, step_s=0.05):
    """Polls fn until it returns something truthy (returned), or fails after limit_s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(step_s)
    raise TestFailure(f"timed out waiting for {what}")


def events_of(srv, token, iid):
    """The event-log entries of interaction iid, in order."""
    return [e for e in srv.event_log(token) if e["subject"] == f"interactions/{iid}"]


class Sipp:
    """One SIPp process running tests/sip/SCENARIO against the server's SIP port (or target)."""

    def __init__(self, srv, scenario, args, tag, target=None):
        self.tag = tag
        self.err = os.path.join(srv.dir, f"sipp-{tag}.log")
        cmd = (["sipp", "-sf", os.path.join(SIP_SCENARIOS, scenario), "-m", "1", "-i",
                "127.0.0.1", "-t", "u1", "-timeout", "30", "-timeout_error", "-nostdin",
                "-trace_err", "-error_file", self.err] + list(args) +
               [target or f"127.0.0.1:{srv.sip_port}"])
        self.proc = subprocess.Popen(cmd, cwd=srv.dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def wait(self, timeout=40):
        """SIPp's exit code (0: the scenario ran to its end); its error log is shown otherwise."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"SIPp {self.tag} did not finish")
        if code != 0 and os.path.exists(self.err):
            with open(self.err, errors="replace") as f:
                log(f"SIPp {self.tag} errors:\n" + f.read()[-3000:])
        return code

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def agent_phone_call(srv, admin, customer_scenario, caller, duration_ms):
    """Minji (extension 1001) registers a SIPp phone that answers and echoes, goes ready, and a
    customer calls the billing line (+8225550101) with `customer_scenario` ("-key caller
    CALLER", "-d duration_ms"); once the call is connected to her, returns a namespace: phone and
    cust (the Sipp processes), iid (the interaction), token and agent (Minji's), port and media
    (the phone's SIP and RTP ports, to answer again)."""
    minji_tok = srv.login("minji")
    minji = srv.agent_of_user(admin, "minji")["id"]
    port, media = free_port(), free_port()
    check(register_phone(srv, port, "1001", "sip-demo-1001") == 0, "the phone registers")
    wait_for("the phone", lambda: srv.get_ok(f"/api/v1/agents/{minji}/state",
                                             admin)["phone"]["registered"])
    st, _, _ = srv.request("POST", f"/api/v1/agents/{minji}/state", minji_tok,
                           body={"state": "ready"})
    check(st == 200, "minji ready")
    phone = Sipp(srv, "agent_answer.xml", ["-p", str(port), "-mp", str(media), "-s", "1001",
                                           "-key", "codec", "8", "-d", "0", "-rtp_echo"],
                 "phone")
    time.sleep(0.2)  # lets the phone's SIPp bind its port before Blend sends the INVITE
    cust = Sipp(srv, customer_scenario, ["-s", "+8225550101", "-key", "caller", caller, "-mp",
                                         str(free_port()), "-d", str(duration_ms)], "customer")
    conn = wait_for("the call connected", lambda: [
        e for e in srv.event_log(admin) if e["type"] == "contact.connected"])
    return types.SimpleNamespace(phone=phone, cust=cust, iid=int(conn[0]["subject"].split("/")[1]),
                                 token=minji_tok, agent=minji, port=port, media=media)


def register_phone(srv, port, extension, password, expires=600, tag=None):
    """Registers extension from 127.0.0.1:port with SIPp (the same port the phone's answering
    scenario binds next: a binding is its contact address); returns SIPp's exit code."""
    return Sipp(srv, "register.xml", ["-p", str(port), "-s", extension, "-au", extension,
                                      "-ap", password, "-key", "expires", str(expires), "-d",
                                      "0"], tag or f"register-{extension}").wait()
