"""Business-hours calendars at the queue: a live contact (voice, chat) meeting a closed queue gets
the queue's closed-hours treatment — overflow to an open queue, a callback kept in the queue,
voicemail, chat offline mode, or simply closed — recorded as a contact.closed event; email still
queues. Calendars are made relative to today's date so the test reads the same at any hour:
"closed" is a holiday from yesterday to tomorrow, "open" is open around the clock. Unknown time
zones are refused with a field error."""

import datetime

import blendtest as bt
from blendtest import check

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def post(srv, path, token, body, want):
    st, _, doc = srv.request("POST", path, token, body=body)
    check(st == want, f"POST {path}: expected {want}, got {st} {doc!r}"[:600])
    return doc


def queue(name, channels, action=None, target=None, calendar="shut"):
    q = {"name": name, "channels": channels, "skills": [{"skill": "billing"}],
         "calendar": calendar}
    if action:
        q["overflow_action"] = action
    if target:
        q["overflow_queue"] = target
    return q


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        today = datetime.datetime.now(datetime.timezone.utc).date()
        holidays = [{"date": (today + datetime.timedelta(days=d)).isoformat(),
                     "name": "Inventory day", "open": None, "close": None} for d in (-1, 0, 1)]
        post(srv, "/api/v1/calendars", admin,
             {"name": "shut", "time_zone": "UTC",
              "hours": [{"day": d, "open": "00:00", "close": "24:00"} for d in DAYS],
              "holidays": holidays}, 201)
        post(srv, "/api/v1/calendars", admin,
             {"name": "always", "time_zone": "Pacific/Auckland",
              "hours": [{"day": d, "open": "00:00", "close": "24:00"} for d in DAYS]}, 201)

        st, _, body = srv.request("POST", "/api/v1/calendars", admin,
                                  {"name": "atlantis", "time_zone": "Atlantic/Atlantis"})
        bt.check_error(st, body, 422, "validation_failed", "unknown time zone")
        check("time_zone" in bt.error_paths(body), f"error must name time_zone: {body}")

        post(srv, "/api/v1/queues", admin, queue("open-q", ["voice", "chat"], calendar="always"),
             201)
        post(srv, "/api/v1/queues", admin, queue("to-open", ["voice"], "queue", "open-q"), 201)
        post(srv, "/api/v1/queues", admin, queue("to-shut", ["voice"], "queue", "to-open"), 201)
        post(srv, "/api/v1/queues", admin, queue("cb", ["voice"], "callback"), 201)
        post(srv, "/api/v1/queues", admin, queue("vm", ["voice", "chat"], "voicemail"), 201)
        post(srv, "/api/v1/queues", admin, queue("plain", ["voice", "email"]), 201)

        def arrive(q, channel="voice"):
            return post(srv, "/api/v1/interactions", admin, {"channel": channel, "queue": q}, 201)

        doc = arrive("to-open")
        closed = doc["routing"]["closed"]
        check(closed["treatment"] == "queue" and closed["state"] == "holiday"
              and closed["holiday"] == "Inventory day" and closed["calendar"] == "shut",
              f"to-open: {doc['routing']}")
        check(doc["routing"]["state"] == "waiting" and doc["queue"] == "open-q",
              f"the contact must wait in open-q: {doc}")
        moved = doc["id"]

        # An overflow target that is itself closed: no chain, the contact meets "closed".
        doc = arrive("to-shut")
        check(doc["routing"]["closed"]["treatment"] == "closed" and doc["state"] == "ended",
              f"to-shut: {doc}")

        doc = arrive("cb")
        check(doc["routing"]["closed"]["treatment"] == "callback"
              and doc["routing"]["is_callback"] and doc["routing"]["state"] == "waiting",
              f"cb: {doc['routing']}")

        doc = arrive("vm")
        check(doc["routing"]["closed"]["treatment"] == "voicemail" and doc["state"] == "ended",
              f"vm voice: {doc}")
        doc = arrive("vm", "chat")
        check(doc["routing"]["closed"]["treatment"] == "offline" and doc["state"] == "queued"
              and doc["routing"]["state"] == "waiting", f"vm chat: {doc}")
        doc = arrive("plain")
        check(doc["routing"]["closed"]["treatment"] == "closed" and doc["state"] == "ended",
              f"plain voice: {doc}")
        ended = doc["id"]
        stored = srv.get_ok(f"/api/v1/interactions/{ended}", admin)
        check(stored["state"] == "ended" and stored["ended_at"], f"stored: {stored}")
        doc = arrive("plain", "email")
        check("closed" not in doc["routing"] and doc["routing"]["state"] == "waiting",
              f"email waits for the queue to open: {doc['routing']}")

        events = [e for e in srv.event_log(admin) if e["type"] == "contact.closed"]
        check(len(events) == 6, f"six contact.closed events, got {len(events)}: {events}")
        first = events[0]
        check(first["subject"] == f"interactions/{moved}"
              and first["data"]["queue"] == "to-open" and first["data"]["to_queue"] == "open-q"
              and first["data"]["hours"]["state"] == "holiday", f"first event: {first}")
        figures = {q["name"]: q for q in srv.get_ok("/api/v1/stats/queues", admin)["items"]}
        check(figures["to-open"]["hours"]["state"] == "holiday"
              and figures["open-q"]["hours"]["state"] == "open"
              and "hours" not in figures["email-support"],
              f"live figures carry the calendar state: {figures.get('to-open')}")
        srv.stop()


if __name__ == "__main__":
    bt.main(run)
