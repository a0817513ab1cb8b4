// Wallboard benchmark page (served by bench/web/run.mjs): mounts the real wallboard
// (web/js/pages/wallboard.js) with the real core modules (dom, fmt, i18n) on a generated center
// of A agents and Q queues, then injects live updates into the page's stream — a stand-in for
// core/stream.js with the same interface (on(type, fn) → unsubscribe; "event" and "stats"
// messages) — at R events per second for S seconds: presence changes, contacts queued /
// offered / connected / ended / abandoned, phone registrations, and the queue figures pushed
// every 5 s as the server does. No server is involved: the API calls of the mount are answered
// from the generated data. Results go to window.__benchResult.
import { h } from "/js/core/dom.js";
import * as fmt from "/js/core/fmt.js";
import { t, setLanguage } from "/js/core/i18n.js";
import { mountWallboard } from "/js/pages/wallboard.js";

const params = new URLSearchParams(location.search);
const A = Number(params.get("agents") || 500);
const Q = Number(params.get("queues") || 50);
const RATE = Number(params.get("rate") || 2000);
const SECONDS = Number(params.get("seconds") || 10);
const status = document.getElementById("bench-status");

class FakeStream {
  constructor() { this.listeners = new Map(); }
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }
  emit(type, arg) {
    for (const fn of this.listeners.get(type) || []) fn(arg);
  }
}

// Deterministic pseudo-random numbers (xorshift32), so every run feeds the same sequence.
let seed = 12345;
function rnd(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}

const queues = Array.from({ length: Q }, (_, i) => ({
  id: i + 1, name: `queue-${i + 1}`, display_name: `Queue ${i + 1}`, channels: ["voice"], sla_percent: 80, sla_seconds: 20,
}));
const agents = Array.from({ length: A }, (_, i) => ({
  id: i + 1, name: `agent-${i + 1}`, display_name: `Agent ${String(i + 1).padStart(4, "0")}`, extension: String(2000 + i),
}));
const presence = agents.map((a) => ({ agent_id: a.id, state: "ready", reason: null, since: new Date().toISOString(), phone: { extension: a.extension, registered: true } }));
const figures = () => ({
  arrivals: rnd(500), offered: rnd(400), answered: rnd(350), abandoned: rnd(30), short_abandoned: 0,
  answered_within_target: rnd(300), callbacks_requested: 0, overflowed_out: 0, handled: rnd(300), transferred: 0,
  service_level: 0.5 + rnd(50) / 100, service_level_ignore_abandons: 0.9, service_level_abandons_positive: 0.9,
  asa_s: rnd(40), aht_s: 100 + rnd(300), abandon_rate: rnd(10) / 100,
});
const queueStats = () => queues.map((q) => ({
  queue_id: q.id, waiting: rnd(20), callbacks_waiting: 0, offered_now: rnd(3), connected_now: rnd(10),
  longest_wait_s: rnd(300), sla_target_s: 20, sla_percent: 80, today: figures(), last_hour: figures(),
  window_start: null, agents: { logged_in: 10, ready: rnd(5), busy: rnd(5), not_ready: rnd(3), wrap_up: rnd(2) },
  ewt_s: rnd(200), hours: { calendar: "all", state: "open", holiday: null },
}));
const agentStats = () => agents.map((a) => ({
  agent_id: a.id, state: "ready", handled: rnd(40), aht_s: 100 + rnd(400), busy_s: 1000, ready_idle_s: 500, occupancy: rnd(100) / 100,
}));

const contacts = new Map(); // id → {queue, state, agent, at}
const open = []; // ids of open contacts (random picks in O(1))
const OPEN_MAX = Q * 8; // about 8 contacts in each queue at any time
function close(id) {
  const c = contacts.get(id);
  contacts.delete(id);
  const last = open.pop();
  if (last !== id) open[c.at] = last, contacts.get(last).at = c.at;
}
let nextContact = 1;
let seq = 1;

async function api(method, path) {
  if (path === "/api/v1/agent-states") return { items: presence };
  if (path === "/api/v1/stats/queues") return { items: queueStats() };
  if (path === "/api/v1/stats/agents") return { items: agentStats() };
  if (path === "/api/v1/calls") return { items: [] };
  const m = /^\/api\/v1\/interactions\/(\d+)\/routing$/.exec(path);
  if (m) {
    const c = contacts.get(Number(m[1]));
    if (!c) throw new Error("not found");
    return { interaction_id: Number(m[1]), queue_id: c.queue, channel: "voice", state: c.state === "offered" ? "offered" : c.state, agent_id: c.agent, waited_ms: 1000, priority: 10, step: 0, is_callback: false, position: 1, ewt_s: 30 };
  }
  if (method === "POST") return {};
  throw new Error(`bench: no answer for ${method} ${path}`);
}
async function listAll(path) {
  if (path === "/api/v1/queues") return queues;
  if (path === "/api/v1/agents") return agents;
  if (path === "/api/v1/interactions") return [];
  return [];
}

function ev(type, data, subject) {
  return { seq: seq++, ts: new Date().toISOString(), type, subject, actor: "routing", data };
}

