// commentwatch dashboard: keys — the keyboard shortcuts (listed in the help
// dialog, #help) and the buttons on each comment (☆ feature, ✓ answered,
// ⊘ hide), both of which act on a comment through the modules that own
// the action.
//
// Must not touch the DOM beyond the help dialog and what a key stands for;
// no state of its own but the dialog's.
import { entryOf, state } from "./model.js";
import { feed } from "./feed.js";
import { release, backToLive } from "./scroll.js";
import { select, nextUnread, moveSelection, toggleAnswered, markAllRead, newestShown } from "./reading.js";
import { toggleFeatured } from "./featured.js";
import { hideAuthor, undoHide } from "./hiding.js";
import { focusFilter } from "./filters.js";

const $ = (id) => document.getElementById(id);

const help = $("help");
$("help-btn").addEventListener("click", () => help.showModal());
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const typing = ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable]");
  if (ev.key === "Escape") {
    if (typing) ev.target.blur();
    select(null);
    release();
    return;
  }
  if (typing || help.open) return;
  const k = ev.key;
  const selected = state.selected;
  let handled = true;
  if (k === "?") help.showModal();
  else if (k === "/") focusFilter();
  else if (k === "p" || k === "P") $("pause-btn").click();
  else if (k === "f" || k === "F") {
    // Only a selected comment goes on stream by key: with none, F selects
    // the newest (and shows it), and a second F features it.
    if (selected) toggleFeatured(selected);
    else if (newestShown()) select(newestShown(), true);
  }
  else if (k === "n" || k === "N") nextUnread();
  else if (k === "j") moveSelection(true);
  else if (k === "k") moveSelection(false);
  else if (k === "a" || k === "A") toggleAnswered(selected);
  else if (k === "h" || k === "H") hideAuthor(selected);
  else if (k === "u" || k === "U") undoHide();
  else if (k === "l" || k === "L") backToLive();
  else if (k === "m" || k === "M") markAllRead();
  else if (k === "q" || k === "Q") $("only-questions").click();
  else if (k === "$") $("only-paid").click();
  else handled = false;
  if (handled) ev.preventDefault();
});

// A click on a comment selects it; on one of its buttons, does that.
feed.addEventListener("click", (ev) => {
  const li = ev.target.closest("li.comment");
  const e = entryOf(li);
  if (!e) return;
  const act = ev.target.closest("button.act");
  if (act) {
    if (act.dataset.act === "feature") toggleFeatured(e);
    else if (act.dataset.act === "answered") toggleAnswered(e);
    else if (act.dataset.act === "hide") hideAuthor(e);
    return;
  }
  if (ev.target.closest("a")) return;
  select(e, false);
});
