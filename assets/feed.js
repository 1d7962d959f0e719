// commentwatch dashboard: feed — the list of comments on the page. Entries
// from the model become one <li> each (cloned from #comment-template and
// filled through textContent, plus render.js for the body), inserted at the
// live edge in batches once per animation frame and trimmed at the far end;
// only a change of filter, order or hide list rebuilds the list. While the
// reader is away from the live edge, new ones wait in `state.pending` and
// the "N new comments" button counts them (`resume` lets them in).
//
// Must not touch: the connection, settings storage, the side panels.
// No HTML is built from strings here.
import { t, lang } from "./i18n.js";
import { settings, highlights } from "./settings.js";
import { fillBody, fillBadge } from "./render.js";
import { fillWho, colorName, rootVar, fillEvent, markKind } from "./speaker.js";
import { MAX_RENDERED, key, model, state, answered, featuredKeys, entryOf, isPaused, holdReason, passes, isHighlighted } from "./model.js";
import { drawRateSoon } from "./status.js";

const EDGE_PX = 8; // this close to the live edge counts as "at" it

const $ = (id) => document.getElementById(id);
export const feed = $("feed");
export const scroller = $("scroller");
export const commentTemplate = $("comment-template");
const empty = $("empty");
const counter = $("counter");
const newBtn = $("new-btn");

/** Chat order: newest at the bottom. */
export const bottom = () => settings.order === "bottom";

export function atEdge() {
  if (bottom()) return scroller.scrollHeight - scroller.clientHeight - scroller.scrollTop <= EDGE_PX;
  return scroller.scrollTop <= EDGE_PX;
}
function toEdge() {
  scroller.scrollTop = bottom() ? scroller.scrollHeight : 0;
}
// At the live edge in chat order, new comments below must stay in view.
function stickToEdge() {
  if (bottom() && !isPaused()) toEdge();
}

let renderScheduled = false;
export function scheduleRender() {
  if (renderScheduled) return;
  renderScheduled = true;
  // requestAnimationFrame batches a burst into one DOM change per frame;
  // the timeout covers a hidden tab, where frames do not run.
  const run = () => {
    if (!renderScheduled) return;
    renderScheduled = false;
    renderBatch();
  };
  requestAnimationFrame(run);
  setTimeout(run, 250);
}

function renderBatch() {
  let batch = state.toInsert;
  state.toInsert = [];
  if (batch.length === 0) return;
  if (isPaused()) {
    // The feed began to hold after these were queued: they wait too.
    hold(batch);
    updateCounts();
    return;
  }
  // Of a flood, only the newest MAX_RENDERED can be on the page anyway.
  if (batch.length > MAX_RENDERED) batch = batch.slice(batch.length - MAX_RENDERED);
  const frag = document.createDocumentFragment();
  const fresh = calm(batch.length);
  if (bottom()) {
    for (const e of batch) frag.append(nodeFor(e, fresh));
    feed.append(frag);
  } else {
    for (let i = batch.length - 1; i >= 0; i--) frag.append(nodeFor(batch[i], fresh));
    feed.prepend(frag);
  }
  trim();
  stickToEdge();
  updateCounts();
  // The chart follows arrivals within a second, not once per comment.
  drawRateSoon();
}

// A new row glows a moment, unless rows come faster than one can read
// (more than GLOW_MAX a second): during a flood the glow would restyle and
// repaint rows every frame for as long as it lasts.
const GLOW_MAX = 8;
let glowSecond = 0;
let glowCount = 0;
function calm(n) {
  const now = performance.now();
  if (now - glowSecond >= 1000) {
    glowSecond = now;
    glowCount = 0;
  }
  glowCount += n;
  return glowCount <= GLOW_MAX;
}

function nodeFor(e, fresh) {
  const li = commentTemplate.content.firstElementChild.cloneNode(true);
  li.dataset.seq = String(e.seq);
  e.node = li;
  fill(li, e);
  if (fresh) li.classList.add("fresh");
  return li;
}

