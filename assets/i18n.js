// commentwatch dashboard: i18n — the dashboard's words in English and
// Simplified Chinese, the current language, and `translate`, which fills
// the static text marked with data-i18n* attributes.
//
// Must not touch: comments, settings, or any part of the page beyond the
// data-i18n* attributes of the root it is given. A function here may join
// a comment's words (an author's name) into a sentence: its result is text,
// for textContent or an attribute, never HTML.

const I18N = {
  en: {
    focusTools: "Focus tools", filterPlaceholder: "Filter text, author or source  ( / )",
    filterLabel: "Filter comments", sourceLabel: "Source", allSources: "All sources",
    onlyQuestions: "Questions", onlyQuestionsTitle: "Only questions: ?, ？, 吗, 呢, 什么, か, 教えて… near the end (Q)",
    pause: "Pause", resume: "Resume", pauseTitle: "Pause the feed (P)",
    orderTop: "Newest on top", orderBottom: "Newest at bottom",
    orderTitle: "Newest on top, or at the bottom like a chat",
    panels: "Panels", languageTitle: "Language", themeTitle: "Theme: system, light, dark",
    themeAuto: "Auto", themeLight: "Light", themeDark: "Dark", helpTitle: "Keyboard shortcuts (?)", signOut: "Sign out",
    nextUnread: "Next unread", nextUnreadTitle: "Next unread (N)", markAllRead: "Mark all read",
    waiting: "Waiting for comments…", olderIn: "Older comments are in", theLog: "the log",
    onStream: "On stream", clear: "Clear",
    featuredEmpty: "Click ☆ on a comment (or select it and press F) to show it on the overlay.",
    overlaySetup: "OBS overlay URL", ovMode: "Shows", ovFeatured: "Featured comments",
    ovLatest: "Latest comments", ovLimit: "At most", ovFade: "Leave after (s, 0 = stay)",
    ovSize: "Text size (px)", ovTheme: "Style", ovDark: "Dark cards", ovLight: "Light cards",
    ovPlain: "Text only", ovFont: "Font (installed)", overlayUrl: "Overlay URL",
    copyOverlay: "Copy overlay URL", preview: "Preview",
    overlayHint: "In OBS: Sources → + → Browser, paste the URL, width 1920 × height 1080. The URL holds no password.",
    highlight: "Highlight", hlPlaceholder: "word or phrase", add: "Add", hidden: "Hidden",
    blockPlaceholder: "word, or author:name", alerts: "Alerts",
    alSound: "play a sound", alNotify: "desktop notification",
    hoverPause: "hold the feed while the mouse is over it",
    resetSettings: "Reset page settings", status: "Status", sources: "Sources",
    rateTitle: "Comments per minute, last 10 minutes", perMinute: "/min", today: "today",
    undo: "Undo", shortcuts: "Keyboard shortcuts",
    kFeature: "Put the selected comment on stream (or take it off); with none selected, select the newest first", kNext: "Next unread comment",
    kMove: "Select older / newer comment", kAnswered: "Mark the selected comment answered",
    kHide: "Hide the selected comment's author", kUndo: "Undo the last hide",
    kPause: "Pause or resume the feed", kLive: "Back to the newest comments",
    kMarkAll: "Mark all read", kFilter: "Filter", kQuestions: "Only questions",
    kEsc: "Clear the selection (the feed runs again), leave the filter box", kHelp: "This help", close: "Close",
    edited: "edited", deleted: "deleted", answered: "answered",
    featureTitle: "Show on stream (F)", answeredTitle: "Mark answered (A)",
    hideTitle: "Hide this author (H)", dismissTitle: "Take off stream", remove: "Remove",
    feedTop: "Comments, newest first", feedBottom: "Comments, newest last",
    connecting: "connecting…", reconnecting: "reconnecting…", live: "live",
    offline: "offline — reconnecting",
    offlineBanner: (ago, at) => "Offline — no word from the server for " + ago + " (last at " + at + "). New comments are not arriving; reconnecting…",
    offlineNever: (ago) => "Offline — cannot reach the server (trying for " + ago + "); reconnecting…",
    backOnline: (away) => "Back online after " + away + ".",
    caughtUp: (n, away) => "Back online after " + away + " — " + (n === 1 ? "1 comment" : n.toLocaleString() + " comments") + " caught up.",
    st_unknown: "unknown", unknownTitle: "Not known while the page is offline",
    gapOpen: (at) => "Connection lost at " + at,
    gapClosed: (from, to) => "Connection lost " + from + " – " + to,
    gapCaught: (from, to, n) => "Connection lost " + from + " – " + to + " · " + (n === 1 ? "1 comment" : n.toLocaleString() + " comments") + " caught up",
    newComments: (n) => (n === 1 ? "1 new comment" : n.toLocaleString() + " new comments"),
    unread: (n) => n.toLocaleString() + " unread", shown: (n) => n.toLocaleString() + " shown",
    newSince: (n) => n.toLocaleString() + " new since you looked", showingLatest: (n) => "showing the latest " + n.toLocaleString(),
    unreadHere: (n) => n.toLocaleString() + " of them on this page; the rest are in the log",
    pausedScroll: "Paused — scrolled away", pausedHover: "Paused — mouse over the feed",
    pausedSelected: "Paused — a comment is selected (Esc releases)", pausedMenu: "Paused — a menu is open",
    pausedManual: "Paused", noName: "(no name)", justNow: "just now",
    minAgo: (n) => n + " min ago", hAgo: (n) => n + " h ago",
    replyingTo: (name) => "↪ replying to " + name, reply: "↪ reply",
    st_starting: "starting", st_ok: "ok", st_backoff: "retrying", st_quota: "paused for quota",
    st_login: "needs login", st_stopped: "stopped", st_standby: "polled by another instance", until: (t) => "until " + t,
    lastError: "last error: ", lastOk: "last successful poll: ", nextPoll: "next poll: ",
    unitsToday: (n) => n.toLocaleString() + " units today",
    streaming: "streaming",
    pollingEvery: (every) => "polling every " + every,
    connections: (n) => n.toLocaleString() + (n === 1 ? " connection" : " connections"),
    quotaLeft: (n) => "YouTube quota left today: " + n,
    hiddenToast: (w) => "Hidden: " + w, copied: "Overlay URL copied",
    copyFailed: "Select the URL and copy it", featureFailed: "Could not put it on stream: ",
    hideFailed: "Could not change the hidden list: ",
    queueFull: (n) => "On stream (max " + n + "): the oldest makes room",
    notifyHighlight: "Highlighted comment", notifyAuthor: "New author",
    notifyDenied: "Notifications are blocked for this site in the browser",
    resetConfirm: "Reset every setting of this page?",
  },
  "zh-CN": {
    focusTools: "筛选工具", filterPlaceholder: "按内容、作者或来源筛选  ( / )",
    filterLabel: "筛选评论", sourceLabel: "来源", allSources: "全部来源",
    onlyQuestions: "只看提问", onlyQuestionsTitle: "只看提问：结尾附近有 ?、？、吗、呢、什么、か、教えて… (Q)",
    pause: "暂停", resume: "继续", pauseTitle: "暂停滚动 (P)",
    orderTop: "最新在上", orderBottom: "最新在下",
    orderTitle: "最新评论在顶部，或像聊天一样在底部",
    panels: "面板", languageTitle: "语言", themeTitle: "主题：跟随系统、浅色、深色",
    themeAuto: "自动", themeLight: "浅色", themeDark: "深色", helpTitle: "快捷键 (?)", signOut: "退出登录",
    nextUnread: "下一条未读", nextUnreadTitle: "下一条未读 (N)", markAllRead: "全部标为已读",
    waiting: "等待评论…", olderIn: "更早的评论在", theLog: "评论记录",
    onStream: "直播画面", clear: "清空",
    featuredEmpty: "点评论上的 ☆（或选中后按 F），把它显示在直播叠加层上。",
    overlaySetup: "OBS 叠加层网址", ovMode: "显示", ovFeatured: "精选评论",
    ovLatest: "最新评论", ovLimit: "最多", ovFade: "停留秒数（0 = 一直显示）",
    ovSize: "字号（像素）", ovTheme: "样式", ovDark: "深色卡片", ovLight: "浅色卡片",
    ovPlain: "仅文字", ovFont: "字体（本机已安装）", overlayUrl: "叠加层网址",
    copyOverlay: "复制叠加层网址", preview: "预览",
    overlayHint: "在 OBS 中：来源 → + → 浏览器，粘贴网址，宽 1920 × 高 1080。网址里没有密码。",
    highlight: "高亮", hlPlaceholder: "词语", add: "添加", hidden: "屏蔽",
    blockPlaceholder: "词语，或 author:用户名", alerts: "提醒",
    alSound: "播放提示音", alNotify: "桌面通知",
    hoverPause: "鼠标停在评论区时暂停滚动",
    resetSettings: "重置页面设置", status: "状态", sources: "来源",
    rateTitle: "每分钟评论数（最近 10 分钟）", perMinute: "/分钟", today: "今天",
    undo: "撤销", shortcuts: "快捷键",
    kFeature: "把选中的评论放上直播画面（或撤下）；未选中时先选中最新一条", kNext: "下一条未读评论",
    kMove: "选择更早 / 更新的评论", kAnswered: "把选中的评论标为已回答",
    kHide: "屏蔽选中评论的作者", kUndo: "撤销上一次屏蔽",
    kPause: "暂停或继续滚动", kLive: "回到最新评论",
    kMarkAll: "全部标为已读", kFilter: "筛选", kQuestions: "只看提问",
    kEsc: "取消选择（评论继续滚动），离开筛选框", kHelp: "显示本帮助", close: "关闭",
    edited: "已编辑", deleted: "已删除", answered: "已回答",
    featureTitle: "放上直播画面 (F)", answeredTitle: "标为已回答 (A)",
    hideTitle: "屏蔽此作者 (H)", dismissTitle: "从直播画面撤下", remove: "移除",
    feedTop: "评论，最新在上", feedBottom: "评论，最新在下",
    connecting: "连接中…", reconnecting: "重新连接中…", live: "实时",
    offline: "已断开，正在重连",
    offlineBanner: (ago, at) => "已离线：已有 " + ago + " 没有收到服务器消息（最后一次在 " + at + "）。新评论暂时不会出现，正在重连…",
    offlineNever: (ago) => "已离线：无法连接服务器（已尝试 " + ago + "），正在重连…",
    backOnline: (away) => "已恢复连接（离线 " + away + "）。",
    caughtUp: (n, away) => "已恢复连接（离线 " + away + "），补回 " + n.toLocaleString() + " 条评论。",
    st_unknown: "未知", unknownTitle: "离线时无法得知来源状态",
    gapOpen: (at) => "连接在 " + at + " 中断",
    gapClosed: (from, to) => "连接中断 " + from + " – " + to,
    gapCaught: (from, to, n) => "连接中断 " + from + " – " + to + " · 补回 " + n.toLocaleString() + " 条评论",
    newComments: (n) => n.toLocaleString() + " 条新评论",
    unread: (n) => n.toLocaleString() + " 条未读", shown: (n) => "显示 " + n.toLocaleString() + " 条",
    newSince: (n) => "你离开后新增 " + n.toLocaleString() + " 条", showingLatest: (n) => "显示最新 " + n.toLocaleString() + " 条",
    unreadHere: (n) => "其中 " + n.toLocaleString() + " 条在本页，其余在评论记录中",
    pausedScroll: "已暂停：正在查看旧评论", pausedHover: "已暂停：鼠标在评论区",
    pausedSelected: "已暂停：已选中一条评论（按 Esc 取消）", pausedMenu: "已暂停：菜单已打开",
    pausedManual: "已暂停", noName: "（无名）", justNow: "刚刚",
    minAgo: (n) => n + " 分钟前", hAgo: (n) => n + " 小时前",
    replyingTo: (name) => "↪ 回复 " + name, reply: "↪ 回复",
    st_starting: "启动中", st_ok: "正常", st_backoff: "重试中", st_quota: "配额用尽，已暂停",
    st_login: "需要登录", st_stopped: "已停止", st_standby: "由另一实例轮询", until: (t) => "至 " + t,
    lastError: "上次错误：", lastOk: "上次成功：", nextPoll: "下次获取：",
    unitsToday: (n) => "今日已用 " + n.toLocaleString() + " 单位",
    streaming: "实时推送",
    pollingEvery: (every) => "每 " + every + " 轮询",
    connections: (n) => n.toLocaleString() + " 次连接",
    quotaLeft: (n) => "YouTube 今日剩余配额：" + n,
    hiddenToast: (w) => "已屏蔽：" + w, copied: "已复制叠加层网址",
    copyFailed: "请选中网址后复制", featureFailed: "无法放上直播画面：",
    hideFailed: "无法更改屏蔽列表：",
    queueFull: (n) => "直播画面最多 " + n + " 条：最早的一条会被替换",
    notifyHighlight: "高亮评论", notifyAuthor: "新观众",
    notifyDenied: "浏览器已禁止本站的通知",
    resetConfirm: "重置本页面的所有设置？",
  },
};

