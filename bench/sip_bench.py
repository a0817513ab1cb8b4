#!/usr/bin/env python3
"""SIP call-setup benchmark (the method of Asterisk's "measuring SIP channel performance": SIPp,
G.711 SDP, a fixed call rate): a release `blend serve` with AGENTS agents, each with an
extension registered from one SIPp UAS that answers every call (agent_answer.xml), and a bench
queue without wrap-up; a SIPp UAC places RATE calls/s for SECONDS through the entry point, each
held HOLD_MS then hung up. Every call goes through the routing engine (arrival, offer, ring,
answer, end) and the event log. The same UAC then calls the same UAS directly, so the ratio shows
Blend's cost. Prints:
  sip.blend rate=… calls=… ok=… failed=… cpu_pct=…
  sip.direct rate=… calls=… ok=… failed=…
  sip.ratio blend_ok/direct_ok=…
Usage: bench/sip_bench.py BUILD_DIR [RATE] [SECONDS] [AGENTS]"""

import os
import shutil
import subprocess
import sys
import time

from sipcenter import SRC, Center, answering_phones, cpu_ticks, free_port, sipp_counts

HOLD_MS = 1000


def uac(tmp, tag, target, rate, seconds, service):
    stat = os.path.join(tmp, f"{tag}.csv")
    total = rate * seconds
    subprocess.run(["sipp", "-sf", os.path.join(SRC, "bench", "sip", "customer_bench.xml"),
                    "-s", service, "-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1",
                    "-r", str(rate), "-m", str(total), "-d", str(HOLD_MS),
                    "-l", str(rate * 4), "-timeout", str(seconds + 60), "-nostdin",
                    "-trace_stat", "-stf", stat, "-fd", "1", target],
                   cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds + 120)
    return total, sipp_counts(stat)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    agents = int(sys.argv[4]) if len(sys.argv) > 4 else max(50, rate * 3)
    if not shutil.which("sipp"):
        print("sip_bench: sipp is not installed", file=sys.stderr)
        return 1
    center = Center(sys.argv[1], agents)
    phones = None
    try:
        if not center.register_and_ready():
            return 1
        tmp, sip = center.tmp, center.sip
        phones = answering_phones(tmp, center.phone, "phones")
        time.sleep(0.5)
        t0, c0 = time.monotonic(), cpu_ticks(center.server.pid)
        total, (ok, failed) = uac(tmp, "blend", f"127.0.0.1:{sip}", rate, seconds, "+19990000")
        wall = time.monotonic() - t0
        cpu = (cpu_ticks(center.server.pid) - c0) / os.sysconf("SC_CLK_TCK") / wall * 100
        print(f"sip.blend rate={rate} calls={total} ok={ok} failed={failed} cpu_pct={cpu:.1f}")
        dtotal, (dok, dfailed) = uac(tmp, "direct", f"127.0.0.1:{center.phone}", rate, seconds,
                                     "agent")
        print(f"sip.direct rate={rate} calls={dtotal} ok={dok} failed={dfailed}")
        print(f"sip.ratio blend_ok/direct_ok={ok / dok if dok else 0:.3f}")
        return 0 if failed == 0 else 1
    finally:
        if phones:
            phones.kill()
            phones.wait()
        center.stop()


if __name__ == "__main__":
    sys.exit(main())
