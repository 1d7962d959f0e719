// commentwatch dashboard: model — what the page knows, without the DOM: the
// bounded list of recent comments (`state.entries`, each an entry
// `{seq, c, node, unread, hl, edited}`), the comments waiting while the
// reader is away from the live edge, the selection, what is answered and
// featured, the unread marks kept across a reload, and the filters' tests.
//
// Must not touch the DOM (an entry's `node` is set and read by feed.js) nor
// the network. State that other modules change lives in `state`, because
// an imported binding cannot be assigned.
import { SETTINGS_KEY, settings, norm, highlights, isHidden, isQuestion } from "./settings.js";
import { sourceName } from "./render.js";
import { isPaidOrMember } from "./speaker.js";

export const MAX_RENDERED = 500; // DOM cap: older comments stay in /log
export const MODEL_CAP = 2000; // comments kept in memory for filtering

export const key = (source, id) => source + "\u0000" + id;
export const model = new Map(); // key -> entry

export const state = {
  entries: [], // entries in arrival (seq) order, at most MODEL_CAP
  pending: [], // visible entries that arrived while paused
  pendingCount: 0, // all of them, even beyond what `pending` keeps
  toInsert: [], // visible entries waiting for the next frame
  backlogSeq: null, // latest_seq at the first hello: older is backlog
  unreadCount: 0,
  lastSeq: 0, // the highest seq applied
  lastFrameAt: 0, // when the last frame of any kind arrived
  gapEntry: null, // the entry marked where the connection dropped
  selected: null, // the selected entry (keyboard cursor)
  // Why the feed holds still (see scroll.js): any of these pauses it,
  // and so does a selected comment. None of them lapses with time.
  scrolledAway: false,
  manualPause: false,
  hovering: false, // the pointer is over the feed (still or moving)
  menuOpen: false, // a dialog, the panels drawer or a drop-down list is open
};
export const answered = new Set(settings.answered);
export const featuredKeys = new Set();
export const seenAuthors = new Set();

/** Why the feed holds, most deliberate first, or "" while it runs. */
export function holdReason() {
  if (state.manualPause) return "manual";
  if (state.scrolledAway) return "scroll";
  if (state.selected) return "selected";
  if (state.menuOpen) return "menu";
  if (state.hovering && settings.hoverPause) return "hover";
  return "";
}
export const isPaused = () => holdReason() !== "";

/** The entry a feed item (`li.comment`) shows, if any. */
export function entryOf(li) {
  return li ? model.get(key(li.dataset.source, li.dataset.id)) : null;
}

// Unread marks outlive a reload: the keys of the comments still unread,
// written a second after a change (and as the page goes away), and read
// back for the backlog a reload shows.
const UNREAD_KEY = SETTINGS_KEY + ".unread";
export let wasUnread = new Set();
try {
  const saved = JSON.parse(localStorage.getItem(UNREAD_KEY) || "[]");
  if (Array.isArray(saved)) wasUnread = new Set(saved.filter((k) => typeof k === "string"));
} catch (_) {
  wasUnread = new Set();
}
let unreadTimer = 0;
export function saveUnread() {
  if (!unreadTimer) unreadTimer = setTimeout(saveUnreadNow, 1000);
}
function saveUnreadNow() {
  clearTimeout(unreadTimer);
  unreadTimer = 0;
  const keys = [];
  for (const e of state.entries) if (e.unread) keys.push(key(e.c.source, e.c.id));
  try {
    localStorage.setItem(UNREAD_KEY, JSON.stringify(keys.slice(-5000)));
  } catch (_) {
    /* as for the settings */
  }
}
window.addEventListener("pagehide", () => saveUnreadNow());

/** Whether an entry passes the hide lists and the toolbar's filters. */
export function passes(e) {
  const c = e.c;
  if (isHidden(c)) return false;
  if (settings.source && c.source !== settings.source) return false;
  if (settings.questions && !isQuestion(c.text)) return false;
  if (settings.paid && !isPaidOrMember(c)) return false;
  const q = norm(settings.filter);
  if (q) {
    const a = c.author || {};
    const hay = norm((c.text || "") + "\n" + (a.name || "") + "\n" + c.source + "\n" + sourceName(c.source));
    if (!hay.includes(q)) return false;
  }
  return true;
}
export function isHighlighted(c) {
  if (!highlights.length) return false;
  const text = norm(c.text || "");
  return highlights.some((w) => text.includes(w));
}