/** The page's language: "en" or "zh-CN" (see theme.js, which picks it). */
export let lang = "en";
export function setLang(l) {
  lang = l;
}

/** The string for `key` in the current language (English if missing). */
export function t(key, ...args) {
  const v = (I18N[lang] && I18N[lang][key]) ?? I18N.en[key];
  if (typeof v === "function") return v(...args);
  return v === undefined ? key : v;
}

/** Sets every data-i18n* text, title, placeholder and aria-label under `root`. */
export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
}

// ------------------------------------------------- seeing well, alerts
// Words of the text size, "more", the source badges, the alerts' triggers
// and outputs and read-aloud (theme.js, render.js, alerts.js).
Object.assign(I18N.en, {
  textSize: "Text size", more: "more", less: "less",
  alTriggers: "When", alOutputs: "Then", alOnHighlight: "a highlighted word appears",
  alOnPaid: "a Super Chat or other paid message arrives", alOnAuthor: "a new author writes",
  alFlash: "flash the page", alSpeak: "read aloud:", alSpeakWhat: "What to read aloud",
  alSpeakAlerts: "what triggers an alert", alSpeakPaid: "paid messages only", alSpeakAll: "every comment",
  notifyPaid: (amount) => "Paid message " + amount,
});
Object.assign(I18N["zh-CN"], {
  textSize: "文字大小", more: "展开", less: "收起",
  alTriggers: "何时提醒", alOutputs: "提醒方式", alOnHighlight: "出现高亮词",
  alOnPaid: "收到醒目留言（Super Chat）等付费消息", alOnAuthor: "新观众发言",
  alFlash: "页面闪烁", alSpeak: "朗读：", alSpeakWhat: "朗读哪些评论",
  alSpeakAlerts: "触发提醒的评论", alSpeakPaid: "只读付费消息", alSpeakAll: "所有评论",
  notifyPaid: (amount) => "付费消息 " + amount,
});

