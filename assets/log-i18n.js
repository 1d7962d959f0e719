// commentwatch: the words of the log page (/log) and the sign-in pages in
// English and Simplified Chinese. The language is the dashboard's choice:
// the one saved in its settings (localStorage "cw.dashboard.v1", `lang`),
// else the browser's first language (what it sends as Accept-Language).
// A classic script loaded before log.js: it fills the static text marked
// with data-i18n* attributes, as the dashboard's i18n.js does, and gives
// log.js `window.cwI18n.t`. Results are text, for textContent or an
// attribute, never HTML. Must not touch anything but those attributes,
// the document's title and lang, and the language setting.
"use strict";

(function () {
  const SETTINGS_KEY = "cw.dashboard.v1";
  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
  const STRINGS = {
    en: {
      logTitle: "Comment log — commentwatch", live: "Live", log: "Log", signOut: "Sign out",
      searchPlaceholder: "Search text and names, any language: 主播, sponsor, 👍",
      searchLabel: "Search comments", search: "Search", source: "Source", allSources: "all sources",
      author: "Author", authorPlaceholder: "name or channel id", from: "From", until: "Until",
      replies: "Replies", any: "any", onlyReplies: "only replies", noReplies: "no replies",
      deletedF: "Deleted", onlyDeleted: "only deleted", hideDeleted: "hide deleted",
      editedF: "Edited", onlyEdited: "only edited", notEdited: "not edited",
      paid: "Super Chats", onlyPaid: "only paid", notPaid: "not paid",
      highlighted: "Highlighted", onlyHighlighted: "only highlighted", notHighlighted: "not highlighted",
      featured: "On stream", onlyFeatured: "only featured", neverFeatured: "never featured",
      roleF: "Who", anyone: "anyone", roleOwner: "owner", roleModerator: "moderators",
      roleMember: "members", roleVerified: "verified", roleVip: "VIPs",
      kindF: "Kind", anyKind: "every kind", kindText: "ordinary comments", kindSuperchat: "Super Chats",
      kindSticker: "stickers", kindMembership: "memberships", kindGift: "gifts", kindEvent: "other events",
      badgeOwner: "owner", badgeModerator: "moderator", badgeMember: "member", badgeVerified: "verified",
      badgeVip: "VIP", markPinned: "📌 pinned", markLiked: "♥ by creator",
      noComments: "No comments", nComments: (n) => plural(n, "comment", "comments"),
      matching: " matching", furtherBack: ", further back", newestFirst: ", newest first.",
      clearFilters: "Clear filters", exportThis: "Export this selection:", csvExcel: "CSV for Excel",
      csvExcelTitle: "CSV with a byte order mark, so Excel reads it as UTF-8",
      jsonPage: "JSON (this page)", byAuthor: "Everything by this author", onlySource: "Only this source",
      around: "What was said around then", likes: "Likes", edited: "edited", deleted: "deleted",
      editedTitle: "The author edited it; this is the latest text",
      deletedTitle: "Removed on the platform; kept in the log", open: "open ↗",
      replyingTo: "↪ replying to", replyTo: "↪ reply to", parentTitle: "The comment it answers",
      parentPlatform: "The comment it answers, on its platform",
      newest: "← Newest", older: "Older →", listLabel: "Comments, newest first", pagesLabel: "Pages of the log",
      stats: "Statistics", perMinute: "Comments per minute", bySource: "By source",
      busiest: "Busiest moments", mostActive: "Most active",
      showStats: "Show statistics for this selection", counting: "Counting…",
      statsFailed: "Statistics could not be loaded. ", tryNoJs: "Try without JavaScript",
      eachBar: (m, peak) => `Each bar is ${m === 1 ? "one minute" : m + " minutes"}; peak ${peak} comments a minute. Click a bar to see that stretch.`,
      chartLabel: (peak) => `Comments per minute over time; peak ${peak}`,
      barTitle: (when, n) => `${when}: ${plural(n, "comment", "comments")}`,
      showUtc: "Show UTC", showLocal: "Show local times",
      utcTitle: (where) => `Times are in UTC; show them in this browser's time zone${where}`,
      localTitle: (zone, where) => `Times are in ${zone}${where}; show them in UTC`,
      language: "中文", languageTitle: "Language",
      signInTitle: "Sign in — commentwatch", signOutTitle: "Sign out — commentwatch",
      protected: "This dashboard is protected. Enter the token it was started with", token: "Token",
      actions: "Actions", actionsTitle: "Actions — commentwatch",
      noActions: "Nothing was done on the platforms from the dashboard yet.",
      nActions: (n) => plural(n, "action", "actions"),
      actionsAll: (n) => `The ${n} newest are listed; every one:`, actionsLabel: "Actions, newest first",
      thWhen: "When", thWho: "Who", thWhat: "What", thComment: "Comment", thAnswer: "YouTube's answer",
      you: "you", session: "session", notInLog: "not in the log", answerDone: "done",
      whyQuota: "quota spent", whyNotModerator: "not a moderator", whyGone: "already gone",
      whyNotAllowed: "not allowed", whyNotConnected: "no account connected", whyReconnect: "reconnect needed",
      whyNoChat: "no live chat",
      actedDelete: "deleted on YouTube", actedTimeout: "author timed out on YouTube",
      actedBan: "author banned on YouTube", actedUnban: "author unbanned on YouTube",
      actedHold: "held for review on YouTube", actedReject: "rejected on YouTube",
      actedReply: "replied to on YouTube", actedOther: "acted on on YouTube",
      byYou: "by you", bySession: "by session",
      signIn: "Sign in", signOutAsk: "Sign out of this browser? The dashboard and the log will ask for the token again.",
    },
    "zh-CN": {
      logTitle: "评论记录 — commentwatch", live: "直播", log: "记录", signOut: "退出登录",
      searchPlaceholder: "搜索评论和名字，任何语言：主播、sponsor、👍",
      searchLabel: "搜索评论", search: "搜索", source: "来源", allSources: "全部来源",
      author: "作者", authorPlaceholder: "名字或频道 ID", from: "从", until: "到",
      replies: "回复", any: "全部", onlyReplies: "只看回复", noReplies: "不含回复",
      deletedF: "已删除", onlyDeleted: "只看已删除", hideDeleted: "隐藏已删除",
      editedF: "已编辑", onlyEdited: "只看已编辑", notEdited: "未编辑",
      paid: "超级留言", onlyPaid: "只看付费", notPaid: "不含付费",
      highlighted: "高亮", onlyHighlighted: "只看高亮", notHighlighted: "不含高亮",
      featured: "上屏", onlyFeatured: "只看上过屏的", neverFeatured: "从未上屏",
      roleF: "身份", anyone: "所有人", roleOwner: "主播 / UP主", roleModerator: "房管 / 管理员",
      roleMember: "会员", roleVerified: "认证", roleVip: "VIP",
      kindF: "类型", anyKind: "全部类型", kindText: "普通评论", kindSuperchat: "超级留言",
      kindSticker: "贴纸", kindMembership: "会员", kindGift: "礼物", kindEvent: "其他事件",
      badgeOwner: "主播", badgeModerator: "管理员", badgeMember: "会员", badgeVerified: "已认证",
      badgeVip: "VIP", markPinned: "📌 置顶", markLiked: "♥ UP主觉得很赞",
      noComments: "没有评论", nComments: (n) => `${n.toLocaleString()} 条评论`,
      matching: "，匹配", furtherBack: "，更早的", newestFirst: "，最新的在前。",
      clearFilters: "清除筛选", exportThis: "导出当前结果：", csvExcel: "CSV（Excel 用）",
      csvExcelTitle: "带字节顺序标记的 CSV，Excel 能按 UTF-8 读取",
      jsonPage: "JSON（本页）", byAuthor: "这位作者的全部评论", onlySource: "只看这个来源",
      around: "当时前后的评论", likes: "点赞", edited: "已编辑", deleted: "已删除",
      editedTitle: "作者编辑过，这是最新的内容",
      deletedTitle: "已在平台上删除，记录中仍保留", open: "打开 ↗",
      replyingTo: "↪ 回复", replyTo: "↪ 回复", parentTitle: "被回复的评论",
      parentPlatform: "被回复的评论（在平台上）",
      newest: "← 最新", older: "更早 →", listLabel: "评论，最新的在前", pagesLabel: "记录的分页",
      stats: "统计", perMinute: "每分钟评论数", bySource: "按来源",
      busiest: "最热闹的时刻", mostActive: "最活跃",
      showStats: "显示当前结果的统计", counting: "统计中…",
      statsFailed: "统计加载失败。", tryNoJs: "不用 JavaScript 再试",
      eachBar: (m, peak) => `每根柱子是 ${m} 分钟；峰值每分钟 ${peak} 条。点击柱子查看那一段。`,
      chartLabel: (peak) => `每分钟评论数随时间变化；峰值 ${peak}`,
      barTitle: (when, n) => `${when}：${n.toLocaleString()} 条评论`,
      showUtc: "显示 UTC", showLocal: "显示本地时间",
      utcTitle: (where) => `时间为 UTC；改为本浏览器的时区${where}`,
      localTitle: (zone, where) => `时间为 ${zone}${where}；改为 UTC`,
      language: "English", languageTitle: "语言",
      signInTitle: "登录 — commentwatch", signOutTitle: "退出登录 — commentwatch",
      protected: "此控制台受保护。请输入启动时设置的令牌", token: "令牌",
      actions: "操作", actionsTitle: "操作 — commentwatch",
      noActions: "还没有从控制台在平台上做过任何操作。",
      nActions: (n) => `${n.toLocaleString()} 次操作`,
      actionsAll: (n) => `这里列出最新的 ${n} 次；全部：`, actionsLabel: "操作，最新的在前",
      thWhen: "时间", thWho: "谁", thWhat: "操作", thComment: "评论", thAnswer: "YouTube 的回应",
      you: "你", session: "会话", notInLog: "不在记录中", answerDone: "已完成",
      whyQuota: "配额已用完", whyNotModerator: "不是管理员", whyGone: "已不存在",
      whyNotAllowed: "不允许", whyNotConnected: "未连接账号", whyReconnect: "需要重新连接",
      whyNoChat: "没有直播聊天",
      actedDelete: "已在 YouTube 删除", actedTimeout: "作者已在 YouTube 被禁言",
      actedBan: "作者已在 YouTube 被封禁", actedUnban: "作者已在 YouTube 解封",
      actedHold: "已在 YouTube 留待审核", actedReject: "已在 YouTube 拒绝",
      actedReply: "已在 YouTube 回复", actedOther: "已在 YouTube 操作",
      byYou: "由你", bySession: "由会话",
      signIn: "登录", signOutAsk: "在此浏览器退出登录？控制台和记录页会再次要求输入令牌。",
      // The server's sign-in messages, by their English text.
      "The sign-in form was incomplete.": "登录表单不完整。",
      "This sign-in came from another site and was refused. Sign in on this page.": "这次登录来自其他网站，已拒绝。请在本页登录。",
      "Too many wrong tokens from this address. Wait a minute, then try again.": "此地址输错令牌次数过多。请等一分钟再试。",
      "That is not the token this commentwatch was started with.": "这不是 commentwatch 启动时设置的令牌。",
      "The comment log does not answer, so no session could be opened. Try again.": "评论记录没有响应，无法登录。请再试一次。",
    },
  };

  function saved() {
    try {
      return JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  /** The dashboard's rule: the saved choice, else the browser's language. */
  function pick() {
    const wanted = saved().lang || (navigator.languages || [navigator.language || "en"])[0] || "en";
    return /^zh/i.test(wanted) ? "zh-CN" : "en";
  }

  let lang = pick();

  function t(key, ...args) {
    const v = (STRINGS[lang] && STRINGS[lang][key]) ?? STRINGS.en[key];
    if (typeof v === "function") return v(...args);
    return v === undefined ? key : v;
  }

  /** Fills every data-i18n* text, title, placeholder and aria-label. */
  function translate(root) {
    for (const el of root.querySelectorAll("[data-i18n]")) {
      const n = el.dataset.n;
      el.textContent = n === undefined ? t(el.dataset.i18n) : t(el.dataset.i18n, Number(n));
    }
    for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
    // Messages the server wrote in English, known by their text.
    for (const el of root.querySelectorAll("[data-i18n-message]")) {
      const english = el.dataset.i18nMessage;
      el.textContent = (STRINGS[lang] && STRINGS[lang][english]) || english;
    }
    document.documentElement.lang = lang;
    const title = document.documentElement.dataset.i18nDocTitle;
    if (title) document.title = (document.title.startsWith("“") ? document.title.split(" — ")[0] + " — " : "") + t(title);
  }

  /** Switches and saves the language, in the dashboard's settings too. */
  function setLang(l) {
    lang = l;
    try {
      const s = saved();
      s.lang = l;
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
    } catch (e) {
      /* for this page only */
    }
    translate(document);
    for (const f of listeners) f();
  }

  const listeners = [];
  window.cwI18n = {
    t,
    translate,
    get lang() {
      return lang;
    },
    onChange: (f) => listeners.push(f),
  };

  function init() {
    translate(document);
    const btn = document.getElementById("lang-btn");
    if (btn) {
      btn.hidden = false;
      btn.addEventListener("click", () => setLang(lang === "en" ? "zh-CN" : "en"));
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
