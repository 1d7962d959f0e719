// commentwatch: the comment log page (/log). The page works without this
// script; it shows, and reads typed, times in the browser's time zone (or
// UTC, by a toggle), adds the "/" shortcut, and the statistics panel,
// drawn from /api/stats (JSON) as SVG. Text from the log only ever reaches
// the page through textContent and attributes, never as HTML; no inline
// script or style, as the Content-Security-Policy requires.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // The page's words, from log-i18n.js (loaded first).
  const i18n = window.cwI18n;
  const t = (key, ...args) => i18n.t(key, ...args);

  /** An element with a class and optional text. */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** This page's URL with `changes` applied (null deletes), from page 1. */
  function pageWith(changes) {
    const u = new URL(window.location.href);
    u.searchParams.delete("before_seq");
    u.searchParams.delete("stats");
    u.hash = "";
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) u.searchParams.delete(k);
      else u.searchParams.set(k, v);
    }
    return u.pathname + u.search;
  }

  // Times: the server writes UTC (and so does the page without this
  // script); here every time shown, hovered or typed is in the browser's
  // time zone, or in UTC when the toggle says so (kept in localStorage).
  const UTC_KEY = "cw.log.utc";
  let utc = false;
  try {
    utc = localStorage.getItem(UTC_KEY) === "1";
  } catch (e) {
    /* storage may be off; local time then */
  }

  const pad = (n) => String(n).padStart(2, "0");

  /** [year, month, day, hours, minutes, seconds] of `d` in the shown zone. */
  function fields(d) {
    return utc
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  }

  /** The shown zone as an offset: "UTC", "UTC+08:00", "UTC-05:30". */
  function zoneText(d) {
    if (utc) return "UTC";
    const m = -(d || new Date()).getTimezoneOffset();
    const a = Math.abs(m);
    return `UTC${m < 0 ? "-" : "+"}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  }

  /** The browser's zone by name (Asia/Shanghai), when it has one. */
  function zoneName() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return "";
    }
  }

  /** `2026-04-02 04:01` (or with seconds) in the shown zone. */
  function localTime(iso, withSeconds) {
    const d = iso instanceof Date ? iso : new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const [y, mo, da, h, mi, s] = fields(d);
    return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}${withSeconds ? ":" + pad(s) : ""}`;
  }

  /** The same, with its zone: for hover texts. */
  function zonedTime(iso, withSeconds) {
    const d = iso instanceof Date ? iso : new Date(iso);
    return `${localTime(d, withSeconds)} ${zoneText(d)}`;
  }

  /** What a datetime-local field shows for `d` in the shown zone. */
  function inputValue(d) {
    const [y, mo, da, h, mi, s] = fields(d);
    return `${y}-${pad(mo)}-${pad(da)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
  }

  /** The instant a datetime-local value means in the shown zone. */
  function fromInput(v) {
    // Without an offset, ECMAScript reads a date-time as local time.
    return new Date(utc ? v + "Z" : v);
  }

  /** RFC 3339 in UTC, as the server takes it. */
  const rfc3339 = (d) => d.toISOString().replace(".000Z", "Z");

  function timeInputs() {
    return document.querySelectorAll('.log-form input[type="datetime-local"]');
  }

  /** Server times are UTC; show them in the chosen zone, zone on hover. */
  function localiseTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const iso = t.getAttribute("datetime");
      const withSeconds = t.closest(".log-list") !== null;
      t.textContent = localTime(iso, withSeconds);
      t.title = zonedTime(iso, withSeconds);
    }
    for (const rect of root.querySelectorAll(".log-chart rect[data-start]")) {
      const title = rect.querySelector("title");
      if (title) title.textContent = barTitle(rect.dataset.start, Number(rect.dataset.count));
    }
  }

  function barTitle(start, count) {
    return t("barTitle", zonedTime(start), count);
  }

  /** Labels and the toggle button say which zone the page shows. */
  function showZone() {
    const zone = zoneText();
    for (const z of document.querySelectorAll(".log-zone")) z.textContent = `(${zone})`;
    const btn = document.getElementById("log-utc");
    if (!btn) return;
    btn.hidden = false;
    btn.setAttribute("aria-pressed", utc ? "true" : "false");
    const name = zoneName();
    const where = name ? ` (${name})` : "";
    btn.textContent = utc ? t("showLocal") : t("showUtc");
    btn.title = utc ? t("utcTitle", where) : t("localTitle", zone, where);
  }

  /** Turns the page's times (shown and typed) between local and UTC. */
  function setUtc(on) {
    const typed = [...timeInputs()].map((i) => (i.value ? fromInput(i.value) : null));
    utc = on;
    try {
      localStorage.setItem(UTC_KEY, on ? "1" : "0");
    } catch (e) {
      /* the choice lasts for this page only */
    }
    timeInputs().forEach((input, i) => {
      if (typed[i] && !Number.isNaN(typed[i].getTime())) input.value = inputValue(typed[i]);
    });
    localiseTimes(document);
    showZone();
    const panel = document.getElementById("stats");
    if (panel && panel.__stats) renderStats(panel.querySelector(".log-stats-body"), panel.__stats);
  }

  /** The filter form: fields show the chosen zone, the URL gets UTC. */
  function initTimeFilters() {
    for (const input of timeInputs()) {
      // The server filled them in UTC.
      if (input.value) {
        const d = new Date(input.value + "Z");
        if (!Number.isNaN(d.getTime())) input.value = inputValue(d);
      }
    }
    const form = document.querySelector(".log-form");
    if (!form) return;
    form.addEventListener("formdata", (e) => {
      for (const name of ["since", "until"]) {
        const v = e.formData.get(name);
        if (!v) continue;
        const d = fromInput(String(v));
        if (!Number.isNaN(d.getTime())) e.formData.set(name, rfc3339(d));
      }
    });
    const btn = document.getElementById("log-utc");
    if (btn) btn.addEventListener("click", () => setUtc(!utc));
    showZone();
  }

  function link(href, text, cls) {
    const a = el("a", cls, text);
    a.href = href;
    return a;
  }

  function rankList(items) {
    const ol = el("ol", "log-rank");
    for (const [label, count, href, title] of items) {
      const li = el("li");
      const a = link(href, "");
      const bdi = el("bdi", null, label);
      a.appendChild(bdi);
      if (title) a.title = title;
      li.append(a, el("span", "log-count", String(count)));
      ol.appendChild(li);
    }
    return ol;
  }

  /**
   * The times at the chart's left and right edges, in ms. The left edge is
   * the start of the selected range ("from"), or the first comment's minute
   * when the range is open; the right edge its end ("until"), or the end of
   * the last bucket. At least 24 buckets wide, so a short stretch still
   * reads as bars; a range far wider than its comments (a year around one
   * evening) falls back to the comments' own span, where bars can be seen.
   */
  function chartEdges(buckets, width) {
    const panel = document.getElementById("stats");
    const since = Date.parse((panel && panel.dataset.since) || "");
    const until = Date.parse((panel && panel.dataset.until) || "");
    const first = Date.parse(buckets[0].start);
    const last = Date.parse(buckets[buckets.length - 1].start) + width;
    const MAX_SLOTS = 2000;
    let left = first;
    if (!Number.isNaN(since) && since <= first && (last - since) / width <= MAX_SLOTS) left = since;
    let right = last;
    if (!Number.isNaN(until) && until >= last && (until - left) / width <= MAX_SLOTS) right = until;
    return [left, Math.max(right, left + 24 * width)];
  }

  /** Comments per minute as bars; each bar links to its stretch of time. */
  function chart(stats) {
    const buckets = stats.per_minute;
    const peak = buckets.reduce((m, b) => Math.max(m, b.per_minute), 0);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "log-chart");
    const width = stats.bucket_minutes * 60 * 1000;
    const [left, right] = chartEdges(buckets, width);
    const slots = (right - left) / width;
    svg.setAttribute("viewBox", `0 0 ${slots} 100`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("chartLabel", peak.toFixed(1)));
    buckets.forEach((b) => {
      if (b.count === 0 || peak === 0) return;
      const h = (b.per_minute / peak) * 100;
      const a = document.createElementNS(SVG, "a");
      const start = new Date(b.start);
      const end = new Date(start.getTime() + width);
      a.setAttribute("href", pageWith({
        since: rfc3339(start),
        until: rfc3339(end),
      }));
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", ((start.getTime() - left) / width).toFixed(3));
      rect.setAttribute("y", (100 - h).toFixed(2));
      rect.setAttribute("width", "0.85");
      rect.setAttribute("height", h.toFixed(2));
      const title = document.createElementNS(SVG, "title");
      title.textContent = barTitle(b.start, b.count);
      rect.appendChild(title);
      a.appendChild(rect);
      svg.appendChild(a);
    });
    const wrap = el("div", "log-chart-wrap");
    wrap.appendChild(svg);
    const axis = el("div", "log-axis");
    const edge = (t, cls) => {
      const span = el("span", cls, localTime(new Date(t)));
      span.title = zonedTime(new Date(t));
      return span;
    };
    axis.append(edge(left, "log-axis-start"), edge(right, "log-axis-end"));
    wrap.appendChild(axis);
    wrap.appendChild(el("p", "log-muted", t("eachBar", stats.bucket_minutes, peak.toFixed(1))));
    return wrap;
  }

  function renderStats(body, stats) {
    body.replaceChildren();
    const total = el("p", "log-total");
    total.append(el("strong", null, String(stats.total)), " ", t("nComments", stats.total).replace(/^[\d,.\s]+/, ""));
    body.appendChild(total);
    if (stats.total === 0) return;
    if (stats.per_minute.length > 0) {
      body.append(el("h3", null, t("perMinute")), chart(stats));
    }
    body.append(
      el("h3", null, t("bySource")),
      rankList(stats.sources.map((s) => [s.source, s.count, pageWith({ source: s.source })])),
      el("h3", null, t("busiest")),
      rankList(stats.busiest.map((m) => {
        const start = new Date(m.minute);
        const end = new Date(start.getTime() + 60000).toISOString().replace(".000Z", "Z");
        return [localTime(m.minute), m.count, pageWith({ since: m.minute, until: end }), zonedTime(m.minute)];
      })),
      el("h3", null, t("mostActive")),
      rankList(stats.top_authors.map((a) => [a.name, a.count, pageWith({ author: a.id || a.name }), a.id || undefined])),
    );
  }

  async function loadStats(panel) {
    const url = panel.dataset.statsUrl;
    const body = panel.querySelector(".log-stats-body");
    if (!url || !body) return;
    body.replaceChildren(el("p", "log-muted", t("counting")));
    try {
      const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      panel.__stats = await resp.json();
      renderStats(body, panel.__stats);
    } catch (e) {
      body.replaceChildren(el("p", "log-muted", t("statsFailed")));
      body.firstChild.appendChild(link(panel.dataset.statsPage || "?stats=1", t("tryNoJs")));
    }
  }

  function init() {
    i18n.onChange(() => {
      showZone();
      const panel = document.getElementById("stats");
      if (panel && panel.__stats) renderStats(panel.querySelector(".log-stats-body"), panel.__stats);
    });
    initTimeFilters();
    localiseTimes(document);
    const panel = document.getElementById("stats");
    if (panel) loadStats(panel);
    const q = document.querySelector(".log-q");
    document.addEventListener("keydown", (e) => {
      if (e.key === "/" && q && document.activeElement !== q && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
        e.preventDefault();
        q.focus();
        q.select();
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
