// commentwatch dashboard: settings — the server's starting settings (read
// from #app's data-config, JSON that askama escaped), the page's own
// settings kept in localStorage, the highlight and hide word lists made of
// both, and the "Reset page settings" button.
//
// Must not touch: the feed, the connection, or any element but the reset
// button and the checkboxes `bindCheck` is handed. Other modules change
// `settings` in place and call `save()`.
import { t } from "./i18n.js";

export const SETTINGS_KEY = "cw.dashboard.v1";

// The server's starting lists (CW_HIGHLIGHT, CW_BLOCK) plus what the page
// added, minus what it removed: a later change of the env var still shows.
function serverConfig() {
  try {
    return JSON.parse(document.getElementById("app").dataset.config || "{}");
  } catch (_) {
    return {};
  }
}
export const server = serverConfig();

const DEFAULTS = {
  order: "top", theme: "auto", lang: null, filter: "", source: "", questions: false,
  hlAdded: [], hlRemoved: [], blockAdded: [], blockRemoved: [],
  alHighlight: true, alAuthor: false, alSound: false, alNotify: false, alSpeak: false,
  hoverPause: true, answered: [],
  overlay: { mode: "featured", limit: 5, fade: 0, size: 28, theme: "dark", font: "" },
};
export const settings = loadSettings();
function loadSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {};
  } catch (_) {
    saved = {};
  }
  const s = Object.assign({}, DEFAULTS, saved);
  s.overlay = Object.assign({}, DEFAULTS.overlay, saved.overlay || {});
  // Own copies: DEFAULTS' arrays must never be changed through `settings`.
  for (const k of ["hlAdded", "hlRemoved", "blockAdded", "blockRemoved", "answered"]) {
    s[k] = Array.isArray(s[k]) ? s[k].slice() : [];
  }
  return s;
}
let saveTimer = 0;
export function save() {
  // Coalesced: typing in the filter box writes once, not per key.
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, 200);
}
function saveNow() {
  clearTimeout(saveTimer);
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch (_) {
    /* private mode or full storage: settings last for this page only */
  }
}
window.addEventListener("pagehide", saveNow);

/** A checkbox that shows and changes the boolean setting `name`. */
export function bindCheck(id, name, onChange) {
  const box = document.getElementById(id);
  box.checked = !!settings[name];
  box.addEventListener("change", () => {
    settings[name] = box.checked;
    save();
    if (onChange) onChange(box);
  });
}

document.getElementById("reset-settings").addEventListener("click", () => {
  if (!confirm(t("resetConfirm"))) return;
  try {
    localStorage.removeItem(SETTINGS_KEY);
  } catch (_) {
    /* nothing stored */
  }
  clearTimeout(saveTimer);
  window.removeEventListener("pagehide", saveNow);
  location.reload();
});

// ---------------------------------------------------------- word lists
export const norm = (s) => String(s).trim().toLowerCase();
/** `base` plus `added` minus `removed`, once each, ignoring case. */
export function effective(base, added, removed) {
  const out = [];
  const seen = new Set();
  const gone = new Set(removed.map(norm));
  for (const w of [...(base || []), ...added]) {
    const n = norm(w);
    if (!n || seen.has(n) || gone.has(n)) continue;
    seen.add(n);
    out.push(String(w).trim());
  }
  return out;
}
export let highlights = []; // lower-cased words
export let blockWords = []; // lower-cased words
export let blockAuthors = new Set(); // lower-cased names or ids
/** Recomputes the three lists above from the server's and the page's. */
export function computeLists() {
  highlights = effective(server.highlight, settings.hlAdded, settings.hlRemoved).map(norm);
  blockWords = [];
  blockAuthors = new Set();
  for (const w of effective(server.block, settings.blockAdded, settings.blockRemoved)) {
    const n = norm(w);
    if (n.startsWith("author:")) blockAuthors.add(n.slice(7).trim());
    else blockWords.push(n);
  }
}
/** Adds `word` to the highlights ("hl") or the hidden ("block"). */
export function addTo(kind, word) {
  word = String(word).trim();
  if (!word) return;
  const n = norm(word);
  settings[kind + "Removed"] = settings[kind + "Removed"].filter((w) => norm(w) !== n);
  const base = (kind === "hl" ? server.highlight : server.block) || [];
  if (!base.some((w) => norm(w) === n) && !settings[kind + "Added"].some((w) => norm(w) === n)) {
    settings[kind + "Added"].push(word);
  }
  save();
}
export function removeFrom(kind, word) {
  const n = norm(word);
  settings[kind + "Added"] = settings[kind + "Added"].filter((w) => norm(w) !== n);
  const base = (kind === "hl" ? server.highlight : server.block) || [];
  if (base.some((w) => norm(w) === n)) settings[kind + "Removed"].push(word);
  save();
}
