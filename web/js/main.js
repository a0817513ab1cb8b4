// Boot: choose the language, ask the API who we are (GET /api/v1/auth/me) and show either the
// login view or the application: header (user, language, stream status, help, log out), nav of
// the pages the role may open, and the routed page in <main>. One Stream per session is shared
// by every page (ctx.stream). Pages come from ./pages/agent.js and ./pages/index-super.js
// (wallboard and admin); each registers itself with the router.
import { api, listAll, ApiError } from "./core/api.js";
import { Stream } from "./core/stream.js";
import {
  t, setLanguage, initialLanguage, getLanguage, onLanguageChange, LANGUAGES, LANGUAGE_NAMES,
} from "./core/i18n.js";
import * as fmt from "./core/fmt.js";
import { h, clear } from "./core/dom.js";
import {
  startRouter, stopRouter, navigate, rerender, registeredPages, currentPath,
} from "./core/router.js";

const $ = (id) => document.getElementById(id);
let session = null; // {me, stream, offStatus}

// Announces a short text to screen readers (assertive live region).
export function announce(text) {
  const box = $("alerts");
  box.textContent = "";
  // A new text node each time so the same sentence twice is announced twice.
  setTimeout(() => { box.textContent = text; }, 30);
}

function renderChrome() {
  $("skip-link").textContent = t("common.skip_to_content");
  $("lang-label").textContent = t("common.language");
  $("help-button").textContent = t("common.help");
  $("logout").textContent = t("common.logout");
  $("nav").setAttribute("aria-label", t("common.nav_label"));
  const sel = $("lang");
  clear(sel);
  for (const l of LANGUAGES) {
    sel.append(h("option", { value: l, selected: l === getLanguage(), lang: l }, LANGUAGE_NAMES[l]));
  }
  if (session) {
    const me = session.me;
    $("who").textContent = t("common.who", {
      name: me.display_name || me.username, role: t(`common.role_${me.role}`),
    });
    renderStreamStatus(session.stream.status);
  } else {
    $("who").textContent = "";
  }
}

function renderStreamStatus(status) {
  const el = $("stream-status");
  el.hidden = !session;
  el.dataset.status = status;
  el.textContent = status === "connected" ? t("common.stream_connected") : t("common.stream_reconnecting");
}

function loginView(errorText) {
  const main = $("main");
  clear(main);
  document.title = `${t("common.login_title")} · Blend`;
  const err = h("p", { id: "login-error", class: "error", role: "alert" }, errorText || "");
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, t("common.login_submit"));
  const form = h("form", { id: "login-form", class: "login-form" },
    h("label", { for: "username" }, t("common.username")), user,
    h("label", { for: "password" }, t("common.password")), pass,
    submit, err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    submit.disabled = true;
    try {
      await api("POST", "/api/v1/auth/login", { username: user.value, password: pass.value });
      pass.value = "";
      await enter();
    } catch (ex) {
      err.textContent = ex instanceof ApiError && ex.status
        ? t("common.login_failed", { message: ex.message }) : t("common.error_network");
      submit.disabled = false;
      pass.focus();
    }
  });
  main.append(h("section", { id: "login-view", class: "login", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, t("common.login_title")), form));
  user.focus();
}

function renderHelp() {
  const dlg = $("help");
  clear(dlg);
  const rows = [
    ["?", t("common.key_help")],
    ["Esc", t("common.key_close")],
  ];
  const page = registeredPages().find((p) => {
    const base = p.path.replace(/\/\*$/, "");
    return currentPath() === base || currentPath().startsWith(base + "/");
  });
  for (const s of page?.shortcuts || []) rows.push([s.key, t(s.labelKey)]);
  dlg.append(
    h("h2", { id: "help-title" }, t("common.help_title")),
    h("p", {}, t("common.help_text")),
    h("table", { class: "shortcuts" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("common.key")),
        h("th", { scope: "col" }, t("common.action")))),
      h("tbody", {}, rows.map(([k, label]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, label))))),
    h("form", { method: "dialog" }, h("button", { type: "submit", id: "help-close" }, t("common.close"))),
  );
}

function openHelp() {
  renderHelp();
  const dlg = $("help");
  if (!dlg.open) dlg.showModal();
}

async function loadPages() {
  // The agent desktop is ours; the supervisor and admin pages register from index-super.js
  // (absent in a tree without them: the app works with what is there).
  await import("./pages/agent.js");
  try {
    await import("./pages/index-super.js");
  } catch (_) { /* no supervisor/admin pages in this tree */ }
}

async function enter() {
  const me = await api("GET", "/api/v1/auth/me");
  await loadPages();
  const stream = new Stream();
  session = { me, stream };
  session.offStatus = stream.on("status", renderStreamStatus);
  stream.on("unauthenticated", () => leave(t("common.session_ended")));
  $("logout").hidden = false;
  $("help-button").hidden = false;
  renderChrome();
  const ctx = { api, listAll, stream, t, fmt, h, me, navigate, announce };
  startRouter($("main"), $("nav"), ctx);
  stream.start();
}

function leave(message) {
  if (session) {
    session.stream.stop();
    session = null;
  }
  stopRouter();
  $("logout").hidden = true;
  $("help-button").hidden = true;
  $("stream-status").hidden = true;
  renderChrome();
  loginView(message);
}

async function boot() {
  await setLanguage(initialLanguage());
  renderChrome();
  $("lang").addEventListener("change", async (e) => {
    await setLanguage(e.target.value, true);
  });
  onLanguageChange(() => {
    renderChrome();
    if (session) rerender();
    else if (document.getElementById("login-view")) {
      const msg = document.getElementById("login-error")?.textContent;
      loginView(msg);
    }
  });
  $("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/auth/logout");
    } catch (_) { /* the session may already be gone */ }
    leave("");
  });
  $("help-button").addEventListener("click", openHelp);
  document.addEventListener("keydown", (e) => {
    if (e.key !== "?" || e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || e.target.isContentEditable) return;
    if (!session) return;
    e.preventDefault();
    openHelp();
  });
  try {
    await enter();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) loginView("");
    else if (e instanceof ApiError && e.status === 0) loginView(t("common.error_network"));
    else throw e;
  }
}

boot().catch((e) => {
  console.error(e); // eslint-disable-line no-console
});
