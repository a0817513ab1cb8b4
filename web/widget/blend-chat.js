// The Blend web chat widget (docs/chat-protocol.md). Embedded with one tag:
//   <script src="https://blend.example.com/widget/blend-chat.js" data-entry-point="ADDRESS"></script>
// It adds a launcher button and a chat panel to the page, talks to the Blend server the script
// came from over a WebSocket (/api/v1/chat), keeps the visitor's resume token in localStorage
// (a reload or a server restart resumes the conversation), reconnects with backoff and sends
// again every message not yet acknowledged (same client_id: the server stores it once).
// Customer and agent text is only ever put on the page with textContent, never parsed as HTML.
// Texts come from i18n.js (loaded next to this file), chosen from navigator.languages.
(function () {
  "use strict";
  const me = document.currentScript;
  if (!me || window.__blendChat) return;
  window.__blendChat = true;
  const entryPoint = me.getAttribute("data-entry-point") || "";
  const base = new URL(".", me.src);
  const server = new URL("../", base);
  const wsUrl = (server.protocol === "https:" ? "wss://" : "ws://") + server.host + "/api/v1/chat";
  const FILE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];
  const FILE_BYTES_MAX = 2 * 1024 * 1024;
  const storeKey = "blend-chat:" + server.host + ":" + entryPoint;

  function load(src, done) {
    const s = document.createElement("script");
    s.src = new URL(src, base).href;
    s.onload = done;
    document.head.appendChild(s);
  }
  function css(href) {
    const l = document.createElement("link");
    l.rel = "stylesheet";
    l.href = new URL(href, base).href;
    document.head.appendChild(l);
  }

  function saved() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || "{}") || {};
    } catch (e) {
      return {};
    }
  }
  function save(patch) {
    const s = Object.assign(saved(), patch);
    try {
      localStorage.setItem(storeKey, JSON.stringify(s));
    } catch (e) {
      /* private mode: the chat still works, without resume */
    }
  }

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }

  function start() {
    const T = window.BlendChatI18n.pick(navigator.languages || [navigator.language]);
    const fmt = (key, vars) =>
      (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? String(vars[k]) : ""));

    // ---- State --------------------------------------------------------------------------
    let ws = null;
    let welcomed = false;
    let backoffMs = 1000;
    let reconnectTimer = null;
    let wantOpen = false;
    let conversation = null;
    let agentName = "";
    let agentReadUpTo = 0;
    let ended = null; // the conversation that ended (for the rating)
    let typingSentAt = 0;
    const unacked = new Map(); // client_id -> {text, node}
    const shown = new Set(); // message ids on the page

    // ---- DOM ----------------------------------------------------------------------------
    const root = el("div", { class: "blend-chat", "data-state": "closed" });
    const launcher = el("button", {
      type: "button", class: "bc-launcher", "aria-expanded": "false", "aria-controls": "bc-panel",
      text: T.launcher,
    });
    const status = el("span", { class: "bc-status", id: "bc-status" });
    const closeBtn = el("button", { type: "button", class: "bc-close", "aria-label": T.close, text: "×" });
    const header = el("div", { class: "bc-header" }, [
      el("h2", { class: "bc-title", text: T.title }), status, closeBtn,
    ]);
    const notice = el("p", { class: "bc-notice", role: "status", "aria-live": "polite" });
    const list = el("ol", { class: "bc-messages", role: "log", "aria-live": "polite", "aria-label": T.title });
    const typing = el("p", { class: "bc-typing", hidden: "" });
    const input = el("textarea", { class: "bc-input", rows: "2", maxlength: "4000", placeholder: T.placeholder, "aria-label": T.placeholder });
    const sendBtn = el("button", { type: "submit", class: "bc-send", text: T.send });
    const endBtn = el("button", { type: "button", class: "bc-end", text: T.end });
    // A file: pictures, PDF and text, up to 2 MB (the server checks the same).
    const fileInput = el("input", { type: "file", class: "bc-file", hidden: "", accept: FILE_TYPES.join(",") });
    const attachBtn = el("button", { type: "button", class: "bc-attach", "aria-label": T.attach, title: T.attach, text: "📎" });
    const composer = el("form", { class: "bc-composer" }, [input, attachBtn, fileInput, sendBtn, endBtn]);
    // Quick replies of the bot's last menu, and "Talk to an agent" while the bot has the chat.
    const quick = el("div", { class: "bc-quick", role: "group", "aria-label": T.quick_replies, hidden: "" });
    const toAgentBtn = el("button", { type: "button", class: "bc-to-agent", text: T.to_agent, hidden: "" });
    const chatView = el("div", { class: "bc-view bc-chat", hidden: "" }, [list, quick, toAgentBtn, typing, composer]);

    const field = (label, attrs) => {
      const f = el(attrs.rows ? "textarea" : "input", attrs);
      return [f, el("label", {}, [el("span", { text: label }), f])];
    };
    const [preName, preNameL] = field(T.name, { name: "name", maxlength: "128", autocomplete: "name", required: "" });
    const [preEmail, preEmailL] = field(T.email, { name: "email", type: "email", maxlength: "254", autocomplete: "email" });
    const [preTopic, preTopicL] = field(T.topic, { name: "topic", maxlength: "128" });
    // With the entry point's topics (the welcome's `topics`) the topic is chosen from a list.
    const preTopicSel = el("select", { name: "topic-choice", class: "bc-topic-choice", hidden: "", "aria-label": T.topic });
    preTopicL.appendChild(preTopicSel);
    const preForm = el("form", { class: "bc-view bc-prechat", hidden: "" }, [
      el("p", { text: T.prechat_intro }), preNameL, preEmailL, preTopicL,
      el("button", { type: "submit", text: T.start }),
    ]);
    const [offName, offNameL] = field(T.name, { name: "name", maxlength: "128", autocomplete: "name", required: "" });
    const [offEmail, offEmailL] = field(T.email, { name: "email", type: "email", maxlength: "254", autocomplete: "email" });
    const [offText, offTextL] = field(T.offline_message, { name: "message", rows: "4", maxlength: "4000", required: "" });
    const offDone = el("p", { class: "bc-offline-done", role: "status" });
    const offForm = el("form", { class: "bc-view bc-offline", hidden: "" }, [
      el("p", { text: T.offline_intro }), offNameL, offEmailL, offTextL,
      el("button", { type: "submit", text: T.offline_send }), offDone,
    ]);
    const stars = el("div", { class: "bc-stars", role: "group", "aria-label": T.rate });
    for (let n = 1; n <= 5; n++) {
      stars.appendChild(el("button", {
        type: "button", class: "bc-star", "data-value": String(n), "aria-label": fmt("star", { n }),
        text: "★", onclick: () => rate(n),
      }));
    }
    const newChat = el("button", { type: "button", class: "bc-new", text: T.new_chat });
    const endedText = el("p", { class: "bc-ended-text", text: T.ended });
    const endView = el("div", { class: "bc-view bc-ended", hidden: "" }, [
      endedText, el("p", { text: T.rate }), stars, newChat,
    ]);
    const panel = el("section", {
      class: "bc-panel", id: "bc-panel", role: "dialog", "aria-label": T.title, hidden: "",
    }, [header, notice, preForm, offForm, chatView, endView]);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    function view(which) {
      for (const v of [preForm, offForm, chatView, endView]) v.hidden = v !== which;
      root.setAttribute("data-view", which.className.replace("bc-view ", ""));
    }
    function say(text) {
      notice.textContent = text || "";
    }

    // ---- Messages on the page -------------------------------------------------------------
    function receiptOf(node) {
      const id = Number(node.getAttribute("data-id") || 0);
      if (!id) return T.sending;
      return agentReadUpTo >= id ? T.read : T.sent;
    }
    function addMessage(m, clientId) {
      if (m.id && shown.has(m.id)) return null;
      if (m.id) shown.add(m.id);
      const from = m.from === "agent" || m.from === "bot" ? m.from : "visitor";
      const who = from === "agent" ? (m.name || agentName || T.agent) : from === "bot" ? T.bot : T.you;
      const text = m.file ? `📎 ${m.file.filename} (${Math.max(1, Math.round((m.file.size || 0) / 1024))} KB)` : m.text;
      const li = el("li", { class: "bc-msg bc-" + from + (m.file ? " bc-file-msg" : "") }, [
        el("span", { class: "bc-who", text: who }),
        el("span", { class: "bc-text", text }),
      ]);
      if (m.id) li.setAttribute("data-id", String(m.id));
      if (clientId) li.setAttribute("data-client-id", clientId);
      if (from === "visitor") {
        const r = el("span", { class: "bc-receipt" });
        li.appendChild(r);
        r.textContent = receiptOf(li);
      }
      list.appendChild(li);
      list.scrollTop = list.scrollHeight;
      if (from !== "visitor") showQuick(m.options);
      return li;
    }
    // The options of the newest bot message as buttons; a click sends the label (or the key)
    // as the visitor's message. Any message after it takes them away.
    function showQuick(options) {
      quick.textContent = "";
      for (const o of Array.isArray(options) ? options : []) {
        const label = String(o.label || o.key || "");
        if (!label) continue;
        quick.appendChild(el("button", {
          type: "button", class: "bc-quick-reply", "data-key": String(o.key || ""), text: label,
          onclick: () => {
            showQuick(null);
            sendMessage(label, false);
          },
        }));
      }
      quick.hidden = quick.childElementCount === 0;
    }
    function refreshReceipts() {
      for (const li of list.querySelectorAll(".bc-visitor")) {
        li.querySelector(".bc-receipt").textContent = receiptOf(li);
      }
    }
    function markRead() {
      if (panel.hidden || !welcomed) return;
      let newest = 0;
      for (const li of list.querySelectorAll(".bc-agent")) {
        newest = Math.max(newest, Number(li.getAttribute("data-id") || 0));
      }
      if (newest) send({ type: "read", up_to: newest });
    }

    // ---- The socket -----------------------------------------------------------------------
    function send(doc) {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(doc));
    }
    function connect() {
      clearTimeout(reconnectTimer);
      welcomed = false;
      const s = saved();
      ws = new WebSocket(wsUrl);
      const sock = ws;
      ws.onopen = () => {
        const hello = { type: "hello", entry_point: entryPoint };
        if (s.token) hello.resume_token = s.token;
        for (const k of ["name", "email", "topic"]) if (s[k]) hello[k] = s[k];
        sock.send(JSON.stringify(hello));
      };
      ws.onmessage = (e) => {
        let f;
        try {
          f = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        onFrame(f);
      };
      ws.onclose = () => {
        if (ws !== sock) return;
        ws = null;
        welcomed = false;
        if (!wantOpen) return;
        status.textContent = T.reconnecting;
        root.setAttribute("data-connection", "reconnecting");
        const jitter = Math.random() * backoffMs * 0.3;
        reconnectTimer = setTimeout(connect, backoffMs + jitter);
        backoffMs = Math.min(backoffMs * 2, 30000);
      };
    }
    function reconnect() {
      if (ws) {
        const old = ws;
        ws = null;
        old.close();
      }
      connect();
    }

    function onFrame(f) {
      switch (f.type) {
        case "welcome": return onWelcome(f);
        case "ack": return onAck(f);
        case "message": {
          const li = addMessage(f.message);
          if (li && f.message.from === "agent") {
            typing.hidden = true;
            markRead();
          }
          return;
        }
        case "state": return onState(f);
        case "typing":
          typing.textContent = fmt("typing", { agent: agentName || T.agent });
          typing.hidden = !f.on;
          return;
        case "read":
          agentReadUpTo = Math.max(agentReadUpTo, f.up_to);
          refreshReceipts();
          return;
        case "rated":
          say(T.rated);
          for (const b of stars.querySelectorAll("button")) b.disabled = true;
          return;
        case "error": return onError(f);
        default:
          return;
      }
    }

    function onWelcome(f) {
      welcomed = true;
      backoffMs = 1000;
      const topics = Array.isArray(f.topics) ? f.topics : [];
      if (topics.length && !preTopicSel.childElementCount) {
        for (const t of topics) preTopicSel.appendChild(el("option", { value: String(t), text: String(t) }));
      }
      preTopicSel.hidden = topics.length === 0;
      preTopic.hidden = topics.length > 0;
      save({ token: f.resume_token });
      root.setAttribute("data-connection", "connected");
      status.textContent = f.online ? T.online : T.offline;
      root.setAttribute("data-online", f.online ? "yes" : "no");
      conversation = f.conversation;
      if (conversation) {
        view(chatView);
        for (const m of f.history) addMessage(m);
        markRead();
      } else if (f.to_rate && !unacked.size) {
        // Reloaded after the end: the last conversation may still be rated, once.
        ended = f.to_rate;
        endedText.textContent = T.to_rate;
        for (const b of stars.querySelectorAll("button")) b.disabled = false;
        view(endView);
      } else if (!chatView.hidden && unacked.size) {
        /* messages typed before the conversation opened: keep the chat view */
      } else if (!endView.hidden) {
        /* keep the rating view */
      } else if (f.online) {
        const s = saved();
        if (s.name && root.getAttribute("data-started") === "yes") view(chatView);
        else view(preForm);
      } else {
        view(offForm);
      }
      if (document.activeElement === closeBtn || document.activeElement === launcher) focusView();
      // Messages not acknowledged before the drop go again, with the same client_id.
      for (const [cid, u] of unacked) send({ type: "message", client_id: cid, text: u.text });
    }

    function onAck(f) {
      const u = unacked.get(f.client_id);
      if (u) {
        unacked.delete(f.client_id);
        if (u.node) {
          u.node.setAttribute("data-id", String(f.id));
          shown.add(f.id);
          refreshReceipts();
        }
        if (u.offline) {
          offDone.textContent = T.offline_sent;
          offForm.reset();
        }
      }
      conversation = f.conversation;
    }

    function onState(f) {
      root.setAttribute("data-chat-state", f.state);
      toAgentBtn.hidden = f.state !== "bot";
      if (f.state !== "bot") showQuick(null);
      if (f.state === "bot") {
        say(T.bot_state);
        // A message left in the offline form may open a bot conversation: show the chat.
        if (chatView.hidden) view(chatView);
      } else if (f.state === "queued") {
        say(fmt("queued", { position: f.position }));
      } else if (f.state === "connected") {
        agentName = f.agent || T.agent;
        say(fmt("connected", { agent: agentName }));
      } else if (f.state === "ended") {
        ended = f.conversation;
        conversation = null;
        typing.hidden = true;
        say(T.ended);
        endedText.textContent = T.ended;
        for (const b of stars.querySelectorAll("button")) b.disabled = false;
        if (f.reason !== "closed") view(endView);
      }
    }

    function onError(f) {
      if (f.code === "rate_limited" && f.client_id && unacked.has(f.client_id)) {
        say(T.error_rate_limited);
        const u = unacked.get(f.client_id);
        setTimeout(() => send({ type: "message", client_id: f.client_id, text: u.text }), 400);
        return;
      }
      if (f.code === "too_long") {
        say(T.error_too_long);
      } else {
        say(fmt("error_generic", { message: f.message }));
      }
      if (f.client_id && unacked.has(f.client_id) && f.code !== "unavailable") {
        const u = unacked.get(f.client_id);
        if (u.node) u.node.classList.add("bc-failed");
        unacked.delete(f.client_id);
      } else if (f.client_id && unacked.has(f.client_id)) {
        const u = unacked.get(f.client_id);
        setTimeout(() => send({ type: "message", client_id: f.client_id, text: u.text }), 1000);
      }
    }

    // ---- Actions --------------------------------------------------------------------------
    function newClientId() {
      const b = new Uint8Array(9);
      crypto.getRandomValues(b);
      return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    }
    function sendMessage(text, offline) {
      const t = text.trim();
      if (!t) return;
      const cid = newClientId();
      showQuick(null);
      const node = offline ? null : addMessage({ from: "visitor", text: t }, cid);
      unacked.set(cid, { text: t, node, offline });
      send({ type: "message", client_id: cid, text: t });
    }
    // POST /api/v1/chat/attachments with the resume token; the 201's message is shown (the
    // socket's echo of it is the same id and is not shown twice).
    function sendFile(f) {
      if (!FILE_TYPES.includes(f.type)) return say(T.file_type);
      if (f.size > FILE_BYTES_MAX) return say(T.file_too_big);
      const s = saved();
      const reader = new FileReader();
      reader.onload = async () => {
        const data = String(reader.result).replace(/^data:[^,]*,/, "");
        try {
          const r = await fetch(new URL("api/v1/chat/attachments", server).href, {
            method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ token: s.token, client_id: newClientId(), file: { filename: f.name, content_type: f.type, data } }),
          });
          const got = await r.json().catch(() => ({}));
          if (r.status !== 201) return say(fmt("file_failed", { reason: (got.error && got.error.message) || r.status }));
          addMessage(got.message);
        } catch (e) {
          say(fmt("file_failed", { reason: String(e.message || e) }));
        }
      };
      reader.readAsDataURL(f);
    }
    function rate(n) {
      for (const b of stars.querySelectorAll("button")) {
        b.setAttribute("aria-pressed", Number(b.getAttribute("data-value")) <= n ? "true" : "false");
      }
      send({ type: "rating", rating: n });
    }
    function openPanel() {
      wantOpen = true;
      panel.hidden = false;
      root.setAttribute("data-state", "open");
      launcher.setAttribute("aria-expanded", "true");
      if (!ws) connect();
      markRead();
      setTimeout(focusView, 0);
    }
    // Focus goes to the first field of what the panel shows (the close button before that).
    function focusView() {
      if (panel.hidden) return;
      const first = panel.querySelector(".bc-view:not([hidden]) input, .bc-view:not([hidden]) textarea, .bc-view:not([hidden]) button");
      (first || closeBtn).focus();
    }
    function closePanel() {
      panel.hidden = true;
      root.setAttribute("data-state", "closed");
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }

    launcher.addEventListener("click", () => (panel.hidden ? openPanel() : closePanel()));
    closeBtn.addEventListener("click", closePanel);
    root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !panel.hidden) closePanel();
    });
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      sendMessage(input.value, false);
      input.value = "";
      typingSentAt = 0;
      send({ type: "typing", on: false });
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        composer.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      const now = Date.now();
      if (!input.value) {
        typingSentAt = 0;
        send({ type: "typing", on: false });
      } else if (now - typingSentAt > 3000) {
        typingSentAt = now;
        send({ type: "typing", on: true });
      }
    });
    endBtn.addEventListener("click", () => send({ type: "end" }));
    attachBtn.addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      const f = fileInput.files && fileInput.files[0];
      fileInput.value = "";
      if (f) sendFile(f);
    });
    toAgentBtn.addEventListener("click", () => {
      toAgentBtn.hidden = true;
      showQuick(null);
      send({ type: "to_agent" });
    });
    preForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const topic = preTopicSel.hidden ? preTopic.value.trim() : preTopicSel.value;
      save({ name: preName.value.trim(), email: preEmail.value.trim(), topic });
      root.setAttribute("data-started", "yes");
      view(chatView);
      reconnect(); // hello again with the name, email and topic
      input.focus();
    });
    offForm.addEventListener("submit", (e) => {
      e.preventDefault();
      save({ name: offName.value.trim(), email: offEmail.value.trim() });
      const text = offText.value;
      reconnect();
      const waitWelcome = setInterval(() => {
        if (welcomed) {
          clearInterval(waitWelcome);
          sendMessage(text, true);
        }
      }, 50);
    });
    newChat.addEventListener("click", () => {
      list.textContent = "";
      shown.clear();
      agentReadUpTo = 0;
      say("");
      root.setAttribute("data-started", "yes");
      view(chatView);
      input.focus();
    });

    // A visitor with a conversation open resumes it at once (the panel stays closed).
    if (saved().token) {
      wantOpen = true;
      connect();
    }
    window.BlendChat = { open: openPanel, close: closePanel };
  }

  css("blend-chat.css");
  if (window.BlendChatI18n) start();
  else load("i18n.js", start);
})();
