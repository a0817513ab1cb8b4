// Browser test of the console page (web/): Debian's Chromium, driven by playwright-core, against
// a real `blend serve` with the demo center. An agent logs in, sees the demo queues, goes ready;
// a supervisor's page, open at the same time, sees the change arrive over the event stream.
import { chromium } from "playwright-core";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = process.env.BLEND_BIN;
const src = process.env.BLEND_SRC;
if (!bin || !src) {
  console.error("BLEND_BIN and BLEND_SRC must be set");
  process.exit(2);
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch (_) { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become healthy");
}

let passed = 0, failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), "blend-browser-"));
const port = await freePort();
const sipPort = await freePort();
const base = `http://127.0.0.1:${port}`;
writeFileSync(join(dir, "blend.conf"), [
  "[http]", `listen = 127.0.0.1:${port}`, `web_dir = ${join(src, "web")}`,
  // The agents here answer through the browser, not a phone.
  "[sip]", `listen = 127.0.0.1:${sipPort}`, "voice_requires_phone = no",
  "[store]", `url = sqlite:${join(dir, "blend.db")}`,
  "[data]", `dir = ${dir}`,
  "[auth]", "password_cost = min", "",
].join("\n"));
const server = spawn(bin, ["serve", "--config", join(dir, "blend.conf"), "--provision",
  join(src, "examples", "demo.json")], { stdio: ["ignore", "ignore", "pipe"] });
let serverLog = "";
server.stderr.on("data", (d) => { serverLog += d; });

