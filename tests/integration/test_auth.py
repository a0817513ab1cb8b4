"""Authentication against a live server: login, lock-out, sessions, cookies, logout, API tokens,
garbage tokens, and the per-address login rate limit (on a second, fresh server so the attempts
of the first part do not count against it)."""

import re

import blendtest as bt
from blendtest import check, check_error

TOKEN_RE = re.compile(r"blend_[A-Za-z0-9_-]{43}")


def login_raw(srv, user, password):
    return srv.request("POST", "/api/v1/auth/login", body={"username": user, "password": password})


def login_and_session(srv):
    st, h, body = login_raw(srv, "sophia", "super-demo-pass")
    check(st == 200, f"login sophia: {st} {body!r}")
    tok = body.get("token", "")
    check(TOKEN_RE.fullmatch(tok) is not None, f"token {tok!r} is not blend_ + 43 base64url chars")
    check(isinstance(body.get("expires_at"), int), f"login: expires_at must be an int: {body!r}")
    user = body.get("user") or {}
    check(
        user.get("username") == "sophia" and user.get("role") == "supervisor",
        f"login: user {user!r}",
    )
    check("password_hash" not in user, f"login response leaks password_hash: {user!r}")
    cookies = h.get_all("Set-Cookie")
    session = [c for c in cookies if c.startswith("blend_session=")]
    check(session, f"login must set the blend_session cookie: {cookies!r}")
    attrs = [a.strip().lower() for a in session[0].split(";")]
    check(session[0].split(";")[0] == f"blend_session={tok}", f"cookie value: {session[0]!r}")
    for want in ("httponly", "samesite=strict", "path=/"):
        check(want in attrs, f"session cookie lacks {want}: {session[0]!r}")

    st, _, me = srv.request("GET", "/api/v1/auth/me", token=tok)
    check(st == 200 and me.get("username") == "sophia", f"me with bearer: {st} {me!r}")
    st, _, me = srv.request("GET", "/api/v1/auth/me", headers={"Cookie": f"blend_session={tok}"})
    check(st == 200 and me.get("username") == "sophia", f"me with cookie: {st} {me!r}")
    st, _, me = srv.request(
        "GET", "/api/v1/auth/me", headers={"Cookie": f"other=1; blend_session={tok}; x=y"}
    )
    check(st == 200, f"me with the cookie among others: {st} {me!r}")

    # Logout ends this session only.
    other = srv.login("sophia")
    st, _, body = srv.request("POST", "/api/v1/auth/logout", token=tok)
    check(st == 204, f"logout: expected 204, got {st}: {body!r}")
    st, _, body = srv.request("GET", "/api/v1/auth/me", token=tok)
    check_error(st, body, 401, "unauthenticated", "me with a logged-out bearer token")
    st, _, body = srv.request("GET", "/api/v1/auth/me", headers={"Cookie": f"blend_session={tok}"})
    check_error(st, body, 401, "unauthenticated", "me with a logged-out session cookie")
    st, _, me = srv.request("GET", "/api/v1/auth/me", token=other)
    check(st == 200, f"logout of one session ended another one: {st} {me!r}")


def bad_credentials(srv):
    st, _, body = login_raw(srv, "quinn", "wrong-password")
    check(st == 401, f"bad password: expected 401, got {st}: {body!r}")
    check(
        bt.error_code(body) in ("invalid_credentials", "unauthenticated"),
        f"bad password: code {bt.error_code(body)!r}",
    )
    st, _, body = login_raw(srv, "nobody-here", "whatever-pass")
    check(st == 401, f"unknown user: expected 401, got {st}: {body!r}")
    st, _, body = srv.request("POST", "/api/v1/auth/login", body={"username": "quinn"})
    check(st in (400, 401, 422), f"login without password: expected 4xx, got {st}: {body!r}")
    # A failed attempt or two must not stop the right password (lock-out is at 5).
    srv.login("quinn")


def lockout(srv):
    user = "david"
    for i in range(5):
        st, _, body = login_raw(srv, user, f"wrong-{i}-password")
        if i < 4:
            check(st == 401, f"failure #{i + 1} for {user}: expected 401, got {st}: {body!r}")
        else:
            check(st in (401, 423), f"failure #5 for {user}: expected 401/423, got {st}: {body!r}")
    st, _, body = login_raw(srv, user, bt.PASSWORDS[user])
    check_error(st, body, 423, "account_locked", f"right password after 5 failures for {user}")
    st, _, body = login_raw(srv, user, "wrong-again-pass")
    check_error(st, body, 423, "account_locked", f"wrong password while {user} is locked")
    # Other users are not affected.
    srv.login("lina")