// The overlay builder's corner and chat-bubble style (overlay-url.js).
Object.assign(I18N.en, {
  ovPos: "Corner", posBottomLeft: "Bottom left", posTopLeft: "Top left",
  posBottomRight: "Bottom right", posTopRight: "Top right", ovBubble: "Chat bubbles",
});
Object.assign(I18N["zh-CN"], {
  ovPos: "位置", posBottomLeft: "左下", posTopLeft: "左上",
  posBottomRight: "右下", posTopRight: "右上", ovBubble: "聊天气泡",
});

// Who is speaking and what kind of message it is (speaker.js).
Object.assign(I18N.en, {
  role_owner: "Owner", role_moderator: "Moderator", role_member: "Member", role_verified: "Verified",
  mark_pinned: "📌 pinned", mark_pinned_title: "Pinned by the channel's owner",
  mark_liked: "♥ by creator", mark_liked_title: "The channel's owner liked it",
  ev_new_member: (level) => "New member" + (level ? " · " + level : ""),
  ev_upgrade: (level) => "Membership upgraded" + (level ? " · " + level : ""),
  ev_milestone: (months, level) => "Member for " + months + (months === 1 ? " month" : " months") + (level ? " · " + level : ""),
  ev_gift_memberships: (n, level) => "Gifted " + n + (n === 1 ? " membership" : " memberships") + (level ? " · " + level : ""),
  ev_gift_received: (level) => "Received a gift membership" + (level ? " · " + level : ""),
  ev_gift: (name, n) => "Gift" + (name ? ": " + name : "") + (n > 1 ? " ×" + n : ""),
  ev_sticker: (alt) => "Super Sticker" + (alt ? ": " + alt : ""),
  ev_poll: (q) => "Poll" + (q ? ": " + q : ""),
  ev_members_only_started: "Members-only chat is on", ev_members_only_ended: "Members-only chat is off",
  role_vip: "VIP",
  ev_raid: (name, n) => "Raid" + (name ? " from " + name : "") + (n > 0 ? " · " + n + (n === 1 ? " viewer" : " viewers") : ""),
  ev_announcement: "Announcement", ev_first_message: "First message in this chat",
  paidMembers: "Paid & members", kPaid: "Only paid messages, memberships, gifts and members", paidMembersTitle: "Only paid messages, memberships, gifts and members ($)",
});
Object.assign(I18N["zh-CN"], {
  role_owner: "主播", role_moderator: "管理员", role_member: "会员", role_verified: "已认证",
  mark_pinned: "📌 置顶", mark_pinned_title: "UP主 / 频道主置顶",
  mark_liked: "♥ UP主觉得很赞", mark_liked_title: "UP主 / 频道主点了赞",
  ev_new_member: (level) => "新会员" + (level ? " · " + level : ""),
  ev_upgrade: (level) => "会员升级" + (level ? " · " + level : ""),
  ev_milestone: (months, level) => "已加入会员 " + months + " 个月" + (level ? " · " + level : ""),
  ev_gift_memberships: (n, level) => "赠送了 " + n + " 份会员" + (level ? " · " + level : ""),
  ev_gift_received: (level) => "获赠会员" + (level ? " · " + level : ""),
  ev_gift: (name, n) => "礼物" + (name ? "：" + name : "") + (n > 1 ? " ×" + n : ""),
  ev_sticker: (alt) => "超级贴图" + (alt ? "：" + alt : ""),
  ev_poll: (q) => "投票" + (q ? "：" + q : ""),
  ev_members_only_started: "已开启仅会员聊天", ev_members_only_ended: "已关闭仅会员聊天",
  role_vip: "VIP",
  ev_raid: (name, n) => "突袭" + (name ? "：" + name : "") + (n > 0 ? " · " + n + " 名观众" : ""),
  ev_announcement: "公告", ev_first_message: "首次在此发言",
  paidMembers: "付费与会员", kPaid: "只看付费消息、会员、礼物和会员的发言", paidMembersTitle: "只看付费消息、会员、礼物和会员的发言 ($)",
});
