// Wallboard benchmark runner: serves web/ (at /) and bench/web/ (at /bench/) on a loopback
// port, opens bench/web/index.html in Debian's Chromium (playwright-core from
// tests/browser/node_modules) and prints the figures the page measured: events applied per
// second, the wallboard's work per animation frame (mean, p95, max), frame intervals, long tasks.
// The live updates are injected into the page's stream (a stand-in for core/stream.js), not sent
// by a server: this measures the page, not the server. Usage:
//   node bench/web/run.mjs [--agents 500] [--queues 50] [--rate 2000] [--seconds 10]
//                          [--height 1000 (viewport px; a tall one puts every panel on screen)] [--json]
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, dirname } from "node:path";
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
const params = new URLSearchParams({
  agents: opt("agents", "500"), queues: opt("queues", "50"), rate: opt("rate", "2000"), seconds: opt("seconds", "10"),
});
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json" };

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const rel = normalize(path).replace(/^(\.\.[/\\])+/, "");
  const file = rel.startsWith("/bench/") ? join(here, rel.slice("/bench/".length)) : join(src, "web", rel);
  try {
    const body = await readFile(file);
    res.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream" });
    res.end(body);
  } catch (_) {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
let result;
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: Number(opt("height", "1000")) } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Chromium's own accounting of the main thread (script, style, layout) over the whole run.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  await page.goto(`${base}/bench/index.html?${params}`);
  await page.waitForFunction(() => document.getElementById("bench-status").textContent.startsWith("feeding"), null, { timeout: 60000, polling: 50 });
  const m0 = await metrics();
  const seconds = Number(params.get("seconds"));
  await page.waitForFunction(() => window.__benchResult, null, { timeout: (seconds + 60) * 1000, polling: 500 });
  const m1 = await metrics();
  result = await page.evaluate(() => window.__benchResult);
  for (const [k, name] of [["ScriptDuration", "script_s"], ["RecalcStyleDuration", "style_s"], ["LayoutDuration", "layout_s"], ["TaskDuration", "task_s"]]) {
    result[`main_thread_${name}`] = Number((m1[k] - m0[k]).toFixed(2));
  }
  if (errors.length) result.page_errors = errors;
} finally {
  await browser.close();
  server.close();
}
if (result.error) {
  console.error(`benchmark failed: ${result.error}`);
  process.exit(1);
}
if (args.includes("--json")) {
  console.log(JSON.stringify(result));
} else {
  console.log(`wallboard: ${result.agents} agents, ${result.queues} queues, ${result.rate_target} events/s offered for ${result.seconds} s`);
  console.log(`  messages applied:      ${result.events_applied} (${result.events_sent} events + the 5-s figure pushes; ${result.applied_per_s}/s)`);
  console.log(`  frames with work:      ${result.frames}`);
  console.log(`  work per frame (ms):   mean ${result.work_ms_per_frame_mean}, p95 ${result.work_ms_per_frame_p95}, max ${result.work_ms_per_frame_max}`);
  console.log(`  1-s ticker (ms):       mean ${result.ticker_ms_mean}`);
  console.log(`  frame interval (ms):   p50 ${result.frame_interval_ms_p50}, p95 ${result.frame_interval_ms_p95}, max ${result.frame_interval_ms_max}`);
  console.log(`  long tasks (>50 ms):   ${result.long_tasks} (total ${result.long_task_ms_total} ms, max ${result.long_task_ms_max} ms)`);
  console.log(`  main thread (s):       script ${result.main_thread_script_s}, style ${result.main_thread_style_s}, layout ${result.main_thread_layout_s}, all tasks ${result.main_thread_task_s}`);
  console.log(`  DOM rows:              ${result.dom_rows}`);
  if (result.page_errors) console.log(`  page errors: ${result.page_errors.join("; ")}`);
}
