// commentwatch dashboard: status — the status bar at the foot of the page:
// the connection's state, each source's state (and the source filter's
// choices, which follow the sources), YouTube's quota left, comments per
// minute with its sparkline, and the day's comment count from /api/today.
//
// Must not touch the feed or the model: it is told of each new comment
// (`countRate`, `countToday`) and of each status frame, and draws.
import { t, lang } from "./i18n.js";
import { server, settings } from "./settings.js";
import { api } from "./connection.js";
import { setSourceTitles, sourceName, platformOf, drawRateChart } from "./render.js";

const $ = (id) => document.getElementById(id);
const conn = $("conn");
const sourcesEl = $("sources");
const sourceSelect = $("source-filter");

/** The connection indicator: "connecting", "live" or "offline". */
export function setConn(state, label) {
  // While the banner says offline, a retry does not make the pill hopeful.
  if (offlineSince && state === "connecting") state = "offline";
  conn.dataset.state = state;
  conn.textContent = label;
}

// ------------------------------------------------------------- offline
// With the connection gone the whole bar turns into a banner: how long
// since the server last said anything (ticking), and every source's state
// becomes "unknown" until a fresh status frame says otherwise. Back online,
// the banner says how many comments the resume caught up, then fades.
const bar = document.querySelector("footer.statusbar");
const banner = document.createElement("div");
banner.id = "offline-banner";
banner.className = "offline-banner";
// Not a live region: it ticks every second. The connection pill (a
// status role) announces the change once.
banner.setAttribute("aria-live", "off");
banner.hidden = true;
bar.prepend(banner);
let offlineSince = 0; // when the connection dropped (0: it is up)
let lastHeard = 0; // when the last frame came before that
let heardNothing = false; // no frame at all since the page loaded
let tick = 0;
let fadeTimer = 0;
let sourcesUnknown = false;

const clock = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return m >= 60 ? Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0") : m + ":" + String(s % 60).padStart(2, "0");
};
function drawOffline() {
  const since = Date.now() - lastHeard;
  // Never connected since the page loaded: there is no "last" to name.
  if (heardNothing) banner.textContent = t("offlineNever", clock(since));
  else banner.textContent = t("offlineBanner", clock(since), new Date(lastHeard).toLocaleTimeString(lang));
  banner.dataset.seconds = String(Math.floor(since / 1000));
}
/** The connection dropped; `heardAt` is when the last frame arrived. */
export function showOffline(heardAt) {
  if (offlineSince) return;
  offlineSince = Date.now();
  heardNothing = !heardAt;
  lastHeard = heardAt || offlineSince;
  clearTimeout(fadeTimer);
  bar.classList.add("offline");
  banner.classList.remove("fading");
  banner.dataset.state = "offline";
  delete banner.dataset.caught;
  banner.hidden = false;
  drawOffline();
  clearInterval(tick);
  tick = setInterval(drawOffline, 1000);
  sourcesUnknown = true;
  redrawStatus();
}
/** Whether the banner says offline. */
export const isOffline = () => offlineSince !== 0;
/** Connected again; `caught` comments came with the resume (null: unknown). */
export function showBackOnline(caught) {
  if (!offlineSince) return;
  const away = Date.now() - offlineSince;
  offlineSince = 0;
  clearInterval(tick);
  bar.classList.remove("offline");
  banner.dataset.state = "back";
  if (caught === null) delete banner.dataset.caught;
  else banner.dataset.caught = String(caught);
  banner.textContent = caught === null ? t("backOnline", clock(away)) : t("caughtUp", caught, clock(away));
  // Readable for a while, then it fades away (style.css).
  fadeTimer = setTimeout(() => {
    banner.classList.add("fading");
    fadeTimer = setTimeout(() => (banner.hidden = true), 1500);
  }, 8000);
}

