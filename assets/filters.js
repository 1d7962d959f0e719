// commentwatch dashboard: filters — the toolbar's focus tools: the filter
// box, the source choice, "only questions", "paid & members" and the feed's order (newest on
// top, or at the bottom like a chat). Each change is saved and rebuilds
// the feed.
//
// Must not touch the feed's items (feed.js draws them) nor the network.
import { t } from "./i18n.js";
import { settings, save, norm } from "./settings.js";
import { feed, bottom, rebuild } from "./feed.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const filterInput = $("filter");
const sourceSelect = $("source-filter");

let filterTimer = 0;
filterInput.value = settings.filter;
filterInput.addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    settings.filter = filterInput.value;
    filterInput.classList.toggle("active", !!norm(settings.filter));
    save();
    rebuild();
  }, 120);
});
sourceSelect.addEventListener("change", () => {
  settings.source = sourceSelect.value;
  save();
  rebuild();
});
function setQuestions(on) {
  settings.questions = on;
  $("only-questions").setAttribute("aria-pressed", String(on));
  save();
}
$("only-questions").addEventListener("click", () => {
  setQuestions(!settings.questions);
  rebuild();
});
function setPaid(on) {
  settings.paid = on;
  $("only-paid").setAttribute("aria-pressed", String(on));
  save();
}
$("only-paid").addEventListener("click", () => {
  setPaid(!settings.paid);
  rebuild();
});
/** The toolbar as the settings say, at start. */
export function showFilters() {
  setQuestions(!!settings.questions);
  setPaid(!!settings.paid);
  filterInput.classList.toggle("active", !!norm(settings.filter));
}
/** Moves the focus to the filter box (the "/" key). */
export function focusFilter() {
  filterInput.focus();
}

/** The order button's label and the feed's class and label. */
export function applyOrder() {
  app.classList.toggle("bottom", bottom());
  $("order-label").dataset.i18n = bottom() ? "orderBottom" : "orderTop";
  $("order-label").textContent = t($("order-label").dataset.i18n);
  feed.setAttribute("aria-label", t(bottom() ? "feedBottom" : "feedTop"));
}
$("order-btn").addEventListener("click", () => {
  settings.order = bottom() ? "top" : "bottom";
  save();
  applyOrder();
  rebuild();
});
