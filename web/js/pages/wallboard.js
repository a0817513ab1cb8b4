// Supervisor wallboard (#/wallboard, roles supervisor and admin): live figures per queue, live
// state per agent, the contacts waiting, the phone calls in progress, alerts, and the actions a
// supervisor takes on them (force an agent's state, end a wrap-up, change a waiting contact's
// priority, reassign a waiting contact to another queue or agent in a modal dialog, listen /
// whisper / barge a call).
//
// Data: GET /api/v1/queues, /agents, /agent-states, /stats/queues, /stats/agents, /calls and
// the open interactions (/interactions?state=queued, offered, connected, + each one's
// /interactions/{id}/routing) at mount and after every stream resync; then the event stream
// (agent.state, agents.*, queues.*, phone.*, contact.*, call.*) and its pushed queue and agent
// figures ("stats", every 5 s). Agent and queue figures are read over HTTP again only when no
// push brought them for 12 s. A contact.priority event (the contact's own priority) makes the
// page re-read that contact's routing view for its effective priority. Invariants: every stream message goes through one queue that is applied once per
// animation frame, in arrival order (events and pushed figures keep their relative order); DOM
// rows are keyed by id and updated in place (text only when it changed); nothing visible is
// written through innerHTML. The alert rules are documented in docs/web-supervisor.md.

const SVG = "http://www.w3.org/2000/svg";
const HISTORY_MAX = 1440; // points per series: two hours at one point every 5 s
const SAMPLE_MIN_MS = 4000; // at most one chart point per series in this time
const AGENT_STATS_STALE_MS = 12000;
const QUEUE_STATS_STALE_MS = 12000;
const ROUTING_FETCH_PARALLEL = 8;
const OPEN_STATES = ["queued", "offered", "connected"]; // the interactions routing holds
const ROUTING_ASK_AFTER_MS = 1000;
const ROUTING_ASK_PER_TICK = 10;
const SETTINGS_KEY = "blend.wallboard";
export const DEFAULT_SETTINGS = {
  wait_alert_s: 60, not_ready_max_s: 600, wrap_up_max_s: 120, target_handled: 20, target_aht_s: 300,
};
const REASONS = ["break", "lunch", "training", "meeting", "coaching"];
// An agent takes a channel when their capacity on it is above 0 (docs/routing.md §Agents: these
// are the defaults of a capacity the document does not state).
const DEFAULT_CAPACITY = { voice: 1, chat: 3, email: 5, sms: 3, social: 3 };
const MONITOR_MODES = ["listen", "whisper", "barge"];

function setText(el, text) {
  const s = String(text ?? "");
  if (el.textContent !== s) el.textContent = s;
}

function setClass(el, cls) {
  if (el.className !== cls) el.className = cls;
}

function loadSettings() {
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    const out = { ...DEFAULT_SETTINGS };
    for (const k of Object.keys(out)) {
      if (Number.isFinite(s[k]) && s[k] >= 0) out[k] = s[k];
    }
    return out;
  } catch (_) {
    return { ...DEFAULT_SETTINGS };
  }
}

function ensureCss() {
  if (document.querySelector('link[data-blend-css="wallboard"]')) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./wallboard.css", import.meta.url).href;
  link.dataset.blendCss = "wallboard";
  document.head.append(link);
}

// Runs fn over items with at most n calls in flight.
async function parallel(items, n, fn) {
  let i = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) {
      const item = items[i++];
      await fn(item);
    }
  });
  await Promise.all(workers);
}

