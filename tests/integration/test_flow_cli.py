"""`blend flow check` and `blend flow run` (docs/flows.md): the example flow validates; a broken
one is refused naming its nodes; walking the example with keys reaches the Korean menu, a masked
account number, the VIP branch and the billing queue with priority 10; without keys the menus
time out and retry until the flow ends; bad options exit 2."""

import os
import tempfile

import blendtest as bt
from blendtest import check

FLOW = os.path.join(bt.SRC, "examples", "flows", "demo.json")


def run():
    res = bt.run_cli(["flow", "check", FLOW])
    check(res.returncode == 0 and "valid flow" in res.stdout, f"check: {res.returncode} {res.stderr}")

    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"name": "bad", "version": 1, "start": "a", "nodes": {'
                    '"a": {"type": "menu", "prompt": "x", "options": {"1": "nowhere"}},'
                    '"orphan": {"type": "hangup"}}}')
        res = bt.run_cli(["flow", "check", bad])
        check(res.returncode == 1, f"a broken flow exits 1: {res.returncode} {res.stderr}")
        check("nodes.orphan" in res.stderr and "nodes.a" in res.stderr,
              f"the errors name the nodes: {res.stderr}")
        res = bt.run_cli(["flow", "check", os.path.join(tmp, "missing.json")])
        check(res.returncode == 2, f"a missing file exits 2: {res.returncode}")

    res = bt.run_cli(["flow", "run", FLOW, "--digits", "2,1,1,2,3,4,5,5,#",
                      "--calendar", "open", "--caller", "+821012345678"])
    out = res.stdout
    check(res.returncode == 0, f"run: {res.returncode} {res.stderr}")
    for want in ("step ko-menu", "say [ko]", "step acct", "input * at acct", "step vip",
                 "join queue billing (priority 10, skills vip", "ended: answered"):
        check(want in out, f"the walk lacks {want!r}:\n{out}")
    check("input 1 at acct" not in out, f"account digits are masked:\n{out}")

    res = bt.run_cli(["flow", "run", FLOW])
    check(res.returncode == 0 and "timer" in res.stdout and "ended:" in res.stdout,
          f"a walk without keys times out to an end:\n{res.stdout}{res.stderr}")

    for args in (["flow"], ["flow", "run", FLOW, "--hour", "25"],
                 ["flow", "run", FLOW, "--digits", "1x"], ["flow", "check", FLOW, "--digits", "1"]):
        res = bt.run_cli(args)
        check(res.returncode == 2 and res.stderr, f"{args}: exit {res.returncode}")


if __name__ == "__main__":
    bt.main(run)
