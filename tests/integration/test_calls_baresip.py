"""A call answered by a real softphone: baresip registers as Minji's extension and as Sophia's
(the supervisor's monitoring phone; auto-answer, a sine tone as its microphone, G.711), a SIPp
customer dials the billing line, Blend offers the call to Minji, baresip answers, the two
exchange audio through Blend's relay; Sophia listens in from baresip's second line, switches to
barge, and the customer hangs up (the monitor leaves with the call). The event log shows the
call from arrival to end, with RTP counted both ways."""

import os
import signal
import subprocess

import blendtest as bt
from blendtest import check, wait_for

SCEN = os.path.join(bt.SRC, "tests", "sip")


def run():
    check(os.path.exists("/usr/bin/baresip"), "baresip is not installed (scripts/deps.sh)")
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        minji = srv.agent_of_user(admin, "minji")["id"]
        sophia_tok = srv.login("sophia")
        sophia = srv.agent_of_user(admin, "sophia")["id"]
        home = os.path.join(srv.dir, "baresip")
        os.makedirs(home)
        with open(os.path.join(home, "accounts"), "w") as f:
            f.write(f"<sip:1001@127.0.0.1:{srv.sip_port};transport=udp>;auth_pass=sip-demo-1001;"
                    "regint=600;answermode=auto;audio_codecs=PCMU,PCMA\n")
            f.write(f"<sip:1007@127.0.0.1:{srv.sip_port};transport=udp>;auth_pass=sip-demo-1007;"
                    "regint=600;answermode=auto;audio_codecs=PCMU,PCMA\n")
        rtp = bt.free_port() & ~1
        with open(os.path.join(home, "config"), "w") as f:
            f.write(f"sip_listen\t127.0.0.1:{bt.free_port()}\n"
                    "net_interface\t127.0.0.1\n"
                    f"rtp_ports\t{rtp}-{rtp + 9}\n"
                    "module_path\t/usr/lib/baresip/modules\n"
                    "module\tg711.so\n"
                    "module\tausine.so\n"
                    "module\taufile.so\n"
                    "audio_source\tausine,440\n"
                    "ausrc_srate\t48000\n"
                    "ausrc_channels\t2\n"
                    f"audio_player\taufile,{os.path.join(home, 'heard.wav')}\n"
                    "module_app\taccount.so\n"
                    "module_app\tmenu.so\n")
        log = open(os.path.join(srv.dir, "baresip.log"), "w")
        phone = subprocess.Popen(["baresip", "-f", home], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        try:
            state = wait_for("baresip's registration", lambda: (lambda s: s if s["phone"][
                "registered"] else None)(srv.get_ok(f"/api/v1/agents/{minji}/state", admin)))
            check("baresip" in state["phone"]["user_agent"], f"the phone: {state['phone']}")
            wait_for("baresip's second line", lambda: srv.get_ok(
                f"/api/v1/agents/{sophia}/state", admin)["phone"]["registered"])
            st, _, _ = srv.request("POST", f"/api/v1/agents/{minji}/state", minji_tok,
                                   body={"state": "ready"})
            check(st == 200, f"minji ready: {st}")
            err = os.path.join(srv.dir, "sipp-customer.log")
            cust = subprocess.Popen(
                ["sipp", "-sf", os.path.join(SCEN, "customer_call.xml"), "-m", "1", "-i",
                 "127.0.0.1", "-t", "u1", "-s", "+8225550101", "-key", "caller", "01055512345",
                 "-mp", str(bt.free_port()), "-d", "5000", "-timeout", "30", "-timeout_error",
                 "-nostdin", "-trace_err", "-error_file", err, f"127.0.0.1:{srv.sip_port}"],
                cwd=srv.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            answered = wait_for("call.answered", lambda: [
                e for e in srv.event_log(admin) if e["type"] == "call.answered"])[0]
            iid = int(answered["subject"].split("/")[1])
            path = f"/api/v1/interactions/{iid}/party"
            st, _, body = srv.request("POST", path, sophia_tok, body={"mode": "listen"})
            check(st == 202 and body["agent_id"] == sophia, f"sophia listens: {st} {body}")
            wait_for("baresip answers the monitor", lambda: [
                e for e in srv.event_log(admin) if e["type"] == "call.party_answered"])
            st, _, body = srv.request("PATCH", path, sophia_tok, body={"mode": "barge"})
            check(st == 202, f"sophia barges in: {st} {body}")
            wait_for("the barge applied", lambda: [
                e for e in srv.event_log(admin) if e["type"] == "call.party_mode"
                and e["data"]["mode"] == "barge"])
            cust.returncode = cust.wait(timeout=60)
            if cust.returncode != 0 and os.path.exists(err):
                bt.log(open(err, errors="replace").read()[-3000:])
            check(cust.returncode == 0, "the customer's call is answered by baresip and ends")
            ended = wait_for("call.ended", lambda: [
                e for e in srv.event_log(admin) if e["type"] == "call.ended"])[0]["data"]
            check(ended["leg"] == "customer" and ended["rtp_to_agent"] > 0
                  and ended["rtp_to_customer"] > 0, f"audio both ways through Blend: {ended}")
            # Routing's contact.ended is written right after call.ended: wait for it too.
            types = wait_for("contact.ended", lambda: (lambda ts: ts if "contact.ended" in ts
                                                       else None)(
                [e["type"] for e in srv.event_log(admin)]))
            for want in ("call.arrived", "call.ringing", "call.answered", "contact.connected",
                         "contact.ended"):
                check(want in types, f"the log lacks {want}")
            left = [e["data"] for e in srv.event_log(admin) if e["type"] == "call.party_ended"]
            check(left and left[0]["cause"] == "call-ended",
                  f"the monitor left with the call: {left}")
        finally:
            os.killpg(phone.pid, signal.SIGKILL)
            phone.wait()
            log.close()
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