export function mountWallboard(root, ctx) {
  const { api, listAll, stream, t, fmt, h, me } = ctx;
  ensureCss();
  const settings = loadSettings();
  const S = {
    queues: new Map(), // id → {doc, stats, statsAt, adj, row}
    agents: new Map(), // id → {doc, presence, stats, current: Map(contactId → channel), row}
    contacts: new Map(), // id → {id, queue_id, channel, state, agent_id, offers, joinedMs, priority, is_callback, row}
    calls: new Map(), // interaction id → {id, agent_id, party, row}
    history: new Map(), // "all" or queue id → [{t, waiting, sl}]
    alerts: new Map(), // key → {key, kind, text, li}
    lastPushMs: 0,
    agentStatsAt: Date.now(), // the last agent figures (pushed, or read at mount)
    pending: [],
    frame: 0,
    alive: true,
    loading: null,
    loaded: false,
    chartQueue: "all",
  };
  const canMonitor = !!me.agent_id;
  const asked = new Set(); // contacts whose routing state was asked for (askPriorities)
  // Work counters, read by the benchmark (bench/web/) through window.__blendWallboard.
  const stats = { applied: 0, frames: 0, workMs: 0, maxWorkMs: 0, frameMs: [], tickMs: 0, ticks: 0 };

  // ---------- layout ----------
  const liveAlert = h("div", { id: "wb-live-alert", class: "visually-hidden", "aria-live": "assertive", role: "alert" });
  const livePolite = h("div", { id: "wb-live-status", class: "visually-hidden", "aria-live": "polite", role: "status" });
  const errorBox = h("p", { id: "wb-error", class: "error", role: "alert" });
  const alertList = h("ul", { id: "wb-alerts", class: "wb-alerts" });
  const noAlerts = h("p", { class: "muted", id: "wb-no-alerts" }, t("wallboard.no_alerts"));

  const th = (key, cls) => h("th", { scope: "col", class: cls }, t(key));
  const queueBody = h("tbody");
  const queueTable = h("table", { id: "wb-queues", class: "wb-table" },
    h("caption", { class: "visually-hidden" }, t("wallboard.queues_title")),
    h("thead", {}, h("tr", {},
      th("wallboard.col_queue"), th("wallboard.col_waiting", "num"), th("wallboard.col_longest", "num"),
      th("wallboard.col_ewt", "num"), th("wallboard.col_sl", "num"), th("wallboard.col_asa", "num"),
      th("wallboard.col_abandoned", "num"), th("wallboard.col_offered_answered", "num"),
      th("wallboard.col_staff", "num"), th("wallboard.col_hours"))),
    queueBody);

  const agentBody = h("tbody");
  const agentTable = h("table", { id: "wb-agents", class: "wb-table" },
    h("caption", { class: "visually-hidden" }, t("wallboard.agents_title")),
    h("thead", {}, h("tr", {},
      th("wallboard.col_agent"), th("wallboard.col_state"), th("wallboard.col_in_state", "num"),
      th("wallboard.col_current"), th("wallboard.col_phone"), th("wallboard.col_handled", "num"),
      th("wallboard.col_aht", "num"), th("wallboard.col_occupancy", "num"), th("wallboard.col_actions"))),
    agentBody);

  const contactBody = h("tbody");
  const noContacts = h("p", { class: "muted", id: "wb-no-contacts" }, t("wallboard.no_waiting"));
  const contactTable = h("table", { id: "wb-contacts", class: "wb-table" },
    h("caption", { class: "visually-hidden" }, t("wallboard.waiting_title")),
    h("thead", {}, h("tr", {},
      th("wallboard.col_interaction"), th("wallboard.col_queue"), th("wallboard.col_channel"),
      th("wallboard.col_contact_state"), th("wallboard.col_waited", "num"),
      th("wallboard.col_priority", "num"), th("wallboard.col_actions"))),
    contactBody);

  const callBody = h("tbody");
  const noCalls = h("p", { class: "muted", id: "wb-no-calls" }, t("wallboard.no_calls"));
  const callsError = h("p", { class: "error", id: "wb-calls-error", role: "status" });
  const callTable = h("table", { id: "wb-calls", class: "wb-table" },
    h("caption", { class: "visually-hidden" }, t("wallboard.calls_title")),
    h("thead", {}, h("tr", {},
      th("wallboard.col_interaction"), th("wallboard.col_agent"), th("wallboard.col_monitor"),
      th("wallboard.col_actions"))),
    callBody);
  const callsNote = canMonitor ? null
    : h("p", { class: "muted", id: "wb-monitor-note" }, t("wallboard.monitor_needs_agent"));

  const chartSelect = h("select", { id: "wb-chart-queue" },
    h("option", { value: "all" }, t("wallboard.chart_all_queues")));
  const chartSvg = document.createElementNS(SVG, "svg");
  chartSvg.setAttribute("viewBox", "0 0 640 180");
  chartSvg.setAttribute("role", "img");
  chartSvg.setAttribute("id", "wb-chart");
  chartSvg.classList.add("wb-chart");
  const chartSummary = h("p", { id: "wb-chart-summary", class: "muted" });
  chartSelect.addEventListener("change", () => {
    S.chartQueue = chartSelect.value;
    drawChart();
  });

  const settingsInputs = {};
  const settingsForm = h("form", { id: "wb-settings", class: "wb-settings" },
    ["wait_alert_s", "not_ready_max_s", "wrap_up_max_s", "target_handled", "target_aht_s"].map((k) => {
      const input = h("input", { id: `wb-set-${k}`, type: "number", min: "0", step: "1", value: String(settings[k]) });
      settingsInputs[k] = input;
      return h("div", { class: "wb-field" }, h("label", { for: input.id }, t(`wallboard.setting_${k}`)), input);
    }),
    h("button", { type: "submit" }, t("wallboard.settings_save")));
  settingsForm.addEventListener("submit", (e) => {
    e.preventDefault();
    for (const [k, input] of Object.entries(settingsInputs)) {
      const v = Number(input.value);
      if (Number.isFinite(v) && v >= 0) settings[k] = v;
    }
    try {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    } catch (_) { /* storage unavailable: this page keeps them */ }
    for (const a of S.agents.values()) renderAgent(a);
    evaluateAlerts();
    setText(livePolite, t("wallboard.settings_saved"));
  });

  const section = (id, titleKey, ...children) => h("section", { id, class: "panel", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, t(titleKey)), ...children);

  const page = h("div", { id: "wallboard", class: "wallboard" },
    h("h1", { class: "visually-hidden" }, t("wallboard.title")),
    liveAlert, livePolite, errorBox,
    section("wb-alerts-panel", "wallboard.alerts_title", noAlerts, alertList),
    section("wb-queues-panel", "wallboard.queues_title", h("div", { class: "wb-scroll" }, queueTable)),
    section("wb-chart-panel", "wallboard.chart_title",
      h("div", { class: "wb-field" }, h("label", { for: "wb-chart-queue" }, t("wallboard.chart_queue")), chartSelect),
      h("figure", { class: "wb-figure" }, chartSvg,
        h("figcaption", {}, h("span", { class: "wb-key wb-key-waiting" }, t("wallboard.chart_waiting")), " ",
          h("span", { class: "wb-key wb-key-sl" }, t("wallboard.chart_sl")), " ",
          h("span", { class: "wb-key wb-key-target" }, t("wallboard.chart_target")))),
      chartSummary),
    section("wb-agents-panel", "wallboard.agents_title", h("div", { class: "wb-scroll" }, agentTable)),
    section("wb-contacts-panel", "wallboard.waiting_title", noContacts, h("div", { class: "wb-scroll" }, contactTable)),
    section("wb-calls-panel", "wallboard.calls_title", callsNote, callsError, noCalls, h("div", { class: "wb-scroll" }, callTable)),
    section("wb-settings-panel", "wallboard.settings_title", h("p", { class: "muted" }, t("wallboard.settings_help")),
      settingsForm));
  root.append(page);

  function showError(err) {
    setText(errorBox, err ? t("wallboard.action_failed", { message: err.message || String(err) }) : "");
  }

  // ---------- names ----------
  const queueName = (id) => {
    const q = S.queues.get(id);
    return q ? q.doc.display_name || q.doc.name : `#${id}`;
  };
  const agentName = (id) => {
    const a = S.agents.get(id);
    return a ? a.doc.display_name || a.doc.name : `#${id}`;
  };
  const stateText = (p) => {
    const st = p?.state || "logged-out";
    const base = t(`wallboard.state_${st.replace("-", "_")}`);
    return p?.reason ? t("wallboard.state_with_reason", { state: base, reason: p.reason }) : base;
  };
  const channelText = (c) => t(`wallboard.channel_${c}`);

  // ---------- queues ----------
  function queueRow(q) {
    const c = {};
    const td = (k, cls) => (c[k] = h("td", { class: `q-${k}${cls ? " " + cls : ""}` }));
    const tr = h("tr", { dataset: { queue: q.doc.id } },
      h("th", { scope: "row", class: "q-name" }), td("waiting", "num"), td("longest", "num"), td("ewt", "num"),
      td("sl", "num"), td("asa", "num"), td("abandoned", "num"), td("offered", "num"), td("staff", "num"),
      td("hours"));
    c.name = tr.firstChild;
    q.row = { tr, c };
    queueBody.append(tr);
    const opt = h("option", { value: String(q.doc.id) });
    q.option = opt;
    chartSelect.append(opt);
  }

  const waitingOf = (q) => Math.max(0, (q.stats?.waiting ?? 0) + q.adj);

  function longestWaitS(q, now) {
    let oldest = null;
    for (const c of S.contacts.values()) {
      if (c.queue_id === q.doc.id && c.state !== "connected" && !c.is_callback) {
        if (oldest === null || c.joinedMs < oldest) oldest = c.joinedMs;
      }
    }
    if (oldest !== null) return (now - oldest) / 1000;
    const s = q.stats;
    if (!s || !(s.waiting + s.offered_now) || !(s.longest_wait_s > 0)) return 0;
    return s.longest_wait_s + (now - q.statsAt) / 1000;
  }

  function slOf(s) {
    if (!s) return null;
    const d = s.today.answered + s.today.abandoned;
    return d ? s.today.service_level : null;
  }

  function renderQueue(q, now) {
    if (!q.row) queueRow(q);
    const { c, tr } = q.row;
    const s = q.stats;
    setText(c.name, q.doc.display_name || q.doc.name);
    setText(q.option, q.doc.display_name || q.doc.name);
    setText(c.waiting, fmt.number(waitingOf(q)));
    setText(c.longest, fmt.duration(longestWaitS(q, now)));
    setText(c.ewt, s ? fmt.duration(s.ewt_s) : "–");
    const sl = slOf(s);
    const target = s ? s.sla_percent : q.doc.sla_percent;
    setText(c.sl, t("wallboard.sl_value", { sl: sl === null ? "–" : fmt.percent(sl), target: fmt.percent(target / 100) }));
    setClass(c.sl, `q-sl num${sl !== null && sl * 100 < target ? " bad" : ""}`);
    setText(c.asa, s ? fmt.duration(s.today.asa_s) : "–");
    setText(c.abandoned, s ? fmt.number(s.today.abandoned) : "–");
    setText(c.offered, s ? t("wallboard.offered_answered", { offered: fmt.number(s.today.offered), answered: fmt.number(s.today.answered) }) : "–");
    const a = s?.agents || {};
    setText(c.staff, t("wallboard.staff_value", {
      ready: a.ready ?? 0, busy: a.busy ?? 0, not_ready: (a.not_ready ?? 0) + (a.wrap_up ?? 0),
    }));
    const hours = s?.hours;
    setText(c.hours, hours ? (hours.holiday ? t("wallboard.hours_holiday", { name: hours.holiday }) : t(`wallboard.hours_${hours.state}`)) : "");
    setClass(c.hours, hours ? `q-hours hours-${hours.state}` : "q-hours");
    const alerting = S.alerts.has(`sl:${q.doc.id}`) || S.alerts.has(`wait:${q.doc.id}`);
    tr.classList.toggle("alerting", alerting);
  }

  function applyQueueStats(items, pushed) {
    const now = Date.now();
    if (pushed) S.lastPushMs = now;
    for (const s of items) {
      const q = S.queues.get(s.queue_id);
      if (!q) continue;
      q.stats = s;
      q.statsAt = now;
      q.adj = 0;
      dirtyQueues.add(q);
    }
    sample(now);
  }

  // ---------- chart ----------
  function pushPoint(key, p) {
    let arr = S.history.get(key);
    if (!arr) S.history.set(key, (arr = []));
    const last = arr[arr.length - 1];
    if (last && p.t - last.t < SAMPLE_MIN_MS) {
      arr[arr.length - 1] = p;
    } else {
      arr.push(p);
      if (arr.length > HISTORY_MAX) arr.splice(0, arr.length - HISTORY_MAX);
    }
  }

  function sample(now) {
    let waiting = 0, within = 0, denom = 0;
    for (const q of S.queues.values()) {
      if (!q.stats) continue;
      const w = waitingOf(q);
      waiting += w;
      within += q.stats.today.answered_within_target;
      denom += q.stats.today.answered + q.stats.today.abandoned;
      pushPoint(q.doc.id, { t: now, waiting: w, sl: slOf(q.stats), target: q.stats.sla_percent / 100 });
    }
    pushPoint("all", { t: now, waiting, sl: denom ? within / denom : null, target: null });
    chartDirty = true;
  }

  function svgEl(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function drawChart() {
    chartDirty = false;
    const key = S.chartQueue === "all" ? "all" : Number(S.chartQueue);
    const pts = S.history.get(key) || [];
    const W = 640, H = 180, L = 40, R = 40, T = 10, B = 24;
    const iw = W - L - R, ih = H - T - B;
    const kids = [];
    const t1 = pts.length ? pts[pts.length - 1].t : Date.now();
    const t0 = pts.length > 1 ? pts[0].t : t1 - 60000;
    const span = Math.max(1, t1 - t0);
    const maxW = Math.max(4, ...pts.map((p) => p.waiting));
    const x = (tm) => L + ((tm - t0) / span) * iw;
    const yw = (w) => T + ih - (w / maxW) * ih;
    const ys = (s) => T + ih - s * ih;
    kids.push(svgEl("rect", { x: L, y: T, width: iw, height: ih, class: "wb-chart-bg" }));
    for (const f of [0, 0.5, 1]) {
      kids.push(svgEl("line", { x1: L, x2: L + iw, y1: T + ih - f * ih, y2: T + ih - f * ih, class: "wb-grid" }));
      const lw = svgEl("text", { x: L - 4, y: T + ih - f * ih + 4, class: "wb-axis", "text-anchor": "end" });
      lw.textContent = fmt.number(Math.round(f * maxW));
      const ls = svgEl("text", { x: L + iw + 4, y: T + ih - f * ih + 4, class: "wb-axis" });
      ls.textContent = fmt.percent(f);
      kids.push(lw, ls);
    }
    for (const [tm, anchor] of [[t0, "start"], [t1, "end"]]) {
      const lt = svgEl("text", { x: x(tm), y: H - 6, class: "wb-axis", "text-anchor": anchor });
      lt.textContent = fmt.time(new Date(tm).toISOString());
      kids.push(lt);
    }
    const last = pts[pts.length - 1];
    if (last?.target) {
      kids.push(svgEl("line", { x1: L, x2: L + iw, y1: ys(last.target), y2: ys(last.target), class: "wb-line-target" }));
    }
    if (pts.length) {
      kids.push(svgEl("polyline", { points: pts.map((p) => `${x(p.t).toFixed(1)},${yw(p.waiting).toFixed(1)}`).join(" "), class: "wb-line-waiting" }));
      const slPts = pts.filter((p) => p.sl !== null);
      if (slPts.length) {
        kids.push(svgEl("polyline", { points: slPts.map((p) => `${x(p.t).toFixed(1)},${ys(p.sl).toFixed(1)}`).join(" "), class: "wb-line-sl" }));
      }
    }
    chartSvg.replaceChildren(...kids);
    const summary = last
      ? t("wallboard.chart_summary", { waiting: fmt.number(last.waiting), sl: last.sl === null ? "–" : fmt.percent(last.sl), points: pts.length })
      : t("wallboard.chart_empty");
    chartSvg.setAttribute("aria-label", summary);
    setText(chartSummary, summary);
  }

  // ---------- agents ----------
  function agentRow(a) {
    const c = {};
    const td = (k, cls) => (c[k] = h("td", { class: `a-${k}${cls ? " " + cls : ""}` }));
    const name = a.doc.display_name || a.doc.name;
    c.stateBadge = h("span", { class: "state" });
    const select = h("select", { "aria-label": t("wallboard.force_state_for", { name }) },
      h("option", { value: "ready" }, t("wallboard.state_ready")),
      REASONS.map((r) => h("option", { value: `not-ready:${r}` }, t("wallboard.not_ready_reason", { reason: t(`wallboard.reason_${r}`) }))),
      h("option", { value: "logged-out" }, t("wallboard.state_logged_out")));
    const apply = h("button", { type: "button", class: "a-apply" }, t("wallboard.set_state"));
    apply.addEventListener("click", () => forceState(a, select.value));
    c.wrapEnd = h("button", { type: "button", class: "a-wrapend", hidden: true }, t("wallboard.end_wrap_up"));
    c.wrapEnd.addEventListener("click", () => endWrapUp(a));
    const tr = h("tr", { dataset: { agent: a.doc.id } },
      h("th", { scope: "row", class: "a-name" }), h("td", { class: "a-state" }, c.stateBadge), td("since", "num"),
      td("current"), td("phone"), td("handled", "num"), td("aht", "num"), td("occupancy", "num"),
      h("td", { class: "a-actions" }, select, " ", apply, " ", c.wrapEnd));
    c.name = tr.firstChild;
    c.select = select;
    a.row = { tr, c };
    agentBody.append(tr);
  }

  function stateSeconds(a, now) {
    const since = a.presence?.since ? Date.parse(a.presence.since) : NaN;
    return Number.isNaN(since) ? null : Math.max(0, (now - since) / 1000);
  }

  function renderAgentTime(a, now) {
    const { c } = a.row;
    const st = a.presence?.state || "logged-out";
    const secs = st === "logged-out" ? null : stateSeconds(a, now);
    const limit = st === "not-ready" ? settings.not_ready_max_s : st === "wrap-up" ? settings.wrap_up_max_s : 0;
    const over = secs !== null && limit > 0 && secs > limit;
    setText(c.since, secs === null ? "–" : over
      ? t("wallboard.time_over", { time: fmt.duration(secs), limit: fmt.duration(limit) }) : fmt.duration(secs));
    setClass(c.since, over ? "a-since num overdue" : "a-since num");
    a.row.tr.classList.toggle("overdue", over);
  }

  function renderAgent(a, now = Date.now()) {
    if (!a.row) agentRow(a);
    const { c } = a.row;
    setText(c.name, a.doc.display_name || a.doc.name);
    const st = a.presence?.state || "logged-out";
    const busy = a.current.size > 0;
    setText(c.stateBadge, busy && st !== "wrap-up" ? t("wallboard.busy_with_state", { state: stateText(a.presence) }) : stateText(a.presence));
    setClass(c.stateBadge, `state state-${st}${busy ? " busy" : ""}`);
    renderAgentTime(a, now);
    setText(c.current, [...a.current.entries()].map(([id, ch]) => {
      const ct = S.contacts.get(id);
      return t("wallboard.current_item", { id, channel: channelText(ch), queue: ct ? queueName(ct.queue_id) : "" });
    }).join("; ") || "–");
    const p = a.phone;
    setText(c.phone, !p ? t("wallboard.phone_none") : p.registered ? t("wallboard.phone_registered") : t("wallboard.phone_unregistered"));
    setClass(c.phone, `a-phone ${!p ? "phone-none" : p.registered ? "phone-up" : "phone-down"}`);
    const s = a.stats;
    setText(c.handled, s ? fmt.number(s.handled) : "–");
    setText(c.aht, s && s.handled ? fmt.duration(s.aht_s) : "–");
    setText(c.occupancy, s && s.busy_s + s.ready_idle_s > 0 ? fmt.percent(s.occupancy) : "–");
    c.wrapEnd.hidden = st !== "wrap-up";
    a.row.tr.classList.toggle("recognized", S.alerts.has(`rec:${a.doc.id}`));
  }

  function applyPresence(p) {
    const a = S.agents.get(p.agent_id);
    if (!a) return;
    a.presence = { ...(a.presence || {}), ...p };
    if (p.phone !== undefined) a.phone = p.phone;
    dirtyAgents.add(a);
  }

  async function forceState(a, value) {
    showError(null);
    const [state, reason] = value.split(":");
    const body = reason ? { state, reason } : { state };
    try {
      applyPresence(await api("POST", `/api/v1/agents/${a.doc.id}/state`, body));
      schedule();
      setText(livePolite, t("wallboard.state_forced", { name: agentName(a.doc.id), state: stateText(a.presence) }));
    } catch (err) {
      showError(err);
    }
  }

  async function endWrapUp(a) {
    showError(null);
    try {
      applyPresence(await api("POST", `/api/v1/agents/${a.doc.id}/wrapup-end`));
      schedule();
    } catch (err) {
      showError(err);
    }
  }

  function addAgentDoc(doc) {
    let a = S.agents.get(doc.id);
    if (!a) {
      a = { doc, presence: null, stats: null, current: new Map(), row: null, phone: doc.extension ? { extension: doc.extension, registered: false } : null };
      S.agents.set(doc.id, a);
    } else {
      a.doc = doc;
      if (!doc.extension) a.phone = null;
      else if (!a.phone || a.phone.extension !== doc.extension) a.phone = { extension: doc.extension, registered: false };
    }
    dirtyAgents.add(a);
    return a;
  }

  // ---------- contacts ----------
  function contactRow(ct) {
    const c = {};
    const td = (k, cls) => (c[k] = h("td", { class: `c-${k}${cls ? " " + cls : ""}` }));
    const input = h("input", { type: "number", min: "0", max: "1000", step: "1", value: String(ct.own ?? 0), class: "c-prio-input", "aria-label": t("wallboard.new_priority_for", { id: ct.id }) });
    const set = h("button", { type: "button", class: "c-prio-set" }, t("wallboard.set_priority"));
    set.addEventListener("click", () => setPriority(ct, input.value));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") setPriority(ct, input.value);
    });
    const move = h("button", { type: "button", class: "c-reassign", "aria-haspopup": "dialog", "aria-label": t("wallboard.reassign_for", { id: ct.id }) },
      t("wallboard.reassign"));
    move.addEventListener("click", () => openReassign(ct.id, move));
    const tr = h("tr", { dataset: { interaction: ct.id } },
      h("th", { scope: "row", class: "c-id" }, `#${ct.id}`), td("queue"), td("channel"), td("state"),
      td("waited", "num"), td("priority", "num"), h("td", { class: "c-actions" }, input, " ", set, " ", move));
    c.input = input;
    ct.row = { tr, c, own: ct.own };
    contactBody.append(tr);
  }

  function renderContact(ct, now = Date.now()) {
    const show = ct.state === "waiting" || ct.state === "offered";
    if (!show) {
      if (ct.row) {
        ct.row.tr.remove();
        ct.row = null;
      }
      return;
    }
    if (!ct.row) contactRow(ct);
    const { c } = ct.row;
    setText(c.queue, queueName(ct.queue_id));
    setText(c.channel, channelText(ct.channel) + (ct.is_callback ? ` (${t("wallboard.callback")})` : ""));
    setText(c.state, ct.state === "offered"
      ? t("wallboard.contact_offered_to", { names: [...ct.offers].map(agentName).join(", ") })
      : t("wallboard.contact_waiting"));
    setText(c.waited, fmt.duration((now - ct.joinedMs) / 1000));
    setText(c.priority, ct.priority === null ? "–" : fmt.number(ct.priority));
    // The box holds the contact's own priority: a change made elsewhere (contact.priority)
    // replaces it, unless the supervisor is typing in it.
    if (ct.own !== null && ct.own !== undefined && ct.row.own !== ct.own && document.activeElement !== c.input) {
      c.input.value = String(ct.own);
      ct.row.own = ct.own;
    }
  }

  async function setPriority(ct, value) {
    showError(null);
    const n = Number(value);
    try {
      const r = await api("POST", `/api/v1/interactions/${ct.id}/priority`, { priority: Number.isInteger(n) ? n : value });
      applyRouting(r);
      schedule();
      setText(livePolite, t("wallboard.priority_set", { id: ct.id, priority: fmt.number(r.priority) }));
    } catch (err) {
      showError(err);
    }
  }

  // ---------- reassign (move a waiting or offered contact) ----------
  // One modal <dialog> for the page, opened from a contact's Reassign button: the target is a
  // queue taking the contact's channel or an agent taking it (capacity above 0; their state is
  // shown and follows the stream). showModal() makes the rest of the page inert; Tab and
  // Shift+Tab also wrap inside it; Escape (the dialog's cancel) or Cancel close it, and focus
  // goes back to the button that opened it. The move is POST /interactions/{id}/transfer with
  // {queue} or {agent_id} (supervisors and admins; docs/routing.md, Moving a waiting contact);
  // the API's refusal is shown in the dialog, and the row follows the stream's contact.queued
  // ("moved": true). A contact that got connected or left meanwhile is not sent (on a connected
  // one the same call would be a transfer): the dialog says so and disables Move.
  const moveTitle = h("h2", { id: "wb-reassign-title" });
  const moveInfo = h("p", { id: "wb-reassign-info" });
  const moveSelect = h("select", { id: "wb-reassign-target", "aria-describedby": "wb-reassign-help" });
  const moveError = h("p", { id: "wb-reassign-error", class: "error", role: "alert" });
  const moveSubmit = h("button", { type: "submit", class: "primary", id: "wb-reassign-submit" }, t("wallboard.reassign_submit"));
  const moveCancel = h("button", { type: "button", id: "wb-reassign-cancel" }, t("wallboard.reassign_cancel"));
  const moveForm = h("form", { id: "wb-reassign-form" },
    moveTitle, moveInfo,
    h("div", { class: "wb-field" }, h("label", { for: "wb-reassign-target" }, t("wallboard.reassign_target")), moveSelect),
    h("p", { class: "muted", id: "wb-reassign-help" }, t("wallboard.reassign_help")),
    moveError,
    h("div", { class: "wb-dialog-actions" }, moveSubmit, " ", moveCancel));
  const moveDialog = h("dialog", { id: "wb-reassign", class: "wb-dialog", "aria-labelledby": "wb-reassign-title", "aria-describedby": "wb-reassign-info" }, moveForm);
  page.append(moveDialog);
  const move = { id: null, opener: null, busy: false, seq: 0, agentOptions: new Map() };

  const capacityOf = (doc, channel) => doc.capacity?.[channel] ?? DEFAULT_CAPACITY[channel] ?? 0;
  const byName = (x, y) => (x.doc.display_name || x.doc.name).localeCompare(y.doc.display_name || y.doc.name);

  function agentOptionText(a, channel) {
    const st = a.presence?.state || "logged-out";
    const state = a.current.size > 0 && st !== "wrap-up"
      ? t("wallboard.busy_with_state", { state: stateText(a.presence) }) : stateText(a.presence);
    const name = a.doc.display_name || a.doc.name;
    return channel === "voice" && a.phone && !a.phone.registered
      ? t("wallboard.reassign_agent_no_phone", { name, state }) : t("wallboard.reassign_agent_option", { name, state });
  }

  function fillTargets(ct) {
    const channel = channelText(ct.channel);
    const queues = [...S.queues.values()].filter((q) => (q.doc.channels || []).includes(ct.channel)).sort(byName);
    const agents = [...S.agents.values()].filter((a) => a.doc.enabled !== false && capacityOf(a.doc, ct.channel) > 0).sort(byName);
    move.agentOptions.clear();
    const groups = [];
    if (queues.length) {
      groups.push(h("optgroup", { label: t("wallboard.reassign_queues", { channel }) }, queues.map((q) => {
        const name = q.doc.display_name || q.doc.name;
        return h("option", { value: `q:${q.doc.id}` },
          q.doc.id === ct.queue_id ? t("wallboard.reassign_current_queue", { queue: name }) : name);
      })));
    }
    if (agents.length) {
      groups.push(h("optgroup", { label: t("wallboard.reassign_agents", { channel }) }, agents.map((a) => {
        const opt = h("option", { value: `a:${a.doc.id}` }, agentOptionText(a, ct.channel));
        move.agentOptions.set(a.doc.id, opt);
        return opt;
      })));
    }
    moveSelect.replaceChildren(...groups);
    // The first queue other than its own is the likeliest choice.
    const other = queues.find((q) => q.doc.id !== ct.queue_id);
    if (other) moveSelect.value = `q:${other.doc.id}`;
  }

  function refreshAgentOptions() {
    const ct = S.contacts.get(move.id);
    if (!ct) return;
    for (const [id, opt] of move.agentOptions) {
      const a = S.agents.get(id);
      if (a) setText(opt, agentOptionText(a, ct.channel));
    }
  }

  // The dialog's description of the contact, and whether it may still be moved.
  function renderMoveInfo() {
    const ct = S.contacts.get(move.id);
    const movable = !!ct && (ct.state === "waiting" || ct.state === "offered");
    if (movable) {
      setText(moveInfo, ct.state === "offered"
        ? t("wallboard.reassign_info_offered", { channel: channelText(ct.channel), queue: queueName(ct.queue_id), names: [...ct.offers].map(agentName).join(", ") })
        : t("wallboard.reassign_info_waiting", { channel: channelText(ct.channel), queue: queueName(ct.queue_id) }));
    } else {
      setText(moveInfo, t("wallboard.reassign_gone", { id: move.id }));
    }
    moveSubmit.disabled = !movable || move.busy || !moveSelect.value;
  }

  function openReassign(id, opener) {
    const ct = S.contacts.get(id);
    if (!ct) return;
    move.id = id;
    move.opener = opener;
    move.busy = false;
    move.seq++;
    setText(moveTitle, t("wallboard.reassign_title", { id }));
    setText(moveError, "");
    fillTargets(ct);
    if (!moveSelect.options.length) setText(moveError, t("wallboard.reassign_no_target"));
    renderMoveInfo();
    if (!moveDialog.open) moveDialog.showModal();
    moveSelect.focus();
  }

  function closeReassign() {
    if (moveDialog.open) moveDialog.close();
  }

  moveDialog.addEventListener("close", () => {
    const opener = move.opener;
    move.id = null;
    move.opener = null;
    move.seq++;
    if (opener && opener.isConnected) {
      opener.focus();
    } else {
      // Its row went (connected, abandoned, reloaded): the panel's title takes the focus.
      const title = document.getElementById("wb-contacts-panel-title");
      if (title) {
        title.tabIndex = -1;
        title.focus();
      }
    }
  });
  moveDialog.addEventListener("keydown", (e) => {
    if (e.key !== "Tab") return;
    const focusable = [...moveDialog.querySelectorAll("select, input, button")].filter((el) => !el.disabled);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
  moveCancel.addEventListener("click", closeReassign);
  moveSelect.addEventListener("change", () => setText(moveError, ""));
  moveForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ct = S.contacts.get(move.id);
    if (move.busy || !ct || (ct.state !== "waiting" && ct.state !== "offered") || !moveSelect.value) {
      renderMoveInfo();
      return;
    }
    const [kind, raw] = moveSelect.value.split(":");
    const target = Number(raw);
    const body = kind === "q" ? { queue: S.queues.get(target)?.doc.name ?? "" } : { agent_id: target };
    const seq = move.seq;
    const id = ct.id;
    move.busy = true;
    setText(moveError, "");
    renderMoveInfo();
    try {
      await api("POST", `/api/v1/interactions/${id}/transfer`, body);
      setText(livePolite, kind === "q"
        ? t("wallboard.reassign_done_queue", { id, queue: queueName(target) })
        : t("wallboard.reassign_done_agent", { id, name: agentName(target) }));
      if (seq === move.seq) closeReassign();
    } catch (err) {
      if (seq !== move.seq) {
        showError(err);
        return;
      }
      const hint = { 403: "forbidden", 404: "gone", 409: "conflict", 422: "invalid" }[err.status];
      setText(moveError, t("wallboard.reassign_failed", { message: err.message || String(err) })
        + (hint ? ` ${t(`wallboard.reassign_hint_${hint}`)}` : ""));
    } finally {
      if (seq === move.seq) {
        move.busy = false;
        renderMoveInfo();
      }
    }
  });

  function countWaiting(ct, delta) {
    if (ct.is_callback || ct.state !== "waiting") return;
    const q = S.queues.get(ct.queue_id);
    if (q) {
      q.adj += delta;
      dirtyQueues.add(q);
    }
  }

  function setContactState(ct, state) {
    countWaiting(ct, -1);
    ct.state = state;
    countWaiting(ct, +1);
    dirtyContacts.add(ct);
  }

  function dropContact(id) {
    const ct = S.contacts.get(id);
    if (!ct) return;
    countWaiting(ct, -1);
    ct.state = "gone";
    S.contacts.delete(id);
    asked.delete(id);
    dirtyContacts.add(ct);
  }

  function detachFromAgent(id, agentId) {
    const a = S.agents.get(agentId);
    if (a && a.current.delete(id)) dirtyAgents.add(a);
  }

  // A routing state document (GET /interactions/{id}/routing, or an action's answer). full:
  // at (re)load, where it is the whole truth; otherwise the events own the contact's state and
  // only its priority and callback flag are taken from it.
  function applyRouting(r, full) {
    if (!r || !r.interaction_id) return;
    let ct = S.contacts.get(r.interaction_id);
    if (!full) {
      if (ct && r.state !== "done") {
        ct.priority = r.priority;
        dirtyContacts.add(ct);
      }
      return;
    }
    if (r.state === "done") {
      dropContact(r.interaction_id);
      return;
    }
    if (!ct) {
      ct = { id: r.interaction_id, queue_id: r.queue_id, channel: r.channel, state: "new", agent_id: null, offers: new Set(), joinedMs: Date.now() - r.waited_ms, priority: null, own: null, is_callback: !!r.is_callback, row: null };
      S.contacts.set(ct.id, ct);
    }
    ct.queue_id = r.queue_id;
    ct.priority = r.priority;
    ct.is_callback = !!r.is_callback;
    if (r.state !== "connected") ct.joinedMs = Date.now() - r.waited_ms;
    if (r.state === "offered" && r.agent_id) ct.offers.add(r.agent_id);
    if (r.state === "connected" && r.agent_id) {
      ct.agent_id = r.agent_id;
      const a = S.agents.get(r.agent_id);
      if (a) {
        a.current.set(ct.id, ct.channel);
        dirtyAgents.add(a);
      }
    }
    ct.state = r.state;
    dirtyContacts.add(ct);
  }

  function applyContactEvent(ev) {
    const d = ev.data;
    const id = d.contact_id;
    const kind = ev.type.slice("contact.".length);
    const atMs = d.at_ms || Date.parse(ev.ts);
    let ct = S.contacts.get(id);
    if (kind === "queued") {
      if (!ct) {
        ct = { id, queue_id: d.queue_id, channel: d.channel, state: "new", agent_id: null, offers: new Set(), joinedMs: atMs, priority: null, own: null, is_callback: false, row: null };
        S.contacts.set(id, ct); // its priority is asked for by the ticker if it keeps waiting
      } else {
        countWaiting(ct, -1);
        // A transfer or a supervisor's move starts a new stay: the wait counts from now.
        if (ct.transferred || d.moved) ct.joinedMs = atMs;
        ct.transferred = false;
        ct.queue_id = d.queue_id;
        ct.state = "new";
      }
      ct.offers.clear();
      setContactState(ct, "waiting");
      // The effective priority follows the new queue's: re-read this one contact's view.
      if (d.moved) readRouting(id);
      return;
    }
    if (!ct) return;
    switch (kind) {
      case "offered":
        ct.offers.add(d.agent_id);
        if (d.is_callback) ct.is_callback = true;
        setContactState(ct, "offered");
        break;
      case "offer_timeout":
      case "offer_rejected":
      case "withdrawn":
        ct.offers.delete(d.agent_id);
        if (ct.state === "offered" && ct.offers.size === 0) setContactState(ct, "waiting");
        break;
      case "connected": {
        ct.offers.clear();
        ct.agent_id = d.agent_id;
        setContactState(ct, "connected");
        const a = S.agents.get(d.agent_id);
        if (a) {
          a.current.set(id, ct.channel);
          dirtyAgents.add(a);
        }
        break;
      }
      case "ended":
        detachFromAgent(id, d.agent_id);
        if (d.transfer) {
          ct.transferred = true;
          ct.agent_id = null;
        } else {
          dropContact(id);
        }
        break;
      case "abandoned":
        for (const aid of ct.offers) detachFromAgent(id, aid);
        dropContact(id);
        break;
      case "overflow":
        if (d.to === "voicemail") dropContact(id);
        break;
      case "priority":
        // The contact's own priority; the effective one (queue priority, aging, cap) is the
        // routing view's, re-read for this one contact.
        ct.own = d.priority;
        dirtyContacts.add(ct);
        if (ct.state !== "connected") readRouting(ct.id);
        break;
      case "callback":
        countWaiting(ct, -1);
        ct.is_callback = true;
        dirtyContacts.add(ct);
        break;
      default:
        break;
    }
  }

  // The priority of contacts that joined since the load is not in the events: the ticker asks
  // the API for it (GET .../routing), only for contacts still waiting after ROUTING_ASK_AFTER_MS
  // (most are answered before that) and at most ROUTING_ASK_PER_TICK per second.
  function askPriorities(now) {
    let n = 0;
    for (const ct of S.contacts.values()) {
      if (n >= ROUTING_ASK_PER_TICK) break;
      if (ct.priority !== null || asked.has(ct.id) || ct.state === "connected" || now - ct.joinedMs < ROUTING_ASK_AFTER_MS) continue;
      asked.add(ct.id);
      n++;
      readRouting(ct.id);
    }
  }

  function readRouting(id) {
    api("GET", `/api/v1/interactions/${id}/routing`).then((r) => {
      applyRouting(r);
      schedule();
    }).catch(() => { /* it left routing meanwhile: the events say so */ });
  }

  // ---------- calls ----------
  function callRow(call) {
    const c = {};
    const buttons = {};
    const actions = h("td", { class: "k-actions" });
    for (const mode of [...MONITOR_MODES, "drop"]) {
      const b = h("button", { type: "button", class: `k-${mode}` }, t(`wallboard.monitor_${mode}`));
      b.addEventListener("click", () => monitor(call, mode));
      buttons[mode] = b;
      actions.append(b, " ");
    }
    const tr = h("tr", { dataset: { interaction: call.id } },
      h("th", { scope: "row", class: "k-id" }, `#${call.id}`), (c.agent = h("td", { class: "k-agent" })),
      (c.party = h("td", { class: "k-party" })), actions);
    call.row = { tr, c, buttons };
    callBody.append(tr);
  }

  function renderCall(call) {
    if (call.gone) {
      if (call.row) call.row.tr.remove();
      call.row = null;
      return;
    }
    if (!call.row) callRow(call);
    const { c, buttons } = call.row;
    setText(c.agent, agentName(call.agent_id));
    const p = call.party;
    setText(c.party, p ? t("wallboard.party_value", { mode: t(`wallboard.monitor_${p.mode}`), state: t(`wallboard.party_state_${p.state}`) }) : "–");
    setClass(c.party, p ? `k-party party-${p.mode}` : "k-party");
    for (const mode of MONITOR_MODES) buttons[mode].disabled = !canMonitor || p?.mode === mode || (p && !MONITOR_MODES.includes(p.mode));
    buttons.drop.disabled = !p || !MONITOR_MODES.includes(p.mode);
  }

  function applyCallEvent(ev) {
    const d = ev.data;
    const id = d.interaction_id;
    if (!id) return;
    let call = S.calls.get(id);
    if (ev.type === "call.answered" && d.agent_id) {
      if (!call) S.calls.set(id, (call = { id, agent_id: d.agent_id, party: null, row: null }));
      call.agent_id = d.agent_id;
    } else if (!call) {
      return;
    } else if (ev.type === "call.ended") {
      call.gone = true;
      S.calls.delete(id);
    } else if (["call.party_added", "call.party_ringing", "call.party_answered", "call.party_mode"].includes(ev.type)) {
      call.party = { mode: d.mode, state: d.state, agent_id: d.agent_id };
    } else if (ev.type === "call.party_ended") {
      call.party = null;
    } else if (ev.type === "call.party_completed") {
      call.party = null;
      if (d.agent_id) call.agent_id = d.agent_id;
    } else {
      return;
    }
    dirtyCalls.add(call);
  }

  // The calls in progress (GET /api/v1/calls) replace what the page knew: at mount and after a
  // resync. Only calls with an interaction and an agent talking can be monitored and are shown.
  function loadCalls(items) {
    for (const call of S.calls.values()) {
      call.gone = true;
      dirtyCalls.add(call);
    }
    S.calls.clear();
    for (const k of items) {
      if (!(k.interaction_id > 0) || !k.agent_id || k.state !== "connected") continue;
      const p = k.party;
      const call = { id: k.interaction_id, agent_id: k.agent_id, row: null,
        party: p ? { mode: p.mode, state: p.state, agent_id: p.agent_id } : null };
      S.calls.set(call.id, call);
      dirtyCalls.add(call);
    }
  }

  async function monitor(call, mode) {
    showError(null);
    try {
      if (mode === "drop") await api("DELETE", `/api/v1/interactions/${call.id}/party`);
      else if (call.party) await api("PATCH", `/api/v1/interactions/${call.id}/party`, { mode });
      else await api("POST", `/api/v1/interactions/${call.id}/party`, { mode });
    } catch (err) {
      showError(err);
    }
  }

  // ---------- alerts ----------
  function raise(key, kind, text) {
    const cur = S.alerts.get(key);
    if (cur) {
      setText(cur.text, text);
      return;
    }
    const li = h("li", { class: `wb-alert alert-${kind}`, dataset: { alert: key } },
      h("span", { class: "wb-alert-kind" }, t(`wallboard.alert_kind_${kind}`)), " ");
    const span = h("span", { class: "wb-alert-text" }, text);
    li.append(span);
    alertList.append(li);
    S.alerts.set(key, { key, kind, li, text: span });
    setText(kind === "recognition" ? livePolite : liveAlert, text);
  }

  function clearAlert(key) {
    const a = S.alerts.get(key);
    if (!a) return;
    a.li.remove();
    S.alerts.delete(key);
  }

  function evaluateAlerts(now = Date.now()) {
    for (const q of S.queues.values()) {
      const s = q.stats;
      const sl = slOf(s);
      const name = q.doc.display_name || q.doc.name;
      if (s && sl !== null && sl * 100 < s.sla_percent) {
        raise(`sl:${q.doc.id}`, "sl", t("wallboard.alert_sl", { queue: name, sl: fmt.percent(sl), target: fmt.percent(s.sla_percent / 100) }));
      } else {
        clearAlert(`sl:${q.doc.id}`);
      }
      const wait = longestWaitS(q, now);
      if (settings.wait_alert_s > 0 && wait > settings.wait_alert_s) {
        raise(`wait:${q.doc.id}`, "wait", t("wallboard.alert_wait", { queue: name, wait: fmt.duration(wait), limit: fmt.duration(settings.wait_alert_s) }));
      } else {
        clearAlert(`wait:${q.doc.id}`);
      }
      if (q.row) {
        q.row.tr.classList.toggle("alerting", S.alerts.has(`sl:${q.doc.id}`) || S.alerts.has(`wait:${q.doc.id}`));
      }
    }
    for (const a of S.agents.values()) {
      const s = a.stats;
      const key = `rec:${a.doc.id}`;
      if (s && s.handled > 0 && s.handled >= settings.target_handled && s.aht_s <= settings.target_aht_s) {
        if (!S.alerts.has(key)) {
          raise(key, "recognition", t("wallboard.alert_recognition", {
            name: a.doc.display_name || a.doc.name, handled: fmt.number(s.handled), aht: fmt.duration(s.aht_s),
          }));
          dirtyAgents.add(a);
        }
      }
    }
    noAlerts.hidden = S.alerts.size > 0;
  }

  // ---------- batching ----------
  const dirtyQueues = new Set();
  const dirtyAgents = new Set();
  const dirtyContacts = new Set();
  const dirtyCalls = new Set();
  let chartDirty = false;
  let agentStatsChanged = false;

  function applyEvent(ev) {
    const type = ev.type;
    if (type === "agent.state") {
      const d = ev.data;
      applyPresence({ agent_id: d.agent_id, state: d.to, reason: d.reason ?? null,
        since: d.at_ms ? new Date(d.at_ms).toISOString() : ev.ts });
    } else if (type.startsWith("contact.")) {
      applyContactEvent(ev);
    } else if (type.startsWith("call.")) {
      applyCallEvent(ev);
    } else if (type === "phone.registered" || type === "phone.unregistered") {
      const a = S.agents.get(ev.data.agent_id);
      if (a) {
        a.phone = { ...(a.phone || {}), extension: ev.data.extension, registered: type === "phone.registered" };
        dirtyAgents.add(a);
      }
    } else if (type === "agents.created" || type === "agents.updated") {
      addAgentDoc(ev.data);
    } else if (type === "agents.deleted") {
      const a = S.agents.get(ev.data.id);
      if (a) {
        a.row?.tr.remove();
        S.agents.delete(ev.data.id);
      }
    } else if (type === "queues.created" || type === "queues.updated") {
      const q = S.queues.get(ev.data.id);
      if (q) q.doc = ev.data;
      else S.queues.set(ev.data.id, { doc: ev.data, stats: null, statsAt: 0, adj: 0, row: null });
      dirtyQueues.add(S.queues.get(ev.data.id));
    } else if (type === "queues.deleted") {
      const q = S.queues.get(ev.data.id);
      if (q) {
        q.row?.tr.remove();
        q.option?.remove();
        S.queues.delete(ev.data.id);
      }
    }
  }

  function schedule() {
    if (!S.frame && S.alive) S.frame = requestAnimationFrame(flush);
  }

  function flush() {
    S.frame = 0;
    if (!S.alive) return;
    const t0 = performance.now();
    if (S.loaded) {
      const items = S.pending;
      S.pending = [];
      for (const m of items) {
        if (m.kind === "event") applyEvent(m.ev);
        else if (m.kind === "agents") applyAgentStats(m.items);
        else applyQueueStats(m.queues, m.pushed);
      }
      stats.applied += items.length;
    }
    stats.frames++;
    const now = Date.now();
    // (Objects replaced by a reload are skipped: only the current ones have rows on the page.)
    for (const q of dirtyQueues) if (S.queues.get(q.doc.id) === q) renderQueue(q, now);
    for (const a of dirtyAgents) if (S.agents.get(a.doc.id) === a) renderAgent(a, now);
    for (const c of dirtyContacts) renderContact(c, now);
    for (const c of dirtyCalls) renderCall(c);
    if (moveDialog.open) {
      if (dirtyAgents.size) refreshAgentOptions();
      if (dirtyContacts.size) renderMoveInfo();
    }
    const queuesChanged = dirtyQueues.size > 0;
    dirtyQueues.clear();
    dirtyAgents.clear();
    dirtyContacts.clear();
    dirtyCalls.clear();
    if (queuesChanged || agentStatsChanged) evaluateAlerts(now);
    agentStatsChanged = false;
    if (chartDirty) drawChart();
    noContacts.hidden = contactBody.childElementCount > 0;
    contactTable.hidden = contactBody.childElementCount === 0;
    noCalls.hidden = callBody.childElementCount > 0;
    callTable.hidden = callBody.childElementCount === 0;
    const ms = performance.now() - t0;
    stats.workMs += ms;
    if (ms > stats.maxWorkMs) stats.maxWorkMs = ms;
    stats.frameMs[stats.frames % 4096] = ms; // the last 4096 frames
  }

  // ---------- loading ----------
  function applyAgentStats(items) {
    for (const s of items) {
      const a = S.agents.get(s.agent_id);
      if (a) {
        a.stats = s;
        dirtyAgents.add(a);
      }
    }
    agentStatsChanged = true;
  }

  // Agent figures over HTTP: once at mount (and resync), then only when no push brought them
  // for AGENT_STATS_STALE_MS (a server that does not push them).
  async function loadAgentStats() {
    try {
      const res = await api("GET", "/api/v1/stats/agents");
      S.agentStatsAt = Date.now();
      // Through the queue, so it is applied in order with the pushes already received.
      S.pending.push({ kind: "agents", items: res.items || [] });
      schedule();
    } catch (_) { /* next poll */ }
  }

  async function loadQueueStats() {
    try {
      const res = await api("GET", "/api/v1/stats/queues");
      S.pending.push({ kind: "stats", queues: res.items || [], pushed: true });
      schedule();
    } catch (_) { /* next poll */ }
  }

  async function load() {
    showError(null);
    let callsErr = null;
    const [queues, agents, states, qstats, calls, ...open] = await Promise.all([
      listAll("/api/v1/queues"), listAll("/api/v1/agents"), api("GET", "/api/v1/agent-states"),
      api("GET", "/api/v1/stats/queues"),
      // Without the calls the rest of the wallboard still works: the panel says so.
      api("GET", "/api/v1/calls").then((r) => r?.items || [], (err) => {
        callsErr = err;
        return [];
      }),
      ...OPEN_STATES.map((st) => listAll(`/api/v1/interactions?state=${st}`)),
    ]);
    if (!S.alive) return;
    setText(callsError, callsErr ? t("wallboard.calls_load_failed", { message: callsErr.message || String(callsErr) }) : "");
    // Replace everything (a resync rebuilds from scratch; rows of vanished objects go).
    for (const q of S.queues.values()) {
      q.row?.tr.remove();
      q.option?.remove();
    }
    for (const a of S.agents.values()) a.row?.tr.remove();
    for (const c of S.contacts.values()) c.row?.tr.remove();
    S.queues.clear();
    S.agents.clear();
    S.contacts.clear();
    for (const doc of queues) {
      const q = { doc, stats: null, statsAt: 0, adj: 0, row: null };
      S.queues.set(doc.id, q);
      dirtyQueues.add(q);
    }
    agents.sort((x, y) => (x.display_name || x.name).localeCompare(y.display_name || y.name));
    for (const doc of agents) addAgentDoc(doc);
    for (const p of states.items || []) applyPresence(p);
    applyQueueStats(qstats.items || [], false);
    loadCalls(calls);
    await parallel(open.flat(), ROUTING_FETCH_PARALLEL, async (i) => {
      try {
        applyRouting(await api("GET", `/api/v1/interactions/${i.id}/routing`), true);
        const ct = S.contacts.get(i.id);
        if (ct && Number.isInteger(i.priority)) ct.own = i.priority;
      } catch (_) { /* it left routing */ }
    });
    S.loaded = true;
    schedule();
    loadAgentStats();
  }

  function reload() {
    S.loaded = false;
    S.pending = [];
    S.loading = load().catch((err) => {
      showError(err);
      S.loaded = true;
    });
  }

  const offs = [
    stream.on("event", (ev) => {
      S.pending.push({ kind: "event", ev });
      schedule();
    }),
    stream.on("stats", (msg) => {
      if (msg.queues) S.pending.push({ kind: "stats", queues: msg.queues, pushed: true });
      if (msg.agents) {
        S.agentStatsAt = Date.now();
        S.pending.push({ kind: "agents", items: msg.agents });
      }
      if (msg.queues || msg.agents) schedule();
    }),
    stream.on("snapshot", (msg) => {
      for (const p of msg.agents || []) applyPresence(p);
      schedule();
    }),
    stream.on("resync", reload),
  ];

  const ticker = setInterval(() => {
    if (!S.loaded) return;
    const t0 = performance.now();
    const now = Date.now();
    for (const a of S.agents.values()) if (a.row) renderAgentTime(a, now);
    for (const q of S.queues.values()) if (q.row) setText(q.row.c.longest, fmt.duration(longestWaitS(q, now)));
    for (const c of S.contacts.values()) if (c.row) setText(c.row.c.waited, fmt.duration((now - c.joinedMs) / 1000));
    evaluateAlerts(now);
    askPriorities(now);
    stats.tickMs += performance.now() - t0;
    stats.ticks++;
  }, 1000);
  const agentPoll = setInterval(() => {
    if (Date.now() - S.agentStatsAt > AGENT_STATS_STALE_MS) loadAgentStats();
  }, AGENT_STATS_STALE_MS / 2);
  const queuePoll = setInterval(() => {
    if (Date.now() - S.lastPushMs > QUEUE_STATS_STALE_MS) loadQueueStats();
  }, QUEUE_STATS_STALE_MS / 2);

  reload();
  window.__blendWallboard = stats;

  return () => {
    S.alive = false;
    closeReassign();
    offs.forEach((off) => off());
    clearInterval(ticker);
    clearInterval(agentPoll);
    clearInterval(queuePoll);
    if (S.frame) cancelAnimationFrame(S.frame);
  };
}

export const wallboardPage = {
  id: "wallboard",
  path: "/wallboard",
  titleKey: "wallboard.title",
  roles: ["supervisor", "admin"],
  order: 20,
  mount: mountWallboard,
};
