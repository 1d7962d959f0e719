// commentwatch dashboard: theme — how the page looks: its theme (system,
// light, dark), its language (English or Simplified Chinese; a change
// redraws every text, the comments' included), the comments' text size,
// long comments clamped to four lines with "more", and the "Panels" drawer
// of narrow screens.
//
// Must not touch the network, the model's contents, a comment's contents
// (feed.js and render.js draw them; here only an item's `expanded` and
// `clamped` classes and its "more" button) or the settings beyond `theme`,
// `lang` and `textSize`.
import { lang, setLang, t, translate } from "./i18n.js";
import { settings, save } from "./settings.js";
import { state } from "./model.js";
import { feed, commentTemplate, fill, updateCounts } from "./feed.js";
import { applyOrder } from "./filters.js";
import { redrawFeatured } from "./featured.js";
import { redrawStatus, renderQuota } from "./status.js";

const $ = (id) => document.getElementById(id);

const THEMES = ["auto", "light", "dark"];
function applyTheme() {
  const th = THEMES.includes(settings.theme) ? settings.theme : "auto";
  if (th === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = th;
  const label = $("theme-label");
  label.dataset.i18n = "theme" + th[0].toUpperCase() + th.slice(1);
  label.textContent = t(label.dataset.i18n);
}
$("theme-btn").addEventListener("click", () => {
  settings.theme = THEMES[(THEMES.indexOf(settings.theme) + 1) % THEMES.length];
  save();
  applyTheme();
  refill();
});
/** Draws every comment again: a name's platform colour is shown only where
 *  it reads well on the theme's background (speaker.js, colorName). */
function refill() {
  for (const e of state.entries) if (e.node) fill(e.node, e);
}
// The system's light or dark changes what "auto" looks like.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", refill);

/** Picks the language (the saved one, else the browser's) and redraws. */
export function applyLang() {
  const wanted = settings.lang || (navigator.languages || [navigator.language || "en"]).find(() => true) || "en";
  setLang(/^zh/i.test(wanted) ? "zh-CN" : "en");
  document.documentElement.lang = lang;
  $("lang-btn").textContent = lang === "en" ? "中文" : "English";
  translate(document);
  translate(commentTemplate.content);
  translate($("featured-template").content);
  translate($("chip-template").content);
  applyOrder();
  applyTheme();
  redrawFeatured();
  redrawStatus();
  for (const e of state.entries) if (e.node) fill(e.node, e);
  updateCounts();
  renderQuota();
}
$("lang-btn").addEventListener("click", () => {
  settings.lang = lang === "en" ? "zh-CN" : "en";
  save();
  applyLang();
});
// The "Panels" drawer of narrow screens: its button opens and closes it;
// Esc or a click anywhere outside it closes it.
const sideBtn = $("side-btn");
function setDrawer(open) {
  $("app").classList.toggle("show-side", open);
  sideBtn.setAttribute("aria-expanded", String(open));
}
const drawerOpen = () => $("app").classList.contains("show-side");
sideBtn.addEventListener("click", () => setDrawer(!drawerOpen()));
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || !drawerOpen() || $("help").open) return;
  setDrawer(false);
  sideBtn.focus();
});
document.addEventListener("pointerdown", (ev) => {
  if (!drawerOpen() || ev.target.closest("#side, #side-btn, dialog, .toast")) return;
  setDrawer(false);
});

// ------------------------------------------------------------ text size
const sizeSelect = $("text-size");

/** The sizes offered, in px; 18 reads well on a second monitor. */
export const TEXT_SIZES = [14, 16, 18, 20, 22, 26];
export const DEFAULT_TEXT_SIZE = 18;

function applySize() {
  const px = TEXT_SIZES.includes(Number(settings.textSize)) ? Number(settings.textSize) : DEFAULT_TEXT_SIZE;
  document.documentElement.style.setProperty("--cw-text-size", px + "px");
  sizeSelect.value = String(px);
  recheckAll();
}
sizeSelect.replaceChildren(
  ...TEXT_SIZES.map((px) => {
    const o = document.createElement("option");
    o.value = String(px);
    o.textContent = px + " px";
    return o;
  }),
);
sizeSelect.addEventListener("change", () => {
  settings.textSize = Number(sizeSelect.value);
  save();
  applySize();
});

// ------------------------------------------------------------ clamping
// A body is clamped by CSS (four lines, unless its item is `expanded`);
// here each item learns whether anything was cut, which shows its "more".
const dirty = new Set();
let scheduled = false;
function recheckSoon(li) {
  dirty.add(li);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(recheck);
  // A hidden tab runs no frames: measure anyway, a little later.
  setTimeout(recheck, 300);
}
function recheck() {
  if (!scheduled) return;
  scheduled = false;
  const items = Array.from(dirty);
  dirty.clear();
  // Read every size first, then write: one layout for the whole batch.
  const cut = items.map((li) => {
    const body = li.querySelector(".body");
    if (!body || !li.isConnected || li.classList.contains("expanded")) return null;
    // A row out of view is not laid out (content-visibility: auto), and
    // measuring it would force that: it is measured when it comes into view.
    if (!body.checkVisibility({ contentVisibilityAuto: true })) return null;
    return body.scrollHeight > body.clientHeight + 1;
  });
  items.forEach((li, i) => {
    if (cut[i] === null) return;
    li.classList.toggle("clamped", cut[i]);
    const more = li.querySelector(".more");
    if (more && more.hidden !== !cut[i]) more.hidden = !cut[i];
  });
}
function recheckAll() {
  for (const li of feed.querySelectorAll("li.comment")) recheckSoon(li);
}
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (!el || el.closest(".more")) continue;
    if (el === feed) {
      for (const n of r.addedNodes) if (n.nodeType === 1 && n.matches("li.comment")) recheckSoon(n);
      continue;
    }
    const li = el.closest("li.comment");
    if (li) recheckSoon(li);
  }
}).observe(feed, { childList: true, subtree: true, characterData: true });
// A row that comes into view is measured then (the event does not bubble).
feed.addEventListener(
  "contentvisibilityautostatechange",
  (ev) => {
    if (!ev.skipped && ev.target.matches("li.comment")) recheckSoon(ev.target);
  },
  true,
);
// A narrower or wider feed wraps the lines again.
let lastWidth = 0;
new ResizeObserver((entries) => {
  const w = Math.round(entries[0].contentRect.width);
  if (w === lastWidth) return;
  lastWidth = w;
  recheckAll();
}).observe(feed);

/** Shows a clamped comment whole, or clamps it again. */
export function toggleMore(li) {
  const open = !li.classList.contains("expanded");
  li.classList.toggle("expanded", open);
  const more = li.querySelector(".more");
  more.dataset.i18n = open ? "less" : "more";
  more.textContent = t(more.dataset.i18n);
  more.setAttribute("aria-expanded", String(open));
  if (!open) recheckSoon(li);
}
feed.addEventListener("click", (ev) => {
  const more = ev.target.closest("button.more");
  if (more) toggleMore(more.closest("li.comment"));
});

applySize();
