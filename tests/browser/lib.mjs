// Shared helpers for the browser tests (tests/browser/test_*.mjs): start a real `blend serve`
// with the demo center on free loopback ports, launch Debian's Chromium through playwright-core,
// log in through the UI or the API, report steps, write screenshots, print the final
// "N passed, N failed" line. Environment: BLEND_BIN (the blend binary), BLEND_SRC (the source
// tree: web/ and examples/demo.json), CHROMIUM (default /usr/bin/chromium), BLEND_ARTIFACTS
// (screenshots; default <tmpdir>/artifacts).
//
// Typical test:
//   import { run, startServer, launchBrowser, newPage, login, step, screenshot } from "./lib.mjs";
//   await run(async () => {
//     const srv = await startServer();
//     const browser = await launchBrowser();
//     const page = await newPage(browser);
//     await step("minji logs in", () => login(page, srv.base, "minji", "agent-demo-pass"));
//     await step("no script errors", () => page.assertNoErrors());
//   });
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const bin = process.env.BLEND_BIN;
export const src = process.env.BLEND_SRC;
if (!bin || !src) {
  console.error("BLEND_BIN and BLEND_SRC must be set");
  process.exit(2);
}

export const results = { passed: 0, failed: 0 };
const cleanups = [];
const serverLogs = [];

// Runs fn at the end (LIFO), whatever happened.
export function onCleanup(fn) {
  cleanups.push(fn);
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls fn until it returns a truthy value (returned) or throws the last error after ms.
export async function waitFor(fn, ms = 10000, what = "condition") {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

// One reported step: "ok   name" or "FAIL name: message". Returns true when it passed.
export async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    return true;
  } catch (e) {
    results.failed++;
    console.log(`FAIL ${name}: ${e.message}`);
    return false;
  }
}

export function artifactsDir() {
  const d = process.env.BLEND_ARTIFACTS || join(tmpdir(), "artifacts");
  mkdirSync(d, { recursive: true });
  return d;
}

// Full-page PNG <artifacts>/<name>.png; never fails the test.
export async function screenshot(page, name) {
  try {
    await page.screenshot({ path: join(artifactsDir(), `${name}.png`), fullPage: true });
  } catch (e) {
    console.log(`(screenshot ${name} failed: ${e.message})`);
  }
}

async function waitHealthy(base, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch (_) { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error("server did not become healthy");
}

// Starts `blend serve` with the demo provisioning (opts.provision: a file, or false for none)
// in a fresh directory. Returns {base, port, sipPort, dir, log(), stop(), restart()}: stop()
// sends SIGTERM (or opts.signal) and waits; restart() starts it again on the same ports and
// store. The server is stopped at cleanup; its directory is removed when every step passed.
export async function startServer(opts = {}) {
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
    "[auth]", "password_cost = min",
    ...(opts.extraConf || []), "",
  ].join("\n"));
  const provision = opts.provision === undefined ? join(src, "examples", "demo.json") : opts.provision;
  const srv = { base, port, sipPort, dir, proc: null, logText: "" };
  serverLogs.push(srv);
  srv.log = () => srv.logText;
  srv.start = async () => {
    const args = ["serve", "--config", join(dir, "blend.conf")];
    if (provision) args.push("--provision", provision);
    const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr.on("data", (d) => { srv.logText += d; });
    srv.exited = new Promise((r) => proc.on("exit", r));
    srv.proc = proc;
    await waitHealthy(base, 30000);
  };
  srv.stop = async (signal = opts.signal || "SIGTERM") => {
    if (!srv.proc || srv.proc.exitCode !== null || srv.proc.signalCode !== null) return;
    srv.proc.kill(signal);
    await srv.exited;
  };
  srv.restart = async () => {
    await srv.stop();
    await srv.start();
  };
  onCleanup(async () => {
    await srv.stop();
    if (!results.failed) rmSync(dir, { recursive: true, force: true });
  });
  await srv.start();
  return srv;
}

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  onCleanup(() => browser.close());
  return browser;
}

// A page in a fresh context (own cookies and storage). opts.locale sets navigator.languages;
// opts.lang stores the language choice (localStorage "blend.lang") before any script runs.
// page.errors collects uncaught exceptions and console errors; page.assertNoErrors() throws
// when there are any (console errors about resources the page may probe for, e.g. the optional
// pages module, are listed in opts.allowConsole as RegExps).
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    locale: opts.locale || "en-US", viewport: opts.viewport || { width: 1400, height: 900 },
  });
  if (opts.lang) {
    await context.addInitScript((lang) => localStorage.setItem("blend.lang", lang), opts.lang);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs || 10000);
  page.errors = [];
  const allow = opts.allowConsole || [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    // Failed HTTP answers are the API's normal errors (401 before login, 4xx shown to the user).
    if (/Failed to load resource: the server responded with a status of/.test(text)) return;
    // Reconnecting while the server restarts.
    if (/WebSocket connection to .* failed|net::ERR_CONNECTION_(REFUSED|RESET)/.test(text)) return;
    if (allow.some((re) => re.test(text))) return;
    page.errors.push(`console: ${text}`);
  });
  page.assertNoErrors = () => {
    if (page.errors.length) throw new Error(page.errors.join("; "));
  };
  return page;
}

// Logs in through the login form and waits for the application (the log-out button shows).
export async function login(page, base, username, password) {
  if (!page.url().startsWith(base)) await page.goto(base + "/");
  await page.locator("#login-form").waitFor({ timeout: 10000 });
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#logout").waitFor({ state: "visible", timeout: 10000 });
}

// API helpers (Bearer token), for setting up and checking what the UI did.
export async function apiLogin(base, username, password) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new Error(`API login of ${username}: ${r.status}`);
  return (await r.json()).token;
}

// const call = apiClient(base, token); const {status, body} = await call("GET", "/api/v1/queues")
export function apiClient(base, token) {
  return async (method, path, body) => {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(base + path, {
      method, headers, body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch (_) {
      parsed = text;
    }
    return { status: r.status, body: parsed };
  };
}

// Runs the test body, then the cleanups, prints "N passed, N failed" (with the server log tail
// on failure) and exits 1 on any failure. An exception escaping main counts as a failed setup.
export async function run(main) {
  try {
    await main();
  } catch (e) {
    results.failed++;
    console.log(`FAIL setup: ${e.stack || e.message}`);
  }
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (_) { /* best effort */ }
  }
  if (results.failed) {
    for (const s of serverLogs) {
      console.log(`--- server log tail (${s.dir}):\n` + s.logText.split("\n").slice(-20).join("\n"));
    }
  }
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
}
