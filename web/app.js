// Blend console: log in, see queues and agents, follow agent states live, and (for an agent)
// change one's own state. It talks only to the documented API: /api/v1/... with the session
// cookie set at login, and the /api/v1/events WebSocket, resuming from the last seen sequence.
const $ = (sel) => document.querySelector(sel);
const state = {
  me: null, agents: new Map(), lastSeq: null, ws: null, retryMs: 500, work: new Map(), calls: new Map(),
};

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const err = new Error(data?.error?.message || res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

async function listAll(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await api("GET", `${path}?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function skillsText(skills, key) {
  return (skills || []).map((s) => `${s.skill} ${s[key]}`).join(", ");
}

function renderQueues(queues) {
  const body = $("#queues tbody");
  body.replaceChildren();
  for (const q of queues) {
    const tr = document.createElement("tr");
    cell(tr, q.display_name || q.name);
    cell(tr, q.channels.join(", "));
    cell(tr, q.strategy);
    cell(tr, `${q.sla_percent}% in ${q.sla_seconds} s`);
    cell(tr, skillsText(q.skills, "min_proficiency"));
    body.appendChild(tr);
  }
}

function renderAgents() {
  const body = $("#agents tbody");
  body.replaceChildren();
  for (const a of [...state.agents.values()].sort((x, y) => x.id - y.id)) {
    const tr = document.createElement("tr");
    cell(tr, a.display_name || a.name);
    cell(tr, a.extension);
    const phone = a.phone ? (a.phone.registered ? "registered" : "not registered") : "";
    cell(tr, phone, a.phone ? `phone-${a.phone.registered ? "up" : "down"}` : "");
    cell(tr, skillsText(a.skills, "proficiency"));
    const p = a.presence || { state: "logged-out" };
    cell(tr, p.reason ? `${p.state} (${p.reason})` : p.state, `state-${p.state}`);
    cell(tr, p.since ? new Date(p.since).toLocaleTimeString() : "");
    body.appendChild(tr);
  }
  if (state.me?.agent_id) {
    const mine = state.agents.get(state.me.agent_id)?.presence;
    $("#my-state").textContent = mine ? mine.state + (mine.reason ? ` (${mine.reason})` : "") : "logged-out";
  }
}

function applyPresence(p) {
  const a = state.agents.get(p.agent_id);
  if (!a) return;
  a.presence = p;
  if (p.phone !== undefined) a.phone = p.phone;
}

function applyPhone(ev) {
  const a = state.agents.get(ev.data.agent_id);
  if (!a) return;
  const registered = ev.type === "phone.registered";
  a.phone = { ...(a.phone || {}), extension: ev.data.extension, registered };
}

// The agent's own interactions, from the contact.* events naming them.
function applyContact(ev) {
  const d = ev.data;
  if (!state.me?.agent_id || d.agent_id !== state.me.agent_id) return;
  const id = d.contact_id;
  const kind = ev.type.slice("contact.".length);
  if (kind === "offered") state.work.set(id, { id, channel: d.channel, status: "offered", callback: d.is_callback });
  else if (kind === "connected") state.work.set(id, { ...(state.work.get(id) || { id, channel: d.channel }), status: "connected" });
  else if (["ended", "withdrawn", "offer_timeout", "offer_rejected", "abandoned"].includes(kind)) state.work.delete(id);
  renderWork();
}

function renderWork() {
  const list = $("#work");
  list.replaceChildren();
  for (const w of state.work.values()) {
    const li = document.createElement("li");
    li.dataset.interaction = w.id;
    li.append(`${w.callback ? "Callback" : w.channel} #${w.id} — ${w.status} `);
    const actions = w.status === "offered" ? [["Accept", "accept"], ["Reject", "reject"]] : [["End", "end"]];
    for (const [label, action] of actions) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.addEventListener("click", () => act(w.id, action));
      li.append(b, " ");
    }
    list.appendChild(li);
  }
  const mine = state.agents.get(state.me?.agent_id)?.presence;
  $("#wrapup-end").hidden = mine?.state !== "wrap-up";
}

async function act(id, action) {
  $("#state-error").textContent = "";
  try {
    await api("POST", `/api/v1/interactions/${id}/${action}`);
    if (action === "end") state.work.delete(id);
    renderWork();
  } catch (err) {
    $("#state-error").textContent = err.message;
  }
}

// Phone calls in progress, from the call.* events (supervisors and admins see them all): who
// is on them and the third party (a monitor) if any.
function applyCall(ev) {
  const d = ev.data;
  const id = d.interaction_id;
  if (!id) return;
  const call = state.calls.get(id);
  if (ev.type === "call.answered" && d.agent_id) {
    state.calls.set(id, { id, agent_id: d.agent_id, party: call?.party || null });
  } else if (!call) {
    return;
  } else if (ev.type === "call.ended") {
    state.calls.delete(id);
  } else if (["call.party_added", "call.party_ringing", "call.party_answered", "call.party_mode"].includes(ev.type)) {
    call.party = { mode: d.mode, state: d.state, agent_id: d.agent_id, number: d.number };
  } else if (ev.type === "call.party_ended") {
    call.party = null;
  } else if (ev.type === "call.party_completed") {
    call.party = null;
    if (d.agent_id) call.agent_id = d.agent_id;
  }
}

async function monitor(id, mode) {
  $("#calls-error").textContent = "";
  const call = state.calls.get(id);
  try {
    if (mode === "drop") await api("DELETE", `/api/v1/interactions/${id}/party`);
    else if (call?.party) await api("PATCH", `/api/v1/interactions/${id}/party`, { mode });
    else await api("POST", `/api/v1/interactions/${id}/party`, { mode });
  } catch (err) {
    $("#calls-error").textContent = err.message;
  }
}

