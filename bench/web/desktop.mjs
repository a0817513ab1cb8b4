// Agent desktop load benchmark: starts a real `blend serve` (BUILD_DIR/blend; use a release
// build) with the demo center on loopback ports in a temporary directory, creates through the
// API one customer (contact) with --interactions ended interactions in their timeline (voice,
// chat and email in turn; four workers in parallel, each interaction offered to whichever of
// David, Lina, Sora and Jiho routing picks, accepted by them, given notes and a disposition,
// ended; the queues' wrap-up time is set to 0 first), then one more voice interaction of that
// customer
// offered to Kim Minji and accepted: her desktop shows it with the customer's timeline. Then
// --loads times, each in a new Chromium context (no cache, no storage), Minji's session is
// opened through the API (the context keeps the cookie) and the desktop (/#/agent) is loaded;
// the page's own performance marks (web/js/pages/agent.js) give, from the navigation's start:
//   blend.agent.usable   — her presence is shown and the state control is enabled;
//   blend.agent.timeline — the first page of the customer's timeline is shown in the pane.
// Prints the median and p90 of both, the timeline page size the page asked for (its
// ?limit=), and each as a ratio to the 1 s target (docs/performance.md). Usage:
//   node bench/web/desktop.mjs BUILD_DIR [--interactions 1000] [--loads 10] [--json]
// Environment: BLEND_SRC (source tree: web/ and examples/demo.json; default ../..), CHROMIUM.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.BLEND_SRC || join(here, "..", "..");
const require = createRequire(join(src, "tests", "browser", "package.json"));
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const buildDir = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")));
if (!buildDir && !process.env.BLEND_BIN) {
  console.error("usage: node bench/web/desktop.mjs BUILD_DIR [--interactions 1000] [--loads 10] [--json]");
  process.exit(2);
}
const bin = buildDir ? join(resolve(buildDir), "blend") : process.env.BLEND_BIN;
const N_INTERACTIONS = Number(opt("interactions", "1000"));
const N_LOADS = Number(opt("loads", "10"));
const TARGET_MS = 1000;
const QUEUES = [["voice", "billing"], ["chat", "chat-support"], ["email", "email-support"]];
const DISPOSITIONS = ["resolved", "follow_up", "information", "complaint"];

function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the server ------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "blend-bench-desktop-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
writeFileSync(join(dir, "blend.conf"), [
  "[http]", `listen = 127.0.0.1:${port}`, `web_dir = ${join(src, "web")}`,
  // The agents answer through the API, not a phone.
  "[sip]", `listen = 127.0.0.1:${await freePort()}`, "voice_requires_phone = no",
  "[store]", `url = sqlite:${join(dir, "blend.db")}`,
  "[data]", `dir = ${dir}`,
  "[auth]", "password_cost = min", "",
].join("\n"));
let serverLog = "";
const proc = spawn(bin, ["serve", "--config", join(dir, "blend.conf"), "--provision", join(src, "examples", "demo.json")],
  { stdio: ["ignore", "ignore", "pipe"] });
proc.stderr.on("data", (d) => { serverLog = (serverLog + d).slice(-4000); });
const exited = new Promise((r) => proc.on("exit", r));
let browser = null;

async function cleanup(failed) {
  if (browser) await browser.close().catch(() => {});
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    await exited;
  }
  if (failed) console.error(`server log tail:\n${serverLog}`);
  else rmSync(dir, { recursive: true, force: true });
}

async function request(token, method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const doc = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
  return doc;
}
async function login(username, password) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new Error(`login ${username}: ${r.status}`);
  return (await r.json()).token;
}
// The interaction's routing state once it is offered (at once when one of the agents is free).
async function offered(admin, id, first) {
  let r = first;
  for (let i = 0; i < 1000 && r?.state !== "offered"; i++) {
    await sleep(10);
    r = await request(admin, "GET", `/api/v1/interactions/${id}/routing`);
  }
  if (r?.state !== "offered") throw new Error(`interaction ${id} was not offered: ${JSON.stringify(r)}`);
  return r;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)];