// Keeps at most MAX_RENDERED comments, dropping from the far (old) end.
function trim() {
  let extra = feed.childElementCount - MAX_RENDERED;
  while (extra-- > 0) {
    const old = bottom() ? feed.firstElementChild : feed.lastElementChild;
    const e = entryOf(old);
    if (e) e.node = null;
    if (e && state.selected === e) state.selected = null;
    old.remove();
  }
}

export function removeNode(e) {
  if (!e.node) return;
  e.node.remove();
  e.node = null;
}

/** Takes every comment off the page (the model is cleared by its owner). */
export function clearFeed() {
  for (const e of state.entries) e.node = null;
  feed.replaceChildren();
}

// Shows the newest MAX_RENDERED comments that pass the filters: after a
// change of filter, order or block list, never per frame.
export function rebuild() {
  const entries = state.entries;
  const chosen = [];
  for (let i = entries.length - 1; i >= 0 && chosen.length < MAX_RENDERED; i--) {
    const e = entries[i];
    if (passes(e)) {
      e.hl = isHighlighted(e.c);
      chosen.push(e);
    }
  }
  const keep = new Set(chosen);
  for (const e of entries) if (e.node && !keep.has(e)) e.node = null;
  if (bottom()) chosen.reverse();
  const nodes = chosen.map((e) => {
    if (e.node) {
      fill(e.node, e);
      e.node.classList.remove("fresh");
      return e.node;
    }
    return nodeFor(e, false);
  });
  feed.replaceChildren(...nodes);
  state.pending = [];
  state.pendingCount = 0;
  state.toInsert = [];
  if (state.selected && !state.selected.node) state.selected = null;
  state.scrolledAway = false;
  toEdge();
  updateCounts();
}

/** Sets everything an item shows from its entry; safe to call again. */
export function fill(li, e) {
  const c = e.c;
  li.dataset.source = c.source;
  li.dataset.id = c.id;
  li.classList.toggle("edited", !!(c.edited || e.edited));
  li.classList.toggle("deleted", !!c.deleted);
  li.classList.toggle("paid", !!c.amount);
  li.classList.toggle("unread", !!e.unread);
  li.classList.toggle("hl", !!e.hl);
  li.classList.toggle("answered", answered.has(key(c.source, c.id)));
  setFeaturedMark(li, featuredKeys.has(key(c.source, c.id)));
  li.classList.toggle("selected", state.selected === e);
  const author = c.author || {};
  li.querySelector(".author").textContent = author.name || t("noName");
  colorName(li.querySelector(".author"), author, () => rootVar("--panel"));
  renderAvatar(li.querySelector(".avatar"), author);
  fillWho(li.querySelector(".roles"), c);
  markKind(li, c);
  fillBadge(li.querySelector(".source"), c.source);
  const time = li.querySelector(".time");
  time.dateTime = c.published_at;
  time.title = new Date(c.published_at).toLocaleString(lang);
  time.textContent = relative(c.published_at);
  const amount = li.querySelector(".amount");
  amount.hidden = !c.amount;
  amount.textContent = c.amount ? c.amount.display : "";
  if (c.amount) li.dataset.tier = String(tier(c.amount));
  else delete li.dataset.tier;
  const likes = li.querySelector(".likes");
  likes.hidden = !(c.likes > 0);
  likes.textContent = c.likes > 0 ? "♥ " + c.likes.toLocaleString() : "";
  const reply = li.querySelector(".reply-to");
  reply.hidden = !c.reply_to;
  if (c.reply_to) {
    const parent = model.get(key(c.source, c.reply_to));
    if (parent) {
      const name = (parent.c.author && parent.c.author.name) || t("noName");
      const snippet = Array.from(parent.c.text || "").slice(0, 80).join("");
      reply.textContent = t("replyingTo", name) + (snippet ? ": " + snippet : "");
    } else {
      reply.textContent = t("reply");
    }
  }
  fillEvent(li.querySelector(".event"), c);
  const body = li.querySelector(".body");
  fillBody(body, c);
  if (e.hl) markWords(body);
  drawGap(li, e);
}

