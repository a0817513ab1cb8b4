"""The documentation matches the server's own route table, both ways.

`blend routes` prints one route per line, `METHOD PATH ROLES` (ROLES comma-separated, or
`public`; METHOD `WS` marks a WebSocket endpoint, whose upgrade request is a GET). Every route must be documented in docs/openapi.yaml (path + method, and the same
roles in `x-roles`) and in the table of docs/rbac.md (same roles), and neither document may list a
route the server lacks. Path parameter names are compared loosely (`{id}` == `{agent_id}`).
"""

import os
import re

import blendtest as bt

ROLES = bt.ROLES
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def norm_path(p):
    return re.sub(r"\{[^}]*\}", "{}", p)


def norm_roles(text):
    roles = sorted(r.strip() for r in text.split(",") if r.strip())
    return ("public",) if roles == ["public"] else tuple(sorted(roles, key=ROLES.index))


def server_routes():
    res = bt.run_cli(["routes"], timeout=30)
    bt.check(res.returncode == 0, f"`blend routes` exited {res.returncode}: {res.stderr}")
    routes = {}
    for line in res.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        bt.check(len(parts) == 3, f"`blend routes` line is not 'METHOD PATH ROLES': {line!r}")
        method, path, roles = parts
        method = method.upper()
        if method == "WS":
            # A WebSocket endpoint: the upgrade is a GET, documented as such.
            method = "GET"
        bt.check(method.lower() in HTTP_METHODS, f"`blend routes`: bad method in {line!r}")
        for r in roles.split(","):
            bt.check(r in ROLES + ("public",), f"`blend routes`: unknown role {r!r} in {line!r}")
        key = (method, norm_path(path))
        bt.check(key not in routes, f"`blend routes` lists {method} {path} twice")
        routes[key] = (path, norm_roles(roles))
    bt.check(routes, f"`blend routes` printed nothing: {res.stdout!r} {res.stderr!r}")
    return routes


def openapi_routes(path):
    """(METHOD, normalized path) -> roles, from the `paths:` section's regular layout."""
    with open(path) as f:
        lines = f.read().splitlines()
    bt.check(lines and lines[0].startswith("openapi: 3."), "openapi.yaml must start 'openapi: 3.x'")
    out = {}
    in_paths = False
    cur_path = cur_method = None
    for n, line in enumerate(lines, 1):
        if re.match(r"^\S", line):
            in_paths = line.rstrip() == "paths:"
            cur_path = cur_method = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            cur_path, cur_method = m.group(1), None
            continue
        m = re.match(r"^    ([a-z]+):\s*$", line)
        if m and cur_path:
            if m.group(1) in HTTP_METHODS:
                cur_method = m.group(1).upper()
                key = (cur_method, norm_path(cur_path))
                bt.check(key not in out, f"openapi.yaml:{n}: {cur_method} {cur_path} twice")
                out[key] = None
            else:
                cur_method = None
            continue
        m = re.match(r"^      x-roles:\s*\[(.*)\]\s*$", line)
        if m and cur_method:
            out[(cur_method, norm_path(cur_path))] = norm_roles(m.group(1))
    bt.check(out, "openapi.yaml: no operations found under paths:")
    for key, roles in out.items():
        bt.check(roles is not None, f"openapi.yaml: {key[0]} {key[1]} has no x-roles line")
    return out


def rbac_routes(path):
    with open(path) as f:
        text = f.read()
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    bt.check(rows, "rbac.md: no table")
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    bt.check(
        header == ["method", "path"] + list(ROLES),
        f"rbac.md: table header must be method | path | admin | supervisor | qa | agent, "
        f"got {header}",
    )
    out = {}
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        bt.check(len(cells) == 6, f"rbac.md: row with {len(cells)} cells: {ln!r}")
        method, p, *vals = cells
        bt.check(all(v in ("allow", "deny", "public") for v in vals), f"rbac.md: bad cell in {ln!r}")
        if "public" in vals:
            bt.check(all(v == "public" for v in vals), f"rbac.md: public must fill the row: {ln!r}")
            roles = ("public",)
        else:
            roles = tuple(r for r, v in zip(ROLES, vals) if v == "allow")
        key = (method.upper(), norm_path(p))
        bt.check(key not in out, f"rbac.md: {method} {p} listed twice")
        out[key] = roles
    return out


def compare(server, docs, doc_name, problems):
    for key, (path, roles) in sorted(server.items()):
        if key not in docs:
            problems.append(f"{doc_name}: server route {key[0]} {path} is not documented")
        elif docs[key] != roles:
            problems.append(
                f"{doc_name}: {key[0]} {path}: server roles {','.join(roles)}, "
                f"documented {','.join(docs[key])}"
            )
    for key in sorted(docs):
        if key not in server:
            problems.append(f"{doc_name}: documents {key[0]} {key[1]} which the server lacks")


def run():
    docs = os.path.join(bt.SRC, "docs")
    api = openapi_routes(os.path.join(docs, "openapi.yaml"))
    rbac = rbac_routes(os.path.join(docs, "rbac.md"))
    # The two documents agree with each other regardless of the server.
    problems = []
    compare({k: (k[1], v) for k, v in rbac.items()}, api, "openapi.yaml vs rbac.md", problems)
    server = server_routes()
    bt.log(f"server routes: {len(server)}, openapi: {len(api)}, rbac.md: {len(rbac)}")
    compare(server, api, "openapi.yaml", problems)
    compare(server, rbac, "rbac.md", problems)
    bt.check(not problems, "documentation and server disagree:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    bt.main(run)