let result;
try {
  const until = Date.now() + 30000;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch (_) { /* not listening yet */ }
    if (Date.now() > until || proc.exitCode !== null) throw new Error("the server did not become healthy");
    await sleep(100);
  }

  // ---- the customer and their timeline ---------------------------------------------------
  const admin = await login("admin", "admin-demo-pass");
  const minji = await login("minji", "agent-demo-pass");
  const agents = new Map((await request(admin, "GET", "/api/v1/agents?limit=500")).items.map((a) => [a.name, a.id]));
  const minjiId = agents.get("minji");
  // The agents who take the timeline's interactions (billing, chat-support, email-support).
  const setupAgents = new Map();
  for (const name of ["david", "lina", "sora", "jiho"]) {
    setupAgents.set(agents.get(name), { name, token: await login(name, "agent-demo-pass") });
  }
  const contact = await request(admin, "POST", "/api/v1/contacts", { name: "김서연 Seoyeon Kim", language: "ko" });
  const setupT0 = Date.now();
  // No wrap-up between two interactions of the set-up (four requests per interaction).
  const queueIds = new Map((await request(admin, "GET", "/api/v1/queues?limit=500")).items.map((q) => [q.name, q.id]));
  for (const [, queue] of QUEUES) await request(admin, "PATCH", `/api/v1/queues/${queueIds.get(queue)}`, { wrap_up_s: 0 });
  for (const [id, a] of setupAgents) await request(a.token, "POST", `/api/v1/agents/${id}/state`, { state: "ready" });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < N_INTERACTIONS; i = next++) {
      const [channel, queue] = QUEUES[i % QUEUES.length];
      const it = await request(admin, "POST", "/api/v1/interactions", { channel, queue, contact: contact.id });
      // Should an offer be withdrawn before the accept, wait for the next one.
      let r = it.routing;
      let a = null;
      for (let tries = 0; !a; tries++) {
        r = await offered(admin, it.id, r);
        a = setupAgents.get(r.agent_id);
        if (!a) throw new Error(`interaction ${it.id} offered to agent ${r.agent_id}`);
        try {
          await request(a.token, "POST", `/api/v1/interactions/${it.id}/accept`);
        } catch (e) {
          if (tries > 50) throw e;
          a = null;
          r = null;
        }
      }
      await request(admin, "PATCH", `/api/v1/interactions/${it.id}`, {
        notes: `Bench note ${i + 1}: the customer asked about invoice ${100000 + i}; 고객이 청구서를 문의함. 客户询问了账单。`,
        disposition: DISPOSITIONS[i % DISPOSITIONS.length],
      });
      await request(a.token, "POST", `/api/v1/interactions/${it.id}/end`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  for (const [id, a] of setupAgents) await request(a.token, "POST", `/api/v1/agents/${id}/state`, { state: "not-ready", reason: "break" });
  const setupS = (Date.now() - setupT0) / 1000;
  const timeline = await request(admin, "GET", `/api/v1/contacts/${contact.id}/timeline?limit=1`);
  if (!timeline.items?.length || !timeline.items[0].notes) throw new Error(`timeline: ${JSON.stringify(timeline).slice(0, 300)}`);

  // The interaction on Minji's desktop: offered to her and accepted.
  await request(minji, "POST", `/api/v1/agents/${minjiId}/state`, { state: "ready" });
  const live = await request(admin, "POST", "/api/v1/interactions", { channel: "voice", queue: "billing", contact: contact.id });
  const lr = await offered(admin, live.id, live.routing);
  if (lr.agent_id !== minjiId) throw new Error(`the live interaction was offered to ${lr.agent_id}`);
  await request(minji, "POST", `/api/v1/interactions/${live.id}/accept`);

  // ---- cold loads of the desktop ---------------------------------------------------------
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  const loads = [];
  for (let n = 0; n < N_LOADS; n++) {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 } });
    try {
      // The session cookie goes into this context (no page yet: nothing of the login is timed).
      const lg = await context.request.post(`${base}/api/v1/auth/login`, { data: { username: "minji", password: "agent-demo-pass" } });
      if (!lg.ok()) throw new Error(`browser login: ${lg.status()}`);
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const api = [];
      page.on("request", (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith("/api/")) api.push(`${u.pathname}${u.search}`);
      });
      await page.goto(`${base}/#/agent`);
      await page.waitForFunction(() => performance.getEntriesByName("blend.agent.timeline").length > 0,
        null, { timeout: 30000, polling: 10 });
      const m = await page.evaluate(() => {
        const usable = performance.getEntriesByName("blend.agent.usable")[0];
        const tl = performance.getEntriesByName("blend.agent.timeline")[0];
        const nav = performance.getEntriesByType("navigation")[0];
        return {
          usable_ms: usable?.startTime ?? null, timeline_ms: tl.startTime, timeline_items: tl.detail?.items ?? null,
          dom_content_loaded_ms: nav?.domContentLoadedEventEnd ?? null,
          state_enabled: !document.getElementById("state-not-ready")?.disabled && !!document.getElementById("my-state")?.textContent,
          history_rows: document.querySelectorAll("ol.history > li").length,
          // Where the time went: the API answers (Resource Timing, ms from the navigation).
          api: performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.startsWith("/api/"))
            .map((e) => ({ path: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime, end: e.responseEnd })),
        };
      });
      if (m.usable_ms === null || !m.state_enabled) throw new Error(`load ${n + 1}: the state control is not usable`);
      if (errors.length) throw new Error(`load ${n + 1}: page errors: ${errors.join("; ")}`);
      const tlReq = api.find((x) => x.includes(`/contacts/${contact.id}/timeline`));
      m.page_size = tlReq ? Number(new URL(tlReq, base).searchParams.get("limit")) : null;
      m.api_requests = api.length;
      m.interaction_list_pages = api.filter((x) => /^\/api\/v1\/interactions(\?|$)/.test(x)).length;
      const span = (re) => {
        const hit = m.api.filter((x) => re.test(x.path));
        return hit.length ? Math.max(...hit.map((x) => x.end)) - Math.min(...hit.map((x) => x.start)) : 0;
      };
      m.list_ms = span(/^\/api\/v1\/interactions(\?|$)/);
      m.timeline_req_ms = span(/\/timeline\?/);
      m.first_api_ms = Math.min(...m.api.map((x) => x.start));
      loads.push(m);
    } finally {
      await context.close();
    }
  }
  const usable = loads.map((l) => l.usable_ms).sort((a, b) => a - b);
  const tl = loads.map((l) => l.timeline_ms).sort((a, b) => a - b);
  const r1 = (x) => Math.round(x * 10) / 10;
  result = {
    interactions: N_INTERACTIONS, loads: N_LOADS, setup_s: r1(setupS),
    page_size: loads[0].page_size, timeline_items_shown: loads[0].timeline_items,
    usable_ms_median: r1(pct(usable, 0.5)), usable_ms_p90: r1(pct(usable, 0.9)),
    timeline_ms_median: r1(pct(tl, 0.5)), timeline_ms_p90: r1(pct(tl, 0.9)),
    usable_ratio_p90: r1(pct(usable, 0.9) / TARGET_MS * 100) / 100,
    timeline_ratio_p90: r1(pct(tl, 0.9) / TARGET_MS * 100) / 100,
    first_api_request_ms_median: r1(pct(loads.map((l) => l.first_api_ms).sort((a, b) => a - b), 0.5)),
    interaction_list_ms_median: r1(pct(loads.map((l) => l.list_ms).sort((a, b) => a - b), 0.5)),
    timeline_request_ms_median: r1(pct(loads.map((l) => l.timeline_req_ms).sort((a, b) => a - b), 0.5)),
    dom_content_loaded_ms_median: r1(pct(loads.map((l) => l.dom_content_loaded_ms).sort((a, b) => a - b), 0.5)),
    api_requests_per_load: loads[0].api_requests, interaction_list_pages: loads[0].interaction_list_pages,
    runs: loads.map((l) => [r1(l.usable_ms), r1(l.timeline_ms)]),
  };
  await cleanup(false);
} catch (e) {
  console.error(`desktop benchmark failed: ${e.stack || e.message}`);
  await cleanup(true);
  process.exit(1);
}

