"""`GET /metrics` on a live server: Prometheus text format with the series the contract names.

- `blend_build_info` (a gauge of 1 with the version as a label);
- `blend_http_requests_total{route,status}` growing by exactly the requests made;
- the store commit latency histogram (`blend_store_commit_duration_seconds` or `..._ms`: any
  family starting `blend_store_commit` with `_bucket`, `_sum`, `_count`), counting a new commit;
- `blend_event_log_seq` equal to `/healthz` `event_seq`;
- `process_resident_memory_bytes` > 0.
"""

import re

import blendtest as bt
from blendtest import check

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(srv):
    st, h, text = srv.request("GET", "/metrics")
    check(st == 200, f"GET /metrics: {st} {text!r}"[:300])
    ctype = h.get("Content-Type") or ""
    check(ctype.startswith("text/plain"), f"/metrics content type {ctype!r}")
    samples, types = [], {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                check(parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"),
                      f"/metrics line {n}: bad TYPE {line!r}")
                types[parts[2]] = parts[3]
            continue
        m = LINE.match(line)
        check(m is not None, f"/metrics line {n} is not a sample: {line!r}")
        labels = dict(LABEL.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            raise bt.TestFailure(f"/metrics line {n}: bad value {line!r}")
        samples.append((m.group(1), labels, value))
    return samples, types


def find(samples, name, **labels):
    return [(l, v) for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]


def value(samples, name, **labels):
    got = find(samples, name, **labels)
    return sum(v for _, v in got)


def healthz_routes(samples):
    """Label sets of the requests-total series for /healthz with status 200."""
    return [l for l, _ in find(samples, "blend_http_requests_total")
            if "healthz" in l.get("route", "") and l.get("status") == "200"]


def run():
    with bt.Server() as srv:
        samples, types = scrape(srv)
        info = find(samples, "blend_build_info")
        check(info, "blend_build_info missing")
        check(all(v == 1 for _, v in info), f"blend_build_info must be 1: {info}")
        check(types.get("blend_http_requests_total") == "counter",
              f"blend_http_requests_total must be a counter: {types.get('blend_http_requests_total')}")
        check(types.get("process_resident_memory_bytes") == "gauge",
              "process_resident_memory_bytes must be a gauge")
        rss = value(samples, "process_resident_memory_bytes")
        check(rss > 1024 * 1024, f"process_resident_memory_bytes = {rss}")

        # The telephony thread's counters (SIP is on in the test server).
        check(types.get("blend_sip_calls_active") == "gauge" and
              types.get("blend_sip_rtp_packets_total") == "counter",
              f"blend_sip_* families: {[t for t in types if t.startswith('blend_sip')]}")
        kinds = {l.get("kind") for l, _ in find(samples, "blend_sip_rtp_packets_total")}
        check(kinds == {"to_agent", "to_customer", "moh", "comfort", "prompt", "silence", "mixed",
                        "dropped", "held"},
              f"blend_sip_rtp_packets_total kinds: {kinds}")
        check(value(samples, "blend_sip_calls_active") == 0, "no call yet")

        # Requests are counted per route and status.
        for _ in range(3):
            srv.request("GET", "/healthz")
        samples, _ = scrape(srv)
        routes = healthz_routes(samples)
        check(routes, f"no blend_http_requests_total series for /healthz with status 200: "
                      f"{find(samples, 'blend_http_requests_total')}")
        route = routes[0]["route"]
        before = value(samples, "blend_http_requests_total", route=route, status="200")
        for _ in range(5):
            st, _, _ = srv.request("GET", "/healthz")
            check(st == 200, f"/healthz: {st}")
        samples, _ = scrape(srv)
        after = value(samples, "blend_http_requests_total", route=route, status="200")
        check(after == before + 5,
              f"blend_http_requests_total{{route={route!r},status=\"200\"}}: {before} -> {after}, "
              f"expected +5")
        token = srv.login("admin")
        st, _, _ = srv.request("GET", "/api/v1/skills/999999", token)
        check(st == 404, f"GET unknown skill: {st}")
        samples, _ = scrape(srv)
        check(any(l.get("status") == "404" for l, _ in find(samples, "blend_http_requests_total")),
              "a 404 was not counted in blend_http_requests_total")

        # The commit histogram counts a new commit.
        fams = sorted({n.rsplit("_", 1)[0] for n, _, _ in samples
                       if n.startswith("blend_store_commit") and n.endswith("_bucket")})
        check(fams, "no blend_store_commit* histogram in /metrics")
        fam = fams[0]
        check(find(samples, fam + "_sum") and find(samples, fam + "_count"),
              f"{fam} lacks _sum or _count")
        inf = find(samples, fam + "_bucket", le="+Inf")
        check(inf, f"{fam} has no le=\"+Inf\" bucket")
        count0 = value(samples, fam + "_count")
        check(value(samples, fam + "_bucket", le="+Inf") == count0, f"{fam}: +Inf bucket != _count")
        st, _, doc = srv.request("POST", "/api/v1/skills", token, body={"name": "metrics-one"})
        check(st == 201, f"POST skill: {st} {doc!r}")
        samples, _ = scrape(srv)
        count1 = value(samples, fam + "_count")
        check(count1 >= count0 + 1, f"{fam}_count did not grow after a write: {count0} -> {count1}")
        buckets = sorted((float(l["le"]), v) for l, v in find(samples, fam + "_bucket"))
        check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
              f"{fam} buckets are not cumulative: {buckets}")

        # The event-log gauge matches /healthz (nothing writes between the three reads).
        for _ in range(5):
            h1 = srv.get_ok("/healthz", None)["event_seq"]
            samples, _ = scrape(srv)
            h2 = srv.get_ok("/healthz", None)["event_seq"]
            if h1 == h2:
                break
        seq = find(samples, "blend_event_log_seq")
        check(seq, "blend_event_log_seq missing")
        check(seq[0][1] == h1, f"blend_event_log_seq {seq[0][1]} != /healthz event_seq {h1}")
        check(h1 > 0, "event_seq is 0 after provisioning and writes")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
