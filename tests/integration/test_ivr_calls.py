"""The demo's main line (+8225550110, flow "main" in examples/demo.json) with real SIP peers:
SIPp callers press RFC 4733 keys (SIPp's own pcaps), SIPp phones answer for Minji, a SIPp UAS is
the far end of the outbound trunk. Prompts are spoken by espeak-ng through the prompt cache.
1. Open hours: English (1), billing (1), a key skips the hold message; Minji answers and hangs
   up first; the caller stays for the survey and answers CSAT 4 and NPS 9; Blend says goodbye and
   hangs up. The flow's steps, the survey answers (naming the interaction and the agent) and
   the agent's departure are events.
2. Callback: nobody is ready; the caller hears their position announced, asks for a callback
   (1 in the queue) and is hung up
   with a confirmation; when Minji becomes ready, Blend rings her phone, then dials the caller's
   number through the trunk, and the callback is connected.
3. A caller who hangs up in the menu: `ivr.exit` "caller-hangup" names the menu.
4. After hours: the caller leaves a voicemail (audio from SIPp's g711a.pcap, ended with #): a
   new interaction of kind "voicemail" in billing, with a mono WAV attached.
5. Self-service: a flow made through the API calls a webhook (a local HTTP server) with the
   caller's number, reads the balance from its answer and speaks it; a URL outside
   `ivr.http_allow` takes the failure branch without any request.
6. Bad flows are refused by the API with field errors naming the node."""

import http.server
import json
import os
import threading
import wave

import blendtest as bt
from blendtest import Sipp, check, events_of, wait_for

TRUNK_PORT = bt.free_port()
PCAPS = "/usr/share/sip-tester"

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="blend ivr caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "IVR Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "IVR Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
"""

# Blend hangs up at the end of the flow: the caller answers its BYE.
TAIL = """  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

NAMES = {"#": "pound", "*": "star"}


BYE = """  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "IVR Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def scenario(srv, name, steps):
    """Writes a caller scenario: steps are "k:KEYS" (each key an RFC 4733 press, 700 ms apart),
    "p:MS" (a pause) or "audio" (SIPp's G.711 A-law sample as the caller's voice); the caller
    waits for Blend's BYE at the end, or hangs up itself when the last step is "bye"."""
    body = []
    tail = TAIL
    if steps and steps[-1] == "bye":
        steps, tail = steps[:-1], BYE
    for s in steps:
        kind, _, arg = s.partition(":")
        if kind == "p":
            body.append(f'  <pause milliseconds="{arg}"/>\n')
        elif kind == "audio":
            body.append(f'  <nop><action><exec play_pcap_audio="{PCAPS}/g711a.pcap"/>'
                        '</action></nop>\n  <pause milliseconds="3000"/>\n')
        else:
            for key in arg:
                pcap = f"{PCAPS}/dtmf_2833_{NAMES.get(key, key)}.pcap"
                body.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                            '  <pause milliseconds="700"/>\n')
    path = os.path.join(srv.dir, name)
    with open(path, "w") as f:
        f.write(HEAD + "".join(body) + tail)
    return path


def caller(srv, name, steps, number, dialled="+8225550110"):
    return Sipp(srv, scenario(srv, name, steps),
                ["-s", dialled, "-key", "caller", number, "-mp", str(bt.free_port())], name)


def flow_events(srv, token, types=None):
    return [e for e in srv.event_log(token) if e["subject"] == "flows/main"
            and (types is None or e["type"] in types)]


def call_events(srv, token, call, types):
    return [e for e in flow_events(srv, token, types) if e["data"]["call"] == call]


def set_calendar(srv, admin, calendar):
    eps = srv.list_all("/api/v1/entry-points", admin)
    ep = [e for e in eps if e["name"] == "main-line"][0]
    st, _, body = srv.request("PATCH", f"/api/v1/entry-points/{ep['id']}", admin,
                              body={"calendar": calendar},
                              headers={"If-Match": f"\"{ep['version']}\""})
    check(st == 200, f"main-line calendar -> {calendar}: {st} {body}")


def state(srv, token, agent, st, reason=None):
    body = {"state": st}
    if reason:
        body["reason"] = reason
    code, _, resp = srv.request("POST", f"/api/v1/agents/{agent}/state", token, body=body)
    check(code == 200, f"agent {st}: {code} {resp}")


