// Agent desktop (#/agent): the signed-in user's own agent. Presence (ready / not ready with a
// reason / logged out of queues) with time in state, the SIP phone's registration, incoming
// offers with a countdown (Accept / Reject, keys A / R), one pane per active interaction
// (customer profile and the customer's timeline, call controls with hold / resume (key H),
// transfer, consult / conference, recording, the conversation of a chat, SMS, social or email
// interaction with its reply composer and canned-response picker, notes and disposition saved
// with If-Match, end), wrap-up with its timer, and today's figures.
// Everything comes from the documented API and the event stream: the page keeps no state of its
// own that the server does not have, so a reload or a server restart (stream "resync") rebuilds
// it from GET calls. DOM: panes and offers are keyed by interaction id and updated in place so a
// note or a reply being typed survives live updates; a 1 s ticker updates only the timers' text.
// Customer-written mail is shown as text, or its server-sanitised HTML inside an
// <iframe sandbox> (no scripts, no same-origin, no network) — never in the page's own DOM; chat,
// SMS and social text is always text (textContent).
import { registerPage } from "../core/router.js";
import { has as hasKey, getLanguage } from "../core/i18n.js";

const REASONS = ["break", "lunch", "training", "meeting"];
const DISPOSITIONS = ["resolved", "follow_up", "escalated", "information", "complaint", "wrong_number"];
const HISTORY_PAGE = 20; // timeline items per page (GET /contacts/{id}/timeline?limit=)
const NOTES_SAVE_TRIES = 3; // PATCH attempts when the row's version moved under us (412)
const REPLY_POLL_MS = 10000; // conversation reload while a reply is still queued
// Channels with a written conversation: a pane shows its messages and a reply composer.
const DIGITAL = ["chat", "sms", "social", "email"];
const CANNED_SHOWN_MAX = 8; // options in the canned-response picker at once
const CANNED_REFRESH_MS = 30000; // the list is reloaded when the picker opens after this long
// The sanitised HTML of a mail is shown in a sandboxed frame that may load nothing at all
// (remote images would tell the sender the mail was read).
const MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

registerPage({
  id: "agent",
  path: "/agent",
  titleKey: "common.nav_agent",
  roles: ["agent", "supervisor", "admin"],
  order: 10,
  // Only a user linked to an agent has a desktop (an admin or supervisor without one does not).
  visible: (me) => !!me.agent_id,
  shortcuts: [
    { key: "A", labelKey: "agent.key_accept" },
    { key: "R", labelKey: "agent.key_reject" },
    { key: "W", labelKey: "agent.key_wrapup_end" },
    { key: "H", labelKey: "agent.key_hold" },
    { key: "Ctrl+Enter", labelKey: "agent.key_send_reply" },
    { key: "Enter", labelKey: "agent.key_send_chat" },
    { key: "/", labelKey: "agent.key_canned" },
    { key: "Ctrl+/", labelKey: "agent.key_canned_anywhere" },
  ],
  mount,
});

