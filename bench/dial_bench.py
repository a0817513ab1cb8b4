#!/usr/bin/env python3
"""Outbound dialer: one simulated day (bench/dial_day.json: 50 agents, eight hours, answer rates
moving between 15% and 30%) in every mode through `blend sim run`, the same people dialled in
each; prints dial.<mode> lines and predictive's gain over progressive against the targets
(>= 1.4x talk minutes per agent-hour at <= 3% abandoned, occupancy >= 85%).
Usage: bench/dial_bench.py BUILD_DIR [SEED]"""

import json
import os
import subprocess
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    blend = os.path.join(sys.argv[1], "blend")
    seed = sys.argv[2] if len(sys.argv) > 2 else "1"
    model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dial_day.json")
    out = subprocess.run([blend, "sim", "run", model, "--seed", seed, "--json"], check=True,
                         capture_output=True, text=True).stdout
    doc = json.loads(out)["outbound"]
    modes = {m["mode"]: m for m in doc["modes"]}
    for name, m in modes.items():
        print(f"dial.{name} agents={doc['agents']} hours={doc['hours']:.0f} "
              f"talk_min_per_agent_hour={m['talk_min_per_agent_hour']:.2f} "
              f"abandon_rate={m['abandon_rate']:.4f} occupancy={m['occupancy']:.3f} "
              f"dials_per_hour={m['dials_per_hour']:.0f}")
    pr, pg = modes["predictive"], modes["progressive"]
    gain = pr["talk_min_per_agent_hour"] / pg["talk_min_per_agent_hour"]
    ok = gain >= 1.4 and pr["abandon_rate"] <= 0.03 and pr["occupancy"] >= 0.85
    print(f"dial.ratio predictive_vs_progressive_talk={gain:.2f} "
          f"abandon_rate={pr['abandon_rate']:.4f} occupancy={pr['occupancy']:.3f} "
          f"target=1.40x,<=0.03,>=0.85 {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
