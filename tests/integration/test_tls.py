"""TLS: with tls.cert and tls.key set, the API is served over HTTPS (verified against the
certificate), the session cookie is marked Secure, and plain HTTP on the port gets no answer."""

import http.client
import json
import os
import socket
import ssl
import subprocess

import blendtest as bt
from blendtest import check


class TlsServer(bt.Server):
    def __init__(self, cert, key):
        super().__init__(extra_config=f"[tls]\ncert = {cert}\nkey = {key}\n")
        self.ctx = ssl.create_default_context(cafile=cert)

    def request(self, method, path, token=None, body=None, headers=None, raw=None, timeout=None):
        h = dict(headers or {})
        data = json.dumps(body).encode() if body is not None else raw
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        if token:
            h.setdefault("Authorization", f"Bearer {token}")
        conn = http.client.HTTPSConnection(
            "localhost", self.port, context=self.ctx, timeout=timeout or bt.HTTP_TIMEOUT_S
        )
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            hdrs = bt.Headers(resp.getheaders())
            return resp.status, hdrs, bt._decode_body(hdrs.get("Content-Type"), payload)
        finally:
            conn.close()


def make_cert(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return cert, key


def run():
    import tempfile

    certdir = tempfile.mkdtemp(prefix="blend-tls-")
    cert, key = make_cert(certdir)
    with TlsServer(cert, key) as srv:
        st, hdrs, body = srv.request(
            "POST", "/api/v1/auth/login", body={"username": "admin", "password": "admin-demo-pass"}
        )
        check(st == 200, f"login over TLS: {st} {body!r}")
        cookie = hdrs.get("Set-Cookie") or ""
        check("Secure" in cookie and "HttpOnly" in cookie, f"cookie not Secure/HttpOnly: {cookie}")
        st, _, queues = srv.request("GET", "/api/v1/queues", body["token"])
        check(st == 200 and len(queues["items"]) == 6, f"queues over TLS: {st} {queues!r}"[:300])

        # Plain HTTP to the TLS port gets no HTTP answer.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                data = b""
        finally:
            s.close()
        check(not data.startswith(b"HTTP/1.1 200"), f"plain HTTP answered on the TLS port: {data!r}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