// -------------------------------------------------------------- sources
const STATE_KEYS = ["starting", "ok", "backoff", "quota", "login", "stopped", "standby"];
let lastStatus = null;
let quotaUsed = null;
export function renderStatus(list) {
  lastStatus = list;
  sourcesUnknown = false;
  setSourceTitles(list);
  drawSources(list);
}
function drawSources(list) {
  const fmt = (iso) => new Date(iso).toLocaleString(lang);
  const items = list.map((s) => {
    const li = document.createElement("li");
    li.className = "source-status";
    li.dataset.source = s.source;
    const icon = document.createElement("span");
    icon.className = "source-icon";
    icon.dataset.platform = platformOf(s.source);
    if (sourcesUnknown) {
      // Offline: what the server said last may no longer be true.
      li.dataset.state = "unknown";
      li.replaceChildren(icon, sourceName(s.source) + ": " + t("st_unknown"));
      li.title = t("unknownTitle");
      return li;
    }
    li.dataset.state = s.state;
    let label = sourceName(s.source) + ": " + (STATE_KEYS.includes(s.state) ? t("st_" + s.state) : s.state);
    if ((s.state === "backoff" || s.state === "quota") && s.next_poll) {
      label += " " + t("until", new Date(s.next_poll).toLocaleTimeString(lang));
    }
    // A pushed source says how it delivers ("live (streaming)", "live
    // (polling every 8 s)") and how many streams it opened: each one costs
    // quota where the platform counts connections.
    const mode = s.state === "ok" && /^live \((streaming|polling every ([^)]*))\)/.exec(s.detail || "");
    if (mode) label += " · " + (mode[2] ? t("pollingEvery", mode[2]) : t("streaming"));
    if (typeof s.connections === "number" && s.connections > 0) {
      label += " · " + t("connections", s.connections);
    }
    if (typeof s.quota_used === "number") label += " · " + t("unitsToday", s.quota_used);
    li.replaceChildren(icon, label);
    const lines = sourceName(s.source) === s.source ? [] : [s.source];
    if (s.detail) lines.push(s.detail);
    if (s.last_error) lines.push(t("lastError") + s.last_error);
    if (s.last_ok) lines.push(t("lastOk") + fmt(s.last_ok));
    if (s.next_poll) lines.push(t("nextPoll") + fmt(s.next_poll));
    li.title = lines.join("\n");
    return li;
  });
  sourcesEl.replaceChildren(...items);
  // Every YouTube source spends from the one key: the day's total is the
  // largest count any of them reports.
  const used = list.filter((s) => typeof s.quota_used === "number").map((s) => s.quota_used);
  quotaUsed = used.length ? Math.max(...used) : null;
  renderQuota();
  // The source filter offers every source there is.
  const names = list.map((s) => s.source);
  const have = Array.from(sourceSelect.options).map((o) => o.value).filter(Boolean);
  if (names.join("\n") !== have.join("\n")) {
    const first = sourceSelect.options[0];
    const opts = names.map((n) => {
      const o = document.createElement("option");
      o.value = n;
      o.textContent = sourceName(n);
      return o;
    });
    if (settings.source && !names.includes(settings.source)) {
      const o = document.createElement("option");
      o.value = settings.source;
      o.textContent = settings.source;
      opts.push(o);
    }
    sourceSelect.replaceChildren(first, ...opts);
    sourceSelect.value = settings.source;
  }
  // A title may come after the source: the choices follow it.
  for (const o of sourceSelect.options) if (o.value) o.textContent = sourceName(o.value);
}
/** Draws the last status again (after a change of language). */
export function redrawStatus() {
  if (lastStatus) drawSources(lastStatus);
  if (offlineSince) drawOffline();
}
export function renderQuota() {
  const el = $("quota");
  if (quotaUsed === null || !server.youtube_daily_quota) {
    el.hidden = true;
    return;
  }
  const left = Math.max(0, server.youtube_daily_quota - quotaUsed);
  el.hidden = false;
  el.classList.toggle("warn", left < server.youtube_daily_quota * 0.1);
  el.replaceChildren();
  const b = document.createElement("b");
  b.textContent = left.toLocaleString(lang) + " / " + server.youtube_daily_quota.toLocaleString(lang);
  el.append(t("quotaLeft", ""), b);
}

// ---------------------------------------------------------------- rate
const BUCKET_MS = 10000;
const BUCKETS = 60; // ten minutes
const buckets = new Map(); // bucket index -> comments fetched in it
export function countRate(c) {
  const now = Date.now();
  const at = Math.min(now, Date.parse(c.fetched_at) || now);
  if (now - at > BUCKET_MS * BUCKETS) return;
  const b = Math.floor(at / BUCKET_MS);
  buckets.set(b, (buckets.get(b) || 0) + 1);
}
let lastDrawRate = 0;
let rateTimer = 0;
export function drawRate() {
  lastDrawRate = Date.now();
  const nowB = Math.floor(Date.now() / BUCKET_MS);
  for (const b of buckets.keys()) if (b <= nowB - BUCKETS) buckets.delete(b);
  const counts = [];
  for (let i = BUCKETS - 1; i >= 0; i--) counts.push(buckets.get(nowB - i) || 0);
  // Comments in the last minute: five whole buckets and the current one.
  const perMin = counts.slice(-6).reduce((a, b) => a + b, 0);
  $("rate").textContent = perMin.toLocaleString(lang);
  drawRateChart($("spark"), counts);
}
/** Draws the rate within a second: arrivals redraw it, not once each. */
export function drawRateSoon() {
  if (!rateTimer) rateTimer = setTimeout(() => ((rateTimer = 0), drawRate()), Math.max(0, 1000 - (Date.now() - lastDrawRate)));
}
setInterval(drawRate, 2000);

// --------------------------------------------------------------- today
let todayBase = null; // {comments, latest_seq, day} from /api/today
let todayExtra = 0;
function midnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d;
}
export async function refreshToday() {
  const day = midnight();
  try {
    const s = await api("GET", "/api/today?since=" + encodeURIComponent(day.toISOString()));
    todayBase = { comments: s.comments, seq: s.latest_seq, day: day.getTime() };
    todayExtra = 0;
    renderToday();
  } catch (_) {
    /* the counter waits for the next connection */
  }
}
/** Forgets the day's count (another log): the next hello fetches it. */
export function resetToday() {
  todayBase = null;
}
let todayDrawn = false;
export function countToday(seq) {
  if (todayBase && seq > todayBase.seq) {
    todayExtra += 1;
    // A burst of comments redraws the count once, not once each.
    // (The timeout covers a hidden tab, where frames do not run.)
    if (todayDrawn) return;
    todayDrawn = true;
    const draw = () => {
      if (!todayDrawn) return;
      todayDrawn = false;
      renderToday();
    };
    requestAnimationFrame(draw);
    setTimeout(draw, 250);
  }
}
function renderToday() {
  if (!todayBase) return;
  $("today").textContent = (todayBase.comments + todayExtra).toLocaleString(lang);
}
setInterval(() => {
  if (todayBase && midnight().getTime() !== todayBase.day) refreshToday();
}, 60000);
