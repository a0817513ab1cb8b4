"""Web chat: bot first, typing, ratings after a reload and closed hours (docs/chat-protocol.md, docs/flows.md "Flows on
chat", ADR 0020) against `blend serve` with the demo plus, through the API, a flow `chat-bot`
on a new chat entry point `test-bot` (queue chat-support), and a queue `chat-night` whose
calendar is closed:
1. Bot, menu and collect: the welcome prompt and the menu (with its options as quick replies)
   arrive as bot messages (option 1 labelled "Billing" in the document, option 2 shown by its key);
   a wrong answer asks again; the label "billing" leads to a collect; an invalid account
   number is asked again, a valid one (luhn) queues the conversation; jiho is offered it, and
   GET /interactions/{id}/messages shows him the whole transcript with meta.bot on the bot's.
2. Typing: the visitor's typing reaches jiho's event stream as interaction.typing.
3. Rating after a reload that follows the end: jiho ends it, the visitor reconnects with its
   token, the welcome names the conversation to rate (to_rate), one rating is stored (on the row
   too), a second is refused, and the rating survives a restart.
4. "Talk to an agent" from the first node: the phrase "agent" and the to_agent frame both queue
   at once.
5. kill -9 during the bot part: after the restart the conversation is queued (never lost), its
   transcript kept, and the visitor finds it with its token.
6. Closed hours: a message left while chat-night's calendar is closed is queued (state queued,
   reason closed); once the calendar opens and jiho is ready it is offered to him.
"""

import json
import time

import blendtest as bt
from blendtest import check, wait_for
from test_chat import Visitor, messages, set_state

FLOW = {
    "name": "chat-bot", "language": "en", "start": "welcome",
    "nodes": {
        "welcome": {"type": "play", "text": "Hi! I am the Blend bot.", "next": "menu"},
        "menu": {"type": "menu", "prompt": "Billing (1) or something else (2)?",
                 "options": {"1": {"next": "acct", "label": "Billing"}, "2": "agent"},
                 "retries": 2, "exhausted": "agent"},
        "acct": {"type": "collect", "prompt": "Your account number?", "min": 6, "max": 10,
                 "validate": "luhn", "var": "account", "next": "thanks", "invalid": "acct",
                 "timeout": "agent"},
        "thanks": {"type": "play", "text": "Thank you, account {account}. An agent will join.",
                   "next": "agent"},
        "agent": {"type": "queue", "queue": "chat-support"},
    },
}


class BotVisitor(Visitor):
    """A visitor of the bot entry point."""

    def __init__(self, srv, ep="test-bot", token=None, name="Bo Kim"):
        self.ep = ep
        super().__init__(srv, token=token, name=name)

    def send(self, doc):
        if doc.get("type") == "hello":
            doc = dict(doc, entry_point=self.ep)
        super().send(doc)

    def bot(self, text_part):
        return self.expect("message", where=lambda f: f["message"]["from"] == "bot" and
                           text_part in f["message"]["text"])["message"]


def end_by_agent(srv, admin, jiho, jiho_id, iid):
    st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/end", jiho, body={})
    check(st == 200, f"end: {st} {body}")
    srv.request("POST", f"/api/v1/agents/{jiho_id}/wrapup-end", jiho)
    wait_for("jiho out of wrap-up", lambda: srv.get_ok(
        f"/api/v1/agents/{jiho_id}/state", admin)["state"] != "wrap-up")


def setup(srv, admin, state):
    st, _, body = srv.request("POST", "/api/v1/flows", admin, body=FLOW)
    check(st == 201, f"flow: {st} {body}")
    st, _, body = srv.request("POST", "/api/v1/entry-points", admin, body={
        "name": "test-bot", "channel": "chat", "address": "test-bot", "queue": "chat-support",
        "flow": "chat-bot"})
    check(st == 201, f"entry point: {st} {body}")


