// Translations. Catalogues are flat JSON objects in web/i18n/<lang>/<namespace>.json; keys are
// used as "namespace.key". t() never throws: a missing key (or namespace) returns the key itself
// and is recorded in window.__blendMissingKeys (a Set) so browser tests fail on it.
// The language: the user's stored choice (localStorage "blend.lang"), else the best match of
// navigator.languages, else "en". <html lang> follows the language.

export const LANGUAGES = ["en", "ko", "zh-CN"];
export const NAMESPACES = ["common", "agent", "wallboard", "admin"];
// The name of each language in itself, for the picker.
export const LANGUAGE_NAMES = { en: "English", ko: "한국어", "zh-CN": "简体中文" };

let current = "en";
let catalogue = new Map(); // "ns.key" → text
const listeners = new Set();

if (!window.__blendMissingKeys) window.__blendMissingKeys = new Set();

export function getLanguage() {
  return current;
}

// The best supported language for a list of BCP 47 tags (e.g. navigator.languages).
export function pickLanguage(wanted) {
  for (const tag of wanted || []) {
    const lower = String(tag).toLowerCase();
    const exact = LANGUAGES.find((l) => l.toLowerCase() === lower);
    if (exact) return exact;
    if (lower.startsWith("zh")) {
      // Simplified Chinese only: Traditional scripts/regions are not matched.
      if (!/hant|-tw|-hk|-mo/.test(lower)) return "zh-CN";
      continue;
    }
    const base = lower.split("-")[0];
    const byBase = LANGUAGES.find((l) => l.toLowerCase().split("-")[0] === base);
    if (byBase) return byBase;
  }
  return "en";
}

export function initialLanguage() {
  let stored = null;
  try {
    stored = localStorage.getItem("blend.lang");
  } catch (_) { /* storage unavailable */ }
  if (stored && LANGUAGES.includes(stored)) return stored;
  return pickLanguage(navigator.languages || [navigator.language]);
}

async function loadNamespace(lang, ns) {
  const res = await fetch(`/i18n/${lang}/${ns}.json`, { cache: "no-cache" });
  if (!res.ok) return {}; // a namespace not shipped yet: its keys show as missing
  return res.json();
}

// Loads every namespace of the language, makes it current, and (remember=true) stores the choice.
export async function setLanguage(lang, remember = false) {
  if (!LANGUAGES.includes(lang)) lang = "en";
  const parts = await Promise.all(NAMESPACES.map((ns) => loadNamespace(lang, ns).catch(() => ({}))));
  const next = new Map();
  NAMESPACES.forEach((ns, i) => {
    for (const [k, v] of Object.entries(parts[i])) next.set(`${ns}.${k}`, String(v));
  });
  catalogue = next;
  current = lang;
  document.documentElement.lang = lang;
  if (remember) {
    try {
      localStorage.setItem("blend.lang", lang);
    } catch (_) { /* storage unavailable */ }
  }
  for (const fn of listeners) fn(lang);
  return lang;
}

// Called after every language change (pages re-render).
export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// t("agent.accept") / t("agent.offer_from", {name: "Kim"}): "{name}" placeholders are replaced.
export function t(key, vars) {
  let text = catalogue.get(key);
  if (text === undefined) {
    window.__blendMissingKeys.add(key);
    return key;
  }
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

// True when the key exists in the current catalogue (for optional texts, e.g. reason codes).
export function has(key) {
  return catalogue.has(key);
}
