// commentwatch: render — how a comment's body reaches a page, shared by the
// dashboard and the overlay so there is exactly one place that does it.
//
// Safety rule: `comment.html` (produced by the server's sanitizer) is the
// only string ever assigned to innerHTML, here and nowhere else; everything
// else from a comment goes through textContent or element properties.
// Must not touch anything but the body element it is handed.

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
