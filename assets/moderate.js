// commentwatch dashboard: moderate — acting on a YouTube comment where it
// was posted, with the connected account: the ⚑ button of a `youtube-live:`
// or `youtube:` comment (shown once an account is connected, see
// account.js) opens a small menu — on a live chat delete the message, time
// out its author (10 s, 5 min, 1 h, 24 h), ban, unban; on a video hold for
// review, reject (optionally banning the author), reply (a text box; the
// reply arrives with the next poll) — each showing its quota cost and done
// only at a second press. Y opens the selected comment's menu. The server does it (POST
// /api/actions/youtube/…); what it retracts comes back as frames. A refusal
// shows its reason in the menu and changes nothing.
//
// Must not touch any element outside #mod-menu but the ⚑ buttons' clicks;
// the network only through `api` on /api/actions/youtube/…. Names are shown
// with textContent.
import { lang } from "./i18n.js";
import { api } from "./connection.js";
import { entryOf, state } from "./model.js";
import { feed } from "./feed.js";

const WORDS = {
  en: {
    delete: "Delete message", timeout: "Time out", ban: "Ban from the chat", unban: "Unban",
    hold: "Hold for review", reject: "Reject", rejectBan: "Reject and ban the author from comments",
    reply: "Reply", replyPlaceholder: "Your reply, posted as your channel",
    units: (n) => `${n} quota units`, confirm: "Press again to confirm: ", working: "Asking YouTube…",
    done: "Done: ", failed: "Not done: ", s10: "10 s", s300: "5 min", s3600: "1 h", s86400: "24 h",
    on: "On YouTube, for ",
  },
  "zh-CN": {
    delete: "删除消息", timeout: "禁言", ban: "从聊天中封禁", unban: "解除封禁",
    hold: "保留以供审核", reject: "拒绝", rejectBan: "拒绝并禁止该作者评论",
    reply: "回复", replyPlaceholder: "你的回复，将以你的频道发布",
    units: (n) => `${n} 配额单位`, confirm: "再按一次以确认：", working: "正在请求 YouTube…",
    done: "已完成：", failed: "未完成：", s10: "10 秒", s300: "5 分钟", s3600: "1 小时", s86400: "24 小时",
    on: "在 YouTube 上，针对 ",
  },
};
const w = (key) => (WORDS[lang] || WORDS.en)[key];
const $ = (id) => document.getElementById(id);
const menu = $("mod-menu");

/** What the menu offers on a video's comments. */
const VIDEO_CHOICES = [
  { act: "hold", cost: 50 },
  { act: "reject", cost: 50 },
  { act: "reject", ban: true, cost: 50 },
  { act: "reply", cost: 50 },
];
/** What the menu offers on a live chat: the action, its duration, its cost. */
const LIVE_CHOICES = [
  { act: "delete", cost: 50 },
  { act: "timeout", duration: 10, cost: 50 },
  { act: "timeout", duration: 300, cost: 50 },
  { act: "timeout", duration: 3600, cost: 50 },
  { act: "timeout", duration: 86400, cost: 50 },
  { act: "ban", cost: 50 },
  { act: "unban", cost: 50 },
];
const label = (c) =>
  (c.duration ? w("timeout") + " " + w("s" + c.duration) : c.ban ? w("rejectBan") : w(c.act)) +
  " · " + w("units")(c.cost);
const choices = () => (target && target.c.source.startsWith("youtube:") ? VIDEO_CHOICES : LIVE_CHOICES);

let target = null; // the entry the menu acts on
let armed = null; // the choice pressed once, and until when

function close() {
  menu.hidden = true;
  target = null;
  armed = null;
}

function render() {
  const items = $("mod-menu-items");
  const typed = $("mod-reply") ? $("mod-reply").value : "";
  items.replaceChildren();
  for (const c of choices()) {
    if (c.act === "reply") {
      const box = document.createElement("textarea");
      box.id = "mod-reply";
      box.className = "text";
      box.rows = 3;
      box.maxLength = 10000;
      box.placeholder = w("replyPlaceholder");
      box.value = typed;
      items.append(box);
    }
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn small ghost";
    b.setAttribute("role", "menuitem");
    b.dataset.act = c.act;
    if (c.duration) b.dataset.duration = String(c.duration);
    if (c.ban) b.dataset.ban = "1";
    const sure = armed && armed.c === c && Date.now() < armed.until;
    b.classList.toggle("confirm", !!sure);
    b.textContent = (sure ? w("confirm") : "") + label(c);
    b.addEventListener("click", () => choose(c));
    items.append(b);
  }
}

async function choose(c) {
  if (!target) return;
  if (!armed || armed.c !== c || Date.now() >= armed.until) {
    armed = { c, until: Date.now() + 4000 };
    render();
    return;
  }
  armed = null;
  render();
  const status = $("mod-menu-status");
  status.textContent = w("working");
  const body = { source: target.c.source, id: target.c.id };
  if (c.duration) body.duration = c.duration;
  if (c.ban) body.ban_author = true;
  if (c.act === "reply") body.text = $("mod-reply").value;
  try {
    await api("POST", "/api/actions/youtube/" + c.act, body);
    status.textContent = w("done") + label(c);
  } catch (err) {
    status.textContent = w("failed") + err.message;
  }
  document.dispatchEvent(new CustomEvent("cw-action"));
}

function open(button, e) {
  if (target !== e && $("mod-reply")) $("mod-reply").value = "";
  target = e;
  armed = null;
  $("mod-menu-who").textContent = w("on") + ((e.c.author && e.c.author.name) || "");
  $("mod-menu-status").textContent = "";
  render();
  menu.hidden = false;
  const r = button.getBoundingClientRect();
  const width = menu.offsetWidth;
  menu.style.left = Math.max(8, Math.min(r.right - width, innerWidth - width - 8)) + "px";
  menu.style.top = Math.min(r.bottom + 4, innerHeight - menu.offsetHeight - 8) + "px";
}

if (menu) {
  feed.addEventListener("click", (ev) => {
    const b = ev.target.closest("button.act.mod");
    if (!b) return;
    const e = entryOf(b.closest("li.comment"));
    if (e) open(b, e);
  });
  document.addEventListener("click", (ev) => {
    // The path as dispatched: a menu item re-rendered meanwhile still counts.
    const inside = ev.composedPath().some((n) => n === menu || (n.matches && n.matches("button.act.mod")));
    if (!menu.hidden && !inside) close();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !menu.hidden) close();
    // Y: the selected comment's menu (when it offers one).
    if ((ev.key !== "y" && ev.key !== "Y") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable], dialog")) return;
    const e = state.selected;
    const li = e && feed.querySelector(`li.comment[data-id="${CSS.escape(e.c.id)}"][data-source="${CSS.escape(e.c.source)}"]`);
    const b = li && li.querySelector("button.act.mod");
    if (!b || getComputedStyle(b).display === "none") return;
    ev.preventDefault();
    open(b, e);
    const first = $("mod-menu-items").querySelector("button");
    if (first) first.focus();
  });
}