// One live update, in the proportions of a busy floor.
function nextEvent() {
  const r = rnd(100);
  if ((r < 30 && open.length < OPEN_MAX) || open.length < 50) {
    const id = nextContact++;
    const queue = 1 + rnd(Q);
    contacts.set(id, { queue, state: "waiting", agent: null, at: open.length });
    open.push(id);
    return ev("contact.queued", { contact_id: id, queue_id: queue, channel: "voice", at_ms: Date.now() }, `interactions/${id}`);
  }
  if (r < 85) {
    // Advance a random open contact one step of its life.
    const id = open[rnd(open.length)];
    const c = contacts.get(id);
    if (c.state === "waiting") {
      if (rnd(10) === 0) {
        close(id);
        return ev("contact.abandoned", { contact_id: id, queue_id: c.queue, channel: "voice", wait_ms: 30000 }, `interactions/${id}`);
      }
      c.state = "offered";
      c.agent = 1 + rnd(A);
      return ev("contact.offered", { contact_id: id, queue_id: c.queue, channel: "voice", agent_id: c.agent, is_callback: false }, `interactions/${id}`);
    }
    if (c.state === "offered") {
      c.state = "connected";
      return ev("contact.connected", { contact_id: id, queue_id: c.queue, channel: "voice", agent_id: c.agent, is_callback: false, wait_ms: 5000 }, `interactions/${id}`);
    }
    close(id);
    return ev("contact.ended", { contact_id: id, queue_id: c.queue, channel: "voice", agent_id: c.agent }, `interactions/${id}`);
  }
  const agent = 1 + rnd(A);
  if (r < 97) {
    const to = ["ready", "not-ready", "wrap-up"][rnd(3)];
    return ev("agent.state", { agent_id: agent, from: "ready", to, reason: to === "not-ready" ? "break" : null, at_ms: Date.now() }, `agents/${agent}`);
  }
  const type = rnd(2) ? "phone.registered" : "phone.unregistered";
  return ev(type, { agent_id: agent, extension: String(2000 + agent - 1) }, `agents/${agent}`);
}

async function main() {
  await setLanguage("en");
  const stream = new FakeStream();
  const ctx = { api, listAll, stream, t, fmt, h, me: { role: "supervisor", agent_id: null, username: "bench" }, navigate() {}, announce() {} };
  const unmount = mountWallboard(document.getElementById("main"), ctx);
  // Wait for the mount's load to finish (the first frame applied with every agent row).
  while (document.querySelectorAll("#wb-agents tbody tr").length < A) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const wb = window.__blendWallboard;
  const base = { applied: wb.applied, frames: wb.frames, workMs: wb.workMs, tickMs: wb.tickMs, ticks: wb.ticks };
  wb.maxWorkMs = 0;
  const longTasks = [];
  const obs = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
  obs.observe({ type: "longtask", buffered: false });
  const rafGaps = [];
  let last = performance.now();
  let running = true;
  const raf = (now) => {
    rafGaps.push(now - last);
    last = now;
    if (running) requestAnimationFrame(raf);
  };
  requestAnimationFrame(raf);
  status.textContent = `feeding ${RATE} events/s for ${SECONDS} s`;
  const t0 = performance.now();
  let sent = 0;
  let lastStats = t0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.floor(((now - t0) / 1000) * RATE);
      while (sent < due) {
        stream.emit("event", nextEvent());
        sent++;
      }
      if (now - lastStats >= 5000) {
        stream.emit("stats", { type: "stats", queues: queueStats(), agents: agentStats() });
        lastStats = now;
      }
      if (now - t0 >= SECONDS * 1000) resolve();
      else setTimeout(tick, 4);
    };
    tick();
  });
  // Let the last frame apply what is queued.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  running = false;
  obs.disconnect();
  const elapsed = (performance.now() - t0) / 1000;
  const frames = wb.frames - base.frames;
  const recent = [];
  for (let f = Math.max(base.frames + 1, wb.frames - 4095); f <= wb.frames; f++) recent.push(wb.frameMs[f % 4096]);
  recent.sort((a, b) => a - b);
  const pct = (arr, p) => (arr.length ? arr[Math.min(arr.length - 1, Math.floor(arr.length * p))] : 0);
  const gaps = rafGaps.slice(1).sort((a, b) => a - b);
  window.__benchResult = {
    agents: A, queues: Q, rate_target: RATE, seconds: Number(elapsed.toFixed(2)), events_sent: sent,
    events_applied: wb.applied - base.applied,
    applied_per_s: Math.round((wb.applied - base.applied) / elapsed),
    frames, work_ms_per_frame_mean: Number(((wb.workMs - base.workMs) / Math.max(1, frames)).toFixed(3)),
    work_ms_per_frame_p95: Number(pct(recent, 0.95).toFixed(3)), work_ms_per_frame_max: Number(wb.maxWorkMs.toFixed(3)),
    ticker_ms_mean: Number(((wb.tickMs - base.tickMs) / Math.max(1, wb.ticks - base.ticks)).toFixed(3)),
    frame_interval_ms_p50: Number(pct(gaps, 0.5).toFixed(2)), frame_interval_ms_p95: Number(pct(gaps, 0.95).toFixed(2)),
    frame_interval_ms_max: Number((gaps[gaps.length - 1] || 0).toFixed(2)),
    long_tasks: longTasks.length, long_task_ms_total: Math.round(longTasks.reduce((a, b) => a + b, 0)),
    long_task_ms_max: Math.round(Math.max(0, ...longTasks)),
    dom_rows: document.querySelectorAll("#wallboard tbody tr").length,
  };
  status.textContent = "done";
  unmount();
}

main().catch((e) => {
  window.__benchResult = { error: String(e.stack || e) };
});
