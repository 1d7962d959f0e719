// commentwatch overlay: an OBS browser source showing the featured comments
// (or the latest ones) on a transparent page.
//
// Built to run for hours inside OBS's embedded Chromium without leaking or
// stuttering: frames only change a small desired state; the DOM is patched
// at most once per animation frame, however many frames came in (one card
// per comment, never a full re-render), with every height read before
// anything is written; there are never more than `limit` cards plus a few
// leaving,
// and every animation is a CSS transform/opacity the compositor runs.
//
// Safety rule, as on the dashboard: comment strings reach the page only via
// textContent, except `comment.html`, which the server sanitized and which
// only `render.js` assigns to innerHTML. No HTML is built from strings.
// Loaded as <script type="module">; the socket (reconnect, `since`, a new
// log) is connection.js's, shared with the dashboard. Must not touch the
// dashboard's modules nor send anything: the overlay only reads.
import { fillBody } from "./render.js";
import { fillWho, colorName, rootVar, fillEvent, markKind } from "./speaker.js";
import { setLang } from "./i18n.js";
import { openFeed } from "./connection.js";

const params = new URLSearchParams(location.search);

// The overlay's few words (a membership's or a gift's line) follow `lang=`
// (`en` or `zh`), else the browser's language: OBS's follows the system's,
// which may not be the stream's.
const LANGS = { en: "en", zh: "zh-CN", "zh-cn": "zh-CN" };
const lang = LANGS[(params.get("lang") || "").toLowerCase()] || (/^zh/i.test(navigator.language || "") ? "zh-CN" : "en");
setLang(lang);
document.documentElement.lang = lang;
const int = (name, def, min, max) => {
  const v = parseInt(params.get(name) || "", 10);
  return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : def;
};
const mode = params.get("mode") === "latest" ? "latest" : "featured";
const limit = int("limit", 5, 1, 20);
const fadeMs = int("fade", 0, 0, 3600) * 1000;
const size = int("size", 28, 10, 96);
const theme = ["dark", "light", "plain", "bubble"].includes(params.get("theme")) ? params.get("theme") : "dark";
// Which corner the cards stack in; the newest is always nearest the edge
// the stack grows from (the bottom, or the top).
const POSITIONS = ["bottom-left", "top-left", "bottom-right", "top-right"];
const pos = POSITIONS.includes(params.get("pos")) ? params.get("pos") : "bottom-left";
// A locally installed font by name; anything but letters, digits, spaces
// and - is dropped, and the name is quoted, so it stays one family name.
const font = (params.get("font") || "").replace(/[^\p{L}\p{N} \-]/gu, "").trim().slice(0, 60);
const key = params.get("key") || "";
const LEAVE_MS = 450;
const MAX_LEAVING = 8;

const stage = document.getElementById("stage");
const template = document.getElementById("card-template");
const root = document.documentElement;
root.dataset.theme = theme;
root.dataset.mode = mode;
root.dataset.pos = pos;
root.style.setProperty("--size", size + "px");
if (font) root.style.setProperty("--font", '"' + font + '", ' + getComputedStyle(root).getPropertyValue("--font-fallback"));

// Hidden words and authors (lower-cased), as the dashboard matches them:
// a word anywhere in the text, an author by name or id. The page starts
// with the list as it was at load; every `hidden` frame replaces it.
let hiddenWords = [];
let hiddenAuthors = new Set();
const fold = (s) => String(s || "").trim().toLowerCase();
function setHidden(words, authors) {
  hiddenWords = (words || []).map(fold).filter(Boolean);
  hiddenAuthors = new Set((authors || []).map(fold).filter(Boolean));
}
try {
  const cfg = JSON.parse(stage.dataset.config || "{}");
  const entries = (cfg.block || []).map(String);
  const isAuthor = (w) => fold(w).startsWith("author:");
  setHidden(entries.filter((w) => !isAuthor(w)), entries.filter(isAuthor).map((w) => w.trim().slice(7)));
} catch (_) {
  setHidden([], []);
}
function blocked(c) {
  const a = c.author || {};
  if (hiddenAuthors.size && (hiddenAuthors.has(fold(a.name)) || hiddenAuthors.has(fold(a.id)))) return true;
  const text = fold(c.text);
  return hiddenWords.some((w) => text.includes(w));
}