def bot_menu_collect(srv, admin, jiho, state):
    v = BotVisitor(srv)
    check(v.welcome["online"] is True and v.welcome["to_rate"] is None, f"welcome: {v.welcome}")
    ack = v.say_acked("Hello")
    iid = ack["conversation"]
    check(v.expect("state")["state"] == "bot", "the bot has the conversation")
    v.bot("I am the Blend bot")
    menu = v.bot("Billing (1)")
    check(menu["options"] == [{"key": "1", "label": "Billing"}, {"key": "2", "label": "2"}],
          f"quick replies (a label from the document, else the key): {menu}")
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["state"] == "new", f"not in routing while the bot runs: {row}")
    v.say_acked("what?")
    v.bot("Billing (1)")  # asked again
    v.say_acked("billing")  # the label, in any case
    v.bot("account number")
    v.say_acked("123456")  # fails luhn
    v.bot("account number")
    v.say_acked("123455")
    v.bot("Thank you, account 123455")
    wait_for("offered to jiho", lambda: srv.get_ok(f"/api/v1/interactions/{iid}", admin)["state"]
             == "offered")
    st, _, body = srv.request("POST", f"/api/v1/interactions/{iid}/accept", jiho, body={})
    check(st == 200, f"accept: {st} {body}")
    v.expect("state", where=lambda f: f["state"] == "connected")
    msgs = srv.get_ok(f"/api/v1/interactions/{iid}/messages", jiho)["items"]
    bodies = [(m["direction"], bool(m["meta"].get("bot")), m["body"]) for m in msgs]
    check(bodies[0] == ("inbound", False, "Hello") and
          ("outbound", True, "Hi! I am the Blend bot.") in bodies and
          ("inbound", False, "123455") in bodies and
          bodies[-1] == ("outbound", True, "Thank you, account 123455. An agent will join."),
          f"the agent sees the bot's transcript: {bodies}")
    wait_for("ivr.step events", lambda: [
        e["data"]["node"] for e in srv.event_log(admin) if e["type"] == "ivr.step" and
        e["data"].get("interaction_id") == iid][:5] == ["welcome", "menu", "menu", "acct", "acct"])
    state.update(visitor=v, iid=iid)


def typing(srv, admin, jiho, state):
    v = state["visitor"]
    stream = srv.ws_connect("/api/v1/events", token=jiho)
    v.send({"type": "typing", "on": True})
    deadline = time.monotonic() + 15
    while True:
        check(time.monotonic() < deadline, "no interaction.typing on jiho's stream")
        e = stream.recv_json(timeout=max(0.1, deadline - time.monotonic())).get("event") or {}
        if e.get("type") == "interaction.typing":
            check(e["data"]["interaction_id"] == state["iid"] and e["data"]["on"] is True and
                  e["data"]["agent_id"] == state["jiho_id"], f"typing event: {e}")
            break
    stream.close()


def rating_after_reload(srv, admin, jiho, state):
    v = state["visitor"]
    end_by_agent(srv, admin, jiho, state["jiho_id"], state["iid"])
    v.expect("state", where=lambda f: f["state"] == "ended")
    v.close()
    v = BotVisitor(srv, token=v.token)
    check(v.welcome["conversation"] is None and v.welcome["to_rate"] == state["iid"],
          f"the ended conversation is found again: {v.welcome}")
    v.send({"type": "rating", "rating": 4, "comment": "good bot"})
    v.expect("rated")
    v.send({"type": "rating", "rating": 1})
    check(v.expect("error")["code"] == "already_rated", "rated once")
    row = srv.get_ok(f"/api/v1/interactions/{state['iid']}", admin)
    check(row.get("rating") == 4, f"the rating is on the row: {row}")
    v.close()
    srv.stop()
    srv.start()
    v = BotVisitor(srv, token=v.token)
    check(v.welcome["to_rate"] is None, f"nothing to rate after the restart: {v.welcome}")
    v.send({"type": "rating", "rating": 2})
    check(v.expect("error")["code"] == "already_rated", "rated once, across a restart")
    v.close()
    state["jiho"] = srv.login("jiho")
    set_state(srv, state["jiho"], state["jiho_id"], "ready")


def talk_to_agent(srv, admin, jiho, state):
    v = BotVisitor(srv, name="Direct")
    ack = v.say_acked("Agent!")
    iid = ack["conversation"]
    s = v.expect("state", where=lambda f: f["state"] != "bot")
    check(s["state"] == "queued" or s["state"] == "connected", f"queued at once: {s}")
    check(not [m for m in messages(srv, admin, iid) if m["meta"].get("bot")],
          "no bot message when the first message asks for a person")
    wait_for("offered", lambda: srv.get_ok(f"/api/v1/interactions/{iid}", admin)["state"]
             == "offered")
    srv.request("POST", f"/api/v1/interactions/{iid}/accept", state["jiho"], body={})
    end_by_agent(srv, admin, state["jiho"], state["jiho_id"], iid)
    v.expect("state", where=lambda f: f["state"] == "ended")
    # The widget's button from the first node.
    v.say_acked("hi again")
    v.bot("Billing (1)")
    v.send({"type": "to_agent"})
    s = v.expect("state", where=lambda f: f["state"] in ("queued", "connected") and
                 f["conversation"] != iid)
    iid2 = s["conversation"]
    check(iid2 != iid, f"a new conversation, queued: {s}")
    wait_for("ivr.exit to-agent", lambda: [
        e for e in srv.event_log(admin) if e["type"] == "ivr.exit" and
        e["data"].get("interaction_id") == iid2 and e["data"]["reason"] == "to-agent"])
    wait_for("offered", lambda: srv.get_ok(f"/api/v1/interactions/{iid2}", admin)["state"]
             == "offered")
    srv.request("POST", f"/api/v1/interactions/{iid2}/accept", state["jiho"], body={})
    end_by_agent(srv, admin, state["jiho"], state["jiho_id"], iid2)
    v.close()