def garbage_tokens(srv):
    for tok in ("garbage", "blend_" + "A" * 43, "blend_" + "A" * 10, "Bearer"):
        st, _, body = srv.request("GET", "/api/v1/auth/me", token=tok)
        check_error(st, body, 401, "unauthenticated", f"me with token {tok!r}")
    st, _, body = srv.request("GET", "/api/v1/auth/me", headers={"Authorization": "Basic YTpi"})
    check_error(st, body, 401, "unauthenticated", "me with Basic auth")
    st, _, body = srv.request("GET", "/api/v1/auth/me")
    check_error(st, body, 401, "unauthenticated", "me without credentials")


def api_tokens(srv):
    session = srv.login("quinn")
    st, h, created = srv.request("POST", "/api/v1/tokens", token=session, body={"name": "crm"})
    check(st == 201, f"POST /api/v1/tokens: expected 201, got {st}: {created!r}")
    api = created.get("token", "")
    check(TOKEN_RE.fullmatch(api) is not None, f"api token {api!r} malformed")
    check(created.get("kind") in (None, "api"), f"created token kind: {created!r}")
    tid = created.get("id")
    check(isinstance(tid, int), f"created token has no id: {created!r}")

    st, _, me = srv.request("GET", "/api/v1/auth/me", token=api)
    check(st == 200 and me.get("username") == "quinn", f"me with API token: {st} {me!r}")

    listed = srv.get_ok("/api/v1/tokens", session)
    ids = [t.get("id") for t in listed["items"]]
    check(tid in ids, f"GET /api/v1/tokens lacks the new token {tid}: {listed!r}")
    for t in listed["items"]:
        check("token" not in t and "token_hash" not in t, f"token list leaks a secret: {t!r}")

    # Another non-admin user can neither see nor delete it.
    other = srv.login("minji")
    theirs = srv.get_ok("/api/v1/tokens", other)
    check(
        tid not in [t.get("id") for t in theirs["items"]],
        f"minji sees quinn's token {tid}: {theirs!r}",
    )
    st, _, body = srv.request("DELETE", f"/api/v1/tokens/{tid}", token=other)
    check(st in (403, 404), f"minji deleting quinn's token: expected 403/404, got {st}: {body!r}")
    st, _, me = srv.request("GET", "/api/v1/auth/me", token=api)
    check(st == 200, f"the token stopped working after a refused delete: {st} {me!r}")
    # Admin sees every token.
    admin = srv.login("admin")
    every = srv.list_all("/api/v1/tokens", admin)
    check(tid in [t.get("id") for t in every], f"admin does not see quinn's token {tid}")

    st, _, body = srv.request("DELETE", f"/api/v1/tokens/{tid}", token=session)
    check(st == 204, f"DELETE own token: expected 204, got {st}: {body!r}")
    st, _, body = srv.request("GET", "/api/v1/auth/me", token=api)
    check_error(st, body, 401, "unauthenticated", "me with a deleted API token")
    listed = srv.get_ok("/api/v1/tokens", session)
    check(tid not in [t.get("id") for t in listed["items"]], "deleted token still listed")


def rate_limit():
    with bt.Server() as srv:
        statuses = []
        for i in range(60):
            st, _, body = login_raw(srv, f"ghost-{i}", "not-a-password")
            statuses.append(st)
            if st == 429:
                check_error(st, body, 429, "rate_limited", f"login attempt #{i + 1}")
                break
            check(st == 401, f"login attempt #{i + 1} (unknown user): expected 401, got {st}")
        check(statuses[-1] == 429, f"no 429 within 60 login attempts: {statuses}")
        check(
            len(statuses) > 30,
            f"429 after only {len(statuses) - 1} attempts; 30 per minute must pass",
        )
        # The limit is per address: the right password from the same address is refused too.
        st, _, body = login_raw(srv, "admin", "admin-demo-pass")
        check_error(st, body, 429, "rate_limited", "admin login right after the rate limit")
        # Authenticated traffic is not rate limited.
        st, _, body = srv.request("GET", "/healthz")
        check(st == 200, f"/healthz while login is rate limited: {st}")
        srv.stop()


def run():
    with bt.Server() as srv:
        login_and_session(srv)
        bad_credentials(srv)
        lockout(srv)
        garbage_tokens(srv)
        api_tokens(srv)
        srv.stop()
    rate_limit()


if __name__ == "__main__":
    bt.main(run)
