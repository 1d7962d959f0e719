// commentwatch: the comment log page (/log). The page works without this
// script; it adds local times, the "/" shortcut, and the statistics panel,
// drawn from /api/stats (JSON) as SVG. Text from the log only ever reaches
// the page through textContent and attributes, never as HTML; no inline
// script or style, as the Content-Security-Policy requires.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

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

  function localTime(iso, withSeconds) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
    if (withSeconds) opts.second = "2-digit";
    return d.toLocaleString(undefined, opts);
  }

  /** Server times are UTC; show them in the viewer's zone, UTC on hover. */
  function localiseTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const iso = t.getAttribute("datetime");
      if (!t.title) t.title = t.textContent + " (UTC)";
      t.textContent = localTime(iso, t.closest(".log-list") !== null);
    }
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

  /** Comments per minute as bars; each bar links to its stretch of time. */
  function chart(stats) {
    const buckets = stats.per_minute;
    const peak = buckets.reduce((m, b) => Math.max(m, b.per_minute), 0);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "log-chart");
    // At least 24 slots wide, so a short stretch still reads as bars.
    const slots = Math.max(buckets.length, 24);
    svg.setAttribute("viewBox", `0 0 ${slots} 100`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `Comments per minute over time; peak ${peak.toFixed(1)}`);
    const width = stats.bucket_minutes * 60 * 1000;
    buckets.forEach((b, i) => {
      if (b.count === 0 || peak === 0) return;
      const h = (b.per_minute / peak) * 100;
      const a = document.createElementNS(SVG, "a");
      const start = new Date(b.start);
      const end = new Date(start.getTime() + width);
      a.setAttribute("href", pageWith({
        since: start.toISOString().replace(".000Z", "Z"),
        until: end.toISOString().replace(".000Z", "Z"),
      }));
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(slots - buckets.length + i));
      rect.setAttribute("y", (100 - h).toFixed(2));
      rect.setAttribute("width", "0.85");
      rect.setAttribute("height", h.toFixed(2));
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${localTime(b.start)}: ${b.count} comment${b.count === 1 ? "" : "s"}`;
      rect.appendChild(title);
      a.appendChild(rect);
      svg.appendChild(a);
    });
    const wrap = el("div", "log-chart-wrap");
    wrap.appendChild(svg);
    const axis = el("div", "log-axis");
    axis.append(el("span", null, localTime(stats.first)), el("span", null, localTime(stats.last)));
    wrap.appendChild(axis);
    const unit = stats.bucket_minutes === 1 ? "one minute" : `${stats.bucket_minutes} minutes`;
    wrap.appendChild(el("p", "log-muted", `Each bar is ${unit}; peak ${peak.toFixed(1)} comments a minute. Click a bar to see that stretch.`));
    return wrap;
  }

  function renderStats(body, stats) {
    body.replaceChildren();
    const total = el("p", "log-total");
    total.append(el("strong", null, String(stats.total)), ` comment${stats.total === 1 ? "" : "s"}`);
    body.appendChild(total);
    if (stats.total === 0) return;
    if (stats.per_minute.length > 0) {
      body.append(el("h3", null, "Comments per minute"), chart(stats));
    }
    body.append(
      el("h3", null, "By source"),
      rankList(stats.sources.map((s) => [s.source, s.count, pageWith({ source: s.source })])),
      el("h3", null, "Busiest moments"),
      rankList(stats.busiest.map((m) => {
        const start = new Date(m.minute);
        const end = new Date(start.getTime() + 60000).toISOString().replace(".000Z", "Z");
        return [localTime(m.minute), m.count, pageWith({ since: m.minute, until: end }), m.minute];
      })),
      el("h3", null, "Most active"),
      rankList(stats.top_authors.map((a) => [a.name, a.count, pageWith({ author: a.id || a.name }), a.id || undefined])),
    );
  }

  async function loadStats(panel) {
    const url = panel.dataset.statsUrl;
    const body = panel.querySelector(".log-stats-body");
    if (!url || !body) return;
    body.replaceChildren(el("p", "log-muted", "Counting…"));
    try {
      const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      renderStats(body, await resp.json());
    } catch (e) {
      body.replaceChildren(el("p", "log-muted", "Statistics could not be loaded. "));
      body.firstChild.appendChild(link(panel.dataset.statsPage || "?stats=1", "Try without JavaScript"));
    }
  }

  function init() {
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
