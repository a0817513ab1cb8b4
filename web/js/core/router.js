// Hash router. Pages register themselves:
//   registerPage({id, path: "/agent", titleKey: "common.nav_agent", roles: ["agent", ...],
//                 order?: number, visible?(me) → bool, mount(root, ctx) → unmount function})
// A path may end with "/*" to own a prefix ("#/admin/*" receives "#/admin/users", with
// ctx.subpath = "users"). The nav lists the pages whose roles include the user's role (and whose
// visible(me), if given, is true); a route the role may not open shows a "not allowed" view —
// the API enforces RBAC as well. Route changes unmount the old page first.

const pages = [];
let state = null; // {root, nav, ctxBase, unmount, onNavigate}

export function registerPage(page) {
  if (pages.some((p) => p.id === page.id)) return;
  pages.push(page);
  pages.sort((a, b) => (a.order ?? 100) - (b.order ?? 100));
  if (state) {
    renderNav();
    route();
  }
}

export function registeredPages() {
  return [...pages];
}

export function allowed(page, me) {
  if (!me || !page.roles.includes(me.role)) return false;
  return page.visible ? !!page.visible(me) : true;
}

function matches(page, path) {
  if (page.path.endsWith("/*")) {
    const base = page.path.slice(0, -2);
    return path === base || path.startsWith(base + "/");
  }
  return path === page.path;
}

export function currentPath() {
  const hash = location.hash.replace(/^#/, "");
  return hash.startsWith("/") ? hash : "/";
}

export function navigate(path) {
  if (location.hash !== "#" + path) location.hash = "#" + path;
  else route();
}

// The first page the user may open (the landing page).
export function homePath(me) {
  const p = pages.find((x) => allowed(x, me));
  return p ? p.path.replace(/\/\*$/, "") : null;
}

function renderNav() {
  const { nav, ctxBase, h, t } = state;
  const path = currentPath();
  const items = pages.filter((p) => allowed(p, ctxBase.me)).map((p) => {
    const href = "#" + p.path.replace(/\/\*$/, "");
    const a = h("a", { href, dataset: { page: p.id } }, t(p.titleKey));
    if (matches(p, path)) a.setAttribute("aria-current", "page");
    return h("li", {}, a);
  });
  nav.replaceChildren(h("ul", {}, items));
}

function route() {
  if (!state) return;
  const { root, ctxBase, h, t } = state;
  if (state.unmount) {
    try {
      state.unmount();
    } catch (e) {
      console.warn("unmount failed", e); // eslint-disable-line no-console
    }
    state.unmount = null;
  }
  root.replaceChildren();
  let path = currentPath();
  if (path === "/") {
    const home = homePath(ctxBase.me);
    if (home) {
      history.replaceState(null, "", "#" + home);
      path = home;
    }
  }
  renderNav();
  const page = pages.find((p) => matches(p, path));
  if (!page) {
    document.title = `${t("common.not_found_title")} · Blend`;
    root.append(h("section", { class: "notice", id: "not-found" },
      h("h2", {}, t("common.not_found_title")), h("p", {}, t("common.not_found_text"))));
    return;
  }
  document.title = `${t(page.titleKey)} · Blend`;
  if (!allowed(page, ctxBase.me)) {
    root.append(h("section", { class: "notice", id: "not-allowed", role: "alert" },
      h("h2", {}, t("common.not_allowed_title")), h("p", {}, t("common.not_allowed_text"))));
    return;
  }
  const subpath = page.path.endsWith("/*") ? path.slice(page.path.length - 1) : "";
  const ctx = { ...ctxBase, subpath, path };
  const out = page.mount(root, ctx);
  state.unmount = typeof out === "function" ? out : null;
  if (state.onNavigate) state.onNavigate(page);
}

// Starts routing: root is <main>, nav the <nav> element, ctx the context passed to mount.
export function startRouter(root, nav, ctx, onNavigate) {
  stopRouter();
  state = { root, nav, ctxBase: ctx, h: ctx.h, t: ctx.t, unmount: null, onNavigate };
  window.addEventListener("hashchange", route);
  route();
}

// Re-mounts the current page (after a language change).
export function rerender() {
  route();
}

export function stopRouter() {
  if (!state) return;
  window.removeEventListener("hashchange", route);
  if (state.unmount) {
    try {
      state.unmount();
    } catch (_) { /* ignore */ }
  }
  state.root.replaceChildren();
  state.nav.replaceChildren();
  state = null;
}
