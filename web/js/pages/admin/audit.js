// Admin section "audit" (#/admin/audit, admin only): the audit log, GET /api/v1/audit?order=desc,
// newest entry first, paged back in time with the API's cursor. The page opens on the newest
// entries; "Older" follows next_cursor, "Newer" goes back through the cursors already seen,
// "Newest" reads the first page again (with what was added meanwhile). Entries are rendered as
// text only.
const PAGE = 50;

export function mountAudit(root, ctx) {
  const { api, t, h, fmt, stream } = ctx;
  const status = h("p", { class: "muted", id: "audit-status", role: "status", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert", id: "audit-error" });
  const tbody = h("tbody");
  const cols = ["ts", "actor", "source", "action", "resource", "resource_id", "detail"];
  const table = h("table", { id: "audit-list", class: "admin-list" },
    h("caption", { class: "visually-hidden" }, t("admin.section_audit")),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(`admin.audit_${c}`))))), tbody);
  const newest = h("button", { type: "button", id: "audit-newest" }, t("admin.audit_newest"));
  const newer = h("button", { type: "button", id: "audit-newer" }, t("admin.audit_newer"));
  const older = h("button", { type: "button", id: "audit-older" }, t("admin.audit_older"));
  root.append(h("section", { class: "panel", "aria-labelledby": "audit-title" },
    h("h2", { id: "audit-title" }, t("admin.section_audit")),
    h("p", { class: "muted" }, t("admin.audit_help")),
    h("div", { class: "pager" }, newest, " ", newer, " ", older), status, error,
    h("div", { class: "admin-scroll" }, table)));
  let cursors = [null]; // cursors[i] = the cursor that opens page i (page 0: the newest)
  let index = 0;
  let next = null; // the cursor of the next older page, or null on the oldest
  let alive = true;

  const detailText = (d) => (d === null || d === undefined ? "" : typeof d === "string" ? d : JSON.stringify(d));

  function render(items) {
    tbody.replaceChildren(...items.map((e) => h("tr", { dataset: { id: e.id } },
      h("td", {}, fmt.dateTime(e.ts)), h("td", {}, e.actor || String(e.actor_id ?? "")), h("td", {}, e.source || ""),
      h("td", {}, e.action || ""), h("td", {}, e.resource || ""), h("td", { class: "num" }, e.resource_id ?? ""),
      h("td", { class: "audit-detail" }, detailText(e.detail)))));
    status.textContent = items.length
      ? t("admin.audit_page", { page: index + 1, from: items[0].id, to: items[items.length - 1].id }) : t("admin.audit_empty");
    newest.disabled = index === 0;
    newer.disabled = index === 0;
    older.disabled = !next;
  }

  async function show(i) {
    error.textContent = "";
    try {
      const c = cursors[i];
      const page = await api("GET", `/api/v1/audit?order=desc&limit=${PAGE}${c ? `&cursor=${encodeURIComponent(c)}` : ""}`);
      if (!alive) return;
      index = i;
      next = (page.items || []).length ? page.next_cursor || null : null;
      cursors = cursors.slice(0, i + 1);
      if (next) cursors.push(next);
      render(page.items || []);
    } catch (err) {
      error.textContent = t("admin.load_failed", { message: err.message });
    }
  }

  newest.addEventListener("click", () => show(0));
  newer.addEventListener("click", () => show(Math.max(0, index - 1)));
  older.addEventListener("click", () => next && show(index + 1));
  const offResync = stream.on("resync", () => show(index));
  show(0);
  return () => {
    alive = false;
    offResync();
  };
}
