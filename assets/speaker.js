// commentwatch: who is speaking and what kind of message it is — the role
// badges (owner, moderator, vip, member, verified) and the event line of a
// membership, gift, sticker, poll, raid or announcement, shared by the dashboard and the overlay.
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
