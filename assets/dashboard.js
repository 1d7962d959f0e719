// commentwatch dashboard: renders the live feed from /ws.
//
// Safety rule: every string from a comment reaches the page through
// textContent, except `comment.html`, which the server's sanitizer produced
// and which is the only thing ever assigned to innerHTML.
"use strict";

(function () {
  const MAX_RENDERED = 500; // older comments stay in the log, not the DOM
  const feed = document.getElementById("feed");
  const empty = document.getElementById("empty");
  const conn = document.getElementById("conn");
  const sourcesEl = document.getElementById("sources");
  const counter = document.getElementById("counter");
  const template = document.getElementById("comment-template");

  let lastSeq = 0; // highest seq applied; frames at or below it are dropped
  let logId = null; // which log the seqs belong to
  let received = 0;
  let retries = 0;
  let socket = null;
  const rendered = new Map(); // "source\u0000id" -> <li>

  const key = (source, id) => source + "\u0000" + id;

  function setConn(state, label) {
    conn.dataset.state = state;
    conn.textContent = label;
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = lastSeq > 0 ? "?since=" + encodeURIComponent(lastSeq) : "";
    setConn("connecting", retries ? "reconnecting…" : "connecting…");
    const ws = new WebSocket(proto + "//" + location.host + "/ws" + query);
    socket = ws;
    // Frames from a socket we have given up on are ignored.
    ws.addEventListener("message", (ev) => {
      if (ws !== socket) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      handle(frame);
    });
    ws.addEventListener("close", () => {
      if (ws !== socket) return;
      socket = null;
      setConn("offline", "offline — reconnecting");
      // Back off 0.5 s, 1 s, 2 s … up to 15 s, with jitter so a restarted
      // server is not hit by every dashboard in the same instant.
      const delay = Math.min(15000, 500 * 2 ** retries) * (0.75 + Math.random() * 0.5);
      retries = Math.min(retries + 1, 10);
      setTimeout(connect, delay);
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        retries = 0;
        if ((logId && frame.log_id !== logId) || frame.latest_seq < lastSeq) {
          // The server now keeps another log: our seq means nothing there.
          // Start over from its recent comments.
          clearFeed();
          logId = frame.log_id;
          const stale = socket;
          socket = null;
          stale.close();
          connect();
          return;
        }
        logId = frame.log_id;
        setConn("live", "live");
        break;
      case "status":
        renderStatus(frame.sources || []);
        break;
      case "comment":
      case "update":
      case "delete":
        if (typeof frame.seq !== "number" || frame.seq <= lastSeq) return;
        lastSeq = frame.seq;
        if (frame.type === "delete") markDeleted(frame.source, frame.id);
        else upsert(frame.seq, frame.comment, frame.type === "update");
        break;
    }
  }

  function clearFeed() {
    feed.replaceChildren();
    rendered.clear();
    lastSeq = 0;
    received = 0;
    updateCounter();
  }

  function upsert(seq, c, isUpdate) {
    const k = key(c.source, c.id);
    const existing = rendered.get(k);
    if (existing) {
      fill(existing, c);
      if (isUpdate) existing.classList.add("edited");
      return;
    }
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.seq = String(seq);
    fill(li, c);
    rendered.set(k, li);
    feed.prepend(li);
    received += 1;
    while (feed.children.length > MAX_RENDERED) {
      const old = feed.lastElementChild;
      rendered.delete(key(old.dataset.source, old.dataset.id));
      old.remove();
    }
    empty.hidden = true;
    updateCounter();
  }

  function fill(li, c) {
    li.dataset.source = c.source;
    li.dataset.id = c.id;
    li.classList.toggle("edited", !!c.edited);
    li.classList.toggle("deleted", !!c.deleted);
    li.classList.toggle("paid", !!c.amount);
    const author = c.author || {};
    li.querySelector(".author").textContent = author.name || "(no name)";
    renderAvatar(li.querySelector(".avatar"), author);
    const badge = li.querySelector(".source");
    badge.textContent = c.source;
    badge.dataset.hue = String(hue(c.source));
    const time = li.querySelector(".time");
    time.dateTime = c.published_at;
    time.title = new Date(c.published_at).toLocaleString();
    time.textContent = relative(c.published_at);
    const amount = li.querySelector(".amount");
    amount.hidden = !c.amount;
    amount.textContent = c.amount ? c.amount.display : "";
    const likes = li.querySelector(".likes");
    likes.hidden = !(c.likes > 0);
    likes.textContent = c.likes > 0 ? "♥ " + c.likes : "";
    const reply = li.querySelector(".reply-to");
    reply.hidden = !c.reply_to;
    if (c.reply_to) {
      const parent = rendered.get(key(c.source, c.reply_to));
      const name = parent ? parent.querySelector(".author").textContent : null;
      reply.textContent = name ? "↪ replying to " + name : "↪ reply";
    }
    const body = li.querySelector(".body");
    if (c.html) {
      // The one innerHTML: sanitized on the server by the allowlist policy.
      body.innerHTML = c.html;
    } else {
      // Markup that sanitized to nothing: show what was typed, as text.
      body.textContent = c.text;
    }
    if (c.emotes) drawEmotes(body, c.emotes);
  }

  // Replaces emote tokens such as "[doge]" in the body's text with their
  // images (https URLs on the platform's image host, checked server-side),
  // built as elements: no HTML strings.
  function drawEmotes(body, emotes) {
    const tokens = Object.keys(emotes).filter((t) => t.length > 0);
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
        const token = tokens.find((t) => text.startsWith(t, i));
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

  function renderAvatar(el, author) {
    el.replaceChildren();
    if (author.avatar) {
      const img = document.createElement("img");
      img.src = author.avatar; // https on a platform image host, checked server-side
      img.alt = "";
      img.loading = "lazy";
      img.referrerPolicy = "no-referrer";
      el.append(img);
    } else {
      el.textContent = Array.from((author.name || "?").trim())[0] || "?";
      el.dataset.hue = String(hue(author.id || author.name || ""));
    }
  }

  function markDeleted(source, id) {
    const li = rendered.get(key(source, id));
    if (li) li.classList.add("deleted");
  }

  const STATE_LABELS = {
    starting: "starting",
    ok: "ok",
    backoff: "retrying",
    quota: "quota spent",
    login: "needs login",
    stopped: "stopped",
  };

  function renderStatus(list) {
    const items = list.map((s) => {
      const li = document.createElement("li");
      li.className = "source-status";
      li.dataset.source = s.source;
      li.dataset.state = s.state;
      let label = s.source + ": " + (STATE_LABELS[s.state] || s.state);
      if (s.state === "backoff" || s.state === "quota") {
        if (s.next_poll) label += " until " + new Date(s.next_poll).toLocaleTimeString();
      }
      if (typeof s.quota_used === "number") label += " · " + s.quota_used.toLocaleString() + " units today";
      li.textContent = label;
      const lines = [];
      if (s.detail) lines.push(s.detail);
      if (s.last_error) lines.push("last error: " + s.last_error);
      if (s.last_ok) lines.push("last successful poll: " + new Date(s.last_ok).toLocaleString());
      if (s.next_poll) lines.push("next poll: " + new Date(s.next_poll).toLocaleString());
      li.title = lines.join("\n");
      return li;
    });
    sourcesEl.replaceChildren(...items);
  }

  function updateCounter() {
    counter.textContent = received === 1 ? "1 comment" : received + " comments";
  }

  function hue(s) {
    let h = 0;
    for (const ch of s) h = (h * 31 + ch.codePointAt(0)) % 360;
    return Math.floor(h / 30) * 30; // 12 colour classes in style.css
  }

  function relative(iso) {
    const secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!isFinite(secs)) return "";
    if (secs < 45) return "just now";
    if (secs < 3600) return Math.round(secs / 60) + " min ago";
    if (secs < 86400) return Math.round(secs / 3600) + " h ago";
    return new Date(iso).toLocaleDateString();
  }

  setInterval(() => {
    for (const t of feed.querySelectorAll("time.time")) t.textContent = relative(t.dateTime);
  }, 30000);

  connect();
})();
