// Element builder. Text is always set through textContent (never innerHTML), so data written by
// customers or users cannot inject markup.
//   h("button", {type: "button", class: "primary", onclick: fn, dataset: {id: 3}}, "Accept")
// attrs: "class", "dataset" (object), "style" (object), on<event> (function), boolean
// attributes (true sets, false/null/undefined omits), anything else via setAttribute.
// children: strings/numbers (text nodes), nodes, arrays (flattened), null/undefined/false (skipped).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked" || k === "selected" || k === "disabled" || k === "hidden") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Replaces el's text only when it changed (avoids needless layout and screen-reader noise).
export function setText(el, text) {
  const s = String(text ?? "");
  if (el.textContent !== s) el.textContent = s;
}
