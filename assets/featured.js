// commentwatch dashboard: featured — the "On stream" queue: the comments
// the overlay shows. The star on a comment (or F) puts it on or takes it
// off through /api/featured; the server's queue comes back in the answer
// and in every `featured` frame, and is drawn in the side panel.
//
// Must not touch the feed's contents (only the stars, via setFeaturedMark)
// nor the overlay URL builder. Text goes in with textContent only.
import { t, translate } from "./i18n.js";
import { server } from "./settings.js";
import { api } from "./connection.js";
import { key, model, featuredKeys } from "./model.js";
import { setFeaturedMark } from "./feed.js";
import { markRead, select } from "./reading.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const featuredTemplate = $("featured-template");

let featuredList = [];
let featuredMax = server.featured_max || 5;
/** The queue's size as the server reports it (see overlay-url.js). */
export function setFeaturedMax(n) {
  featuredMax = n;
}

export async function toggleFeatured(e) {
  if (!e) return;
  const target = { source: e.c.source, id: e.c.id };
  const on = featuredKeys.has(key(target.source, target.id));
  markRead(e);
  // The moment of the click, for the test that times the overlay.
  window.cwLastFeatureClick = Date.now();
  try {
    const q = await api(on ? "DELETE" : "POST", "/api/featured", target);
    if (q) renderFeatured(q.comments || [], q.max);
  } catch (err) {
    toast(t("featureFailed") + err.message);
  }
}
/** Draws the queue `list` (and `max`, if given) and the feed's stars. */
export function renderFeatured(list, max) {
  featuredList = list;
  if (typeof max === "number") featuredMax = max;
  const before = new Set(featuredKeys);
  featuredKeys.clear();
  for (const c of list) featuredKeys.add(key(c.source, c.id));
  for (const k of new Set([...before, ...featuredKeys])) {
    const e = model.get(k);
    if (e && e.node) setFeaturedMark(e.node, featuredKeys.has(k));
  }
  const ol = $("featured");
  const items = list.map((c) => {
    const li = featuredTemplate.content.firstElementChild.cloneNode(true);
    translate(li);
    li.dataset.source = c.source;
    li.dataset.id = c.id;
    li.querySelector(".f-author").textContent = (c.author && c.author.name) || t("noName");
    const amount = li.querySelector(".f-amount");
    amount.hidden = !c.amount;
    amount.textContent = c.amount ? c.amount.display : "";
    li.querySelector(".f-text").textContent = c.text;
    return li;
  });
  ol.replaceChildren(...items);
  $("featured-empty").hidden = list.length > 0;
  $("featured-count").textContent = list.length + "/" + featuredMax;
  $("featured-count").title = t("queueFull", featuredMax);
  document.querySelector(".onstream").classList.toggle("has-items", list.length > 0);
}
/** Draws the queue again (after a change of language). */
export function redrawFeatured() {
  renderFeatured(featuredList);
}
/** Draws the empty queue at start, with the size the server set. */
export function renderEmptyQueue() {
  renderFeatured([], featuredMax);
}
$("featured").addEventListener("click", async (ev) => {
  const li = ev.target.closest("li.featured-item");
  if (!li) return;
  const target = { source: li.dataset.source, id: li.dataset.id };
  if (ev.target.closest("button[data-act=dismiss]")) {
    try {
      renderFeaturedResponse(await api("DELETE", "/api/featured", target));
    } catch (err) {
      toast(t("featureFailed") + err.message);
    }
    return;
  }
  const e = model.get(key(target.source, target.id));
  if (e && e.node) select(e, true);
});
function renderFeaturedResponse(q) {
  if (q) renderFeatured(q.comments || [], q.max);
}
$("clear-featured").addEventListener("click", async () => {
  try {
    renderFeaturedResponse(await api("DELETE", "/api/featured"));
  } catch (err) {
    toast(t("featureFailed") + err.message);
  }
});