if (args.includes("--json")) {
  console.log(JSON.stringify(result));
} else {
  const ratio = (ms) => `${(ms / TARGET_MS).toFixed(2)} of the 1 s target`;
  console.log(`desktop: 1 contact with ${result.interactions} interactions in the timeline (set up in ${result.setup_s} s), ${result.loads} cold loads`);
  console.log(`  desktop.usable_ms:   median ${result.usable_ms_median}, p90 ${result.usable_ms_p90} (${ratio(result.usable_ms_p90)})`);
  console.log(`  desktop.timeline_ms: median ${result.timeline_ms_median}, p90 ${result.timeline_ms_p90} (${ratio(result.timeline_ms_p90)}); page size ${result.page_size} (${result.timeline_items_shown} items shown: the pane's own interaction is left out)`);
  console.log(`  DOMContentLoaded:    median ${result.dom_content_loaded_ms_median} ms (the application's modules loaded)`);
  console.log(`  API (median ms):     first request at ${result.first_api_request_ms_median}, GET /interactions pages ${result.interaction_list_ms_median}, GET .../timeline ${result.timeline_request_ms_median}`);
  console.log(`  per load:            ${result.api_requests_per_load} API requests, ${result.interaction_list_pages} page(s) of GET /api/v1/interactions`);
  console.log(`  runs (usable, timeline ms): ${result.runs.map(([u, t]) => `${u}/${t}`).join(" ")}`);
}
