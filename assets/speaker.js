// commentwatch: who is speaking and what kind of message it is — the role
// badges (owner, moderator, vip, member, verified), the platform's own
// badges (a level, a fan medal, 大会员), the channel owner's marks (pinned,
// liked), the location line, the name's colour when it reads well, and the
// event line of a membership, gift, sticker, poll, raid or announcement,
// shared by the dashboard and the overlay.
//
// Must not touch: anything but the elements it is given. Every value of a
// comment is untrusted: names, levels, gift names and alt texts go in as
// text (textContent), never as HTML; an image's address is used only as the
// server sent it (https, on the platform's image host, checked there).

import { t } from "./i18n.js";

/** The roles this page knows, in the order the protocol lists them. */
const ROLES = ["owner", "moderator", "vip", "member", "verified"];

/** Fills `el` with a small badge per known role of `author`; hidden when none. */
export function fillRoles(el, author) {
  const roles = (author && Array.isArray(author.roles) ? author.roles : []).filter((r) => ROLES.includes(r));
  const badges = roles.map((role) => {
    const badge = document.createElement("span");
    badge.className = "role";
    badge.dataset.role = role;
    badge.textContent =
      role === "member" && author.member_level ? author.member_level : t("role_" + role);
    badge.title = t("role_" + role);
    return badge;
  });
  el.replaceChildren(...badges);
  el.hidden = badges.length === 0;
}

/** Fills `el` with everything about who wrote `c`: role badges, then the
 *  platform's badges, the owner's marks and (unless `location` is false)
 *  the location line; hidden when there is none. All text, never HTML. */
export function fillWho(el, c, { location = true } = {}) {
  const author = c.author || {};
  fillRoles(el, author);
  const small = (cls, text, title) => {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    if (title) s.title = title;
    return s;
  };
  const extra = [];
  for (const b of Array.isArray(author.badges) ? author.badges : []) {
    if (typeof b === "string" && b) extra.push(small("badge", b));
  }
  if (c.pinned === true) extra.push(small("mark pinned", t("mark_pinned"), t("mark_pinned_title")));
  if (c.liked_by_owner === true) extra.push(small("mark liked", t("mark_liked"), t("mark_liked_title")));
  if (location && typeof c.location === "string" && c.location) {
    extra.push(small("where", c.location));
  }
  el.append(...extra);
  el.hidden = el.childElementCount === 0;
}

/** A CSS colour as [r, g, b, a] (0–255, alpha 0–1), or null: the canvas
 *  normalises whatever the page's variables hold. */
let canvas = null;
function rgba(css) {
  canvas = canvas || document.createElement("canvas").getContext("2d");
  if (!canvas || typeof css !== "string" || !css.trim()) return null;
  canvas.fillStyle = "#010203";
  canvas.fillStyle = css.trim();
  const v = canvas.fillStyle;
  if (v === "#010203" && css.trim().toLowerCase() !== "#010203") return null;
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(v);
  if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16), 1];
  m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(v);
  return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
}

/** WCAG contrast ratio of two opaque colours. */
function contrast(a, b) {
  const lum = ([r, g, bl]) => {
    const ch = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(bl);
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** Whether text in `color` reads well on `background` (a CSS colour):
 *  a contrast of at least 4.5 against a background that is (nearly)
 *  opaque. An unknown or see-through background reads as "no". Answers
 *  are remembered: a chat has few colours and the page one background. */
const legibleCache = new Map();
export function legible(color, background) {
  const key = color + "|" + background;
  if (legibleCache.has(key)) return legibleCache.get(key);
  const fg = rgba(color);
  const bg = rgba(background);
  const ok = !!fg && !!bg && bg[3] >= 0.75 && contrast(fg, bg) >= 4.5;
  if (legibleCache.size > 500) legibleCache.clear();
  legibleCache.set(key, ok);
  return ok;
}

/** Shows the author's name in the platform's colour (`author.color`,
 *  exactly #rrggbb) when it is legible on the background `background()`
 *  returns (asked only when there is a colour), else the default. */
export function colorName(nameEl, author, background) {
  const color = author && typeof author.color === "string" && /^#[0-9a-f]{6}$/i.test(author.color)
    ? author.color : "";
  if (color && legible(color, background())) {
    nameEl.style.setProperty("color", color);
    nameEl.dataset.color = color;
  } else {
    nameEl.style.removeProperty("color");
    delete nameEl.dataset.color;
  }
}

/** The value of a CSS variable on the page's root, e.g. `--panel`. */
export function rootVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** YouTube's own tier of a paid message (1 is the lowest), or null. */
export function platformTier(c) {
  const tier = c.event && Number.isInteger(c.event.tier) ? c.event.tier : null;
  return tier !== null && tier >= 1 && tier <= 7 ? tier : null;
}

/** The line that says what a non-text message is, or "" for ordinary text. */
export function eventLine(c) {
  const e = c.event;
  if (!e || typeof e.type !== "string") return "";
  const level = typeof e.level === "string" ? e.level : "";
  switch (e.type) {
    case "new_member":
      return e.upgrade ? t("ev_upgrade", level) : t("ev_new_member", level);
    case "milestone":
      return t("ev_milestone", e.months || 0, level);
    case "gift_memberships":
      return t("ev_gift_memberships", e.count || 1, level);
    case "gift_received":
      return t("ev_gift_received", level);
    case "gift":
      return t("ev_gift", e.name || e.alt || "", e.count || 1);
    case "sticker":
      return t("ev_sticker", e.alt || "");
    case "poll":
      return t("ev_poll", e.question || "");
    case "members_only_started":
      return t("ev_members_only_started");
    case "members_only_ended":
      return t("ev_members_only_ended");
    case "raid":
      return t("ev_raid", typeof e.name === "string" ? e.name : "", Number.isInteger(e.count) ? e.count : 0);
    case "announcement":
      return t("ev_announcement");
    case "first_message":
      return t("ev_first_message");
    default:
      return "";
  }
}

/** Fills `el` with the event line and its image (a sticker's, a gift's). */
export function fillEvent(el, c) {
  const line = eventLine(c);
  el.hidden = !line;
  if (!line) {
    el.replaceChildren();
    return;
  }
  const parts = [];
  const image = c.event && typeof c.event.image === "string" ? c.event.image : "";
  if (image.startsWith("https://")) {
    const img = document.createElement("img");
    img.src = image;
    img.alt = "";
    img.referrerPolicy = "no-referrer";
    img.className = "event-image";
    parts.push(img);
  }
  const text = document.createElement("span");
  text.textContent = line;
  parts.push(text);
  el.replaceChildren(...parts);
}

/** The card's data attributes: its kind and the platform's tier. */
export function markKind(li, c) {
  if (c.kind && c.kind !== "text") li.dataset.kind = c.kind;
  else delete li.dataset.kind;
  const tier = platformTier(c);
  if (tier !== null) li.dataset.ytTier = String(tier);
  else delete li.dataset.ytTier;
}

/** Whether `c` is what "Paid & members" keeps: a paid message, a
 *  membership, a gift or a sticker, or anything a member writes. */
export function isPaidOrMember(c) {
  if (c.amount) return true;
  if (["superchat", "sticker", "membership", "gift"].includes(c.kind)) return true;
  const roles = c.author && Array.isArray(c.author.roles) ? c.author.roles : [];
  return roles.includes("member");
}
