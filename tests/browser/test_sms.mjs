// Browser test of the agent desktop's SMS and social conversation panes (web/js/pages/agent.js,
// docs/web.md) against a real `blend serve` whose webhook channel (docs/webhooks.md) posts to a
// provider played by this test (an HTTP server that answers 201 with its own id): an inbound SMS
// signed like a provider signs it reaches Minji as an offer; she accepts, sees the customer's
// Korean text as text, picks the greeting canned response with "/gree", sends it with Enter; the provider receives exactly that text addressed to the customer's
// number, and the reply shows as sent. The customer's next SMS arrives live in the pane. Then a
// social direct message opens a second pane beside the first; her reply reaches the provider as
// a direct message to the author. Screenshots of both panes.
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import {
  run, startServer, launchBrowser, newPage, login, step, screenshot, apiLogin, apiClient, waitFor,
  freePort, onCleanup,
} from "./lib.mjs";

const SECRET = "browser-webhook-secret-0123456789";

await run(async () => {
  // The provider: records Blend's replies.
  const received = [];
  const provPort = await freePort();
  const prov = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      let doc = null;
      try { doc = JSON.parse(body); } catch { doc = { raw: body }; }
      received.push({ path: req.url, doc });
      res.writeHead(201, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ id: `prov-${received.length}` }));
    });
  });
  await new Promise((r) => prov.listen(provPort, "127.0.0.1", r));
  onCleanup(() => new Promise((r) => prov.close(r)));

  const srv = await startServer({
    extraConf: [
      "[webhook]", `secret = ${SECRET}`, `provider_url = http://127.0.0.1:${provPort}/send`,
      "provider_token = browser-token", "sms_queue = sms-support", "social_queue = sms-support",
      "country_code = 82",
    ],
  });
  const admin = apiClient(srv.base, await apiLogin(srv.base, "admin", "admin-demo-pass"));
  const minjiId = 1; // the demo's first agent
  {
    const q = await admin("POST", "/api/v1/queues", { name: "sms-support", channels: ["sms", "social"] });
    if (q.status !== 201) throw new Error(`queue: ${q.status} ${JSON.stringify(q.body)}`);
    const a = await admin("GET", `/api/v1/agents/${minjiId}`);
    const capacity = { ...(a.body.capacity || {}), sms: 2, social: 2 };
    const token = await apiLogin(srv.base, "admin", "admin-demo-pass");
    const p = await fetch(`${srv.base}/api/v1/agents/${minjiId}`, {
      method: "PATCH", body: JSON.stringify({ capacity }),
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "If-Match": `"${a.body.version}"` },
    });
    if (p.status !== 200) throw new Error(`capacity: ${p.status} ${await p.text()}`);
  }

  async function signedPost(path, doc) {
    const body = JSON.stringify(doc);
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = "sha256=" + createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex");
    const r = await fetch(srv.base + path, {
      method: "POST", body,
      headers: { "Content-Type": "application/json", "X-Blend-Timestamp": ts, "X-Blend-Signature": sig },
    });
    const got = await r.json();
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(got)}`);
    return got;
  }

  const browser = await launchBrowser();
  const page = await newPage(browser);
  const pane = (id) => page.locator(`#work .interaction[data-interaction="${id}"]`);
  let smsId = 0;

  await step("Minji logs in and goes ready", async () => {
    await login(page, srv.base, "minji", "agent-demo-pass");
    await page.locator("#agent-desktop").waitFor({ timeout: 10000 });
    await page.locator("#stream-status[data-status=connected]").waitFor({ timeout: 10000 });
    await page.locator("#state-ready").click();
    await page.locator("#my-state[data-state=ready]").waitFor({ timeout: 10000 });
  });

  await step("an inbound SMS is offered; accepted, its text shows as text in the SMS pane", async () => {
    const got = await signedPost("/api/v1/channels/sms/messages",
      { id: "sm-b1", from: "010-5555-1234", to: "+8215880000", text: "배송이 <i>언제</i> 되나요?" });
    smsId = got.interaction_id;
    const o = page.locator(`#offers .offer[data-interaction="${smsId}"]`);
    await o.waitFor({ timeout: 15000 });
    await o.locator("button.accept").click();
    const p = pane(smsId);
    await p.locator(".pane-status[data-status=connected]").waitFor({ timeout: 10000 });
    const inbound = p.locator(".conversation .msg-in .msg-text").first();
    await inbound.waitFor({ timeout: 10000 });
    if ((await inbound.textContent()) !== "배송이 <i>언제</i> 되나요?" || await p.locator(".conversation i").count()) {
      throw new Error(`the customer's text was not shown as text: ${await inbound.textContent()}`);
    }
  });

  await step("/gree + Enter inserts the greeting with the placeholders filled; Enter sends it; the provider gets it", async () => {
    const p = pane(smsId);
    const box = p.locator(`textarea[id="i${smsId}-reply"]`);
    const listbox = p.locator(`ul[role=listbox][id="i${smsId}-canned"]`);
    await box.pressSequentially("/gree");
    await listbox.waitFor({ state: "visible" });
    const first = listbox.locator("[role=option]").first();
    if ((await first.getAttribute("data-name")) !== "greeting") {
      throw new Error(`first option: ${await first.getAttribute("data-name")}`);
    }
    await box.press("Enter");
    await listbox.waitFor({ state: "hidden" });
    const text = await box.inputValue();
    if (!text.startsWith("Hello ") || !text.includes("Kim Minji") || text.includes("{")) {
      throw new Error(`inserted: ${text}`);
    }
    await screenshot(page, "sms-01-canned");
    await box.press("Enter");
    await p.locator(".conversation .msg-out .msg-text", { hasText: text.slice(0, 20) }).waitFor({ timeout: 10000 });
    await waitFor(async () => received.some((r) => JSON.stringify(r.doc).includes(text.slice(0, 20))), 15000,
      "the reply at the provider");
    const sent = received.find((r) => JSON.stringify(r.doc).includes(text.slice(0, 20)));
    if (!JSON.stringify(sent.doc).includes("+821055551234")) {
      throw new Error(`the reply is not addressed to the customer: ${JSON.stringify(sent.doc)}`);
    }
    if (JSON.stringify(sent.doc).includes("{customer_name}")) throw new Error("placeholder left in the reply");
  });

  await step("the customer's next SMS arrives live in the pane", async () => {
    await signedPost("/api/v1/channels/sms/messages", { id: "sm-b2", from: "+82 10 5555 1234", text: "주문번호 7번이요" });
    await pane(smsId).locator(".conversation .msg-in .msg-text", { hasText: "주문번호 7번이요" }).waitFor({ timeout: 10000 });
  });

  await step("a social direct message opens a second pane beside the first; the reply goes out as a DM", async () => {
    const got = await signedPost("/api/v1/channels/social/messages",
      { id: "so-b1", network: "x", author: "@mina_k", kind: "dm", text: "Hi! Where is my parcel?" });
    const sid = got.interaction_id;
    const o = page.locator(`#offers .offer[data-interaction="${sid}"]`);
    await o.waitFor({ timeout: 15000 });
    await o.locator("button.accept").click();
    const p = pane(sid);
    await p.locator(".pane-status[data-status=connected]").waitFor({ timeout: 10000 });
    await p.locator(".conversation .msg-in .msg-text", { hasText: "Where is my parcel?" }).waitFor({ timeout: 10000 });
    if (!(await pane(smsId).isVisible())) throw new Error("the SMS pane went away");
    const box = p.locator(`textarea[id="i${sid}-reply"]`);
    await box.fill("It left our warehouse today.");
    await box.press("Enter");
    await p.locator(".conversation .msg-out .msg-text", { hasText: "warehouse" }).waitFor({ timeout: 10000 });
    await waitFor(async () => received.some((r) => JSON.stringify(r.doc).includes("warehouse")), 15000,
      "the DM at the provider");
    const dm = received.find((r) => JSON.stringify(r.doc).includes("warehouse")).doc;
    if (dm.kind !== "dm") throw new Error(`not sent as a direct message: ${JSON.stringify(dm)}`);
    await screenshot(page, "sms-02-two-panes");
    page.assertNoErrors();
  });
});
