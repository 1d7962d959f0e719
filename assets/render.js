// commentwatch: render — how a comment's body and its source's badge reach
// a page, shared by the dashboard and the overlay so there is exactly one
// place that does each.
//
// Safety rule: `comment.html` (produced by the server's sanitizer) is the
// only string ever assigned to innerHTML, here and nowhere else; everything
// else from a comment goes through textContent or element properties, and
// so does a source's title (untrusted: the platform's video title).
// Must not touch anything but the body element it is handed and the badges
// `fillBadge` drew (relabelled when a title arrives).

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
