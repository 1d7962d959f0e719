// commentwatch dashboard: settings — the server's starting settings (read
// from #app's data-config, JSON that askama escaped), the page's own
// settings kept in localStorage, the highlight words (the server's plus the
// page's), the hidden words and authors (the server's list, live: `hidden`
// frames replace it) and `isHidden`, `isQuestion` (what "only questions"
// lets through), and the "Reset page settings" button.
//
// Must not touch: the feed, the connection, or any element but the reset
// button and the checkboxes `bindCheck` is handed. Other modules change
// `settings` in place and call `save()`.
import { t } from "./i18n.js";

export const SETTINGS_KEY = "cw.dashboard.v1";

// The server's starting settings: CW_HIGHLIGHT (plus what the page added,
// minus what it removed: a later change of the env var still shows), and
// the hidden list as it was when the page loaded (`block`, the entries as
// typed), which the server keeps and every `hidden` frame replaces.
function serverConfig() {
  try {
    return JSON.parse(document.getElementById("app").dataset.config || "{}");
  } catch (_) {
    return {};
  }
}
export const server = serverConfig();

const DEFAULTS = {
  order: "top", theme: "auto", lang: null, filter: "", source: "", questions: false, paid: false,
  // blockAdded/blockRemoved: what older versions hid in this browser only;
  // hiding.js hands them to the server once, then empties them.
  hlAdded: [], hlRemoved: [], blockAdded: [], blockRemoved: [],
  // Alerts: triggers (paid messages on by default, so they alert once any
  // output is on), outputs, and what reading aloud reads (alerts.js).
  alHighlight: true, alPaid: true, alAuthor: false,
  alSound: false, alFlash: false, alNotify: false, alSpeak: false, alSpeakMode: "alerts",
  hoverPause: true, answered: [],
  // The comments' text size in px (legible.js offers the choices).
  textSize: 18,
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
// The hidden list as the server last said: words, and authors without
// `author:`, as typed.
let hidden = { words: [], authors: [] };
for (const w of server.block || []) {
  const n = norm(w);
  if (n.startsWith("author:")) hidden.authors.push(String(w).trim().slice(7).trim());
  else if (n) hidden.words.push(String(w).trim());
}
/** The hidden entries as chips show them: words, then `author:NAME`s. */
export function hiddenEntries() {
  return [...hidden.words, ...hidden.authors.map((a) => "author:" + a)];
}
/**
 * Takes the server's hidden list (a `hidden` frame or an /api/hidden
 * answer); whether it changed.
 */
export function setHidden(words, authors) {
  const next = { words: (words || []).map(String), authors: (authors || []).map(String) };
  if (JSON.stringify(next) === JSON.stringify(hidden)) return false;
  hidden = next;
  computeLists();
  return true;
}
/** Recomputes the three lists above from the server's and the page's. */
export function computeLists() {
  highlights = effective(server.highlight, settings.hlAdded, settings.hlRemoved).map(norm);
  blockWords = hidden.words.map(norm).filter(Boolean);
  blockAuthors = new Set(hidden.authors.map(norm).filter(Boolean));
}
/**
 * Whether a comment is hidden: its text contains a hidden word, or its
 * author's name or id is a hidden author, ignoring case (the server's
 * `crate::hidden` matches the same way). The feed, alerts and read-aloud
 * all ask this.
 */
export function isHidden(c) {
  const a = c.author || {};
  if (blockAuthors.size && (blockAuthors.has(norm(a.name || "")) || blockAuthors.has(norm(a.id || "")))) return true;
  if (blockWords.length) {
    const text = norm(c.text || "");
    if (blockWords.some((w) => text.includes(w))) return true;
  }
  return false;
}
/** Adds `word` to the highlights. */
export function addHighlight(word) {
  word = String(word).trim();
  if (!word) return;
  const n = norm(word);
  settings.hlRemoved = settings.hlRemoved.filter((w) => norm(w) !== n);
  if (!(server.highlight || []).some((w) => norm(w) === n) && !settings.hlAdded.some((w) => norm(w) === n)) {
    settings.hlAdded.push(word);
  }
  save();
}
export function removeHighlight(word) {
  const n = norm(word);
  settings.hlAdded = settings.hlAdded.filter((w) => norm(w) !== n);
  if ((server.highlight || []).some((w) => norm(w) === n)) settings.hlRemoved.push(word);
  save();
}

// ------------------------------------------------------------ questions
// Whether a comment asks something, for "only questions" (model.js's
// filter): a question mark, or a question word or particle of Chinese or
// Japanese, near the end, after stripping what trails a sentence (spaces,
// emoji, emote tokens such as "[doge]", punctuation other than ? and ？).
const TRAILING = /(?:[\s\p{Extended_Pictographic}\p{Emoji_Modifier}\u200d\ufe0f\u20e3]|[^\P{P}?？]|\p{S}|\[[^[\]\s]{1,16}\])+$/u;
// Sentence-final particles: 吗 呢 (and 干嘛), and Japanese か after the
// sounds that make it a question (ですか, ますか, でしょうか, のか…), not
// after any syllable (ばか, 静か, 確か are no questions). A softener may
// follow (啊 呀 ね な).
const PARTICLE = /(?:[吗呢]|干嘛|[すうのんるたいくだで]か)[啊呀哇吧ねなの]?$/u;
// Question words in the last few characters, but not in the phrases where
// they mean something else: 没什么 (nothing much), 不怎么 (not very),
// 几乎 (almost), 谁都 / 什么都 / 哪都 (anyone, anything, anywhere).
const WORDS = /什么|怎么|为什么|哪|谁|几|教えて/gu;
const NOT_ASKING = /没什么|不怎么|几乎|(?:什么|谁|哪[里儿]?)[都也]/gu;
const NEAR_END = 6; // characters

export function isQuestion(text) {
  const s = String(text || "").replace(TRAILING, "");
  if (!s) return false;
  // A question mark among the last characters: "why?", "真的？？啊".
  if (/[?？][^?？]{0,2}$/u.test(s)) return true;
  if (PARTICLE.test(s)) return true;
  const chars = Array.from(s);
  const tail = chars.slice(-NEAR_END - 4).join("");
  const from = tail.length - chars.slice(-NEAR_END).join("").length;
  const masked = tail.replace(NOT_ASKING, (m) => "\u0000".repeat(m.length));
  for (const m of masked.matchAll(WORDS)) if (m.index + m[0].length > from) return true;
  return false;
}