def survey_and_agent_leaving(srv, admin, minji_tok, mid, port, media):
    state(srv, minji_tok, mid, "ready")
    phone = Sipp(srv, "agent_hangup.xml", ["-p", port, "-mp", media, "-s", "1001", "-key",
                                           "codec", "8", "-d", "2000"], "phone-a")
    cust = caller(srv, "survey.xml", ["k:115", "p:9000", "k:49"], "0105550001")
    check(cust.wait(60) == 0, "the caller walks the menu, answers the survey, is hung up")
    check(phone.wait() == 0, "Minji's phone answers and hangs up first")
    steps = wait_for("the flow's exit", lambda: (lambda ev: ev if any(
        e["type"] == "ivr.exit" for e in ev) else None)(flow_events(srv, admin)))
    call = [e for e in steps if e["type"] == "ivr.exit"][-1]["data"]["call"]
    nodes = [e["data"]["node"] for e in steps if e["type"] == "ivr.step"
             and e["data"]["call"] == call]
    for want in ["welcome", "language", "use-english", "hours", "menu-en", "billing-wait-en",
                 "billing", "survey-en", "goodbye-en", "hangup"]:
        check(want in nodes, f"step {want} in {nodes}")
    answers = [e["data"] for e in call_events(srv, admin, call, {"survey.answer"})]
    got = {a["question"]: a["value"] for a in answers}
    check(got == {"csat": 4, "nps": 9}, f"survey answers: {answers}")
    iid = answers[0]["answered_interaction"]
    check(iid and answers[0]["agent_id"] == mid, f"answers name the call and Minji: {answers}")
    types = [e["type"] for e in events_of(srv, admin, iid)]
    check("call.agent_left" in types and "contact.connected" in types,
          f"the agent left, the caller stayed: {types}")
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["address"] == "0105550001" and row["language"] == "en",
          f"the interaction keeps the caller's number and language: {row}")


def callback(srv, admin, minji_tok, mid, port, media):
    wait_for("Minji in wrap-up", lambda: srv.get_ok(f"/api/v1/agents/{mid}/state",
                                                     admin)["state"] == "wrap-up")
    code, _, resp = srv.request("POST", f"/api/v1/agents/{mid}/wrapup-end", minji_tok, body={})
    check(code == 200, f"wrap-up ends: {code} {resp}")
    state(srv, minji_tok, mid, "not-ready", "break")
    cust = caller(srv, "callback.xml", ["k:115", "p:4000", "k:1"], "0105550002")
    check(cust.wait(60) == 0, "the caller asks for a callback and is hung up")
    ask = wait_for("the callback request", lambda: [
        e for e in srv.event_log(admin) if e["type"] == "contact.callback"])
    ann = [e["data"] for e in flow_events(srv, admin, {"ivr.announce"})]
    check(any(a["position"] == 1 and a["ewt_min"] >= 0 and a["interaction_id"] ==
              int(ask[-1]["subject"].split("/")[1]) for a in ann),
          f"the waiting caller heard their position: {ann}")
    iid = int(ask[-1]["subject"].split("/")[1])
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["kind"] == "callback" and row["address"] == "0105550002", f"callback row {row}")
    far = Sipp(srv, "trunk_answer_hangup.xml", ["-p", str(TRUNK_PORT), "-mp",
                                                str(bt.free_port()), "-s", "0105550002", "-key",
                                                "codec", "8", "-d", "1500"], "trunk",
               target="127.0.0.1:9")
    phone = Sipp(srv, "agent_answer.xml", ["-p", port, "-mp", media, "-s", "1001", "-key",
                                           "codec", "8", "-d", "0"], "phone-b")
    state(srv, minji_tok, mid, "ready")
    check(far.wait(60) == 0, "the trunk gets the callback with the center's caller ID")
    check(phone.wait(60) == 0, "Minji's phone rang first and is hung up at the end")
    types = wait_for("the callback ends", lambda: (lambda t: t if "contact.ended" in t else None)(
        [e["type"] for e in events_of(srv, admin, iid)]))
    for want in ["call.callback_dial", "contact.connected", "call.callback_progress"]:
        check(want in types, f"{want} in {types}")
    prog = [e["data"] for e in events_of(srv, admin, iid) if e["type"] == "call.callback_progress"]
    check(any(p["sip_code"] == 200 for p in prog), f"the number answered: {prog}")


def voicemail(srv, admin):
    st, _, body = srv.request("POST", "/api/v1/calendars", admin,
                              body={"name": "never-open", "time_zone": "UTC", "hours": []})
    check(st == 201, f"a calendar that is never open: {st} {body}")
    set_calendar(srv, admin, "never-open")
    cust = caller(srv, "voicemail.xml", ["k:1", "p:13000", "audio", "k:#"], "0105550003")
    check(cust.wait(60) == 0, "the caller leaves a message and is hung up")
    vm = wait_for("the voicemail interaction", lambda: [
        i for i in srv.list_all("/api/v1/interactions", admin) if i.get("kind") == "voicemail"])
    check(vm[0]["address"] == "0105550003", f"voicemail from the caller: {vm[0]}")
    recs = wait_for("its recording", lambda: [
        r for r in srv.list_all("/api/v1/recordings", admin)
        if r["interaction"] == vm[0]["id"]])
    check(recs[0]["duration_ms"] >= 1000 and recs[0]["state"] == "complete",
          f"a message of at least a second: {recs[0]}")
    path = os.path.join(srv.dir, "recordings", recs[0]["file"])
    with wave.open(path) as w:
        check(w.getnchannels() == 1 and w.getframerate() == 8000, "a mono 8 kHz WAV")