function mount(root, ctx) {
  const { api, listAll, stream, t, fmt, h, me, announce } = ctx;
  const agentId = me.agent_id;
  const s = {
    presence: null, // GET /agents/{id}/state
    phone: null, // {extension, registered}
    queues: new Map(), // id → queue
    queuesByName: new Map(),
    agents: new Map(), // id → agent (transfer targets)
    offers: new Map(), // interaction id → {id, channel, queueId, offeredAtMs, waitedMs, fetchedAtMs, doc, contact, els}
    work: new Map(), // interaction id → pane record
    figures: null,
    lastEndedQueueId: null,
    canned: [], // GET /api/v1/canned_responses
    cannedLoadedAtMs: 0,
    disposed: false,
  };
  const offs = [];

  // ---- skeleton -------------------------------------------------------------------------
  const stateText = h("strong", { id: "my-state", class: "state" });
  const stateSince = h("span", { id: "my-state-time", class: "muted" });
  const phoneStatus = h("p", { id: "phone-status", "aria-live": "polite" });
  const stateError = h("p", { id: "state-error", class: "error", role: "alert" });
  const reasonSelect = h("select", { id: "reason" },
    REASONS.map((r) => h("option", { value: r }, t(`common.reason_${r}`))));
  reasonSelect.addEventListener("change", () => renderPresence());
  const readyBtn = h("button", { type: "button", id: "state-ready", class: "ok", onclick: () => setState("ready") },
    t("agent.go_ready"));
  const notReadyBtn = h("button", { type: "button", id: "state-not-ready", onclick: () => setState("not-ready") },
    t("agent.go_not_ready"));
  const logoutBtn = h("button", { type: "button", id: "state-logout", onclick: () => setState("logged-out") },
    t("agent.go_logged_out"));
  const wrapTimer = h("span", { id: "wrapup-timer", class: "countdown" });
  const wrapEnd = h("button", { type: "button", id: "wrapup-end", class: "primary", onclick: endWrapup },
    t("agent.wrapup_end"));
  const wrapBox = h("section", { id: "wrapup", class: "wrapup", hidden: true, "aria-labelledby": "wrapup-title" },
    h("h3", { id: "wrapup-title" }, t("agent.wrapup_title")),
    h("p", {}, t("agent.wrapup_text")), h("p", {}, wrapTimer, " "), wrapEnd);
  // Not a live region itself (its countdowns tick every second): offers arriving and leaving are
  // announced through ctx.announce (the shell's alert region).
  const offersBox = h("div", { id: "offers", class: "offers" });
  const offersEmpty = h("p", { class: "muted", id: "offers-empty" }, t("agent.no_offers"));
  const workBox = h("div", { id: "work", class: "work" });
  const workEmpty = h("p", { class: "muted", id: "work-empty" }, t("agent.no_work"));
  const figuresBox = h("div", { id: "figures", class: "figures", "aria-live": "off" });
  const loadError = h("p", { class: "error", role: "alert", id: "agent-load-error" });

  const page = h("div", { id: "agent-desktop" },
    h("h2", { class: "visually-hidden" }, t("common.nav_agent")),
    loadError,
    h("div", { class: "agent-grid" },
      h("div", {},
        h("section", { class: "panel", id: "state-panel", "aria-labelledby": "state-title" },
          h("h3", { id: "state-title" }, t("agent.my_state")),
          h("p", {}, stateText, " ", stateSince),
          h("div", { class: "state-actions" }, readyBtn),
          h("div", { class: "state-actions" },
            h("label", { for: "reason" }, t("agent.reason")), reasonSelect, notReadyBtn),
          h("div", { class: "state-actions" }, logoutBtn),
          stateError,
          phoneStatus),
        wrapBox,
        h("section", { class: "panel", id: "figures-panel", "aria-labelledby": "figures-title" },
          h("h3", { id: "figures-title" }, t("agent.figures_title")), figuresBox)),
      h("div", {},
        h("section", { id: "offers-panel", "aria-labelledby": "offers-title" },
          h("h3", { id: "offers-title" }, t("agent.offers_title")), offersEmpty, offersBox),
        h("section", { id: "work-panel", "aria-labelledby": "work-title" },
          h("h3", { id: "work-title" }, t("agent.work_title")), workEmpty, workBox))));
  root.append(page);

  // ---- helpers --------------------------------------------------------------------------
  const nowMs = () => Date.now();
  const queueName = (qid) => {
    const q = s.queues.get(qid);
    return q ? q.display_name || q.name : t("agent.unknown_queue");
  };
  const channelName = (c) => t(`common.channel_${c}`);
  const errText = (e) => (e && e.status === 0 ? t("common.error_network") : e.message);
  function stateLabel(p) {
    if (!p) return t("common.state_logged-out");
    const base = t(`common.state_${p.state}`);
    if (p.state === "not-ready" && p.reason) return `${base} (${reasonLabel(p.reason)})`;
    return base;
  }
  function reasonLabel(r) {
    // An unknown reason code from the server is data, shown as it is (not a missing key).
    const key = `common.reason_${String(r).replace(/-/g, "_")}`;
    return hasKey(key) ? t(key) : r;
  }

  // ---- presence -------------------------------------------------------------------------
  function applyPresence(p) {
    s.presence = { ...(s.presence || {}), ...p };
    if (p.phone) s.phone = p.phone;
    renderPresence();
  }

  function renderPresence() {
    const p = s.presence;
    const st = p ? p.state : "logged-out";
    stateText.textContent = stateLabel(p);
    stateText.className = `state state-${st}`;
    stateText.dataset.state = st;
    readyBtn.disabled = st === "ready";
    notReadyBtn.disabled = st === "not-ready" && p.reason === reasonSelect.value;
    logoutBtn.disabled = st === "logged-out";
    wrapBox.hidden = st !== "wrap-up";
    const ph = s.phone;
    phoneStatus.replaceChildren();
    if (ph) {
      const up = !!ph.registered;
      phoneStatus.className = up ? "phone-up" : "phone-down";
      phoneStatus.dataset.registered = up ? "yes" : "no";
      phoneStatus.append(...[
        h("span", {}, up ? t("common.phone_registered") : t("common.phone_unregistered")),
        ph.extension ? h("span", { class: "muted" }, " · ", t("agent.extension", { ext: ph.extension })) : null,
        up ? null : h("span", { class: "muted", id: "phone-warning" }, " — ", t("agent.no_voice_while_unregistered")),
      ].filter(Boolean));
    }
    tick();
  }

  async function setState(wanted) {
    stateError.textContent = "";
    const body = { state: wanted };
    if (wanted === "not-ready") body.reason = reasonSelect.value;
    try {
      applyPresence(await api("POST", `/api/v1/agents/${agentId}/state`, body));
    } catch (e) {
      stateError.textContent = t("common.error_action", { action: t(`agent.action_state`), message: errText(e) });
    }
  }

  async function endWrapup() {
    stateError.textContent = "";
    try {
      applyPresence(await api("POST", `/api/v1/agents/${agentId}/wrapup-end`));
      for (const w of [...s.work.values()]) if (w.ended) removePane(w.id);
    } catch (e) {
      stateError.textContent = t("common.error_action", { action: t("agent.wrapup_end"), message: errText(e) });
    }
  }

  // ---- offers ---------------------------------------------------------------------------
  async function addOffer(id, channel, queueId, offeredAtMs, isCallback) {
    if (s.offers.has(id) || s.work.has(id)) return;
    const o = { id, channel, queueId, offeredAtMs, isCallback, waitedMs: null, fetchedAtMs: nowMs(), doc: null, contact: null };
    s.offers.set(id, o);
    renderOffer(o);
    announce(t("agent.offer_announce", { channel: channelName(channel), queue: queueName(queueId) }));
    try {
      const [doc, routing] = await Promise.all([
        api("GET", `/api/v1/interactions/${id}`),
        api("GET", `/api/v1/interactions/${id}/routing`).catch(() => null),
      ]);
      o.doc = doc;
      if (routing) {
        o.waitedMs = routing.waited_ms;
        o.fetchedAtMs = nowMs();
      }
      if (doc.contact) o.contact = await api("GET", `/api/v1/contacts/${doc.contact}`).catch(() => null);
    } catch (_) { /* the offer may be gone already; the event says so */ }
    if (s.offers.get(id) === o) renderOffer(o);
  }

  function removeOffer(id, why) {
    const o = s.offers.get(id);
    if (!o) return;
    s.offers.delete(id);
    o.el?.remove();
    offersEmpty.hidden = s.offers.size > 0;
    if (why) announce(why);
  }

  function customerLine(doc, contact) {
    const name = contact?.name || null;
    const number = doc?.address || null;
    if (name && number) return `${name} · ${number}`;
    return name || number || t("agent.unknown_customer");
  }

  function renderOffer(o) {
    const q = s.queues.get(o.queueId);
    const countdown = h("span", { class: "countdown" });
    const waiting = h("span", { class: "waiting" });
    const err = h("p", { class: "error", role: "alert" });
    const el = h("article", { class: "offer", dataset: { interaction: o.id }, "aria-labelledby": `offer-${o.id}-title` },
      h("h4", { id: `offer-${o.id}-title` },
        o.isCallback ? t("agent.offer_callback", { channel: channelName(o.channel) })
          : t("agent.offer_title", { channel: channelName(o.channel) })),
      h("dl", { class: "kv" },
        h("dt", {}, t("agent.queue")), h("dd", { class: "offer-queue" }, queueName(o.queueId)),
        h("dt", {}, t("agent.customer")), h("dd", { class: "offer-customer" }, customerLine(o.doc, o.contact)),
        h("dt", {}, t("agent.waiting")), h("dd", {}, waiting),
        h("dt", {}, t("agent.offer_expires")), h("dd", {}, countdown)),
      h("div", { class: "offer-actions" },
        h("button", { type: "button", class: "ok accept", onclick: () => act(o.id, "accept", err) },
          t("agent.accept"), " ", h("kbd", {}, "A")),
        h("button", { type: "button", class: "danger reject", onclick: () => act(o.id, "reject", err) },
          t("agent.reject"), " ", h("kbd", {}, "R"))),
      err);
    o.countdownEl = countdown;
    o.waitingEl = waiting;
    o.timeoutS = q?.offer_timeout_s ?? null;
    if (o.el) o.el.replaceWith(el);
    else offersBox.append(el);
    o.el = el;
    offersEmpty.hidden = true;
    tickOffer(o);
  }

  function tickOffer(o) {
    const n = nowMs();
    if (o.timeoutS) {
      const left = Math.max(0, o.timeoutS - (n - o.offeredAtMs) / 1000);
      o.countdownEl.textContent = fmt.duration(Math.ceil(left));
    } else {
      o.countdownEl.textContent = "–";
    }
    const waited = o.waitedMs !== null ? o.waitedMs / 1000 + (n - o.fetchedAtMs) / 1000 : null;
    o.waitingEl.textContent = waited === null ? "–" : fmt.duration(waited);
  }

  async function act(id, action, errEl) {
    if (errEl) errEl.textContent = "";
    try {
      const r = await api("POST", `/api/v1/interactions/${id}/${action}`);
      if (action === "accept" && r && r.state === "connected") connect(id, s.offers.get(id)?.channel || r.channel, r.queue_id, nowMs());
      if (action === "reject") removeOffer(id, t("agent.offer_rejected_announce"));
      return r;
    } catch (e) {
      const msg = t("common.error_action", { action: t(`agent.${action}`), message: errText(e) });
      if (errEl) errEl.textContent = msg;
      else stateError.textContent = msg;
      return null;
    }
  }

  // ---- work panes -----------------------------------------------------------------------
  function connect(id, channel, queueId, connectedAtMs) {
    const offer = s.offers.get(id);
    removeOffer(id);
    if (s.work.has(id)) return;
    const w = {
      id, channel, queueId, connectedAtMs, ended: false, doc: offer?.doc || null,
      contact: offer?.contact || null, party: null, held: false, recordingPaused: false,
    };
    s.work.set(id, w);
    buildPane(w);
    loadPaneData(w);
  }

  async function loadPaneData(w) {
    try {
      if (!w.doc) w.doc = await api("GET", `/api/v1/interactions/${w.id}`);
      if (w.doc.contact && !w.contact) {
        w.contact = await api("GET", `/api/v1/contacts/${w.doc.contact}`).catch(() => null);
      }
      if (w.doc.notes && !w.notesEl.value) w.notesEl.value = w.doc.notes;
      if (w.doc.disposition) w.dispEl.value = w.doc.disposition;
      w.base = { notes: w.doc.notes || "", disposition: w.doc.disposition || null };
      renderCustomer(w);
      if (w.msgList) loadMessages(w);
      if (w.doc.contact) await loadHistory(w, null);
      else w.historyEl.replaceChildren(h("li", { class: "muted" }, t("agent.history_unknown")));
    } catch (e) {
      w.errEl.textContent = errText(e);
    }
  }

  // The customer's timeline (GET /contacts/{id}/timeline): every interaction of the contact (and
  // of contacts merged into it) in every channel, newest first, a page of HISTORY_PAGE at a time;
  // "More" asks for the next page with the server's keyset cursor. The pane's own interaction is
  // left out.
  async function loadHistory(w, cursor) {
    const list = w.historyEl;
    w.historyMore.hidden = true;
    w.historyMore.disabled = true;
    let pg;
    try {
      pg = await api("GET", `/api/v1/contacts/${w.doc.contact}/timeline?limit=${HISTORY_PAGE}`
        + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    } catch (e) {
      if (!cursor) list.replaceChildren();
      list.append(h("li", { class: "error" }, t("agent.history_failed", { message: errText(e) })));
      w.historyMore.hidden = !cursor;
      w.historyMore.disabled = false;
      return;
    }
    if (s.disposed) return;
    if (!cursor) {
      list.replaceChildren();
      w.historyCount = 0;
    }
    for (const it of pg.items || []) {
      if (it.id === w.id) continue;
      list.append(historyItem(it));
      w.historyCount++;
    }
    // The first page of the customer's timeline is shown (bench/web/desktop.mjs).
    if (!cursor) performance.mark("blend.agent.timeline", { detail: { interaction: w.id, items: w.historyCount } });
    w.historyCursor = pg.next_cursor || null;
    if (!w.historyCount && !w.historyCursor) list.append(h("li", { class: "muted" }, t("agent.history_none")));
    w.historyMore.hidden = !w.historyCursor;
    w.historyMore.disabled = false;
  }

  function historyItem(it) {
    const details = [];
    if (it.agent) details.push(t("agent.history_agent", { agent: agentDisplay(it.agent) }));
    if (it.disposition) details.push(`${t("agent.disposition")}: ${dispositionLabel(it.disposition)}`);
    const msgs = it.messages || [];
    const recs = it.recordings || [];
    if (msgs.length) details.push(t("agent.history_messages", { count: fmt.number(msgs.length) }));
    if (recs.length) {
      const ms = recs.reduce((sum, r) => sum + (r.duration_ms || 0), 0);
      details.push(t("agent.history_recordings", { count: fmt.number(recs.length), duration: fmt.duration(ms / 1000) }));
    }
    const subject = msgs.find((m) => m.subject)?.subject;
    return h("li", { dataset: { interaction: it.id } },
      h("span", { class: "history-head" },
        fmt.dateTime(it.created_at), " · ", channelName(it.channel), " · ",
        it.queue ? queueName(s.queuesByName.get(it.queue)?.id) : "–", " · ",
        t(`agent.istate_${it.state}`)),
      details.length ? h("span", { class: "muted" }, " · ", details.join(" · ")) : null,
      subject ? h("div", { class: "history-subject" }, subject) : null,
      it.notes ? h("div", { class: "history-notes" }, t("agent.history_notes"), " ", h("q", {}, it.notes)) : null);
  }

  function agentDisplay(name) {
    const a = [...s.agents.values()].find((x) => x.name === name);
    return a?.display_name || name;
  }

  function dispositionLabel(d) {
    return DISPOSITIONS.includes(d) ? t(`agent.disp_${d}`) : d;
  }

  function renderCustomer(w) {
    const c = w.contact;
    const box = w.customerEl;
    box.replaceChildren();
    const rows = [[t("agent.customer_name"), c?.name || t("agent.unknown_customer")]];
    if (w.doc?.address) rows.push([t("agent.customer_address"), w.doc.address]);
    if (c?.language) rows.push([t("agent.customer_language"), c.language]);
    if (c?.time_zone) rows.push([t("agent.customer_time_zone"), c.time_zone]);
    if (c?.do_not_call) rows.push([t("agent.customer_dnc"), t("common.yes")]);
    if (w.doc?.language) rows.push([t("agent.ivr_language"), w.doc.language]);
    for (const [k, v] of rows) box.append(h("dt", {}, k), h("dd", {}, v));
    w.titleCustomer.textContent = customerLine(w.doc, c);
  }

  function field(id, labelText, control) {
    return [h("label", { for: id }, labelText), control];
  }

  function buildPane(w) {
    const id = w.id;
    const p = (x) => `i${id}-${x}`;
    w.errEl = h("p", { class: "error pane-error", role: "alert" });
    w.statusEl = h("span", { class: "badge pane-status" });
    w.timerEl = h("span", { class: "pane-timer" });
    w.titleCustomer = h("span", { class: "pane-customer" });
    w.customerEl = h("dl", { class: "kv customer" });
    w.historyEl = h("ol", { class: "history", id: p("history") }, h("li", { class: "muted" }, t("common.loading")));
    w.historyMore = h("button", {
      type: "button", class: "history-more", hidden: true, "aria-controls": p("history"),
      onclick: () => { if (w.historyCursor) loadHistory(w, w.historyCursor); },
    }, t("agent.history_more"));
    w.notesEl = h("textarea", { id: p("notes"), rows: 3, maxlength: 4096 });
    w.dispEl = h("select", { id: p("disposition") },
      h("option", { value: "" }, t("agent.disp_none")),
      DISPOSITIONS.map((d) => h("option", { value: d }, t(`agent.disp_${d}`))));
    w.savedEl = h("span", { class: "muted saved", role: "status" });
    const saveBtn = h("button", { type: "button", class: "save-notes", onclick: () => saveNotes(w) }, t("agent.save_notes"));

    // Transfer: to a queue, an agent, or (phone calls) a number.
    const tKind = h("select", { id: p("transfer-kind") },
      h("option", { value: "queue" }, t("agent.to_queue")),
      h("option", { value: "agent" }, t("agent.to_agent")),
      w.channel === "voice" ? h("option", { value: "number" }, t("agent.to_number")) : null);
    const tQueue = h("select", { id: p("transfer-queue") });
    const tAgent = h("select", { id: p("transfer-agent") });
    const tNumber = h("input", { id: p("transfer-number"), type: "tel", autocomplete: "off" });
    const tTargetLabel = h("label", { for: p("transfer-queue") }, t("agent.transfer_target"));
    for (const q of [...s.queues.values()].filter((x) => (x.channels || []).includes(w.channel))) {
      tQueue.append(h("option", { value: q.name }, q.display_name || q.name));
    }
    for (const a of [...s.agents.values()].filter((x) => x.id !== agentId)) {
      tAgent.append(h("option", { value: a.id }, a.display_name || a.name));
    }
    const showTarget = () => {
      const k = tKind.value;
      tQueue.hidden = k !== "queue";
      tAgent.hidden = k !== "agent";
      tNumber.hidden = k !== "number";
      tTargetLabel.htmlFor = k === "queue" ? tQueue.id : k === "agent" ? tAgent.id : tNumber.id;
    };
    tKind.addEventListener("change", showTarget);
    showTarget();
    const transferBtn = h("button", {
      type: "button", class: "transfer",
      onclick: () => {
        const k = tKind.value;
        const body = k === "queue" ? { queue: tQueue.value } : k === "agent" ? { agent_id: Number(tAgent.value) }
          : { number: tNumber.value.trim() };
        call(w, "POST", `/api/v1/interactions/${id}/transfer`, body, t("agent.transfer"));
      },
    }, t("agent.transfer"));

    const controls = [];
    if (DIGITAL.includes(w.channel)) buildConversation(w, p);
    if (w.channel === "voice") {
      // Hold / resume from the desktop (the phone's own hold shows through call.held/resumed).
      w.holdBtn = h("button", { type: "button", class: "hold", onclick: () => toggleHold(w) });
      controls.push(h("div", { class: "row" }, w.holdBtn));
      // Consult / conference a third party (an agent or a number), then complete or drop it.
      const pKind = h("select", { id: p("party-kind") },
        h("option", { value: "agent" }, t("agent.to_agent")),
        h("option", { value: "number" }, t("agent.to_number")));
      const pAgent = h("select", { id: p("party-agent") },
        [...s.agents.values()].filter((x) => x.id !== agentId).map((a) => h("option", { value: a.id }, a.display_name || a.name)));
      const pNumber = h("input", { id: p("party-number"), type: "tel", autocomplete: "off", hidden: true });
      const pLabel = h("label", { for: pAgent.id }, t("agent.party_target"));
      pKind.addEventListener("change", () => {
        pAgent.hidden = pKind.value !== "agent";
        pNumber.hidden = pKind.value !== "number";
        pLabel.htmlFor = pKind.value === "agent" ? pAgent.id : pNumber.id;
      });
      const partyBody = (mode) => (pKind.value === "agent" ? { mode, agent_id: Number(pAgent.value) }
        : { mode, number: pNumber.value.trim() });
      w.partyEl = h("p", { class: "party-status", "aria-live": "polite" });
      w.partyStart = h("div", { class: "row" },
        h("button", { type: "button", class: "consult", onclick: () => call(w, "POST", `/api/v1/interactions/${id}/party`, partyBody("consult"), t("agent.consult")) }, t("agent.consult")),
        h("button", { type: "button", class: "conference", onclick: () => call(w, "POST", `/api/v1/interactions/${id}/party`, partyBody("conference"), t("agent.conference")) }, t("agent.conference")));
      w.partyActive = h("div", { class: "row", hidden: true },
        h("button", { type: "button", class: "party-switch", onclick: () => call(w, "PATCH", `/api/v1/interactions/${id}/party`, { mode: w.party?.mode === "consult" ? "conference" : "consult" }, t("agent.party_switch")) }, t("agent.party_switch")),
        h("button", { type: "button", class: "party-complete", onclick: () => call(w, "POST", `/api/v1/interactions/${id}/party/complete`, undefined, t("agent.party_complete")) }, t("agent.party_complete")),
        h("button", { type: "button", class: "party-drop", onclick: () => call(w, "DELETE", `/api/v1/interactions/${id}/party`, undefined, t("agent.party_drop")) }, t("agent.party_drop")));
      w.recBtn = h("button", {
        type: "button", class: "recording",
        onclick: () => call(w, "POST", `/api/v1/interactions/${id}/recording`,
          { action: w.recordingPaused ? "resume" : "pause" }, w.recBtn.textContent).then((ok) => {
          if (ok) {
            w.recordingPaused = !w.recordingPaused;
            w.recBtn.textContent = w.recordingPaused ? t("agent.recording_resume") : t("agent.recording_pause");
          }
        }),
      }, t("agent.recording_pause"));
      controls.push(h("fieldset", {},
        h("legend", {}, t("agent.party_title")),
        h("div", { class: "row" }, ...field(p("party-kind"), t("agent.party_kind"), pKind), pLabel, pAgent, pNumber),
        w.partyStart, w.partyActive, w.partyEl),
      h("div", { class: "row" }, w.recBtn));
    }

    w.endBtn = h("button", { type: "button", class: "danger end", onclick: () => call(w, "POST", `/api/v1/interactions/${id}/end`, undefined, w.endBtn.textContent) },
      w.channel === "voice" ? t("agent.hang_up") : t("agent.end"));
    w.closeBtn = h("button", { type: "button", class: "close-pane", hidden: true, onclick: () => removePane(id) }, t("agent.close_pane"));
    w.liveControls = h("div", {},
      controls,
      h("fieldset", {},
        h("legend", {}, t("agent.transfer_title")),
        h("div", { class: "row" }, ...field(p("transfer-kind"), t("agent.transfer_kind"), tKind), tTargetLabel, tQueue, tAgent, tNumber, transferBtn)));

    w.el = h("article", { class: "interaction", dataset: { interaction: id, channel: w.channel }, "aria-labelledby": p("title") },
      h("header", {},
        h("h4", { id: p("title") }, channelName(w.channel), " #", String(id), " · ", w.titleCustomer),
        w.statusEl),
      h("p", { class: "muted" }, queueName(w.queueId), " · ", w.timerEl),
      h("details", { open: true },
        h("summary", {}, t("agent.customer_title")), w.customerEl,
        h("h5", {}, t("agent.history_title")), w.historyEl, w.historyMore),
      w.convEl || null,
      w.liveControls,
      h("fieldset", {},
        h("legend", {}, t("agent.notes_title")),
        ...field(p("notes"), t("agent.notes"), w.notesEl),
        h("div", { class: "row" }, ...field(p("disposition"), t("agent.disposition"), w.dispEl), saveBtn, w.savedEl)),
      h("div", { class: "row" }, w.endBtn, w.closeBtn),
      w.errEl);
    renderCustomer(w);
    renderPaneStatus(w);
    workBox.append(w.el);
    workEmpty.hidden = true;
    tick();
  }

  function renderPaneStatus(w) {
    let status = w.ended ? t("agent.pane_ended") : w.held ? t("agent.pane_held") : t("agent.pane_connected");
    w.statusEl.textContent = status;
    w.statusEl.dataset.status = w.ended ? "ended" : w.held ? "held" : "connected";
    w.liveControls.hidden = w.ended;
    if (w.holdBtn) {
      w.holdBtn.replaceChildren(w.held ? t("agent.resume") : t("agent.hold"), " ", h("kbd", {}, "H"));
    }
    if (w.replyBox) w.replyBox.hidden = w.ended;
    w.endBtn.hidden = w.ended;
    w.closeBtn.hidden = !w.ended;
    if (w.partyEl) {
      const party = w.party;
      w.partyStart.hidden = !!party;
      w.partyActive.hidden = !party;
      if (party) {
        const who = party.agent_id ? (s.agents.get(party.agent_id)?.display_name || `#${party.agent_id}`) : party.number || "";
        w.partyEl.textContent = t("agent.party_status", {
          mode: t(`agent.party_mode_${party.mode}`), who, state: t(`agent.party_state_${party.state === "connected" ? "connected" : "calling"}`),
        });
      } else {
        w.partyEl.textContent = "";
      }
    }
  }

  function removePane(id) {
    const w = s.work.get(id);
    if (!w) return;
    s.work.delete(id);
    w.el.remove();
    workEmpty.hidden = s.work.size > 0;
  }

  // An action on an interaction; errors shown in its pane. Resolves true on success.
  async function call(w, method, path, body, label) {
    w.errEl.textContent = "";
    try {
      await api(method, path, body);
      return true;
    } catch (e) {
      w.errEl.textContent = t("common.error_action", { action: label, message: errText(e) });
      return false;
    }
  }

  // Notes and disposition are fields of the interaction: PATCH /api/v1/interactions/{id} with
  // If-Match set to the row's current version. The routing engine bumps that version on every
  // state change, so the row is read first; if its notes or disposition differ from what this
  // pane loaded (a supervisor edited them meanwhile), nothing is overwritten: the pane says so
  // and a second Save replaces them. A 412 (the row moved between the read and the write) is
  // retried with the fresh version.
  async function saveNotes(w) {
    w.errEl.textContent = "";
    w.savedEl.textContent = "";
    const body = { notes: w.notesEl.value, disposition: w.dispEl.value || null };
    try {
      for (let attempt = 1; ; attempt++) {
        const cur = await api("GET", `/api/v1/interactions/${w.id}`);
        const base = w.base || { notes: "", disposition: null };
        if ((cur.notes || "") !== base.notes || (cur.disposition || null) !== base.disposition) {
          w.base = { notes: cur.notes || "", disposition: cur.disposition || null };
          w.errEl.textContent = t("agent.notes_changed_elsewhere", {
            notes: cur.notes || "–", disposition: cur.disposition ? dispositionLabel(cur.disposition) : t("agent.disp_none"),
          });
          return false;
        }
        try {
          const doc = await api("PATCH", `/api/v1/interactions/${w.id}`, body, { "If-Match": `"${cur.version}"` });
          w.doc = { ...w.doc, ...doc };
          w.base = { notes: doc.notes || "", disposition: doc.disposition || null };
          w.savedEl.textContent = t("common.saved");
          return true;
        } catch (e) {
          if (e.status !== 412 || attempt >= NOTES_SAVE_TRIES) throw e;
        }
      }
    } catch (e) {
      w.errEl.textContent = t("common.error_action", { action: t("agent.save_notes"), message: errText(e) });
      return false;
    }
  }

  // POST /interactions/{id}/hold answers 202; the telephony thread then re-INVITEs the customer
  // and records call.held / call.resumed. The pane follows the accepted request at once (those
  // events confirm it, or a later hold from the phone itself takes over).
  async function toggleHold(w) {
    if (w.ended || w.holdBusy) return;
    const want = !w.held;
    w.holdBusy = true;
    w.holdBtn.disabled = true;
    const ok = await call(w, "POST", `/api/v1/interactions/${w.id}/hold`, { hold: want },
      want ? t("agent.hold") : t("agent.resume"));
    w.holdBusy = false;
    w.holdBtn.disabled = false;
    if (ok && s.work.get(w.id) === w) {
      w.held = want;
      renderPaneStatus(w);
      announce(want ? t("agent.held_announce") : t("agent.resumed_announce"));
    }
  }

  // ---- conversations (chat, SMS, social, email) -----------------------------------------
  // GET /interactions/{id}/messages (oldest first): the customer's messages (a mail's subject,
  // sender, text or sanitised HTML; a chat, SMS or social message as text) and the agents'
  // replies with their state; the composer POSTs a reply (201: stored; shown at once). Reloaded
  // when interaction.message / messages.* events name the interaction, after a resync, and
  // every REPLY_POLL_MS while one of its replies is queued. Enter sends in chat, SMS and social
  // (Shift+Enter: new line); Ctrl+Enter sends an email reply.
  function buildConversation(w, p) {
    const isEmail = w.channel === "email";
    w.msgList = h("ol", { class: `conversation conversation-${w.channel}`, id: p("conversation"), "aria-live": "polite" },
      h("li", { class: "muted" }, t("common.loading")));
    w.msgErr = h("p", { class: "error", role: "alert" });
    w.replyEl = h("textarea", {
      id: p("reply"), rows: isEmail ? 4 : 2, maxlength: 65536, class: "reply-text",
      "aria-describedby": p("reply-hint"), "aria-autocomplete": "list", "aria-haspopup": "listbox",
      "aria-expanded": "false", "aria-controls": p("canned"),
    });
    w.replyStatus = h("p", { class: "reply-status", role: "status" });
    w.replyErr = h("p", { class: "error reply-error", role: "alert" });
    const sendKey = isEmail ? "Ctrl+Enter" : "Enter";
    w.replyBtn = h("button", { type: "button", class: "primary send-reply", onclick: () => sendReply(w) },
      t("agent.reply_send"), " ", h("kbd", {}, sendKey));
    buildPicker(w, p);
    w.replyEl.addEventListener("keydown", (e) => {
      if (pickerKey(w, e)) return;
      if (e.key === "/" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        openPicker(w, "caret");
        return;
      }
      const send = isEmail ? e.key === "Enter" && (e.ctrlKey || e.metaKey)
        : e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing;
      if (send) {
        e.preventDefault();
        sendReply(w);
      }
    });
    w.replyEl.addEventListener("input", () => onReplyInput(w));
    w.replyEl.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== w.replyEl) closePicker(w);
    }, 150));
    w.replyBox = h("div", { class: "reply" },
      h("label", { for: p("reply") }, t("agent.reply_label")),
      h("div", { class: "reply-wrap" }, w.replyEl, w.picker.box),
      h("p", { class: "muted reply-hint", id: p("reply-hint") },
        t(isEmail ? "agent.reply_hint_email" : "agent.reply_hint_chat")),
      h("div", { class: "row" }, w.replyBtn), w.replyStatus, w.replyErr);
    // Outside liveControls: the conversation stays readable in wrap-up (the composer hides).
    w.convEl = h("fieldset", { class: "conversation-box" },
      h("legend", {}, t("agent.conv_title")),
      w.msgList,
      h("div", { class: "row" },
        h("button", { type: "button", class: "conv-refresh", onclick: () => loadMessages(w) }, t("agent.conv_refresh"))),
      w.msgErr, w.replyBox);
  }

  // ---- canned responses -----------------------------------------------------------------
  // The picker of a composer: "/" typed at the start of the box, or Ctrl+/ anywhere, opens a
  // listbox of the canned responses (GET /api/v1/canned_responses) made for this interaction's
  // channel and queue, those in the agent's UI language first, filtered by what follows the
  // "/" (name or title). Arrow keys move, Enter (or a click) inserts the body with
  // {customer_name} and {agent_name} filled in, Escape closes. The box keeps the focus: the
  // options are announced through aria-activedescendant.
  async function loadCanned() {
    try {
      const items = await listAll("/api/v1/canned_responses");
      if (s.disposed) return;
      s.canned = items;
      s.cannedLoadedAtMs = nowMs();
    } catch (_) { /* the picker says it has nothing; the next opening tries again */ }
  }

  function buildPicker(w, p) {
    const list = h("ul", { id: p("canned"), class: "canned-list", role: "listbox", "aria-label": t("agent.canned_label") });
    const empty = h("p", { class: "muted canned-empty", role: "status" });
    const box = h("div", { class: "canned-picker", hidden: true }, list, empty);
    w.picker = { box, list, empty, open: false, mode: "start", items: [], index: 0, caret: 0 };
  }

  const langBase = (tag) => String(tag || "").toLowerCase().split("-")[0];

  function cannedFor(w, query) {
    const queue = w.doc?.queue || s.queues.get(w.queueId)?.name || null;
    const ui = langBase(getLanguage());
    const q = query.toLowerCase();
    const fits = s.canned.filter((c) => (!c.channels?.length || c.channels.includes(w.channel))
      && (!c.queues?.length || (queue && c.queues.some((x) => x.queue === queue)))
      && (!q || c.name.toLowerCase().includes(q) || (c.title || "").toLowerCase().includes(q)));
    // In the agent's language first, then those without a language, then the others; a name
    // starting with the query before one that only contains it.
    const rank = (c) => (c.language ? (langBase(c.language) === ui ? 0 : 2) : 1) * 2
      + (q && !c.name.toLowerCase().startsWith(q) ? 1 : 0);
    return fits.map((c, i) => [rank(c), i, c]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
  }

  function onReplyInput(w) {
    const m = /^\/(\S*)$/.exec(w.replyEl.value);
    if (m) {
      openPicker(w, "start", m[1]);
    } else if (w.picker.open && w.picker.mode === "start") {
      closePicker(w);
    }
  }

  function openPicker(w, mode, query = "") {
    const pk = w.picker;
    pk.mode = mode;
    if (mode === "caret") pk.caret = w.replyEl.selectionStart ?? w.replyEl.value.length;
    if (!pk.open || pk.query !== query) pk.index = 0;
    pk.query = query;
    pk.open = true;
    if (nowMs() - s.cannedLoadedAtMs > CANNED_REFRESH_MS) {
      loadCanned().then(() => {
        if (pk.open) renderPicker(w);
      });
    }
    renderPicker(w);
  }

  function closePicker(w) {
    const pk = w.picker;
    if (!pk || !pk.open) return;
    pk.open = false;
    pk.box.hidden = true;
    w.replyEl.setAttribute("aria-expanded", "false");
    w.replyEl.removeAttribute("aria-activedescendant");
  }

  function renderPicker(w) {
    const pk = w.picker;
    const listId = pk.list.id;
    pk.items = cannedFor(w, pk.query).slice(0, CANNED_SHOWN_MAX);
    if (pk.index >= pk.items.length) pk.index = Math.max(0, pk.items.length - 1);
    pk.list.replaceChildren(...pk.items.map((c, i) => {
      const li = h("li", {
        id: `${listId}-${i}`, role: "option", class: "canned-option", "aria-selected": i === pk.index ? "true" : "false",
        dataset: { name: c.name },
      }, h("span", { class: "canned-name" }, `/${c.name}`), " ", h("span", { class: "canned-title" }, c.title),
      c.language ? h("span", { class: "badge canned-lang" }, c.language) : null,
      h("span", { class: "canned-preview muted" }, fillCanned(w, c.body)));
      // mousedown, not click: the box keeps the focus (and the picker stays open) until inserted.
      li.addEventListener("mousedown", (e) => {
        e.preventDefault();
        insertCanned(w, c);
      });
      return li;
    }));
    pk.list.hidden = pk.items.length === 0;
    pk.empty.textContent = pk.items.length ? "" : t("agent.canned_none", { query: pk.query });
    pk.box.hidden = false;
    w.replyEl.setAttribute("aria-expanded", "true");
    if (pk.items.length) w.replyEl.setAttribute("aria-activedescendant", `${listId}-${pk.index}`);
    else w.replyEl.removeAttribute("aria-activedescendant");
    pk.list.children[pk.index]?.scrollIntoView?.({ block: "nearest" });
  }

  // Keys while the picker is open; returns true when the key was the picker's.
  function pickerKey(w, e) {
    const pk = w.picker;
    if (!pk.open || e.isComposing) return false;
    const n = pk.items.length;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      closePicker(w);
      return true;
    }
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && n) {
      e.preventDefault();
      pk.index = (pk.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderPicker(w);
      return true;
    }
    if (e.key === "Enter" && !e.shiftKey && n) {
      e.preventDefault();
      insertCanned(w, pk.items[pk.index]);
      return true;
    }
    return e.key === "Enter"; // nothing to pick: Enter does not send "/gree" either
  }

  function agentDisplayName() {
    return s.agents.get(agentId)?.display_name || me.display_name || me.username;
  }

  function fillCanned(w, body) {
    const customer = w.contact?.name || t("agent.canned_customer_fallback");
    return String(body).replace(/\{customer_name\}/g, customer).replace(/\{agent_name\}/g, agentDisplayName());
  }

  function insertCanned(w, c) {
    const pk = w.picker;
    const text = fillCanned(w, c.body);
    const box = w.replyEl;
    let caret;
    if (pk.mode === "start") {
      box.value = text;
      caret = text.length;
    } else {
      const at = Math.min(pk.caret, box.value.length);
      box.value = box.value.slice(0, at) + text + box.value.slice(at);
      caret = at + text.length;
    }
    closePicker(w);
    box.focus();
    box.setSelectionRange(caret, caret);
    announce(t("agent.canned_inserted", { title: c.title }));
  }

  async function loadMessages(w) {
    if (!w.msgList) return;
    w.msgLoadedAtMs = nowMs();
    try {
      const r = await api("GET", `/api/v1/interactions/${w.id}/messages`);
      if (s.disposed || s.work.get(w.id) !== w) return;
      w.msgErr.textContent = "";
      renderMessages(w, r.items || []);
    } catch (e) {
      w.msgErr.textContent = t("agent.conv_load_failed", { message: errText(e) });
    }
  }

  function renderMessages(w, items) {
    w.messages = items;
    const list = w.msgList;
    if (!items.length) {
      list.replaceChildren(h("li", { class: "muted conv-empty" }, t("agent.conv_none")));
      return;
    }
    // Keyed by message id: an unchanged message keeps its element (and its frame's state).
    const old = new Map([...list.children].map((el) => [el.dataset.message, el]));
    const els = items.map((m) => {
      const key = `${m.id}:${m.state || ""}`;
      const prev = old.get(String(m.id));
      if (prev && prev.dataset.key === key) return prev;
      return messageItem(m, key, w);
    });
    list.replaceChildren(...els);
  }

  function messageItem(m, key, w) {
    const meta = m.meta || {};
    const when = meta.date_ms ? new Date(meta.date_ms).toISOString() : m.created_at;
    const inbound = m.direction !== "outbound";
    const subject = m.subject || t("agent.conv_no_subject");
    const state = m.state || (inbound ? "received" : "queued");
    const stateBadge = h("span", { class: `badge msg-state msg-${state}`, dataset: { state } },
      hasKey(`agent.msg_state_${state}`) ? t(`agent.msg_state_${state}`) : state);
    let head;
    if (w.channel !== "email") {
      // A chat, SMS or social line: who, when, and (replies) how far it got.
      const who = inbound ? w.contact?.name || w.doc?.address || t("agent.conv_customer")
        : m.author || t("agent.conv_agent");
      head = [h("div", { class: "muted msg-from" }, h("span", { class: "msg-who" }, who), " · ",
        when ? fmt.dateTime(when) : "", inbound ? null : " ", inbound ? null : stateBadge)];
    } else if (inbound) {
      const sender = meta.from_name && meta.from ? `${meta.from_name} <${meta.from}>` : meta.from_name || meta.from || "–";
      head = [h("strong", { class: "msg-subject" }, subject),
        h("div", { class: "muted msg-from" }, t("agent.conv_from", { sender }), " · ", when ? fmt.dateTime(when) : "")];
    } else {
      head = [h("strong", { class: "msg-subject" }, subject),
        h("div", { class: "muted msg-from" }, t("agent.conv_reply_by", { author: m.author || "–" }), " · ",
          when ? fmt.dateTime(when) : "", " ", stateBadge)];
    }
    let body;
    if (inbound && meta.html) {
      // The server rebuilt this HTML from an allow-list (docs/email.md); it still runs only in a
      // frame without scripts, same-origin access or network.
      body = h("iframe", {
        class: "msg-html", sandbox: "", referrerpolicy: "no-referrer", title: t("agent.conv_html_title", { subject }),
        srcdoc: `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${MAIL_CSP}">`
          + `<style>body{font-family:system-ui,sans-serif;margin:0.4rem;overflow-wrap:anywhere}</style>${meta.html}`,
      });
    } else {
      body = h("div", { class: "msg-text" }, m.body || "");
    }
    // Files (an email's attachments, a visitor's picture, a reply's files): links to the
    // download route, which sends them as attachments (never rendered in the page).
    const files = Array.isArray(meta.attachments) ? meta.attachments : [];
    const fileList = files.length && m.id ? h("ul", { class: "msg-files", "aria-label": t("agent.conv_files") },
      ...files.map((f, i) => h("li", {}, h("a", {
        class: "msg-file", href: `/api/v1/interactions/${w.id}/messages/${m.id}/attachments/${i}`,
        download: f.filename || "",
      }, t("agent.conv_file", { name: f.filename || "file", size: fmt.number(Math.max(1, Math.round((f.size || 0) / 1024))) }))))) : null;
    return h("li", { class: inbound ? "msg msg-in" : "msg msg-out", dataset: { message: m.id, key } }, ...head, body, fileList);
  }

  async function sendReply(w) {
    if (w.ended || w.replyBusy) return;
    w.replyErr.textContent = "";
    w.replyStatus.textContent = "";
    const text = w.replyEl.value;
    if (!text.trim()) {
      w.replyErr.textContent = t("agent.reply_empty");
      return;
    }
    w.replyBusy = true;
    w.replyBtn.disabled = true;
    try {
      const m = await api("POST", `/api/v1/interactions/${w.id}/messages`, { body: text });
      if (w.replyEl.value === text) w.replyEl.value = "";
      w.replyStatus.textContent = t(w.channel === "email" ? "agent.reply_queued"
        : w.channel === "chat" ? "agent.reply_sent_chat" : "agent.reply_queued_provider");
      if (m && m.id) renderMessages(w, [...(w.messages || []).filter((x) => x.id !== m.id), m]);
      loadMessages(w);
    } catch (e) {
      // 409 (the conversation is over, the customer cannot be reached) and 422 (what is wrong
      // with the text) come with the API's own words.
      const details = (e.fields || []).map((f) => f.message).filter(Boolean);
      w.replyErr.textContent = t("agent.reply_failed", {
        message: details.length ? `${errText(e)}: ${details.join("; ")}` : errText(e),
      });
    } finally {
      w.replyBusy = false;
      w.replyBtn.disabled = false;
    }
  }

  function endPane(id, queueId) {
    const w = s.work.get(id);
    s.lastEndedQueueId = queueId ?? w?.queueId ?? s.lastEndedQueueId;
    if (!w) return;
    w.ended = true;
    w.endedAtMs = nowMs();
    w.party = null;
    renderPaneStatus(w);
  }

  // ---- figures --------------------------------------------------------------------------
  function renderFigures(row) {
    s.figures = row;
    figuresBox.replaceChildren();
    if (!row) {
      figuresBox.append(h("p", { class: "muted" }, t("agent.figures_none")));
      return;
    }
    const items = [
      ["handled", fmt.number(row.handled, { maximumFractionDigits: 0 })],
      ["aht", fmt.duration(row.aht_s)],
      ["occupancy", fmt.percent(row.occupancy)],
      ["talk", fmt.duration(row.talk_s)],
      ["logged_in", fmt.duration(row.logged_in_s)],
      ["not_ready", fmt.duration(row.not_ready_s)],
    ];
    if (row.csat !== undefined && row.csat !== null) items.push(["csat", fmt.number(row.csat)]);
    for (const [k, v] of items) {
      figuresBox.append(h("div", { class: "figure", dataset: { figure: k } },
        h("div", { class: "value" }, v), h("div", { class: "label" }, t(`agent.fig_${k}`))));
    }
  }

  async function refreshFigures() {
    const stats = await api("GET", "/api/v1/stats/agents").catch(() => null);
    if (stats && !s.disposed) renderFigures(stats.items?.find((r) => r.agent_id === agentId) || null);
  }

  // ---- ticker ---------------------------------------------------------------------------
  function tick() {
    const n = nowMs();
    const p = s.presence;
    if (p && p.since && p.state !== "logged-out") {
      const secs = (n - Date.parse(p.since)) / 1000;
      stateSince.textContent = t("agent.in_state_for", { time: fmt.duration(Math.max(0, secs)) });
    } else {
      stateSince.textContent = "";
    }
    if (p && p.state === "wrap-up") {
      const elapsed = Math.max(0, (n - Date.parse(p.since)) / 1000);
      const q = s.queues.get(s.lastEndedQueueId);
      wrapTimer.textContent = q && q.wrap_up_s
        ? t("agent.wrapup_timer_limit", { elapsed: fmt.duration(elapsed), left: fmt.duration(Math.max(0, q.wrap_up_s - elapsed)) })
        : t("agent.wrapup_timer", { elapsed: fmt.duration(elapsed) });
    }
    for (const o of s.offers.values()) if (o.countdownEl) tickOffer(o);
    for (const w of s.work.values()) {
      if (w.messages && w.messages.some((m) => m.direction === "outbound" && m.state === "queued")
        && n - (w.msgLoadedAtMs || 0) >= REPLY_POLL_MS) loadMessages(w);
      const end = w.ended ? w.endedAtMs : n;
      w.timerEl.textContent = t("agent.connected_for", { time: fmt.duration(Math.max(0, (end - w.connectedAtMs) / 1000)) });
    }
  }
  const ticker = setInterval(tick, 1000);

  // ---- keyboard -------------------------------------------------------------------------
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || e.target.isContentEditable) return;
    if (document.querySelector("dialog[open]")) return;
    const k = e.key.toLowerCase();
    const first = [...s.offers.values()][0];
    if (k === "a" && first) {
      e.preventDefault();
      act(first.id, "accept", first.el?.querySelector(".error"));
    } else if (k === "r" && first) {
      e.preventDefault();
      act(first.id, "reject", first.el?.querySelector(".error"));
    } else if (k === "w" && s.presence?.state === "wrap-up") {
      e.preventDefault();
      endWrapup();
    } else if (k === "h") {
      // The call whose pane holds the focus, else the first connected call.
      const calls = [...s.work.values()].filter((x) => x.holdBtn && !x.ended);
      const w = calls.find((x) => x.el.contains(e.target)) || calls[0];
      if (w) {
        e.preventDefault();
        toggleHold(w);
      }
    }
  }
  document.addEventListener("keydown", onKey);

  // ---- stream ---------------------------------------------------------------------------
  function onEvent(ev) {
    const d = ev.data || {};
    const tsMs = Date.parse(ev.ts) || nowMs();
    if (ev.type === "agent.state" && d.agent_id === agentId) {
      applyPresence({ state: d.to, reason: d.reason ?? null, since: d.at_ms ? new Date(d.at_ms).toISOString() : ev.ts });
      if (d.to !== "wrap-up") for (const w of [...s.work.values()]) if (w.ended) removePane(w.id);
    } else if ((ev.type === "phone.registered" || ev.type === "phone.unregistered") && d.agent_id === agentId) {
      s.phone = { ...(s.phone || {}), extension: d.extension, registered: ev.type === "phone.registered" };
      renderPresence();
    } else if (ev.type.startsWith("contact.")) {
      const id = d.contact_id;
      const mine = d.agent_id === agentId;
      switch (ev.type) {
        case "contact.offered":
          if (mine) addOffer(id, d.channel, d.queue_id, tsMs, !!d.is_callback);
          break;
        case "contact.offer_timeout":
          if (mine) removeOffer(id, t("agent.offer_timeout_announce"));
          break;
        case "contact.offer_rejected":
          if (mine) removeOffer(id, null);
          break;
        case "contact.withdrawn":
          if (mine) removeOffer(id, t(`agent.offer_withdrawn_${["taken", "abandoned", "unavailable"].includes(d.reason) ? d.reason : "other"}`));
          break;
        case "contact.abandoned":
          removeOffer(id, s.offers.has(id) ? t("agent.offer_withdrawn_abandoned") : null);
          break;
        case "contact.connected":
          if (mine) connect(id, d.channel, d.queue_id, tsMs);
          else removeOffer(id, t("agent.offer_withdrawn_taken"));
          break;
        case "contact.ended":
          if (mine) {
            endPane(id, d.queue_id);
            refreshFigures();
          }
          break;
        default:
          break;
      }
    } else if (ev.type.startsWith("call.") && d.interaction_id && s.work.has(d.interaction_id)) {
      const w = s.work.get(d.interaction_id);
      if (ev.type === "call.held") w.held = true;
      else if (ev.type === "call.resumed") w.held = false;
      else if (["call.party_added", "call.party_ringing", "call.party_answered", "call.party_mode"].includes(ev.type)) {
        w.party = { mode: d.mode, state: d.state, agent_id: d.agent_id, number: d.number };
      } else if (ev.type === "call.party_ended" || ev.type === "call.party_completed") {
        w.party = null;
      }
      renderPaneStatus(w);
    } else if (ev.type === "interaction.message" && s.work.get(d.interaction_id)?.msgList) {
      loadMessages(s.work.get(d.interaction_id));
    } else if (ev.type.startsWith("messages.") && s.work.get(d.interaction)?.msgList) {
      const w = s.work.get(d.interaction);
      if (d.id && w.messages && ev.type !== "messages.deleted") {
        renderMessages(w, w.messages.some((m) => m.id === d.id)
          ? w.messages.map((m) => (m.id === d.id ? d : m)) : [...w.messages, d]);
      } else {
        loadMessages(w);
      }
    } else if (ev.type === "agents.updated" && d.id) {
      s.agents.set(d.id, d);
    } else if (ev.type.startsWith("queues.") && d.id) {
      if (ev.type === "queues.deleted") s.queues.delete(d.id);
      else {
        s.queues.set(d.id, d);
        s.queuesByName.set(d.name, d);
      }
    } else if (ev.type.startsWith("canned_responses.")) {
      loadCanned(); // an admin changed the texts: the picker shows them at once
    }
  }

  // ---- loading (mount and resync) -------------------------------------------------------
  async function load() {
    loadError.textContent = "";
    try {
      loadCanned();
      const [presence, queues, agents, stats] = await Promise.all([
        api("GET", `/api/v1/agents/${agentId}/state`),
        listAll("/api/v1/queues"),
        listAll("/api/v1/agents").catch(() => []),
        api("GET", "/api/v1/stats/agents").catch(() => null),
      ]);
      if (s.disposed) return;
      s.queues = new Map(queues.map((q) => [q.id, q]));
      s.queuesByName = new Map(queues.map((q) => [q.name, q]));
      s.agents = new Map(agents.map((a) => [a.id, a]));
      applyPresence(presence);
      // The state control is usable from here (bench/web/desktop.mjs measures this mark).
      performance.mark("blend.agent.usable");
      renderFigures(stats?.items?.find((r) => r.agent_id === agentId) || null);
      const known = [...s.work.values()];
      await loadWork();
      // Conversations may have moved while the stream was away (new panes load their own).
      for (const w of known) if (w.msgList && s.work.get(w.id) === w) loadMessages(w);
    } catch (e) {
      if (!s.disposed) loadError.textContent = t("agent.load_failed", { message: errText(e) });
    }
  }

  // The interactions offered to or connected with this agent, from the API (after a reload or
  // a reconnection): connected ones name the agent; an offer's agent is in its routing state.
  // Only live interactions are read, so the load does not grow with the center's history.
  async function loadWork() {
    const myName = [...s.agents.values()].find((a) => a.id === agentId)?.name;
    const [connected, offered] = await Promise.all([
      listAll("/api/v1/interactions?state=connected"),
      listAll("/api/v1/interactions?state=offered"),
    ]);
    const all = [...connected, ...offered];
    const live = new Set();
    for (const it of all) {
      if (it.state === "connected" && myName && it.agent === myName) {
        live.add(it.id);
        if (!s.work.has(it.id)) {
          const q = s.queuesByName.get(it.queue);
          connect(it.id, it.channel, q?.id, Date.parse(it.updated_at) || nowMs());
        }
      } else if (it.state === "offered") {
        const r = await api("GET", `/api/v1/interactions/${it.id}/routing`).catch(() => null);
        if (r && r.state === "offered" && r.agent_id === agentId) {
          live.add(it.id);
          addOffer(it.id, it.channel, r.queue_id, Date.parse(it.updated_at) || nowMs(), !!r.is_callback);
        }
      }
    }
    for (const id of [...s.offers.keys()]) if (!live.has(id)) removeOffer(id, null);
    for (const w of [...s.work.values()]) {
      if (!live.has(w.id) && !w.ended) endPane(w.id, w.queueId);
    }
    offersEmpty.hidden = s.offers.size > 0;
    workEmpty.hidden = s.work.size > 0;
  }

  offs.push(stream.on("event", onEvent));
  offs.push(stream.on("snapshot", (msg) => {
    const mine = (msg.agents || []).find((a) => a.agent_id === agentId);
    if (mine) applyPresence({ state: mine.state, reason: mine.reason, since: mine.since });
  }));
  offs.push(stream.on("stats", (msg) => {
    if (msg.agent && msg.agent.agent_id === agentId) renderFigures(msg.agent);
  }));
  offs.push(stream.on("resync", load));
  load();

  return () => {
    s.disposed = true;
    clearInterval(ticker);
    document.removeEventListener("keydown", onKey);
    for (const off of offs) off();
  };
}
