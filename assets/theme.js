// commentwatch dashboard: theme — the page's theme (system, light, dark),
// its language (English or Simplified Chinese; a change redraws every
// text, the comments' included) and the "Panels" button of narrow screens.
//
// Must not touch the network, the model's contents or the settings beyond
// `theme` and `lang`.
import { lang, setLang, t, translate } from "./i18n.js";
import { settings, save } from "./settings.js";
import { state } from "./model.js";
import { commentTemplate, fill, updateCounts } from "./feed.js";
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
});

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
$("side-btn").addEventListener("click", () => $("app").classList.toggle("show-side"));
