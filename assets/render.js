// commentwatch: render — how a comment's body and its source's badge reach
// a page, shared by the dashboard and the overlay so there is exactly one
// place that does each; and the status bar's rate chart (numbers only).
//
// Safety rule: `comment.html` (produced by the server's sanitizer) is the
// only string ever assigned to innerHTML, here and nowhere else; everything
// else from a comment goes through textContent or element properties, and
// so does a source's title (untrusted: the platform's video title).
// Must not touch anything but the body element it is handed, the badges
// `fillBadge` drew (relabelled when a title arrives) and the chart svg
// `drawRateChart` is handed.

// Replaces emote tokens such as "[doge]" in the body's text with their
// images (https URLs on the platform's image host, checked server-side),
// built as elements: no HTML strings.
function drawEmotes(body, emotes) {
  const tokens = Object.keys(emotes).filter((tok) => tok.length > 0);
  if (tokens.length === 0) return;
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    const parts = [];
    let i = 0;
    let plain = "";
    while (i < text.length) {
      const token = tokens.find((tok) => text.startsWith(tok, i));
      if (token) {
        if (plain) parts.push(document.createTextNode(plain));
        plain = "";
        const img = document.createElement("img");
        img.className = "emote";
        img.src = emotes[token];
        img.alt = token;
        img.title = token;
        img.loading = "lazy";
        img.referrerPolicy = "no-referrer";
        parts.push(img);
        i += token.length;
      } else {
        plain += text[i];
        i += 1;
      }
    }
    if (parts.length === 0) continue;
    if (plain) parts.push(document.createTextNode(plain));
    node.replaceWith(...parts);
  }
}

// Fills `body` with a comment's text: the sanitized HTML, or, when the
// markup sanitized to nothing, what was typed, as text; then its emotes.
export function fillBody(body, comment) {
  if (comment.html) {
    // The one innerHTML: sanitized on the server by the allowlist policy.
    body.innerHTML = comment.html;
  } else {
    body.textContent = comment.text;
  }
  if (comment.emotes) drawEmotes(body, comment.emotes);
}

// --------------------------------------------------------------- badges
// A source's badge: its platform (data-platform, which the CSS turns into
// an icon and a colour) and the video's or room's title when the status
// frame's SOURCE_STATUS carries one, else the source's id.
const titles = new Map(); // source id -> title
const TITLE_MAX = 120; // characters shown; the rest is in the tooltip

/** The platform of a source id: "youtube" of "youtube:AAAA". */
export const platformOf = (source) => String(source).split(":")[0];

/** The name to show for a source: its title, else its id. */
export function sourceName(source) {
  return titles.get(source) || source;
}

/**
 * Takes the titles of a status frame's sources (`[{source, title?}]`);
 * relabels every badge already drawn if any changed. Whether one did.
 */
export function setSourceTitles(list) {
  let changed = false;
  for (const s of list || []) {
    const title = typeof s.title === "string" ? s.title.replace(/\s+/g, " ").trim() : "";
    if (!s.source || (titles.get(s.source) || "") === title) continue;
    if (title) titles.set(s.source, title);
    else titles.delete(s.source);
    changed = true;
  }
  if (changed) for (const el of document.querySelectorAll("[data-badge]")) fillBadge(el, el.dataset.badge);
  return changed;
}

/** Fills `el` (a `.source` span) as the badge of `source`: text only. */
export function fillBadge(el, source) {
  const title = titles.get(source);
  el.dataset.badge = source;
  el.dataset.platform = platformOf(source);
  el.textContent = title ? Array.from(title).slice(0, TITLE_MAX).join("") : source;
  el.title = title ? title + "\n" + source : source;
}

// ------------------------------------------------------------ rate chart
// Comments per 10 s over the last ten minutes as bars, scaled to the
// busiest bucket of the window with headroom (at least 4 a bucket, so a
// trickle stays low): the tallest bar reaches 5/6 of the height, a quiet
// bucket has no bar, a busy one at least a sliver. A steady rate is a row
// of bars with gaps below the top, never a flat block.
export const CHART_HEADROOM = 1.2;
/** The bars of `counts` (oldest first) in a `width` × `height` box. */
export function rateBars(counts, width = 120, height = 24) {
  const top = Math.max(4, ...counts) * CHART_HEADROOM;
  const slot = width / Math.max(1, counts.length);
  const w = slot * 0.7;
  return counts.map((n, i) => {
    const h = n > 0 ? Math.max(1, (n / top) * height) : 0;
    return { x: i * slot + (slot - w) / 2, y: height - h, w, h, n };
  });
}
/** Draws `counts` into `svg` (its viewBox gives the size) as bars. A
 * redraw with as many bars changes only the attributes that differ: the
 * chart is redrawn every second or two, and new elements each time would
 * mean style and layout for all of them. */
export function drawRateChart(svg, counts) {
  const box = svg.viewBox.baseVal;
  const ns = "http://www.w3.org/2000/svg";
  const bars = rateBars(counts, box.width || 120, box.height || 24);
  const set = (el, name, value) => {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  };
  const draw = (r, b) => {
    set(r, "class", b.n > 0 ? "bar" : "bar none");
    set(r, "x", b.x.toFixed(2));
    set(r, "y", b.y.toFixed(2));
    set(r, "width", b.w.toFixed(2));
    set(r, "height", b.h.toFixed(2));
    return r;
  };
  const old = svg.querySelectorAll(":scope > rect");
  if (old.length === bars.length && svg.querySelector(":scope > line.base")) {
    bars.forEach((b, i) => draw(old[i], b));
    return;
  }
  const rects = bars.map((b) => draw(document.createElementNS(ns, "rect"), b));
  const base = document.createElementNS(ns, "line");
  base.setAttribute("class", "base");
  base.setAttribute("x1", "0");
  base.setAttribute("x2", String(box.width || 120));
  base.setAttribute("y1", String(box.height || 24));
  base.setAttribute("y2", String(box.height || 24));
  svg.replaceChildren(base, ...rects);
}
