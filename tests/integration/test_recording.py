"""Recording a phone call through `blend serve`: a SIPp customer (playing A-law audio) is
connected to Minji's SIPp phone (echoing it); Minji starts the recording through the API, pauses
it for a card number and resumes, and the customer hangs up. The finalised recording becomes a
row with its checksum and paused span; a supervisor downloads the stereo WAV (8 kHz, customer
left, agent right), which matches the checksum, and the download is in the audit log. Agents
may not download recordings; bad actions are refused. With the queue's recording policy set to
"always", the next call is recorded from its connection without anyone asking."""

import hashlib
import io
import time
import wave

import blendtest as bt
from blendtest import Sipp, check, wait_for


def run():
    with bt.Server(phones_required=True) as srv:
        admin = srv.login("admin")
        sophia = srv.login("sophia")
        call = bt.agent_phone_call(srv, admin, "customer_call.xml", "0105550", 3500)
        phone, cust, iid, minji_tok, minji = call.phone, call.cust, call.iid, call.token, call.agent
        port, media = call.port, call.media
        path = f"/api/v1/interactions/{iid}/recording"

        st, _, body = srv.request("POST", path, minji_tok, body={"action": "rewind"})
        bt.check_error(st, body, 422, "validation_failed", "unknown action")
        st, _, body = srv.request("POST", path, minji_tok, body={"action": "start"})
        check(st == 202, f"start: {st} {body}")
        time.sleep(0.8)  # spacing for a recording with audio before, in and after the pause
        st, _, _ = srv.request("POST", path, minji_tok, body={"action": "pause"})
        check(st == 202, f"pause: {st}")
        time.sleep(0.5)
        st, _, _ = srv.request("POST", path, minji_tok, body={"action": "resume"})
        check(st == 202, f"resume: {st}")
        check(cust.wait() == 0, "the customer talks, then hangs up")
        check(phone.wait() == 0, "the phone is hung up by Blend")

        rec = wait_for("the recording's row", lambda: srv.get_ok(
            "/api/v1/recordings", sophia)["items"])[0]
        check(rec["interaction"] == iid and rec["state"] == "complete"
              and rec["duration_ms"] > 1500 and rec["paused"]["count"] == 1
              and len(rec["paused"]["spans"]) == 1, f"the recording: {rec}")
        span = rec["paused"]["spans"][0]
        check(0 < span["start_ms"] < span["end_ms"] <= rec["duration_ms"], f"paused span {span}")

        st, headers, audio = srv.request("GET", f"/api/v1/recordings/{rec['id']}/audio", sophia)
        check(st == 200 and headers.get("Content-Type", "").startswith("audio/wav"),
              f"download: {st} {headers}")
        check(hashlib.sha256(audio).hexdigest() == rec["sha256"] and len(audio) == rec["bytes"],
              "the download matches the stored checksum and size")
        with wave.open(io.BytesIO(audio)) as w:
            check(w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2,
                  f"stereo 8 kHz 16-bit: {w.getparams()}")
            frames = w.getnframes()
            check(abs(frames / 8 - rec["duration_ms"]) <= 40,
                  f"{frames} frames for {rec['duration_ms']} ms")
            pcm = w.readframes(frames)
        # Audio on both channels outside the pause, silence inside it.
        def level(channel, start_ms, end_ms):
            total, n = 0, 0
            for i in range(start_ms * 8, end_ms * 8):
                off = i * 4 + channel * 2
                total += abs(int.from_bytes(pcm[off:off + 2], "little", signed=True))
                n += 1
            return total / max(n, 1)
        before = max(0, span["start_ms"] - 300)
        check(level(0, before, span["start_ms"]) > 0 or level(1, before, span["start_ms"]) > 0,
              "audio before the pause")
        check(level(0, span["start_ms"] + 5, span["end_ms"] - 5) == 0
              and level(1, span["start_ms"] + 5, span["end_ms"] - 5) == 0,
              "silence while paused")

        st, _, body = srv.request("GET", f"/api/v1/recordings/{rec['id']}/audio", minji_tok)
        bt.check_error(st, body, 403, "forbidden", "an agent downloading a recording")
        # Audit rows of reads are written without holding the answer back: poll for it.
        wait_for("the download in the audit log", lambda: any(
            a.get("resource") == "recordings" and a.get("action") == "read"
            and a.get("resource_id") == rec["id"]
            for a in srv.get_ok("/api/v1/audit?limit=500", admin)["items"]))

        # Policy: billing records every call.
        billing = [q for q in srv.list_all("/api/v1/queues", admin) if q["name"] == "billing"][0]
        st, _, body = srv.request("PATCH", f"/api/v1/queues/{billing['id']}", admin,
                                  body={"recording": "always"},
                                  headers={"If-Match": f'"{billing["version"]}"'})
        check(st == 200 and body["recording"] == "always", f"recording policy: {st} {body}")
        wait_for("minji back to ready", lambda: srv.request(
            "POST", f"/api/v1/agents/{minji}/wrapup-end", minji_tok)[0] in (200, 409)
            and srv.get_ok(f"/api/v1/agents/{minji}/state", admin)["state"] == "ready")
        phone = Sipp(srv, "agent_answer.xml", ["-p", str(port), "-mp", str(media), "-s", "1001",
                                               "-key", "codec", "8", "-d", "0", "-rtp_echo"],
                     "phone-2")
        time.sleep(0.2)
        cust = Sipp(srv, "customer_call.xml", ["-s", "+8225550101", "-key", "caller", "0105551",
                                               "-mp", str(bt.free_port()), "-d", "1500"],
                    "customer-2")
        check(cust.wait() == 0 and phone.wait() == 0, "the second call goes through")
        recs = wait_for("the policy's recording", lambda: (lambda r: r if len(r) == 2 else None)(
            srv.get_ok("/api/v1/recordings", sophia)["items"]))
        second = recs[1]
        check(second["interaction"] != iid and second["state"] == "complete"
              and second["duration_ms"] > 500 and second["paused"]["count"] == 0,
              f"recorded by policy: {second}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