const key2 = (c) => c.source + "\u0000" + c.id;
// What should be on screen, oldest first (at most `limit`).
let wanted = [];
const cards = new Map(); // key -> { li, c, shownAt }
const expired = new Set(); // featured keys whose time ran out

// ------------------------------------------------------------ render
// One DOM update per animation frame: a burst of frames between two
// frames costs one update, and a comment is on screen by the next frame
// (a wait of ten updates a second would add up to 100 ms to it).
let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}

function render() {
  const now = Date.now();
  const want = wanted.filter((c) => !expired.has(key2(c))).slice(-limit);
  const keep = new Set(want.map(key2));
  const going = [];
  for (const [k, card] of cards) {
    if (!keep.has(k)) going.push([k, card]);
  }
  // Every height first, then the writes: one layout for all that leave.
  const heights = going.map(([, card]) => card.li.offsetHeight);
  going.forEach(([k, card], i) => leave(k, card, heights[i]));
  let prev = null;
  for (const c of want) {
    const k = key2(c);
    let card = cards.get(k);
    if (!card) {
      const li = template.content.firstElementChild.cloneNode(true);
      card = { li, c: null, shownAt: now };
      cards.set(k, card);
      li.classList.add("entering");
      li.addEventListener("animationend", () => li.classList.remove("entering"), { once: true });
    }
    if (card.c !== c) {
      fill(card.li, c);
      card.c = c;
    }
    // Keep DOM order = wanted order, moving only what is out of place.
    const after = prev ? prev.nextElementSibling : stage.firstElementChild;
    if (after !== card.li) stage.insertBefore(card.li, after);
    prev = card.li;
  }
  // Leaving cards sit where they were; if too many pile up, go at once.
  const leaving = stage.querySelectorAll(".card.leaving");
  for (let i = 0; i < leaving.length - MAX_LEAVING; i++) leaving[i].remove();
  fit();
}

// Cards never run off the screen: at large sizes, or with many long
// comments, the oldest cards that do not fit whole are not shown (the
// newest always is; its text is clamped to a few lines by the CSS).
function fit() {
  const live = [...stage.querySelectorAll(".card:not(.leaving)")];
  for (const li of live) li.classList.remove("no-room");
  const cs = getComputedStyle(stage);
  const gap = parseFloat(cs.rowGap) || 0;
  let room = stage.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
  for (const li of stage.querySelectorAll(".card.leaving")) room -= li.offsetHeight + gap;
  for (let i = live.length - 1; i >= 0; i--) {
    const h = live[i].offsetHeight;
    if (h > room && i < live.length - 1) {
      // Unshown, a card runs no animation, so it would stay "entering".
      for (let j = i; j >= 0; j--) live[j].classList.replace("entering", "no-room") || live[j].classList.add("no-room");
      break;
    }
    room -= h + gap;
  }
}
window.addEventListener("resize", fit);