// ------------------------------------------------------------------ gap
// Where the connection dropped: a mark on the live-edge side of the newest
// comment the page had then, so whatever came after (caught up on
// reconnect) lands beyond it. It says when, and how many were caught up.
/** The connection dropped: mark the newest comment that passes the filters. */
export function markGap() {
  const entries = state.entries;
  let e = null;
  for (let i = entries.length - 1; i >= 0 && i >= entries.length - MAX_RENDERED; i--) {
    if (passes(entries[i])) {
      e = entries[i];
      break;
    }
  }
  if (!e) return;
  e.gap = { from: Date.now(), to: 0, caught: null };
  state.gapEntry = e;
  if (e.node) drawGap(e.node, e);
}
/** Connected again: `caught` comments came with the resume (null: unknown). */
export function closeGap(caught) {
  const e = state.gapEntry;
  state.gapEntry = null;
  if (!e || !e.gap || e.gap.to) return;
  e.gap.to = Date.now();
  e.gap.caught = caught;
  if (e.node) drawGap(e.node, e);
}
function drawGap(li, e) {
  let mark = li.querySelector(":scope > .gap-mark");
  li.classList.toggle("gap-after", !!e.gap);
  if (!e.gap) {
    if (mark) mark.remove();
    return;
  }
  if (!mark) {
    mark = document.createElement("div");
    mark.className = "gap-mark";
    mark.setAttribute("role", "separator");
    li.append(mark);
  }
  const g = e.gap;
  const at = (ms) => new Date(ms).toLocaleTimeString(lang);
  if (!g.to) mark.textContent = t("gapOpen", at(g.from));
  else if (g.caught === null) mark.textContent = t("gapClosed", at(g.from), at(g.to));
  else mark.textContent = t("gapCaught", at(g.from), at(g.to), g.caught);
  if (g.caught === null) delete mark.dataset.caught;
  else mark.dataset.caught = String(g.caught);
}

/** The star of an item: on stream or not. */
export function setFeaturedMark(li, on) {
  li.classList.toggle("featured", on);
  const star = li.querySelector("button.feature");
  star.textContent = on ? "★" : "☆";
  star.setAttribute("aria-pressed", String(on));
}

// Super Chat tiers, roughly by value in US dollars (YouTube's colours),
// where the platform does not say its own tier (speaker.js markKind does).
const RATE = { JPY: 0.0067, KRW: 0.00073, TWD: 0.031, CNY: 0.14, HKD: 0.13, INR: 0.012, EUR: 1.08, GBP: 1.27, CAD: 0.73, AUD: 0.66, PHP: 0.018, IDR: 0.000063, THB: 0.028, MXN: 0.055, BRL: 0.18, RUB: 0.011 };
function tier(amount) {
  const usd = (amount.micros / 1e6) * (RATE[amount.currency] || 1);
  if (usd >= 100) return 5;
  if (usd >= 50) return 4;
  if (usd >= 20) return 3;
  if (usd >= 10) return 2;
  if (usd >= 5) return 1;
  return 0;
}

// Wraps highlighted words in <mark>, built as elements over the body's
// text nodes (after the sanitized HTML is in place): no HTML strings.
function markWords(body) {
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    const lower = text.toLowerCase();
    const parts = [];
    let i = 0;
    let from = 0;
    while (i < text.length) {
      const w = highlights.find((h) => h && lower.startsWith(h, i));
      if (w) {
        if (i > from) parts.push(document.createTextNode(text.slice(from, i)));
        const mark = document.createElement("mark");
        mark.textContent = text.slice(i, i + w.length);
        parts.push(mark);
        i += w.length;
        from = i;
      } else {
        i += 1;
      }
    }
    if (parts.length === 0) continue;
    if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
    node.replaceWith(...parts);
  }
}

