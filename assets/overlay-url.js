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

let overlayKey = null;
const ov = {
  mode: $("ov-mode"), limit: $("ov-limit"), fade: $("ov-fade"),
  size: $("ov-size"), theme: $("ov-theme"), font: $("ov-font"),
};
function overlayUrl() {
  const o = settings.overlay;
  const p = new URLSearchParams();
  p.set("mode", o.mode);
  p.set("limit", String(o.limit));
  p.set("fade", String(o.fade));
  p.set("size", String(o.size));
  p.set("theme", o.theme);
  if (o.font) p.set("font", o.font);
  if (overlayKey) p.set("key", overlayKey);
  return location.origin + "/overlay?" + p.toString();
}
export function renderOverlayUrl() {
  $("overlay-url").value = overlayUrl();
}
for (const [name, el] of Object.entries(ov)) {
  el.value = String(settings.overlay[name]);
  el.addEventListener("input", () => {
    const num = el.type === "number";
    let v = num ? Number(el.value) : el.value.trim();
    if (num) {
      if (!isFinite(v)) return;
      v = Math.min(Number(el.max), Math.max(Number(el.min), Math.round(v)));
    }
    settings.overlay[name] = v;
    save();
    renderOverlayUrl();
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