// Each author keeps one avatar colour, from their id (or name): a hue from
// a small string hash, so the same viewer is the same colour every time.
function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (Math.imul(h, 31) + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

function leave(k, card, height) {
  cards.delete(k);
  const li = card.li;
  // The height is fixed first so that the collapse can animate from it.
  li.style.setProperty("--h", height + "px");
  li.classList.remove("entering");
  li.classList.add("leaving");
  const gone = () => li.remove();
  li.addEventListener("animationend", gone, { once: true });
  setTimeout(gone, LEAVE_MS + 200); // in case animations are off
}

function fill(li, c) {
  li.dataset.source = c.source;
  li.dataset.id = c.id;
  li.dataset.shownAt = li.dataset.shownAt || String(Date.now());
  li.classList.toggle("paid", !!c.amount);
  const author = c.author || {};
  li.querySelector(".author").textContent = author.name || "";
  const avatar = li.querySelector(".avatar");
  avatar.style.setProperty("--hue", String(hue(author.id || author.name || "")));
  const src = author.avatar || "";
  if (avatar.dataset.src !== src || !avatar.childNodes.length) {
    avatar.dataset.src = src;
    avatar.replaceChildren();
    if (src) {
      const img = document.createElement("img");
      img.src = src; // https on a platform image host, checked server-side
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", () => {
        avatar.textContent = Array.from((author.name || "?").trim())[0] || "?";
      }, { once: true });
      avatar.append(img);
    } else {
      avatar.textContent = Array.from((author.name || "?").trim())[0] || "?";
    }
  }
  // On stream: who and the owner's marks, not where they posted from.
  fillWho(li.querySelector(".roles"), c, { location: false });
  colorName(li.querySelector(".author"), author, () => rootVar("--card"));
  markKind(li, c);
  const amount = li.querySelector(".amount");
  amount.hidden = !c.amount;
  amount.textContent = c.amount ? c.amount.display : "";
  fillEvent(li.querySelector(".event"), c);
  fillBody(li.querySelector(".body"), c);
}


// Cards whose time is up leave; one timer for all of them.
if (fadeMs > 0) {
  setInterval(() => {
    const now = Date.now();
    let changed = false;
    for (const [k, card] of cards) {
      if (now - card.shownAt >= fadeMs) {
        expired.add(k);
        changed = true;
      }
    }
    if (mode === "latest" && changed) wanted = wanted.filter((c) => !expired.has(key2(c)));
    if (changed) schedule();
  }, 1000);
}

// ------------------------------------------------------------ frames
// connection.js keeps the socket, its backoff and the seq bookkeeping;
// this says what each frame it accepts does to the cards.
function handle(frame) {
  switch (frame.type) {
    case "hidden": {
      // Hiding someone takes their cards off at once, in either mode.
      setHidden(frame.words, frame.authors);
      wanted = wanted.filter((c) => !blocked(c));
      schedule();
      break;
    }
    case "featured": {
      if (mode !== "featured") return;
      const list = (frame.comments || []).filter((c) => !blocked(c));
      // A comment taken off and featured again gets a fresh timer.
      const now = new Set(list.map(key2));
      for (const k of expired) if (!now.has(k)) expired.delete(k);
      wanted = list;
      schedule();
      break;
    }
    case "comment":
    case "update":
    case "delete": {
      if (mode !== "latest") return;
      if (frame.type === "delete") {
        wanted = wanted.filter((c) => !(c.source === frame.source && c.id === frame.id));
      } else if (frame.type === "update") {
        const k = key2(frame.comment);
        wanted = wanted.map((c) => (key2(c) === k ? frame.comment : c)).filter((c) => !blocked(c));
      } else if (!blocked(frame.comment) && !frame.comment.deleted) {
        wanted.push(frame.comment);
        // Only the newest `limit` can be shown: keep no more in memory.
        if (wanted.length > limit * 2) wanted = wanted.slice(-limit);
      }
      schedule();
      break;
    }
  }
}

openFeed({
  path: "/overlay/ws",
  params: () => {
    const q = new URLSearchParams({ mode });
    if (key) q.set("key", key);
    return q;
  },
  // Only the latest comments resume where they left off; the featured
  // queue is sent whole on every connect (and sends no hello).
  resume: () => mode === "latest",
  resetBackoffOnOpen: mode === "featured",
  onFrame: handle,
  onReset: () => {
    // Another log: our seq means nothing there. Start over.
    wanted = [];
    schedule();
  },
});