function renderCalls() {
  const body = $("#calls tbody");
  body.replaceChildren();
  for (const c of [...state.calls.values()].sort((x, y) => x.id - y.id)) {
    const tr = document.createElement("tr");
    tr.dataset.interaction = c.id;
    cell(tr, `#${c.id}`);
    const a = state.agents.get(c.agent_id);
    cell(tr, a ? a.display_name || a.name : String(c.agent_id));
    cell(tr, c.party ? `${c.party.mode} (${c.party.state})` : "–", c.party ? `party-${c.party.mode}` : "");
    const td = cell(tr, "");
    for (const [label, mode] of [["Listen", "listen"], ["Whisper", "whisper"], ["Barge", "barge"], ["Drop", "drop"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.disabled = mode === "drop" ? !c.party : c.party?.mode === mode;
      b.addEventListener("click", () => monitor(c.id, mode));
      td.append(b, " ");
    }
    body.appendChild(tr);
  }
}

function renderLive(queues) {
  const body = $("#live tbody");
  body.replaceChildren();
  for (const q of queues) {
    const tr = document.createElement("tr");
    cell(tr, q.name);
    cell(tr, String(q.waiting));
    cell(tr, `${Math.round(q.longest_wait_s)} s`);
    cell(tr, String(q.today.answered));
    cell(tr, String(q.today.abandoned));
    cell(tr, q.today.answered + q.today.abandoned ? `${Math.round(q.today.service_level * 100)}%` : "–");
    const a = q.agents || {};
    cell(tr, `${a.ready ?? 0} / ${a.busy ?? 0} / ${(a.not_ready ?? 0) + (a.wrap_up ?? 0)}`);
    cell(tr, q.hours ? (q.hours.holiday ? `${q.hours.state} (${q.hours.holiday})` : q.hours.state) : "",
      q.hours ? `hours-${q.hours.state}` : "");
    body.appendChild(tr);
  }
}

function logEvent(ev) {
  const li = document.createElement("li");
  li.textContent = `#${ev.seq} ${ev.type} ${ev.subject} by ${ev.actor}`;
  $("#events").prepend(li);
  while ($("#events").children.length > 200) $("#events").lastChild.remove();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const after = state.lastSeq === null ? "" : `?after=${state.lastSeq}`;
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/events${after}`);
  state.ws = ws;
  ws.onopen = () => { $("#stream-status").textContent = "(connected)"; state.retryMs = 500; };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "snapshot") {
      state.lastSeq = msg.seq;
      msg.agents.forEach(applyPresence);
    } else if (msg.type === "event") {
      const ev = msg.event;
      state.lastSeq = ev.seq;
      if (ev.type === "agent.state") {
        const since = ev.data.at_ms ? new Date(ev.data.at_ms).toISOString() : ev.ts;
        applyPresence({ agent_id: ev.data.agent_id, state: ev.data.to, reason: ev.data.reason, since });
      } else if (ev.type.startsWith("phone.")) {
        applyPhone(ev);
      } else if (ev.type.startsWith("contact.")) {
        applyContact(ev);
      } else if (ev.type.startsWith("call.")) {
        applyCall(ev);
        renderCalls();
      }
      logEvent(ev);
    } else if (msg.type === "stats" && msg.queues) {
      renderLive(msg.queues);
    }
    renderAgents();
    renderWork();
  };
  ws.onclose = () => {
    if (state.ws !== ws || !state.me) return;
    $("#stream-status").textContent = "(reconnecting…)";
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10000);
  };
}

async function enter() {
  state.me = await api("GET", "/api/v1/auth/me");
  $("#who").textContent = `${state.me.display_name || state.me.username} · ${state.me.role}`;
  $("#login-view").hidden = true;
  $("#console-view").hidden = false;
  $("#logout").hidden = false;
  $("#me-panel").hidden = !state.me.agent_id;
  $("#live-panel").hidden = state.me.role === "agent";
  $("#calls-panel").hidden = !["admin", "supervisor"].includes(state.me.role);
  if (state.me.role !== "agent") {
    api("GET", "/api/v1/stats/queues").then((s) => renderLive(s.items)).catch(() => {});
  }
  const [queues, agents, presence] = await Promise.all([
    listAll("/api/v1/queues"), listAll("/api/v1/agents"), api("GET", "/api/v1/agent-states"),
  ]);
  renderQueues(queues);
  state.agents = new Map(agents.map((a) => [a.id, a]));
  presence.items.forEach(applyPresence);
  renderAgents();
  connect();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#login-error").textContent = "";
  try {
    await api("POST", "/api/v1/auth/login", { username: $("#username").value, password: $("#password").value });
    $("#password").value = "";
    await enter();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
});

$("#logout").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch (_) { /* the session may already be gone */ }
  state.me = null;
  state.ws?.close();
  location.reload();
});

$("#wrapup-end").addEventListener("click", async () => {
  $("#state-error").textContent = "";
  try {
    applyPresence(await api("POST", `/api/v1/agents/${state.me.agent_id}/wrapup-end`));
    renderAgents();
    renderWork();
  } catch (err) {
    $("#state-error").textContent = err.message;
  }
});

$("#me-panel").addEventListener("click", async (e) => {
  const wanted = e.target.dataset?.state;
  if (!wanted) return;
  $("#state-error").textContent = "";
  const body = { state: wanted };
  if (wanted === "not-ready") body.reason = $("#reason").value;
  try {
    applyPresence(await api("POST", `/api/v1/agents/${state.me.agent_id}/state`, body));
    renderAgents();
  } catch (err) {
    $("#state-error").textContent = err.message;
  }
});

enter().catch(() => { $("#login-view").hidden = false; });
