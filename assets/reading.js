// commentwatch dashboard: reading — what the streamer has read and answered,
// and the selection (the keyboard cursor): select, next unread, move up or
// down, mark read, mark all read, mark answered.
//
// Must not touch: the network, the feed's order or contents (feed.js), the
// side panels. Answered marks are kept in the settings.
import { save, settings } from "./settings.js";
import { key, state, answered, saveUnread, entryOf } from "./model.js";
import { feed, bottom, updateCounts } from "./feed.js";

export function markRead(e) {
  if (!e || !e.unread) return;
  e.unread = false;
  state.unreadCount -= 1;
  if (e.node) e.node.classList.remove("unread");
  saveUnread();
}
export function markAllRead() {
  for (const e of state.entries) e.unread = false;
  state.unreadCount = 0;
  for (const li of feed.querySelectorAll("li.comment.unread")) li.classList.remove("unread");
  saveUnread();
  updateCounts();
}
export function toggleAnswered(e) {
  if (!e) return;
  const k = key(e.c.source, e.c.id);
  if (answered.has(k)) answered.delete(k);
  else answered.add(k);
  markRead(e);
  // Remember the latest 2,000 answers.
  settings.answered = Array.from(answered).slice(-2000);
  save();
  if (e.node) e.node.classList.toggle("answered", answered.has(k));
  updateCounts();
}
/** Selects an entry shown on the page (or nothing), and marks it read. */
export function select(e, scroll) {
  const selected = state.selected;
  if (selected && selected.node) selected.node.classList.remove("selected");
  state.selected = e && e.node ? e : null;
  if (!state.selected) return;
  state.selected.node.classList.add("selected");
  markRead(state.selected);
  if (scroll) state.selected.node.scrollIntoView({ block: "nearest" });
  updateCounts();
}
// The oldest unread comment on the page: read in the order they came.
export function nextUnread() {
  const items = feed.children;
  const n = items.length;
  for (let i = 0; i < n; i++) {
    const li = items[bottom() ? i : n - 1 - i];
    if (li.classList.contains("unread")) {
      select(entryOf(li), true);
      return;
    }
  }
}
export function moveSelection(older) {
  const cur = state.selected && state.selected.node;
  let li;
  if (!cur) li = bottom() ? feed.lastElementChild : feed.firstElementChild;
  else {
    const towardsTop = older === bottom();
    li = towardsTop ? cur.previousElementSibling : cur.nextElementSibling;
  }
  if (li) select(entryOf(li), true);
}
/** The newest comment on the page: what F features when none is selected. */
export function newestShown() {
  return entryOf(bottom() ? feed.lastElementChild : feed.firstElementChild);
}

document.getElementById("mark-all-read").addEventListener("click", markAllRead);
document.getElementById("next-unread").addEventListener("click", nextUnread);
