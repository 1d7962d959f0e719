// commentwatch dashboard: account — the "YouTube account" panel: which
// channel is connected, Connect (the server starts Google's sign-in and the
// browser goes there) and Disconnect (confirmed by a second press; the
// server revokes the access at Google and forgets it). Shown only when the
// server has an OAuth client (YOUTUBE_OAUTH_CLIENT_ID).
//
// Once connected, it says for each monitored youtube-live: chat whether the
// connected channel owns it (GET /api/oauth/youtube/chats; the server looks
// each video up once) or may not moderate it.
//
// It also lists the newest actions taken (GET /api/actions), refreshed after
// each (a `cw-action` event from moderate.js).
//
// Must not touch any element outside #yt-account; the network only through
// `api` on /api/oauth/youtube…. Never sees a token (the server keeps them).
// Channel names are shown with textContent.
import { lang } from "./i18n.js";
import { api } from "./connection.js";

const WORDS = {
  en: {
    title: "YouTube account", connect: "Connect YouTube account", disconnect: "Disconnect",
    sure: "Press again to disconnect", connected: "Connected: ", none: "No account connected: read-only.",
    going: "Opening Google…", failed: "Could not: ",
    owner: "your channel's chat: you can moderate it",
    may_not_moderate: "another channel's chat: you may not moderate it (only its moderators can)",
    unknown: "whose chat YouTube did not say",
    chatsLabel: "The monitored live chats",
  },
  "zh-CN": {
    title: "YouTube 账号", connect: "连接 YouTube 账号", disconnect: "断开",
    sure: "再按一次以断开", connected: "已连接：", none: "未连接账号：只读。",
    going: "正在打开 Google…", failed: "未能完成：",
    owner: "你的频道的聊天：可以管理",
    may_not_moderate: "其他频道的聊天：你可能无权管理（只有它的管理员可以）",
    unknown: "YouTube 未说明是谁的聊天",
    chatsLabel: "监控中的直播聊天",
  },
};
const w = (key) => (WORDS[lang] || WORDS.en)[key];
const $ = (id) => document.getElementById(id);
const panel = $("yt-account");

/** The connection as the server says, or null when it cannot be read. */
let current = null;
let confirmUntil = 0;

function render() {
  if (!panel || !current) return;
  panel.hidden = !current.configured;
  // Live chat messages offer their actions (moderate.js) once connected.
  document.body.classList.toggle("yt-connected", !!current.connected);
  $("yt-account-title").textContent = w("title");
  const state = $("yt-account-state");
  const channel = $("yt-account-channel");
  if (current.connected) {
    state.textContent = w("connected");
    channel.textContent = current.channel_title || current.channel_id || "";
  } else {
    state.textContent = w("none");
    channel.textContent = "";
  }
  $("yt-connect").hidden = current.connected;
  $("yt-connect").textContent = w("connect");
  $("yt-disconnect").hidden = !current.connected;
  $("yt-disconnect").textContent = Date.now() < confirmUntil ? w("sure") : w("disconnect");
}

function fail(err) {
  $("yt-account-error").textContent = w("failed") + err.message;
}

/** The newest actions taken, as the server recorded them. */
async function refreshActions() {
  const box = $("yt-actions-box");
  if (!box) return;
  box.hidden = !(current && current.connected);
  if (box.hidden) return;
  let page;
  try {
    page = await api("GET", "/api/actions?limit=20");
  } catch (_) {
    return;
  }
  const list = $("yt-actions");
  list.replaceChildren();
  for (const a of page.actions) {
    const li = document.createElement("li");
    li.classList.toggle("failed", !a.ok);
    const when = new Date(a.at).toLocaleTimeString(lang);
    const what = a.action + (a.duration ? " " + a.duration + " s" : "");
    li.textContent = `${when} · ${what} · ${a.source} ${a.id} · ${a.ok ? "✓" : "✗ " + a.answer}`;
    list.append(li);
  }
}

/** Whose each monitored live chat is: the connected channel's or not. */
async function refreshChats() {
  const list = $("yt-chats");
  if (!list) return;
  list.setAttribute("aria-label", w("chatsLabel"));
  if (!(current && current.connected)) {
    list.hidden = true;
    return;
  }
  let page;
  try {
    page = await api("GET", "/api/oauth/youtube/chats");
  } catch (_) {
    return;
  }
  list.replaceChildren();
  for (const c of page.chats) {
    const li = document.createElement("li");
    li.dataset.source = c.source;
    li.dataset.role = c.role;
    const name = document.createElement("code");
    name.textContent = c.source;
    li.append(name, " — " + (w(c.role) || c.role));
    list.append(li);
  }
  list.hidden = page.chats.length === 0;
}

export async function refreshAccount() {
  try {
    current = await api("GET", "/api/oauth/youtube");
    $("yt-account-error").textContent = "";
  } catch (err) {
    if (current) fail(err);
  }
  render();
  refreshActions();
  refreshChats();
  return current;
}

if (panel) {
  $("yt-connect").addEventListener("click", async () => {
    $("yt-account-error").textContent = w("going");
    try {
      const started = await api("POST", "/api/oauth/youtube/start");
      location.assign(started.url);
    } catch (err) {
      fail(err);
    }
  });
  $("yt-disconnect").addEventListener("click", async () => {
    if (Date.now() >= confirmUntil) {
      confirmUntil = Date.now() + 4000;
      render();
      setTimeout(render, 4100);
      return;
    }
    confirmUntil = 0;
    try {
      await api("POST", "/api/oauth/youtube/disconnect");
    } catch (err) {
      fail(err);
    }
    await refreshAccount();
  });
  refreshAccount();
  // moderate.js tells when an action was asked for.
  document.addEventListener("cw-action", refreshActions);
}
