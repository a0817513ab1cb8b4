// Browser test of the web chat widget (web/widget/blend-chat.js, docs/chat-protocol.md) against
// a real `blend serve` with the demo center: the demo page (web/widget/demo.html) shows the
// launcher; the visitor fills the pre-chat form and sends a message, which gets its "sent"
// receipt once stored; jiho (ready on chat, driven through the API) is offered the chat and
// accepts, the widget says who the visitor talks to; his reply (with markup in it, shown as
// text, never as HTML) appears, his typing shows, his read receipt turns "sent" into "read"; a
// picture sent from the widget is stored with the conversation and jiho downloads the same
// bytes (an SVG is refused in the widget); a reload resumes the conversation with its history;
// the visitor ends the chat and gives five
// stars (a chat.rating event); with nobody on chat the widget offers to leave a message, which
// becomes a queued interaction; a Korean browser gets Korean texts; bot first (an entry point
// with a flow): the bot's menu shows quick replies, a click answers it, "Talk to an agent"
// hands the chat to the queue; an entry point's pre-chat topics are offered as a list and the
// chosen topic's skills go with the conversation; no script errors.
import {
  run, startServer, launchBrowser, newPage, step, screenshot, apiLogin, apiClient, waitFor,
} from "./lib.mjs";

await run(async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const admin = apiClient(srv.base, await apiLogin(srv.base, "admin", "admin-demo-pass"));
  const jihoToken = await apiLogin(srv.base, "jiho", "agent-demo-pass");
  const jiho = apiClient(srv.base, jihoToken);
  const agents = new Map((await admin("GET", "/api/v1/agents?limit=500")).body.items.map((a) => [a.name, a]));
  const jihoId = agents.get("jiho").id;
  const r = await jiho("POST", `/api/v1/agents/${jihoId}/state`, { state: "ready" });
  if (r.status !== 200) throw new Error(`jiho ready: ${r.status} ${JSON.stringify(r.body)}`);
  const page = await newPage(browser);
  const widget = page.locator(".blend-chat");
  let iid = 0;

  await step("the demo page shows the launcher, which opens the pre-chat form", async () => {
    await page.goto(srv.base + "/widget/demo.html");
    await widget.locator(".bc-launcher", { hasText: "Chat with us" }).click();
    await widget.locator(".bc-prechat").waitFor({ state: "visible" });
    await widget.locator("[data-online=yes]").or(page.locator(".blend-chat[data-online=yes]")).first().waitFor();
    await screenshot(page, "widget-01-prechat");
  });

  await step("the visitor starts a chat and sends a message: stored, receipt \"sent\"", async () => {
    await widget.locator(".bc-prechat input[name=name]").fill("Mina Park");
    await widget.locator(".bc-prechat input[name=email]").fill("mina@example.com");
    await widget.locator(".bc-prechat button[type=submit]").click();
    await widget.locator(".bc-chat").waitFor({ state: "visible" });
    await page.locator(".blend-chat[data-connection=connected]").waitFor();
    await widget.locator(".bc-input").fill("Hello, where is my order?");
    await widget.locator(".bc-input").press("Enter");
    const mine = widget.locator(".bc-visitor", { hasText: "Hello, where is my order?" });
    await mine.locator(".bc-receipt", { hasText: "sent" }).waitFor();
    const id = Number(await mine.getAttribute("data-id"));
    const msg = await waitFor(async () => {
      const list = (await admin("GET", "/api/v1/interactions?limit=500")).body.items
        .filter((i) => i.channel === "chat");
      return list.length ? list[list.length - 1] : null;
    }, 10000, "the chat interaction");
    iid = msg.id;
    const stored = (await admin("GET", `/api/v1/interactions/${iid}/messages`)).body.items;
    if (stored.length !== 1 || stored[0].id !== id) throw new Error(`stored: ${JSON.stringify(stored)}`);
  });

  await step("jiho accepts: the widget names him", async () => {
    await waitFor(async () => (await admin("GET", `/api/v1/interactions/${iid}`)).body.state === "offered",
      10000, "the offer to jiho");
    const a = await jiho("POST", `/api/v1/interactions/${iid}/accept`, {});
    if (a.status !== 200) throw new Error(`accept: ${a.status}`);
    await page.locator(".blend-chat[data-chat-state=connected]").waitFor();
    const name = agents.get("jiho").display_name || "Agent";
    await widget.locator(".bc-notice", { hasText: name }).waitFor();
  });

  await step("jiho types and replies: shown as text; his read receipt shows", async () => {
    await jiho("POST", `/api/v1/interactions/${iid}/typing`, { on: true });
    await widget.locator(".bc-typing").waitFor({ state: "visible" });
    const text = "<b>Your order</b> ships today <img src=x onerror=alert(1)>";
    const rep = await jiho("POST", `/api/v1/interactions/${iid}/messages`, { body: text });
    if (rep.status !== 201) throw new Error(`reply: ${rep.status} ${JSON.stringify(rep.body)}`);
    const theirs = widget.locator(".bc-agent .bc-text").last();
    await waitFor(async () => (await theirs.textContent()) === text, 10000, "the reply as text");
    if ((await widget.locator(".bc-agent b, .bc-agent img").count()) !== 0) {
      throw new Error("agent text was rendered as HTML");
    }
    await widget.locator(".bc-typing").waitFor({ state: "hidden" });
    const mineId = Number(await widget.locator(".bc-visitor").first().getAttribute("data-id"));
    await jiho("POST", `/api/v1/interactions/${iid}/read`, { up_to: mineId });
    await widget.locator(".bc-visitor .bc-receipt", { hasText: "read" }).waitFor();
    // The visitor's own read receipt reached the server (the widget sends it for shown replies).
    await waitFor(async () => (await jiho("GET", `/api/v1/interactions/${iid}/chat`)).body.visitor_read_up_to === rep.body.id,
      10000, "the visitor's read receipt");
    await screenshot(page, "widget-02-chat");
  });

  await step("the visitor sends a picture: a file line, stored with the file, jiho downloads the same bytes; an SVG is refused", async () => {
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(3000, 7)]);
    await widget.locator(".bc-file").setInputFiles({ name: "영수증.png", mimeType: "image/png", buffer: png });
    await widget.locator(".bc-file-msg .bc-text", { hasText: "영수증.png" }).waitFor({ timeout: 10000 });
    if ((await widget.locator(".bc-file-msg").count()) !== 1) throw new Error("the file is shown twice (201 and echo)");
    const msgs = (await admin("GET", `/api/v1/interactions/${iid}/messages`)).body.items;
    const m = msgs.find((x) => x.meta && x.meta.attachments && x.meta.attachments.length);
    if (!m || m.meta.attachments[0].filename !== "영수증.png" || m.meta.attachments[0].size !== png.length) {
      throw new Error(`stored: ${JSON.stringify(m)}`);
    }
    const r = await fetch(`${srv.base}/api/v1/interactions/${iid}/messages/${m.id}/attachments/0`,
      { headers: { Authorization: `Bearer ${jihoToken}` } });
    const got = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200 || !got.equals(png)) throw new Error(`download: ${r.status} ${got.length}`);
    await widget.locator(".bc-file").setInputFiles({ name: "x.svg", mimeType: "image/svg+xml", buffer: Buffer.from("<svg/>") });
    await widget.locator(".bc-notice", { hasText: "Only pictures" }).waitFor({ timeout: 5000 });
    await screenshot(page, "widget-02b-file");
  });

  await step("a reload resumes the conversation with its history", async () => {
    await page.reload();
    await widget.locator(".bc-launcher").click();
    await widget.locator(".bc-chat").waitFor({ state: "visible" });
    await widget.locator(".bc-visitor", { hasText: "Hello, where is my order?" }).waitFor();
    await widget.locator(".bc-agent", { hasText: "ships today" }).waitFor();
  });

  await step("the visitor ends the chat and gives five stars", async () => {
    await widget.locator(".bc-end").click();
    await widget.locator(".bc-ended").waitFor({ state: "visible" });
    await widget.locator(".bc-star[data-value='5']").focus();
    await page.keyboard.press("Enter");
    await widget.locator(".bc-notice", { hasText: "Thank you for your rating." }).waitFor();
    const ratings = async () => {
      const out = [];
      for (let after = 0, pages = 0; after !== null && after !== undefined && pages < 1000; pages++) {
        const b = (await admin("GET", `/api/v1/event-log?after=${after}&limit=500`)).body;
        out.push(...b.items.filter((e) => e.type === "chat.rating"));
        after = b.next_after;
      }
      return out.length ? out : null;
    };
    const evs = await waitFor(ratings, 10000, "the chat.rating event");
    if (evs[0].data.value !== 5 || evs[0].data.interaction_id !== iid) {
      throw new Error(`rating event: ${JSON.stringify(evs[0])}`);
    }
    await screenshot(page, "widget-03-rated");
    page.assertNoErrors();
  });

  await step("with nobody on chat the widget offers to leave a message, which is queued", async () => {
    await jiho("POST", `/api/v1/agents/${jihoId}/wrapup-end`);
    await waitFor(async () => (await jiho("POST", `/api/v1/agents/${jihoId}/state`, { state: "logged-out" })).status === 200,
      10000, "jiho logged out");
    const off = await newPage(browser);
    await off.goto(srv.base + "/widget/demo.html");
    await off.locator(".blend-chat .bc-launcher").click();
    const form = off.locator(".blend-chat .bc-offline");
    await form.waitFor({ state: "visible" });
    await form.locator("input[name=name]").fill("Night Owl");
    await form.locator("textarea[name=message]").fill("Please call me back tomorrow");
    await form.locator("button[type=submit]").click();
    await off.locator(".blend-chat .bc-offline-done", { hasText: "your message was received" }).waitFor();
    const left = await waitFor(async () => (await admin("GET", "/api/v1/interactions?limit=500")).body.items
      .filter((i) => i.channel === "chat" && i.state === "queued").pop(), 10000, "the queued chat");
    const msgs = (await admin("GET", `/api/v1/interactions/${left.id}/messages`)).body.items;
    if (msgs[0].body !== "Please call me back tomorrow" || !msgs[0].meta.offline) {
      throw new Error(`left message: ${JSON.stringify(msgs)}`);
    }
    await screenshot(off, "widget-04-offline");
    off.assertNoErrors();
  });

  await step("a Korean browser gets Korean texts; Escape closes the panel", async () => {
    const ko = await newPage(browser, { locale: "ko-KR" });
    await ko.goto(srv.base + "/widget/demo.html");
    const launcher = ko.locator(".blend-chat .bc-launcher", { hasText: "채팅 상담" });
    await launcher.focus();
    await ko.keyboard.press("Enter");
    await ko.locator(".blend-chat .bc-panel").waitFor({ state: "visible" });
    // Nobody is on chat any more: the leave-a-message form, in Korean.
    await ko.locator(".blend-chat .bc-offline", { hasText: "메시지를 남겨" }).waitFor({ state: "visible" });
    await ko.keyboard.press("Escape");
    await ko.locator(".blend-chat .bc-panel").waitFor({ state: "hidden" });
    ko.assertNoErrors();
  });

  await step("bot first: quick replies clicked, then \"Talk to an agent\"", async () => {
    // The demo's entry point web-bot runs the flow chat-welcome (examples/demo.json).
    const bot = await newPage(browser);
    await bot.goto(srv.base + "/widget/bot.html");
    const w = bot.locator(".blend-chat");
    await w.locator(".bc-launcher").click();
    // Nobody is on chat: the leave-a-message form; its message opens the conversation too.
    const form = w.locator(".bc-offline");
    await form.waitFor({ state: "visible" });
    await form.locator("input[name=name]").fill("Bo Kim");
    await form.locator("textarea[name=message]").fill("Hello");
    await form.locator("button[type=submit]").click();
    await bot.locator(".blend-chat[data-chat-state=bot]").waitFor();
    const reply = w.locator(".bc-quick-reply", { hasText: "1" });
    await w.locator(".bc-chat").waitFor({ state: "visible" });
    await reply.waitFor();
    await w.locator(".bc-bot", { hasText: "I am the Blend assistant" }).waitFor();
    await w.locator(".bc-bot", { hasText: "an order (1) or a return (2)?" }).waitFor();
    await w.locator(".bc-to-agent", { hasText: "Talk to an agent" }).waitFor();
    await screenshot(bot, "widget-05-bot");
    await reply.click();
    await w.locator(".bc-visitor", { hasText: "1" }).waitFor();
    await w.locator(".bc-bot", { hasText: "What is your order number?" }).waitFor();
    await w.locator(".bc-quick").waitFor({ state: "hidden" });
    await w.locator(".bc-to-agent").click();
    await bot.locator(".blend-chat[data-chat-state=queued]").waitFor();
    await w.locator(".bc-to-agent").waitFor({ state: "hidden" });
    const conv = await waitFor(async () => {
      const last = (await admin("GET", "/api/v1/interactions?limit=500")).body.items
        .filter((i) => i.channel === "chat").pop();
      return last && last.state === "queued" ? last : null;
    }, 10000, "the queued bot chat");
    const msgs = (await admin("GET", `/api/v1/interactions/${conv.id}/messages`)).body.items;
    const seen = msgs.map((m) => [m.direction, Boolean(m.meta.bot), m.body]);
    const want = [["inbound", false, "Hello"],
      ["outbound", true, "Hi! I am the Blend assistant. Type \"agent\" at any time to talk to a person."],
      ["outbound", true, "Is it about an order (1) or a return (2)?"], ["inbound", false, "1"],
      ["outbound", true, "What is your order number? (4 to 12 digits)"]];
    if (JSON.stringify(seen) !== JSON.stringify(want)) {
      throw new Error(`transcript: ${JSON.stringify(seen)}`);
    }
    bot.assertNoErrors();
  });

  await step("an entry point's pre-chat topics: the form offers them; the chosen one's skills go with the chat", async () => {
    const ep = (await admin("GET", "/api/v1/entry-points?limit=500")).body.items.find((e) => e.address === "web-support");
    const token = await apiLogin(srv.base, "admin", "admin-demo-pass");
    const patch = await fetch(`${srv.base}/api/v1/entry-points/${ep.id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "If-Match": `"${ep.version}"` },
      body: JSON.stringify({ topics: [{ topic: "Order" }, { topic: "한국어 상담", skills: "korean:2" }] }),
    });
    if (patch.status !== 200) throw new Error(`PATCH entry point: ${patch.status} ${await patch.text()}`);
    const again = await jiho("POST", `/api/v1/agents/${jihoId}/state`, { state: "ready" });
    if (again.status !== 200) throw new Error(`jiho ready: ${again.status}`);
    const tp = await newPage(browser);
    await tp.goto(srv.base + "/widget/demo.html");
    const w = tp.locator(".blend-chat");
    await w.locator(".bc-launcher").click();
    const choice = w.locator(".bc-prechat select.bc-topic-choice");
    await choice.waitFor({ state: "visible", timeout: 10000 });
    if (await w.locator(".bc-prechat input[name=topic]").isVisible()) throw new Error("the free-text topic is still shown");
    const options = await choice.locator("option").allTextContents();
    if (JSON.stringify(options) !== JSON.stringify(["Order", "한국어 상담"])) throw new Error(`topics: ${options}`);
    await w.locator(".bc-prechat input[name=name]").fill("Ha Eun");
    await choice.selectOption("한국어 상담");
    await w.locator(".bc-prechat button[type=submit]").click();
    await tp.locator(".blend-chat[data-connection=connected]").waitFor({ timeout: 10000 });
    await w.locator(".bc-input").fill("상담 부탁드립니다");
    await w.locator(".bc-input").press("Enter");
    const conv = await waitFor(async () => {
      const last = (await admin("GET", "/api/v1/interactions?limit=500")).body.items
        .filter((i) => i.channel === "chat").pop();
      return last && last.skills && last.skills.korean === 2 ? last : null;
    }, 10000, "the chat with the topic's skills");
    if (conv.queue !== "chat-support") throw new Error(`queue: ${conv.queue}`);
    await screenshot(tp, "widget-06-topics");
    tp.assertNoErrors();
  });
});