def dropped_in_menu(srv, admin):
    cust = caller(srv, "dropped.xml", ["k:1", "p:1500", "bye"], "0105550004")
    check(cust.wait(60) == 0, "the caller hangs up in the menu")
    exits = wait_for("the exit", lambda: [
        e["data"] for e in flow_events(srv, admin, {"ivr.exit"})
        if e["data"]["reason"] == "caller-hangup"])
    check(exits[-1]["node"] == "menu-en" and exits[-1]["interaction_id"] is None,
          f"where the caller left the menu: {exits}")


class Hook(http.server.BaseHTTPRequestHandler):
    """The self-service webhook: answers a balance, and keeps what it was sent."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hook.seen.append((self.path, json.loads(body)))
        data = json.dumps({"balance": 1200, "ignored": [1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def webhook(srv, admin, hook_port):
    for name, url, number in [
            ("lookup", f"http://127.0.0.1:{hook_port}/balance?who={{caller}}", "+8225550120"),
            ("lookup-denied", f"http://127.0.0.1:{hook_port + 1}/balance", "+8225550121")]:
        st, _, body = srv.request("POST", "/api/v1/flows", admin, body={
            "name": name, "start": "ask", "nodes": {
                "ask": {"type": "http", "url": url, "timeout_ms": 3000, "vars": ["balance"],
                        "next": "say", "failure": "sorry"},
                "say": {"type": "play", "text": "Your balance is {balance} won.", "next": "bye"},
                "sorry": {"type": "play", "text": "Sorry, try again later.", "next": "bye"},
                "bye": {"type": "hangup"}}})
        check(st == 201, f"flow {name}: {st} {body}")
        st, _, body = srv.request("POST", "/api/v1/entry-points", admin, body={
            "name": name, "channel": "voice", "address": number, "flow": name})
        check(st == 201, f"entry point {name}: {st} {body}")
    cust = caller(srv, "lookup.xml", [], "0105550005", dialled="+8225550120")
    check(cust.wait(60) == 0, "the self-service caller hears the balance and is hung up")
    check(len(Hook.seen) == 1 and Hook.seen[0][0] == "/balance?who=0105550005" and
          Hook.seen[0][1]["caller"] == "0105550005" and Hook.seen[0][1]["node"] == "ask",
          f"the webhook got the call: {Hook.seen}")
    steps = [e["data"]["node"] for e in srv.event_log(admin)
             if e["subject"] == "flows/lookup" and e["type"] == "ivr.step"]
    check(steps == ["ask", "say", "bye"], f"answered: {steps}")
    cust = caller(srv, "denied.xml", [], "0105550006", dialled="+8225550121")
    check(cust.wait(60) == 0, "a URL outside ivr.http_allow is a failure")
    steps = [e["data"]["node"] for e in srv.event_log(admin)
             if e["subject"] == "flows/lookup-denied" and e["type"] == "ivr.step"]
    check(steps == ["ask", "sorry", "bye"] and len(Hook.seen) == 1, f"refused: {steps}")


def bad_flows(srv, admin):
    st, _, body = srv.request("POST", "/api/v1/flows", admin, body={
        "name": "broken", "start": "menu", "nodes": {
            "menu": {"type": "menu", "prompt": "Press 1", "options": {"1": "nowhere"}}}})
    check(st == 422 and any(e["path"] == "nodes.menu" for e in body["error"]["details"]),
          f"a target to no node is refused, naming the node: {st} {body}")
    st, _, body = srv.request("POST", "/api/v1/flows", admin, body={
        "name": "partial", "start": "a", "nodes": {"a": {"type": "hangup"}}})
    check(st == 201, f"a one-node flow is fine: {st} {body}")
    st, _, body = srv.request("PATCH", f"/api/v1/flows/{body['id']}", admin,
                              body={"nodes": {"b": {"type": "hangup"}}},
                              headers={"If-Match": f"\"{body['version']}\""})
    check(st == 422, f"a graph change gives start and nodes together: {st} {body}")


def run():
    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    hook_port = hook.server_address[1]
    conf = (f"[sip]\ntrunk_uri = sip:127.0.0.1:{TRUNK_PORT}\ntrunk_caller_id = 5551234\n"
            f"[ivr]\nhttp_allow = http://127.0.0.1:{hook_port}/balance\n")
    with bt.Server(phones_required=True, extra_config=conf) as srv:
        admin = srv.login("admin")
        minji_tok = srv.login("minji")
        mid = srv.agent_of_user(admin, "minji")["id"]
        port, media = str(bt.free_port()), str(bt.free_port())
        check(bt.register_phone(srv, port, "1001", "sip-demo-1001") == 0, "the phone registers")
        wait_for("the phone", lambda: srv.get_ok(f"/api/v1/agents/{mid}/state",
                                                 admin)["phone"]["registered"])
        set_calendar(srv, admin, "around-the-clock")
        survey_and_agent_leaving(srv, admin, minji_tok, mid, port, media)
        callback(srv, admin, minji_tok, mid, port, media)
        dropped_in_menu(srv, admin)
        voicemail(srv, admin)
        webhook(srv, admin, hook_port)
        bad_flows(srv, admin)
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