let browser;
try {
  await waitHealthy(base, 30000);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const agentPage = await (await browser.newContext()).newPage();
  const superPage = await (await browser.newContext()).newPage();
  const consoleErrors = [];
  for (const p of [agentPage, superPage]) {
    p.on("pageerror", (e) => consoleErrors.push(e.message));
  }

  async function login(page, user, password) {
    await page.goto(base + "/");
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("#console-view").waitFor({ state: "visible", timeout: 10000 });
  }

  await step("a wrong password shows the API's error", async () => {
    await agentPage.goto(base + "/");
    await agentPage.getByLabel("User name").fill("minji");
    await agentPage.getByLabel("Password").fill("not-the-password");
    await agentPage.getByRole("button", { name: "Log in" }).click();
    await agentPage.getByText("wrong username or password").waitFor({ timeout: 10000 });
  });

  await step("the agent logs in and sees the demo queues", async () => {
    await login(agentPage, "minji", "agent-demo-pass");
    await agentPage.locator("#queues").getByRole("cell", { name: "Billing", exact: true }).waitFor();
    const rows = await agentPage.locator("#queues tbody tr").count();
    if (rows !== 6) throw new Error(`expected the 6 demo queues, saw ${rows}`);
    await agentPage.locator("#me-panel").waitFor({ state: "visible" });
  });

  await step("a QA analyst (no agent) sees no state panel", async () => {
    const qaPage = await (await browser.newContext()).newPage();
    await login(qaPage, "quinn", "qa-demo-pass");
    await qaPage.getByText("(connected)").waitFor({ timeout: 10000 });
    const mePanel = await qaPage.locator("#me-panel").isVisible();
    await qaPage.close();
    if (mePanel) throw new Error("a user without an agent must not see the state panel");
  });

  await step("the supervisor logs in and follows the stream", async () => {
    await login(superPage, "sophia", "super-demo-pass");
    await superPage.getByText("(connected)").waitFor({ timeout: 10000 });
    /* Sophia has an agent of her own (extension 1007: the phone she monitors calls from). */
    await superPage.locator("#me-panel").waitFor({ state: "visible", timeout: 10000 });
  });

  await step("the agent goes ready and the supervisor sees it live", async () => {
    await agentPage.getByRole("button", { name: "Ready", exact: true }).click();
    await agentPage.locator("#my-state", { hasText: "ready" }).waitFor({ timeout: 10000 });
    const row = superPage.locator("#agents tbody tr", { hasText: "Kim Minji" });
    await row.locator("td.state-ready").waitFor({ timeout: 10000 });
  });

  await step("a phone registering (SIPp as Minji's extension) shows live on the supervisor's page", async () => {
    const row = superPage.locator("#agents tbody tr", { hasText: "Kim Minji" });
    await row.locator("td.phone-down").waitFor({ timeout: 10000 });
    const phonePort = await freePort();
    const sipp = spawnSync("sipp", ["-sf", join(src, "tests", "sip", "register.xml"), "-m", "1",
      "-t", "u1", "-i", "127.0.0.1", "-p", String(phonePort), "-s", "1001", "-au", "1001",
      "-ap", "sip-demo-1001", "-key", "expires", "3600", "-d", "0", "-timeout", "10",
      "-timeout_error", "-nostdin", `127.0.0.1:${sipPort}`], { cwd: dir, timeout: 20000 });
    if (sipp.status !== 0) throw new Error(`SIPp registration failed (exit ${sipp.status})`);
    await row.locator("td.phone-up", { hasText: "registered" }).waitFor({ timeout: 10000 });
  });

  await step("not ready with a reason reaches the supervisor with the reason", async () => {
    await agentPage.getByLabel("Reason").selectOption("lunch");
    await agentPage.getByRole("button", { name: "Not ready" }).click();
    const row = superPage.locator("#agents tbody tr", { hasText: "Kim Minji" });
    await row.getByText("not-ready (lunch)").waitFor({ timeout: 10000 });
  });

  await step("the state survives a page reload (it is the server's)", async () => {
    await agentPage.reload();
    await agentPage.locator("#my-state", { hasText: "not-ready (lunch)" }).waitFor({ timeout: 10000 });
  });

  await step("an offer reaches the agent, who accepts, ends and finishes wrap-up", async () => {
    await agentPage.getByRole("button", { name: "Ready", exact: true }).click();
    await agentPage.locator("#my-state", { hasText: /^ready$/ }).waitFor({ timeout: 10000 });
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "admin", password: "admin-demo-pass" }),
    });
    const { token } = await login.json();
    const created = await fetch(`${base}/api/v1/interactions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ channel: "voice", queue: "korean-support" }),
    });
    if (created.status !== 201) throw new Error(`create interaction: ${created.status}`);
    const { id } = await created.json();
    const item = agentPage.locator(`#work li[data-interaction="${id}"]`);
    await item.getByText("offered").waitFor({ timeout: 10000 });
    await item.getByRole("button", { name: "Accept" }).click();
    await item.getByText("connected").waitFor({ timeout: 10000 });
    await item.getByRole("button", { name: "End" }).click();
    await agentPage.locator("#my-state", { hasText: "wrap-up" }).waitFor({ timeout: 10000 });
    await agentPage.getByRole("button", { name: "End wrap-up" }).click();
    await agentPage.locator("#my-state", { hasText: /^ready$/ }).waitFor({ timeout: 10000 });
    const left = await agentPage.locator("#work li").count();
    if (left !== 0) throw new Error(`${left} interaction(s) still listed after the end`);
  });

  await step("the supervisor sees live queue figures", async () => {
    const row = superPage.locator("#live tbody tr", { hasText: "korean-support" });
    await row.waitFor({ timeout: 10000 });
    // Pushed every 5 s: the answered call shows up within a few pushes.
    await row.locator("td").nth(3).getByText("1", { exact: true }).waitFor({ timeout: 20000 });
    // Staffing and hours: Minji is the one Korean-support agent logged in, and its
    // around-the-clock calendar is open.
    await row.locator("td").nth(6).getByText("1 / 0 / 0", { exact: true }).waitFor({ timeout: 20000 });
    await row.locator("td.hours-open", { hasText: "open" }).waitFor({ timeout: 20000 });
  });

  await step("the supervisor listens to a live call from her phone, barges in and drops out", async () => {
    // SIPp plays Minji's phone and Sophia's (each registered, then answering with RTP echo)
    // and the customer dialling the billing line.
    const register = (port, ext) => {
      const r = spawnSync("sipp", ["-sf", join(src, "tests", "sip", "register.xml"), "-m", "1",
        "-t", "u1", "-i", "127.0.0.1", "-p", String(port), "-s", ext, "-au", ext,
        "-ap", `sip-demo-${ext}`, "-key", "expires", "3600", "-d", "0", "-timeout", "10",
        "-timeout_error", "-nostdin", `127.0.0.1:${sipPort}`], { cwd: dir, timeout: 20000 });
      if (r.status !== 0) throw new Error(`SIPp registration of ${ext} failed (exit ${r.status})`);
    };
    const answer = async (port, ext) => spawn("sipp", ["-sf", join(src, "tests", "sip", "agent_answer.xml"),
      "-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", String(port), "-mp", String(await freePort()),
      "-s", ext, "-key", "codec", "8", "-d", "0", "-rtp_echo", "-timeout", "40", "-nostdin",
      "127.0.0.1:9"], { cwd: dir, stdio: "ignore" });
    const exited = (p) => new Promise((resolve) => p.on("exit", (code) => resolve(code)));
    const minjiPort = await freePort();
    const sophiaPort = await freePort();
    register(minjiPort, "1001");
    register(sophiaPort, "1007");
    const minji = await answer(minjiPort, "1001");
    const sophia = await answer(sophiaPort, "1007");
    const minjiDone = exited(minji);
    const sophiaDone = exited(sophia);
    await new Promise((r) => setTimeout(r, 300));
    const customer = spawn("sipp", ["-sf", join(src, "tests", "sip", "customer_call.xml"), "-m", "1",
      "-t", "u1", "-i", "127.0.0.1", "-s", "+8225550101", "-key", "caller", "5551234", "-mp",
      String(await freePort()), "-d", "8000", "-timeout", "40", "-nostdin", `127.0.0.1:${sipPort}`],
      { cwd: dir, stdio: "ignore" });
    const customerDone = exited(customer);
    const row = superPage.locator("#calls tbody tr", { hasText: "Kim Minji" });
    await row.waitFor({ timeout: 15000 });
    await row.getByRole("button", { name: "Listen" }).click();
    await row.locator("td.party-listen", { hasText: "listen (connected)" }).waitFor({ timeout: 10000 });
    await row.getByRole("button", { name: "Barge" }).click();
    await row.locator("td.party-barge", { hasText: "barge (connected)" }).waitFor({ timeout: 10000 });
    await row.getByRole("button", { name: "Drop" }).click();
    await row.locator("td", { hasText: "–" }).first().waitFor({ timeout: 10000 });
    if ((await sophiaDone) !== 0) throw new Error("Sophia's phone did not answer and get BYE");
    if ((await customerDone) !== 0) throw new Error("the customer's call did not run to its end");
    if ((await minjiDone) !== 0) throw new Error("Minji's phone did not answer and get BYE");
    await row.waitFor({ state: "detached", timeout: 10000 });
  });

  await step("the page ran without script errors", async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join("; "));
  });
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e.message}`);
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  if (failed) {
    console.log("--- server log tail:\n" + serverLog.split("\n").slice(-20).join("\n"));
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
