// Admin pages (#/admin/<section>): users, agents, skills, queues, calendars, entry points and
// flows through one generic list + form driven by resources.js, and the audit log (audit.js).
// Roles: admin writes everything; a supervisor reads what docs/rbac.md lets them read (and may
// change agents); the audit log is admin-only. Invariants: the API is the validator — its 422
// field errors ({path, message}) are shown beside the field the path names (aria-invalid +
// aria-describedby), a 412 version mismatch (PATCH with If-Match: "<version>") is explained
// and the user's edits kept; a flow's Validate is the same write as a dry run (?dry_run=1,
// nothing stored); lists follow the event stream (<resource>.* reloads the list);
// user text only ever reaches the DOM through textContent.
import { RESOURCES, CHANNELS } from "./resources.js";
import { mountAudit } from "./audit.js";

function ensureCss() {
  if (document.querySelector('link[data-blend-css="admin"]')) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./admin.css", import.meta.url).href;
  link.dataset.blendCss = "admin";
  document.head.append(link);
}

const SECTIONS = [...RESOURCES.map((r) => ({ id: r.id, roles: r.roles })), { id: "audit", roles: ["admin"] }];

// "skills[0].proficiency" → "skills"; "nodes.a.text" → "nodes"
export function fieldOfPath(path) {
  return String(path || "").split(/[.[]/)[0];
}

function mountAdmin(root, ctx) {
  const { t, h, me, navigate } = ctx;
  ensureCss();
  const sections = SECTIONS.filter((s) => s.roles.includes(me.role));
  const wanted = (ctx.subpath || "").replace(/^\//, "").split("/")[0];
  const section = sections.find((s) => s.id === wanted);
  const nav = h("nav", { class: "admin-nav", "aria-label": t("admin.sections") },
    h("ul", {}, sections.map((s) => h("li", {}, h("a", {
      href: `#/admin/${s.id}`, "aria-current": section && s.id === section.id ? "page" : null,
    }, t(`admin.section_${s.id.replace("-", "_")}`))))));
  const body = h("div", { class: "admin-body" });
  root.append(h("div", { id: "admin", class: "admin" }, h("h1", { class: "visually-hidden" }, t("admin.title")), nav, body));
  if (!section) {
    if (wanted && SECTIONS.some((s) => s.id === wanted)) {
      body.append(h("section", { class: "notice", id: "not-allowed", role: "alert" },
        h("h2", {}, t("admin.section_not_allowed"))));
      return () => {};
    }
    navigate(`/admin/${sections[0].id}`);
    return () => {};
  }
  if (section.id === "audit") return mountAudit(body, ctx);
  return mountResource(body, ctx, RESOURCES.find((r) => r.id === section.id));
}

function mountResource(root, ctx, res) {
  const { api, listAll, stream, t, h, me, fmt } = ctx;
  const can = (op) => res.write[op].includes(me.role);
  const label = (key) => t(`admin.f_${key}`);
  const title = t(`admin.section_${res.id.replace("-", "_")}`);
  const status = h("p", { class: "admin-status", role: "status", "aria-live": "polite", id: "admin-status" });
  const listError = h("p", { class: "error", role: "alert", id: "admin-list-error" });
  const tbody = h("tbody");
  const table = h("table", { id: "admin-list", class: "admin-list" },
    h("caption", { class: "visually-hidden" }, title),
    h("thead", {}, h("tr", {}, res.columns.map((c) => h("th", { scope: "col" }, label(c))),
      h("th", { scope: "col" }, t("admin.actions")))),
    tbody);
  const newButton = can("create")
    ? h("button", { type: "button", class: "primary", id: "admin-new" }, t("admin.new", { what: title })) : null;
  const readOnlyNote = !can("update") && !can("create")
    ? h("p", { class: "muted", id: "admin-read-only" }, t("admin.read_only")) : null;
  const formHost = h("div", { id: "admin-form-host" });
  root.append(h("section", { class: "panel", "aria-labelledby": "admin-list-title" },
    h("h2", { id: "admin-list-title" }, title), readOnlyNote, newButton, status, listError,
    h("div", { class: "admin-scroll" }, table)), formHost);
  let items = [];
  let alive = true;
  let open = null; // {id|null, doc}

  const cellText = (item, key) => {
    const v = item[key];
    if (v === null || v === undefined || v === "") return "–";
    // A canned response's empty channels or queues mean "all of them".
    if (Array.isArray(v) && !v.length && res.emptyMeansAll?.includes(key)) return t("admin.all");
    if (key === "queues") return v.map((x) => x.queue).join(", ");
    if (typeof v === "boolean") return v ? t("admin.yes") : t("admin.no");
    if (key === "skills") return v.map((s) => `${s.skill} ${s.proficiency ?? s.min_proficiency}`).join(", ") || "–";
    if (Array.isArray(v)) return v.map((x) => (CHANNELS.includes(x) ? t(`admin.channel_${x}`) : String(x))).join(", ");
    if (key === "role") return t(`admin.role_${v}`);
    if (key === "channel") return t(`admin.channel_${v}`);
    return String(v);
  };

  function renderList() {
    const keyOf = res.id === "users" ? "username" : "name";
    const rows = items.map((item) => {
      const name = String(item[keyOf]);
      const edit = h("button", { type: "button", class: "admin-edit" },
        can("update") ? t("admin.edit") : t("admin.view"));
      edit.setAttribute("aria-label", t(can("update") ? "admin.edit_named" : "admin.view_named", { name }));
      edit.addEventListener("click", () => openForm(item));
      const cells = [h("td", { class: "admin-actions" }, edit)];
      if (can("delete")) {
        const del = h("button", { type: "button", class: "danger admin-delete" }, t("admin.delete"));
        del.setAttribute("aria-label", t("admin.delete_named", { name }));
        del.addEventListener("click", () => confirmDelete(item, del));
        cells[0].append(" ", del);
      }
      return h("tr", { dataset: { id: item.id } },
        res.columns.map((c, i) => (i === 0 ? h("th", { scope: "row" }, cellText(item, c)) : h("td", {}, cellText(item, c)))),
        cells);
    });
    tbody.replaceChildren(...rows);
  }

  async function load() {
    try {
      items = await listAll(res.path);
      if (!alive) return;
      listError.textContent = "";
      renderList();
    } catch (err) {
      listError.textContent = t("admin.load_failed", { message: err.message });
    }
  }

  function confirmDelete(item, button) {
    if (button.dataset.armed) {
      remove(item);
      return;
    }
    button.dataset.armed = "1";
    button.textContent = t("admin.confirm_delete");
    setTimeout(() => {
      if (button.isConnected) {
        delete button.dataset.armed;
        button.textContent = t("admin.delete");
      }
    }, 5000);
  }

  async function remove(item) {
    try {
      await api("DELETE", `${res.path}/${item.id}`);
      status.textContent = t("admin.deleted", { name: item.name || item.username });
      if (open && open.id === item.id) formHost.replaceChildren();
      await load();
    } catch (err) {
      listError.textContent = err.status === 409 ? t("admin.delete_conflict", { message: err.message })
        : t("admin.save_failed", { message: err.message });
    }
  }

  // ---------- the form ----------
  const refCache = new Map();
  async function refNames(ref, refKey) {
    if (!refCache.has(ref)) {
      const path = RESOURCES.find((r) => r.id === ref).path;
      refCache.set(ref, listAll(path).then((xs) => xs.map((x) => x[refKey || "name"])).catch(() => []));
    }
    return refCache.get(ref);
  }

  function fieldId(key) {
    return `f-${res.id}-${key}`;
  }

  async function buildField(f, doc, readOnly, isNew) {
    const id = fieldId(f.key);
    const errId = `${id}-error`;
    const err = h("div", { class: "field-error", id: errId });
    const labelEl = h("label", { for: id, class: f.required ? "required" : null }, label(f.key));
    const hinted = ["json", "pairs", "capacity", "password", "number"].includes(f.type) || f.hint;
    const hintEl = hinted ? h("div", { class: "field-hint muted", id: `${id}-hint` }, f.hint
      ? t(`admin.hint_${res.id.replace("-", "_")}_${f.key}`)
      : f.type === "json" ? t(`admin.hint_json_${res.id.replace("-", "_")}_${f.key}`)
      : t(`admin.hint_${f.type}`, { min: f.min ?? "", max: f.max ?? "" })) : null;
    const describedBy = [hintEl ? `${id}-hint` : null, errId].filter(Boolean).join(" ");
    const disabled = readOnly || (f.createOnly && !isNew);
    const v = doc[f.key];
    let control, read;
    switch (f.type) {
      case "bool": {
        const defaults = { enabled: true, voice_exclusive: true };
        control = h("input", { id, type: "checkbox", checked: v ?? defaults[f.key] ?? false, disabled, "aria-describedby": describedBy });
        read = () => control.checked;
        return { f, err, control, read, el: h("div", { class: "field field-bool", dataset: { field: f.key } }, control, " ", labelEl, hintEl, err) };
      }
      case "select": {
        const opts = f.ref ? await refNames(f.ref, f.refKey) : f.options;
        control = h("select", { id, disabled, "aria-describedby": describedBy, required: f.required },
          f.nullable ? h("option", { value: "" }, t("admin.none"))
            : !f.required && v === undefined ? h("option", { value: "" }, t("admin.default_option")) : null,
          opts.map((o) => h("option", { value: o, selected: v === o },
            f.ref ? o : t(`admin.opt_${f.key}_${o.replace(/-/g, "_")}`))));
        if (v !== undefined && v !== null) control.value = v;
        read = () => (control.value === "" ? (f.nullable ? null : undefined) : control.value);
        break;
      }
      case "multi": {
        const chosen = new Set(v || f.defaultValue || (f.key === "channels" ? ["voice"] : []));
        const boxes = f.options.map((o) => h("input", { type: "checkbox", id: `${id}-${o}`, value: o, checked: chosen.has(o), disabled }));
        control = h("fieldset", { id, class: "multi", "aria-describedby": describedBy },
          h("legend", {}, label(f.key)),
          boxes.map((b) => h("span", { class: "multi-item" }, b, " ", h("label", { for: b.id }, t(`admin.channel_${b.value}`)))));
        read = () => boxes.filter((b) => b.checked).map((b) => b.value);
        return { f, err, control, read, el: h("div", { class: "field", dataset: { field: f.key } }, control, hintEl, err) };
      }
      case "refset": {
        // A set of names of another resource, sent as [{<itemKey>: name}, ...].
        const names = await refNames(f.ref, f.refKey);
        const chosen = new Set((v || []).map((x) => x[f.itemKey]));
        const boxes = names.map((n, i) => h("input", { type: "checkbox", id: `${id}-${i}`, value: n, checked: chosen.has(n), disabled }));
        control = h("fieldset", { id, class: "multi", "aria-describedby": describedBy },
          h("legend", {}, label(f.key)),
          boxes.map((b) => h("span", { class: "multi-item" }, b, " ", h("label", { for: b.id }, b.value))));
        read = () => boxes.filter((b) => b.checked).map((b) => ({ [f.itemKey]: b.value }));
        return { f, err, control, read, el: h("div", { class: "field", dataset: { field: f.key } }, control, hintEl, err) };
      }
      case "pairs": {
        const names = await refNames(f.ref);
        const list = h("ul", { class: "pairs" });
        const rows = [];
        const addRow = (p) => {
          const n = rows.length;
          const sel = h("select", { id: `${id}-${n}-skill`, disabled, "aria-label": t("admin.pair_skill", { n: n + 1 }) },
            names.map((s) => h("option", { value: s, selected: p?.skill === s }, s)));
          const num = h("input", { type: "number", id: `${id}-${n}-value`, min: f.min, max: f.max, step: 1, disabled,
            value: String(p?.[f.valueKey] ?? f.min), "aria-label": t(`admin.pair_${f.valueKey}`, { n: n + 1 }) });
          const rowErr = h("span", { class: "field-error", id: `${id}-${n}-error` });
          const li = h("li", {}, sel, " ", num, " ");
          const row = { sel, num, li, rowErr, gone: false };
          if (!disabled) {
            const rm = h("button", { type: "button", "aria-label": t("admin.pair_remove", { n: n + 1 }) }, t("admin.remove"));
            rm.addEventListener("click", () => { row.gone = true; li.remove(); });
            li.append(rm, " ");
          }
          li.append(rowErr);
          rows.push(row);
          list.append(li);
        };
        for (const p of v || []) addRow(p);
        const add = disabled ? null : h("button", { type: "button", id: `${id}-add` }, t("admin.pair_add"));
        add?.addEventListener("click", () => addRow(null));
        control = h("fieldset", { id, class: "pairs-field", "aria-describedby": describedBy }, h("legend", {}, label(f.key)), list, add);
        read = () => rows.filter((r) => !r.gone).map((r) => ({ skill: r.sel.value, [f.valueKey]: Number(r.num.value) }));
        const field = { f, err, control, read, el: h("div", { class: "field", dataset: { field: f.key } }, control, hintEl, err) };
        field.rowError = (i) => rows.filter((r) => !r.gone)[i]?.rowErr;
        return field;
      }
      case "capacity": {
        const cap = v || {};
        const inputs = CHANNELS.map((c) => h("input", { type: "number", id: `${id}-${c}`, min: 0, max: f.limits[c], step: 1, disabled,
          value: cap[c] === undefined ? "" : String(cap[c]), placeholder: t("admin.default") }));
        control = h("fieldset", { id, class: "capacity", "aria-describedby": describedBy }, h("legend", {}, label(f.key)),
          inputs.map((inp, i) => h("span", { class: "cap-item" }, h("label", { for: inp.id }, t(`admin.channel_${CHANNELS[i]}`)), " ", inp)));
        read = () => {
          const out = {};
          inputs.forEach((inp, i) => {
            if (inp.value !== "") out[CHANNELS[i]] = Number(inp.value);
          });
          return out;
        };
        return { f, err, control, read, el: h("div", { class: "field", dataset: { field: f.key } }, control, hintEl, err) };
      }
      case "json": {
        control = h("textarea", { id, rows: f.rows || 6, spellcheck: "false", class: "json", disabled, "aria-describedby": describedBy },
          v === undefined ? (f.kind === "object" ? "{}" : "[]") : JSON.stringify(v, null, 2));
        read = () => {
          const text = control.value.trim();
          if (!text) return undefined;
          return JSON.parse(text); // a syntax error is reported beside the field by save()
        };
        break;
      }
      case "textarea":
        control = h("textarea", { id, rows: f.rows || 3, maxlength: f.maxLength, disabled, "aria-describedby": describedBy }, v ?? "");
        read = () => (control.value === "" && f.nullable ? null : control.value);
        break;
      case "number":
        control = h("input", { id, type: "number", min: f.min, max: f.max, step: 1, disabled, "aria-describedby": describedBy,
          value: v === undefined || v === null ? "" : String(v), placeholder: t("admin.default") });
        read = () => (control.value === "" ? undefined : Number(control.value));
        break;
      case "password":
        control = h("input", { id, type: "password", autocomplete: "new-password", disabled, "aria-describedby": describedBy });
        read = () => (control.value === "" ? undefined : control.value);
        break;
      default:
        control = h("input", { id, type: "text", disabled, required: f.required, "aria-describedby": describedBy, value: v ?? "",
          maxlength: f.maxLength, pattern: f.pattern, autocomplete: "off" });
        read = () => (control.value === "" ? (f.nullable ? null : undefined) : control.value);
    }
    return { f, err, control, read, el: h("div", { class: "field", dataset: { field: f.key } }, labelEl, control, hintEl, err) };
  }

  function flowNodeErrors(field, errs) {
    const list = h("ul", { class: "node-errors" });
    for (const e of errs) {
      const parts = String(e.path).split(".");
      const node = parts[1];
      const rest = parts.slice(2).join(".");
      list.append(h("li", { dataset: { node: node || "" } }, node
        ? t("admin.node_error", { node, field: rest || "–", message: e.message }) : e.message));
    }
    field.err.replaceChildren(list);
  }

  function showFieldErrors(fields, errs, formErr) {
    for (const fl of fields) {
      fl.err.replaceChildren();
      fl.control.removeAttribute("aria-invalid");
    }
    const byField = new Map();
    const stray = [];
    for (const e of errs) {
      const fl = fields.find((x) => x.f.key === fieldOfPath(e.path));
      if (!fl) {
        stray.push(e);
        continue;
      }
      if (!byField.has(fl)) byField.set(fl, []);
      byField.get(fl).push(e);
    }
    for (const [fl, list] of byField) {
      fl.control.setAttribute("aria-invalid", "true");
      if (fl.f.type === "json" && fl.f.key === "nodes") {
        flowNodeErrors(fl, list);
        continue;
      }
      fl.err.replaceChildren(...list.map((e) => h("div", {}, e.path === fl.f.key ? e.message
        : t("admin.sub_error", { path: e.path, message: e.message }))));
      if (fl.rowError) {
        for (const e of list) {
          const m = /^\w+\[(\d+)\]/.exec(e.path);
          const cell = m && fl.rowError(Number(m[1]));
          if (cell) cell.textContent = e.message;
        }
      }
    }
    if (stray.length) formErr.append(h("ul", {}, stray.map((e) => h("li", {}, t("admin.sub_error", { path: e.path, message: e.message })))));
    const first = [...byField.keys()][0];
    if (first) (first.control.querySelector?.("input,select,textarea") || first.control).focus();
  }

  async function openForm(doc) {
    const isNew = !doc;
    doc = doc || {};
    const readOnly = isNew ? !can("create") : !can("update");
    const formId = "admin-form";
    const heading = isNew ? t("admin.new", { what: title })
      : t(readOnly ? "admin.view_title" : "admin.edit_title", { name: doc.name || doc.username });
    const formErr = h("div", { class: "error", role: "alert", id: "admin-form-error" });
    const fields = [];
    for (const f of res.fields) fields.push(await buildField(f, doc, readOnly, isNew));
    const save = readOnly ? null : h("button", { type: "submit", class: "primary", id: "admin-save" }, t("admin.save"));
    const cancel = h("button", { type: "button", id: "admin-cancel" }, t("admin.close"));
    const validate = res.id === "flows" && !readOnly ? h("button", { type: "button", id: "admin-validate" }, t("admin.validate")) : null;
    const version = isNew ? null : h("p", { class: "muted", id: "admin-version" }, t("admin.version", { version: doc.version, when: fmt.dateTime(doc.updated_at) }));
    let upload = null;
    if (res.upload && !readOnly) {
      const uerr = h("div", { class: "field-error", id: "f-upload-error" });
      const input = h("input", { id: "f-upload", type: "file", accept: ".json,application/json", "aria-describedby": "f-upload-error" });
      input.addEventListener("change", async () => {
        uerr.textContent = "";
        const file = input.files?.[0];
        if (!file) return;
        try {
          const flow = JSON.parse(await file.text());
          if (!flow || typeof flow !== "object" || Array.isArray(flow)) throw new Error(t("admin.upload_not_object"));
          for (const fl of fields) {
            const val = flow[fl.f.key];
            if (val === undefined || (fl.f.createOnly && !isNew)) continue;
            if (fl.f.type === "json") fl.control.value = JSON.stringify(val, null, 2);
            else fl.control.value = val === null ? "" : String(val);
          }
          status.textContent = t("admin.uploaded", { file: file.name });
        } catch (e) {
          uerr.textContent = t("admin.upload_failed", { message: e.message });
        }
      });
      upload = h("div", { class: "field", dataset: { field: "upload" } },
        h("label", { for: "f-upload" }, t("admin.upload_flow")), input, uerr);
    }
    const form = h("form", { id: formId, class: "admin-form", novalidate: true, "aria-labelledby": "admin-form-title" },
      h("h2", { id: "admin-form-title" }, heading), version, readOnly ? h("p", { class: "muted" }, t("admin.read_only")) : null,
      upload, fields.map((x) => x.el), formErr,
      h("div", { class: "form-buttons" }, validate, " ", save, " ", cancel));
    cancel.addEventListener("click", () => {
      formHost.replaceChildren();
      open = null;
    });

    // Reads every field; a JSON field that does not parse gets its error beside it.
    const collect = () => {
      formErr.replaceChildren();
      const body = {};
      const local = [];
      for (const fl of fields) {
        if (fl.f.createOnly && !isNew) continue;
        try {
          const val = fl.read();
          if (val !== undefined) body[fl.f.key] = val;
        } catch (e) {
          local.push({ path: fl.f.key, message: t("admin.json_invalid", { message: e.message }) });
        }
      }
      return { body, local };
    };

    // A refused write: field errors beside their fields, a version conflict explained with a way
    // to load the current version, anything else in words under the form.
    const showWriteError = (err) => {
      if (err.status === 422 && err.fields?.length) {
        formErr.append(h("p", {}, t("admin.validation_failed", { message: err.message })));
        showFieldErrors(fields, err.fields, formErr);
      } else if (err.status === 412 || err.code === "version_mismatch") {
        const reloadBtn = h("button", { type: "button", id: "admin-reload-version" }, t("admin.load_current"));
        reloadBtn.addEventListener("click", async () => {
          try {
            openForm(await api("GET", `${res.path}/${doc.id}`));
          } catch (ex) {
            formErr.textContent = t("admin.load_failed", { message: ex.message });
          }
        });
        formErr.replaceChildren(h("p", {}, t("admin.version_conflict", { version: doc.version })), reloadBtn);
      } else if (err.status === 409) {
        formErr.replaceChildren(h("p", {}, t("admin.conflict", { message: err.message })));
      } else {
        formErr.replaceChildren(h("p", {}, t("admin.save_failed", { message: err.message })));
      }
    };

    // Validate: the server checks the document exactly as a save would (?dry_run=1: create or
    // patch) and stores nothing; its node errors show beside the fields.
    validate?.addEventListener("click", async () => {
      const { body, local } = collect();
      if (local.length) {
        showFieldErrors(fields, local, formErr);
        return;
      }
      validate.disabled = true;
      status.textContent = "";
      try {
        if (isNew) await api("POST", `${res.path}?dry_run=1`, body);
        else await api("PATCH", `${res.path}/${doc.id}?dry_run=1`, body, { "If-Match": `"${doc.version}"` });
        showFieldErrors(fields, [], formErr);
        status.textContent = t("admin.validated");
      } catch (err) {
        showFieldErrors(fields, [], formErr);
        showWriteError(err);
      } finally {
        validate.disabled = false;
      }
    });

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (readOnly) return;
      const { body, local } = collect();
      if (local.length) {
        showFieldErrors(fields, local, formErr);
        return;
      }
      save.disabled = true;
      try {
        const saved = isNew ? await api("POST", res.path, body)
          : await api("PATCH", `${res.path}/${doc.id}`, body, { "If-Match": `"${doc.version}"` });
        showFieldErrors(fields, [], formErr);
        status.textContent = t(isNew ? "admin.created" : "admin.saved", { name: saved.name || saved.username, version: saved.version });
        refCache.clear();
        await load();
        openForm(saved);
      } catch (err) {
        showWriteError(err);
      } finally {
        save.disabled = false;
      }
    });
    open = { id: doc.id ?? null };
    formHost.replaceChildren(h("section", { class: "panel" }, form));
    (fields.find((x) => !x.control.disabled)?.control || cancel).focus?.();
  }

  newButton?.addEventListener("click", () => openForm(null));
  let reloadTimer = null;
  const off = stream.on("event", (ev) => {
    if (!ev.type.startsWith(`${res.event}.`)) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 200);
  });
  const offResync = stream.on("resync", load);
  load();
  return () => {
    alive = false;
    off();
    offResync();
    clearTimeout(reloadTimer);
  };
}

export const adminPage = {
  id: "admin",
  path: "/admin/*",
  titleKey: "admin.title",
  roles: ["admin", "supervisor"],
  order: 30,
  mount: mountAdmin,
};