def crash_in_bot(srv, admin, jiho, state):
    set_state(srv, state["jiho"], state["jiho_id"], "not-ready")
    v = BotVisitor(srv, name="Crash")
    ack = v.say_acked("Hello")
    iid = ack["conversation"]
    v.bot("Billing (1)")
    v.say_acked("1")
    v.bot("account number")
    v.close()
    srv.kill9()
    srv.start()
    wait_for("queued after the restart", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "queued")
    v = BotVisitor(srv, token=v.token)
    check(v.welcome["conversation"] == iid, f"found again: {v.welcome}")
    texts = [m["text"] for m in v.welcome["history"]]
    check(texts[0] == "Hello" and "1" in texts and "Your account number?" in texts,
          f"the transcript is kept: {texts}")
    s = v.expect("state")
    check(s["state"] == "queued", f"queued: {s}")
    state["jiho"] = srv.login("jiho")
    set_state(srv, state["jiho"], state["jiho_id"], "ready")
    wait_for("offered", lambda: srv.get_ok(f"/api/v1/interactions/{iid}", admin)["state"]
             == "offered")
    srv.request("POST", f"/api/v1/interactions/{iid}/accept", state["jiho"], body={})
    end_by_agent(srv, admin, state["jiho"], state["jiho_id"], iid)
    v.close()


def closed_hours(srv, admin, jiho, state):
    never = [{"day": d, "open": "00:00", "close": "00:00"}
             for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    st, _, body = srv.request("POST", "/api/v1/calendars", admin, body={
        "name": "night-test", "time_zone": "Asia/Seoul", "hours": never})
    check(st == 201, f"calendar: {st} {body}")
    cal_id = body["id"]
    st, _, body = srv.request("POST", "/api/v1/queues", admin, body={
        "name": "chat-night", "display_name": "Night chat", "channels": ["chat"],
        "skills": [{"skill": "tech", "min_proficiency": 3}], "calendar": "night-test",
        "overflow_action": "callback"})
    check(st == 201, f"queue: {st} {body}")
    st, _, body = srv.request("POST", "/api/v1/entry-points", admin, body={
        "name": "web-night", "channel": "chat", "address": "web-night", "queue": "chat-night"})
    check(st == 201, f"entry point: {st} {body}")
    set_state(srv, state["jiho"], state["jiho_id"], "not-ready")
    v = BotVisitor(srv, ep="web-night", name="Night")
    check(v.welcome["online"] is False, f"closed: {v.welcome}")
    ack = v.say_acked("Are you open tomorrow?")
    iid = ack["conversation"]
    s = v.expect("state")
    check(s["state"] == "queued" and s.get("reason") == "closed", f"queued, closed: {s}")
    row = srv.get_ok(f"/api/v1/interactions/{iid}", admin)
    check(row["state"] == "queued" and row["queue"] == "chat-night", f"row: {row}")
    closed = [e for e in bt.events_of(srv, admin, iid) if e["type"] == "contact.closed"]
    check(closed and closed[0]["data"]["treatment"] == "offline", f"contact.closed: {closed}")
    # The calendar opens; jiho comes back: the message is offered to him.
    always = [{"day": d, "open": "00:00", "close": "24:00"}
              for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    st, _, body = srv.request("PATCH", f"/api/v1/calendars/{cal_id}", admin,
                              body={"hours": always})
    check(st == 200, f"open the calendar: {st} {body}")
    set_state(srv, state["jiho"], state["jiho_id"], "ready")
    wait_for("offered once open", lambda: srv.get_ok(
        f"/api/v1/interactions/{iid}", admin)["state"] == "offered")
    v.close()


def run():
    with bt.Server() as srv:
        admin = srv.login("admin")
        jiho = srv.login("jiho")
        jiho_id = srv.agent_of_user(admin, "jiho")["id"]
        set_state(srv, jiho, jiho_id, "ready")
        state = {"jiho_id": jiho_id, "jiho": jiho}
        parts = bt.Sections()
        parts.run("setup", setup, srv, admin, state)
        parts.run("bot, menu and collect", bot_menu_collect, srv, admin, jiho, state)
        if "iid" in state:
            parts.run("typing on the stream", typing, srv, admin, jiho, state)
            parts.run("rating after reload", rating_after_reload, srv, admin, jiho, state)
        parts.run("talk to an agent", talk_to_agent, srv, admin, jiho, state)
        parts.run("kill -9 in the bot", crash_in_bot, srv, admin, jiho, state)
        parts.run("closed hours", closed_hours, srv, admin, jiho, state)
        parts.run("clean stop", srv.stop)
        parts.finish()


if __name__ == "__main__":
    bt.main(run)
