// commentwatch dashboard: scroll — when the feed holds still. It holds while
// the reader is away from the live edge, while the Pause button (P) is on,
// while the pointer is over the feed (resting or moving: a still cursor
// never lapses), while a comment is selected, and while a menu is open (a
// dialog, the panels drawer of a narrow screen, a drop-down list). New comments wait, counted on the "N new
// comments" button; clicking it (or L) goes back to the live edge. And it
// clears the unread mark of a comment once it has been in view a moment.
//
// Must not touch the feed's items: it only changes the hold state in
// `state`, calls feed.js's `resume`, `goLive` and `updateCounts`, and
// reading.js's `select` and `markRead`.
import { bindCheck } from "./settings.js";
import { state, isPaused, entryOf } from "./model.js";
import { scroller, atEdge, resume, goLive, updateCounts } from "./feed.js";
import { select, markRead } from "./reading.js";

/** After a reason to hold went away: run again if none is left. */
export function release() {
  if (!isPaused()) resume();
  else updateCounts();
}

scroller.addEventListener(
  "scroll",
  () => {
    const away = !atEdge();
    if (away === state.scrolledAway) return;
    state.scrolledAway = away;
    release();
  },
  { passive: true },
);
// The pointer over the feed holds it until it leaves: the comment under
// the cursor stays put however long it rests there. A finger on a touch
// screen does not hover, so it does not count.
function hover(ev) {
  if (ev.pointerType === "touch" || state.hovering) return;
  state.hovering = true;
  updateCounts();
}
scroller.addEventListener("pointerenter", hover);
scroller.addEventListener("pointermove", hover);
// The "N new" button floats over the feed: appearing under a resting
// cursor, it must not count as the cursor leaving (and let the feed run).
const newBtn = document.getElementById("new-btn");
const overFeed = (el) => !!el && (scroller.contains(el) || newBtn.contains(el));
function leave(ev) {
  if (!state.hovering || overFeed(ev.relatedTarget)) return;
  state.hovering = false;
  release();
}
scroller.addEventListener("pointerleave", leave);
newBtn.addEventListener("pointerleave", leave);

// A menu is open: a dialog (the help), the panels drawer of a narrow
// screen, or a drop-down list from the moment it is clicked until a choice,
// Esc or leaving it. The comment read before stays where it was.
const app = document.getElementById("app");
const sideBtn = document.getElementById("side-btn");
let listOpen = false;
function refreshMenu() {
  const drawer = app.classList.contains("show-side") && sideBtn.offsetParent !== null;
  const open = listOpen || drawer || !!document.querySelector("dialog[open]");
  if (open === state.menuOpen) return;
  state.menuOpen = open;
  release();
}
new MutationObserver(refreshMenu).observe(app, { attributes: true, attributeFilter: ["class"] });
for (const dialog of document.querySelectorAll("dialog")) {
  new MutationObserver(refreshMenu).observe(dialog, { attributes: true, attributeFilter: ["open"] });
}
for (const list of document.querySelectorAll("select")) {
  list.addEventListener("pointerdown", () => {
    listOpen = true;
    refreshMenu();
  });
  const closed = () => {
    listOpen = false;
    refreshMenu();
  };
  list.addEventListener("change", closed);
  list.addEventListener("blur", closed);
  list.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" || ev.key === "Enter" || ev.key === "Tab") closed();
  });
}
window.addEventListener("resize", refreshMenu);

/** Back to the newest: the selection and the pointer stop holding. */
export function backToLive() {
  select(null);
  state.hovering = false;
  goLive();
}
newBtn.addEventListener("click", backToLive);

// The Pause button (P clicks it too).
function togglePause() {
  state.manualPause = !state.manualPause;
  release();
}
document.getElementById("pause-btn").addEventListener("click", togglePause);

bindCheck("hover-pause", "hoverPause", release);

// ------------------------------------------------------------- unread
// An unread comment is read once it has been in view for a moment (long
// enough to see its stripe) while the tab is visible: scrolling to it is
// reading it. The observer watches every unread item the feed adds.
const DWELL_MS = 1500;
const inView = new Map(); // item -> when it came into view on a visible tab (0: not yet)
const visible = () => document.visibilityState === "visible";
const seen = new IntersectionObserver(
  (changes) => {
    for (const ch of changes) {
      // Half of it in view, or half the view for one taller than that.
      const root = ch.rootBounds ? ch.rootBounds.height : Infinity;
      const shown = ch.isIntersecting && (ch.intersectionRatio >= 0.5 || ch.intersectionRect.height >= root * 0.5);
      if (!shown) inView.delete(ch.target);
      else if (!inView.has(ch.target)) inView.set(ch.target, visible() ? Date.now() : 0);
    }
  },
  { root: scroller, threshold: [0, 0.25, 0.5, 0.75, 1] },
);
function watch(li) {
  if (li.classList && li.classList.contains("unread")) seen.observe(li);
}
new MutationObserver((muts) => {
  // Removed first: a rebuild removes and adds the same items in one record.
  for (const m of muts) {
    for (const n of m.removedNodes) {
      if (n.nodeType !== 1) continue;
      seen.unobserve(n);
      inView.delete(n);
    }
    for (const n of m.addedNodes) watch(n);
  }
}).observe(document.getElementById("feed"), { childList: true });
document.addEventListener("visibilitychange", () => {
  const at = visible() ? Date.now() : 0;
  for (const li of inView.keys()) inView.set(li, at);
});
setInterval(() => {
  if (!visible() || inView.size === 0) return;
  const now = Date.now();
  let changed = false;
  for (const [li, since] of inView) {
    if (!since) {
      inView.set(li, now);
      continue;
    }
    if (now - since < DWELL_MS) continue;
    const e = entryOf(li);
    if (e && e.unread) {
      markRead(e);
      changed = true;
    }
    seen.unobserve(li);
    inView.delete(li);
  }
  if (changed) updateCounts();
}, 250);
