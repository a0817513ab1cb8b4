// Locale formatting through Intl, for the language chosen in i18n.js. Every date, time, number
// and duration shown in the UI goes through these functions.
import { getLanguage } from "./i18n.js";

const cache = new Map();
function formatter(kind, opts) {
  const key = `${getLanguage()}|${kind}|${JSON.stringify(opts)}`;
  let f = cache.get(key);
  if (!f) {
    f = kind === "number" ? new Intl.NumberFormat(getLanguage(), opts)
      : new Intl.DateTimeFormat(getLanguage(), opts);
    cache.set(key, f);
  }
  return f;
}

function toDate(v) {
  if (v === null || v === undefined || v === "") return null;
  const d = v instanceof Date ? v : new Date(typeof v === "number" ? v : String(v));
  return Number.isNaN(d.getTime()) ? null : d;
}

// "2026-03-02T09:42:00Z" → e.g. "3/2/2026, 9:42:00 AM" / "2026. 3. 2. 오전 9:42:00"
export function dateTime(iso) {
  const d = toDate(iso);
  return d ? formatter("date", { dateStyle: "medium", timeStyle: "medium" }).format(d) : "–";
}

export function time(iso) {
  const d = toDate(iso);
  return d ? formatter("date", { timeStyle: "medium" }).format(d) : "–";
}

// Seconds → "m:ss" below an hour, else "h:mm:ss" (negative and missing values show as "–").
export function duration(s) {
  if (s === null || s === undefined || Number.isNaN(Number(s)) || Number(s) < 0) return "–";
  const total = Math.floor(Number(s));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function number(n, opts) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "–";
  return formatter("number", opts || { maximumFractionDigits: 1 }).format(Number(n));
}

// 0.834 → "83%" (a fraction, not a percentage)
export function percent(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "–";
  return formatter("number", { style: "percent", maximumFractionDigits: digits }).format(Number(x));
}
