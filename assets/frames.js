// commentwatch dashboard: frames — what each /ws frame does to the page:
// `hello` marks where the backlog ends, `status` and `featured` are drawn,
// `hidden` replaces the hidden list,
// and a `comment`, `update` or `delete` changes the model and then the
// feed (at the next frame, or into `state.pending` while paused).
// connection.js has already dropped frames it saw before.
//
// Must not touch the socket (connection.js) nor draw anything itself: it
// calls the module that owns each part of the page.
import { t } from "./i18n.js";
import { MODEL_CAP, key, model, state, seenAuthors, wasUnread, saveUnread, isPaused, passes, isHighlighted } from "./model.js";
import { scheduleRender, fill, removeNode, clearFeed, updateCounts, hold, markGap, closeGap } from "./feed.js";
import { renderFeatured } from "./featured.js";
import { applyHidden } from "./hiding.js";
import { setConn, renderStatus, refreshToday, resetToday, countRate, countToday, showOffline, showBackOnline, isOffline } from "./status.js";
import { alertFor } from "./alerts.js";

// After a reconnect, until the resume's replay is in: the seq the server
// had at `hello` and how many new comments came up to it. The replay
// follows `hello` at once; should its last seq never come (pruned, or a
// change the replay leaves out), a quiet second ends it too.
const REPLAY_QUIET_MS = 1500;
let catchUp = null;
let caughtCount = 0; // new comments caught up since the connection dropped
let lostTrack = false; // the log changed while offline: no honest count

/** The connection dropped (called again at each failed retry). */
export function connectionLost() {
  setConn("offline", t("offline"));
  // Dropped again before the replay was in: the next replay goes on
  // from where this one stopped, and the count with it.
  if (catchUp) clearTimeout(catchUp.timer);
  catchUp = null;
  if (isOffline()) return;
  caughtCount = 0;
  lostTrack = false;
  showOffline(state.lastFrameAt);
  markGap();
}
function caughtUp() {
  clearTimeout(catchUp.timer);
  const n = lostTrack ? null : caughtCount;
  catchUp = null;
  lostTrack = false;
  showBackOnline(n);
  closeGap(n);
}

/** One frame the connection accepted. */
export function onFrame(frame) {
  state.lastFrameAt = Date.now();
  if (typeof frame.seq === "number") state.lastSeq = Math.max(state.lastSeq, frame.seq);
  switch (frame.type) {
    case "hello":
      if (state.backlogSeq === null) state.backlogSeq = frame.latest_seq;
      setConn("live", t("live"));
      refreshToday();
      if (isOffline()) {
        if (catchUp) clearTimeout(catchUp.timer);
        catchUp = { upTo: frame.latest_seq, timer: 0 };
        if (frame.latest_seq <= state.lastSeq) caughtUp();
        else catchUp.timer = setTimeout(caughtUp, REPLAY_QUIET_MS);
      }
      break;
    case "status":
      renderStatus(frame.sources || []);
      break;
    case "featured":
      renderFeatured(frame.comments || [], frame.max);
      break;
    case "hidden":
      applyHidden(frame.words, frame.authors);
      break;
    case "comment":
      add(frame.seq, frame.comment);
      break;
    case "update":
      update(frame.comment);
      break;
    case "delete":
      markDeleted(frame.source, frame.id);
      break;
  }
  if (catchUp && typeof frame.seq === "number") {
    if (frame.seq >= catchUp.upTo) caughtUp();
    else {
      clearTimeout(catchUp.timer);
      catchUp.timer = setTimeout(caughtUp, REPLAY_QUIET_MS);
    }
  }
}

/** The server keeps another log now: forget every comment. */
export function clearAll() {
  clearFeed();
  model.clear();
  state.entries = [];
  state.pending = [];
  state.pendingCount = 0;
  state.toInsert = [];
  state.unreadCount = 0;
  state.selected = null;
  state.backlogSeq = null;
  state.lastSeq = 0;
  state.gapEntry = null;
  if (isOffline()) lostTrack = true;
  resetToday();
  updateCounts();
}

// A new comment: into the model, then (if the filters let it through)
// onto the page at the next frame, or into `pending` while paused.
function add(seq, c) {
  const k = key(c.source, c.id);
  const known = model.get(k);
  if (known) {
    known.c = c;
    if (known.node) fill(known.node, known);
    return;
  }
  const live = state.backlogSeq !== null && seq > state.backlogSeq;
  // Unread: what arrives while nobody can see it come in (the tab is
  // hidden, the feed holds, or the connection was down and the resume
  // catches it up), and what was left unread before a reload. A comment
  // that appears on a visible, running feed is seen as it comes.
  const caught = catchUp !== null && seq <= catchUp.upTo;
  const unseen = document.visibilityState === "hidden" || isPaused() || caught;
  const unread = (live && unseen) || wasUnread.has(k);
  const e = { seq, c, node: null, unread, hl: false };
  if (caught) caughtCount += 1;
  model.set(k, e);
  state.entries.push(e);
  if (unread) {
    state.unreadCount += 1;
    saveUnread();
  }
  countRate(c);
  countToday(seq);
  if (state.entries.length > MODEL_CAP) dropOldest(state.entries.length - MODEL_CAP);
  const authorKey = (c.author && (c.author.id || c.author.name)) || "";
  const newAuthor = authorKey && !seenAuthors.has(authorKey);
  if (seenAuthors.size > 50000) seenAuthors.clear();
  seenAuthors.add(authorKey);
  if (!passes(e)) return;
  e.hl = isHighlighted(c);
  if (live) alertFor(e, newAuthor);
  if (isPaused()) {
    hold([e]);
    updateCounts();
    return;
  }
  state.toInsert.push(e);
  scheduleRender();
}

function update(c) {
  const e = model.get(key(c.source, c.id));
  // An edit of a comment older than what this page holds: it is not
  // shown, and the log has it.
  if (!e) return;
  e.c = c;
  e.edited = true;
  if (!e.node) return;
  if (!passes(e)) {
    removeNode(e);
    return;
  }
  e.hl = isHighlighted(c);
  fill(e.node, e);
}

function markDeleted(source, id) {
  const e = model.get(key(source, id));
  if (!e) return;
  e.c = Object.assign({}, e.c, { deleted: true });
  if (e.node) e.node.classList.add("deleted");
}

function dropOldest(n) {
  const gone = state.entries.splice(0, n);
  for (const e of gone) {
    model.delete(key(e.c.source, e.c.id));
    if (e.unread) state.unreadCount -= 1;
    if (e.node) removeNode(e);
    if (state.selected === e) state.selected = null;
  }
}
