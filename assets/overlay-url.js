// commentwatch dashboard: overlay-url — the "OBS overlay URL" builder: what
// the overlay shows and how, saved in the settings and turned into a URL
// (with the overlay's read-only key from /api/overlay, never the token) to
// copy or preview.
//
// Must not touch the feed or the queue; the overlay itself is overlay.js.
import { t } from "./i18n.js";
import { settings, save } from "./settings.js";
import { api } from "./connection.js";
import { setFeaturedMax } from "./featured.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);

/** A `<select>` of `[value, i18n key]` options. */
function select(id, options) {
  const sel = document.createElement("select");
  sel.id = id;
  sel.className = "select";
  for (const [value, key] of options) {
    const o = document.createElement("option");
    o.value = value;
    o.dataset.i18n = key;
    o.textContent = t(key);
    sel.append(o);
  }
  return sel;
}

// The corner and the chat-bubble style are built here rather than in the
// page's HTML, so the builder's choices stay in one module with the URL
// they make.
const POSITIONS = [
  ["bottom-left", "posBottomLeft"], ["top-left", "posTopLeft"],
  ["bottom-right", "posBottomRight"], ["top-right", "posTopRight"],
];
if (!$("ov-pos")) {
  const label = document.createElement("label");
  label.htmlFor = "ov-pos";
  label.dataset.i18n = "ovPos";
  label.textContent = t("ovPos");
  // Before the style's label: the grid is made of [label, field] pairs.
  $("ov-theme").previousElementSibling.before(label, select("ov-pos", POSITIONS));
}
if (![...$("ov-theme").options].some((o) => o.value === "bubble")) {
  $("ov-theme").append(...select("x", [["bubble", "ovBubble"]]).children);
}
if (!POSITIONS.some(([v]) => v === settings.overlay.pos)) settings.overlay.pos = "bottom-left";

let overlayKey = null;
const ov = {
  mode: $("ov-mode"), limit: $("ov-limit"), fade: $("ov-fade"),
  size: $("ov-size"), theme: $("ov-theme"), pos: $("ov-pos"), font: $("ov-font"),
};
function overlayUrl() {
  const o = settings.overlay;
  const p = new URLSearchParams();
  p.set("mode", o.mode);
  p.set("limit", String(o.limit));
  p.set("fade", String(o.fade));
  p.set("size", String(o.size));
  p.set("theme", o.theme);
  p.set("pos", o.pos);
  if (o.font) p.set("font", o.font);
  if (overlayKey) p.set("key", overlayKey);
  return location.origin + "/overlay?" + p.toString();
}
export function renderOverlayUrl() {
  $("overlay-url").value = overlayUrl();
}
/** A number field's value within its min and max (what the overlay uses). */
function clamp(el, v) {
  return Math.min(Number(el.max), Math.max(Number(el.min), Math.round(v)));
}
for (const [name, el] of Object.entries(ov)) {
  if (el.type === "number" && isFinite(Number(settings.overlay[name]))) {
    // A value saved by an older page may be past today's limits.
    settings.overlay[name] = clamp(el, Number(settings.overlay[name]));
  }
  el.value = String(settings.overlay[name]);
  el.addEventListener("input", () => {
    const num = el.type === "number";
    let v = num ? Number(el.value) : el.value.trim();
    if (num) {
      if (el.value === "" || !isFinite(v)) return;
      v = clamp(el, v);
    }
    settings.overlay[name] = v;
    save();
    renderOverlayUrl();
  });
  // Once typing is done the field shows what the URL says (99 becomes 20),
  // never a number the overlay will not use.
  el.addEventListener("change", () => {
    el.value = String(settings.overlay[name]);
  });
}
$("copy-overlay").addEventListener("click", async () => {
  const url = $("overlay-url");
  renderOverlayUrl();
  try {
    await navigator.clipboard.writeText(url.value);
    toast(t("copied"));
  } catch (_) {
    // No clipboard API (plain http on a LAN address): select it instead.
    url.focus();
    url.select();
    toast(t("copyFailed"));
  }
});
$("open-overlay").addEventListener("click", () => {
  window.open(overlayUrl(), "_blank", "noopener,noreferrer");
});
api("GET", "/api/overlay")
  .then((o) => {
    overlayKey = o && o.key;
    if (o && typeof o.featured_max === "number") setFeaturedMax(o.featured_max);
    renderOverlayUrl();
  })
  .catch(() => renderOverlayUrl());
