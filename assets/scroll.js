// commentwatch dashboard: scroll — when the feed holds still. Scrolling
// away from the live edge, the Pause button (P) or moving the mouse over
// the feed pauses it (new comments wait, counted on the "N new comments"
// button); coming back, resting the mouse or clicking that button resumes.
//
// Must not touch the feed's items: it only changes the pause state in
// `state` and calls feed.js's `resume`, `goLive` and `updateCounts`.
import { settings, bindCheck } from "./settings.js";
import { HOVER_HOLD_MS, state, isPaused } from "./model.js";
import { scroller, atEdge, resume, goLive, updateCounts } from "./feed.js";

let hoverTimer = 0;

scroller.addEventListener(
  "scroll",
  () => {
    const away = !atEdge();
    if (away === state.scrolledAway) return;
    state.scrolledAway = away;
    if (!isPaused()) resume();
    else updateCounts();
  },
  { passive: true },
);
// Moving the mouse over the feed holds it (the comment you aim at stays
// put); resting it lets the feed run again after a moment.
scroller.addEventListener("pointermove", (ev) => {
  if (!settings.hoverPause || ev.pointerType === "touch") return;
  const was = isPaused();
  state.hoverUntil = Date.now() + HOVER_HOLD_MS;
  if (!was) updateCounts();
  clearTimeout(hoverTimer);
  hoverTimer = setTimeout(() => {
    if (!isPaused()) resume();
  }, HOVER_HOLD_MS + 50);
});
scroller.addEventListener("pointerleave", () => {
  state.hoverUntil = 0;
  if (!isPaused()) resume();
});

document.getElementById("new-btn").addEventListener("click", goLive);

// The Pause button (P clicks it too).
function togglePause() {
  state.manualPause = !state.manualPause;
  if (!isPaused()) resume();
  updateCounts();
}
document.getElementById("pause-btn").addEventListener("click", togglePause);

bindCheck("hover-pause", "hoverPause", () => {
  state.hoverUntil = 0;
  if (!isPaused()) resume();
});
