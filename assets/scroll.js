// commentwatch dashboard: scroll — when the feed holds still. It holds while
// the reader is away from the live edge, while the Pause button (P) is on,
// while the pointer is over the feed (resting or moving: a still cursor
// never lapses), while a comment is selected, and while a dialog or a
// drop-down list is open. New comments wait, counted on the "N new
// comments" button; clicking it (or L) goes back to the live edge.
//
// Must not touch the feed's items: it only changes the hold state in
// `state` and calls feed.js's `resume`, `goLive` and `updateCounts`.
import { bindCheck } from "./settings.js";
import { state, isPaused } from "./model.js";
import { scroller, atEdge, resume, goLive, updateCounts } from "./feed.js";
import { select } from "./reading.js";

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
scroller.addEventListener("pointerleave", () => {
  if (!state.hovering) return;
  state.hovering = false;
  release();
});

// A dialog (the help) or an open drop-down list takes the focus: hold
// while it has it, so the comment read before stays where it was.
const isMenu = (el) => !!(el && el.closest && el.closest("dialog, select"));
document.addEventListener("focusin", (ev) => {
  const open = isMenu(ev.target);
  if (open === state.menuOpen) return;
  state.menuOpen = open;
  release();
});
document.addEventListener("focusout", (ev) => {
  if (!state.menuOpen || isMenu(ev.relatedTarget)) return;
  state.menuOpen = false;
  release();
});

/** Back to the newest: the selection and the pointer stop holding. */
export function backToLive() {
  select(null);
  state.hovering = false;
  goLive();
}
document.getElementById("new-btn").addEventListener("click", backToLive);

// The Pause button (P clicks it too).
function togglePause() {
  state.manualPause = !state.manualPause;
  release();
}
document.getElementById("pause-btn").addEventListener("click", togglePause);

bindCheck("hover-pause", "hoverPause", release);