function renderAvatar(el, author) {
  const src = author.avatar || "";
  if (el.dataset.src === src && el.childNodes.length) return;
  el.dataset.src = src;
  el.replaceChildren();
  if (src) {
    const img = document.createElement("img");
    img.src = src; // https on a platform image host, checked server-side
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    el.append(img);
    delete el.dataset.hue;
  } else {
    el.textContent = Array.from((author.name || "?").trim())[0] || "?";
    el.dataset.hue = String(hue(author.id || author.name || ""));
  }
}
// An avatar that does not load becomes the author's initial (errors do
// not bubble, so one capturing listener serves every image).
feed.addEventListener(
  "error",
  (ev) => {
    const img = ev.target;
    if (!(img instanceof HTMLImageElement) || !img.parentElement || !img.parentElement.classList.contains("avatar")) return;
    const li = img.closest("li.comment");
    const e = entryOf(li);
    const holder = img.parentElement;
    const name = e ? (e.c.author && e.c.author.name) || "?" : "?";
    holder.textContent = Array.from(name.trim())[0] || "?";
    holder.dataset.hue = String(hue(name));
  },
  true,
);

/** Entries that arrive while the feed holds wait behind the "N new" button. */
export function hold(entries) {
  for (const e of entries) state.pending.push(e);
  state.pendingCount += entries.length;
  if (state.pending.length > MAX_RENDERED) state.pending.splice(0, state.pending.length - MAX_RENDERED);
}

// Back to the live edge: what waited comes in, in one go.
export function resume() {
  if (state.pendingCount > state.pending.length) {
    // More arrived than the page may hold: show the newest from scratch.
    rebuild();
    return;
  }
  if (state.pending.length) {
    state.toInsert = state.pending.concat(state.toInsert);
    state.pending = [];
    state.pendingCount = 0;
    renderBatch();
  }
  state.pendingCount = 0;
  toEdge();
  updateCounts();
}

export function goLive() {
  state.manualPause = false;
  state.scrolledAway = false;
  resume();
  toEdge();
  updateCounts();
}

const HOLD_TEXT = { manual: "pausedManual", scroll: "pausedScroll", selected: "pausedSelected", menu: "pausedMenu", hover: "pausedHover" };

/** The counters above the feed, the pause note and the "N new" button. */
export function updateCounts() {
  const n = state.pendingCount;
  newBtn.hidden = n === 0;
  if (n) newBtn.textContent = t("newComments", n) + (bottom() ? " ↓" : " ↑");
  newBtn.dataset.count = String(n);
  const note = $("pause-note");
  const why = holdReason();
  note.hidden = !why;
  note.dataset.reason = why;
  if (why) note.textContent = t(HOLD_TEXT[why]);
  const pauseBtn = $("pause-btn");
  pauseBtn.setAttribute("aria-pressed", String(state.manualPause));
  pauseBtn.lastElementChild.textContent = state.manualPause ? t("resume") : t("pause");
  // Unread that the page can still reach (shown, or waiting to be): more
  // than that is not "unread here" but "new since you looked".
  const shown = feed.childElementCount;
  let reachable = feed.querySelectorAll(":scope > li.comment.unread").length;
  for (const e of state.pending) if (e.unread) reachable += 1;
  const total = state.unreadCount;
  counter.replaceChildren();
  const b = document.createElement("b");
  counter.dataset.unread = String(Math.min(total, reachable));
  counter.dataset.total = String(total);
  if (total > reachable) {
    b.textContent = t("newSince", total);
    counter.append(b, " · " + t("showingLatest", shown));
    counter.title = t("unreadHere", reachable);
  } else {
    b.textContent = t("unread", total);
    counter.append(b, " · " + t("shown", shown));
    counter.removeAttribute("title");
  }
  empty.hidden = feed.childElementCount > 0 || model.size > 0;
}

// An avatar's colour class, from the author's id or name.
function hue(s) {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.codePointAt(0)) % 360;
  return Math.floor(h / 30) * 30; // 12 colour classes in style.css
}

function relative(iso) {
  const secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (!isFinite(secs)) return "";
  if (secs < 45) return t("justNow");
  if (secs < 3600) return t("minAgo", Math.max(1, Math.round(secs / 60)));
  if (secs < 86400) return t("hAgo", Math.round(secs / 3600));
  return new Date(iso).toLocaleDateString(lang);
}

setInterval(() => {
  for (const el of feed.querySelectorAll("time.time")) {
    const text = relative(el.dateTime);
    if (el.textContent !== text) el.textContent = text;
  }
}, 30000);
