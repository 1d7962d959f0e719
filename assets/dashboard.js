// commentwatch dashboard: the streamer's cockpit, fed by /ws.
//
// Safety rule: every string from a comment reaches the page through
// textContent, except `comment.html`, which the server's sanitizer produced
// and which only `render.js` assigns to innerHTML. No HTML is built
// from strings: elements come from the <template>s in dashboard.html.
//
// Shape of the code: frames update a bounded model of recent comments
// (`entries`); the DOM shows at most MAX_RENDERED of them and is patched in
// place (one node per comment, inserted at the live edge in batches once
// per animation frame, trimmed at the far end). Only a change of the filter
// rebuilds the list. While the reader is away from the live edge (scrolled,
// paused, or moving the mouse over the feed) new comments wait in `pending`
// and a "N new comments" button counts them, so nothing moves under them.
"use strict";

(function () {
  const MAX_RENDERED = 500; // DOM cap: older comments stay in /log
  const MODEL_CAP = 2000; // comments kept in memory for filtering
  const EDGE_PX = 8; // this close to the live edge counts as "at" it
  const HOVER_HOLD_MS = 2500; // mouse still this long over the feed: resume
  const SETTINGS_KEY = "cw.dashboard.v1";

  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const feed = $("feed");
  const scroller = $("scroller");
  const empty = $("empty");
  const conn = $("conn");
  const sourcesEl = $("sources");
  const counter = $("counter");
  const newBtn = $("new-btn");
  const filterInput = $("filter");
  const sourceSelect = $("source-filter");
  const commentTemplate = $("comment-template");
  const featuredTemplate = $("featured-template");
  const chipTemplate = $("chip-template");

  // ---------------------------------------------------------------- i18n
  const I18N = {
    en: {
      focusTools: "Focus tools", filterPlaceholder: "Filter text, author or source  ( / )",
      filterLabel: "Filter comments", sourceLabel: "Source", allSources: "All sources",
      onlyQuestions: "Questions", onlyQuestionsTitle: "Only comments that end in ? or ？ (Q)",
      pause: "Pause", resume: "Resume", pauseTitle: "Pause the feed (P)",
      orderTop: "Newest on top", orderBottom: "Newest at bottom",
      orderTitle: "Newest on top, or at the bottom like a chat",
      panels: "Panels", languageTitle: "Language", themeTitle: "Theme: system, light, dark",
      themeAuto: "Auto", themeLight: "Light", themeDark: "Dark", helpTitle: "Keyboard shortcuts (?)",
      nextUnread: "Next unread", nextUnreadTitle: "Next unread (N)", markAllRead: "Mark all read",
      waiting: "Waiting for comments…", olderIn: "Older comments are in", theLog: "the log",
      onStream: "On stream", clear: "Clear",
      featuredEmpty: "Click ☆ on a comment, or press F, to show it on the overlay.",
      overlaySetup: "OBS overlay URL", ovMode: "Shows", ovFeatured: "Featured comments",
      ovLatest: "Latest comments", ovLimit: "At most", ovFade: "Leave after (s, 0 = stay)",
      ovSize: "Text size (px)", ovTheme: "Style", ovDark: "Dark cards", ovLight: "Light cards",
      ovPlain: "Text only", ovFont: "Font (installed)", overlayUrl: "Overlay URL",
      copyOverlay: "Copy overlay URL", preview: "Preview",
      overlayHint: "In OBS: Sources → + → Browser, paste the URL, width 1920 × height 1080. The URL holds no password.",
      highlight: "Highlight", hlPlaceholder: "word or phrase", add: "Add", hidden: "Hidden",
      blockPlaceholder: "word, or author:name", alerts: "Alerts",
      alertsWhen: "When a highlighted word or a new author appears:",
      alOnHighlight: "on highlighted words", alOnAuthor: "on new authors", alSound: "play a sound",
      alNotify: "desktop notification", alSpeak: "read highlighted comments aloud",
      hoverPause: "hold the feed while the mouse moves over it",
      resetSettings: "Reset page settings", status: "Status", sources: "Sources",
      rateTitle: "Comments per minute, last 10 minutes", perMinute: "/min", today: "today",
      undo: "Undo", shortcuts: "Keyboard shortcuts",
      kFeature: "Put the selected comment on stream (or take it off)", kNext: "Next unread comment",
      kMove: "Select older / newer comment", kAnswered: "Mark the selected comment answered",
      kHide: "Hide the selected comment's author", kUndo: "Undo the last hide",
      kPause: "Pause or resume the feed", kLive: "Back to the newest comments",
      kMarkAll: "Mark all read", kFilter: "Filter", kQuestions: "Only questions",
      kEsc: "Clear the selection, leave the filter box", kHelp: "This help", close: "Close",
      edited: "edited", deleted: "deleted", answered: "answered",
      featureTitle: "Show on stream (F)", answeredTitle: "Mark answered (A)",
      hideTitle: "Hide this author (H)", dismissTitle: "Take off stream", remove: "Remove",
      feedTop: "Comments, newest first", feedBottom: "Comments, newest last",
      connecting: "connecting…", reconnecting: "reconnecting…", live: "live",
      offline: "offline — reconnecting",
      newComments: (n) => (n === 1 ? "1 new comment" : n.toLocaleString() + " new comments"),
      unread: (n) => n.toLocaleString() + " unread", shown: (n) => n.toLocaleString() + " shown",
      pausedScroll: "Paused — scrolled away", pausedHover: "Paused — mouse over the feed",
      pausedManual: "Paused", noName: "(no name)", justNow: "just now",
      minAgo: (n) => n + " min ago", hAgo: (n) => n + " h ago",
      replyingTo: (name) => "↪ replying to " + name, reply: "↪ reply",
      st_starting: "starting", st_ok: "ok", st_backoff: "retrying", st_quota: "paused for quota",
      st_login: "needs login", st_stopped: "stopped", st_standby: "polled by another instance", until: (t) => "until " + t,
      lastError: "last error: ", lastOk: "last successful poll: ", nextPoll: "next poll: ",
      unitsToday: (n) => n.toLocaleString() + " units today",
      quotaLeft: (n) => "YouTube quota left today: " + n,
      hiddenToast: (w) => "Hidden: " + w, copied: "Overlay URL copied",
      copyFailed: "Select the URL and copy it", featureFailed: "Could not put it on stream: ",
      queueFull: (n) => "On stream (max " + n + "): the oldest makes room",
      notifyHighlight: "Highlighted comment", notifyAuthor: "New author",
      notifyDenied: "Notifications are blocked for this site in the browser",
      resetConfirm: "Reset every setting of this page?",
    },
    "zh-CN": {
      focusTools: "筛选工具", filterPlaceholder: "按内容、作者或来源筛选  ( / )",
      filterLabel: "筛选评论", sourceLabel: "来源", allSources: "全部来源",
      onlyQuestions: "只看提问", onlyQuestionsTitle: "只显示以 ? 或 ？ 结尾的评论 (Q)",
      pause: "暂停", resume: "继续", pauseTitle: "暂停滚动 (P)",
      orderTop: "最新在上", orderBottom: "最新在下",
      orderTitle: "最新评论在顶部，或像聊天一样在底部",
      panels: "面板", languageTitle: "语言", themeTitle: "主题：跟随系统、浅色、深色",
      themeAuto: "自动", themeLight: "浅色", themeDark: "深色", helpTitle: "快捷键 (?)",
      nextUnread: "下一条未读", nextUnreadTitle: "下一条未读 (N)", markAllRead: "全部标为已读",
      waiting: "等待评论…", olderIn: "更早的评论在", theLog: "评论记录",
      onStream: "直播画面", clear: "清空",
      featuredEmpty: "点评论上的 ☆（或按 F），把它显示在直播叠加层上。",
      overlaySetup: "OBS 叠加层网址", ovMode: "显示", ovFeatured: "精选评论",
      ovLatest: "最新评论", ovLimit: "最多", ovFade: "停留秒数（0 = 一直显示）",
      ovSize: "字号（像素）", ovTheme: "样式", ovDark: "深色卡片", ovLight: "浅色卡片",
      ovPlain: "仅文字", ovFont: "字体（本机已安装）", overlayUrl: "叠加层网址",
      copyOverlay: "复制叠加层网址", preview: "预览",
      overlayHint: "在 OBS 中：来源 → + → 浏览器，粘贴网址，宽 1920 × 高 1080。网址里没有密码。",
      highlight: "高亮", hlPlaceholder: "词语", add: "添加", hidden: "屏蔽",
      blockPlaceholder: "词语，或 author:用户名", alerts: "提醒",
      alertsWhen: "出现高亮词或新观众时：",
      alOnHighlight: "高亮词出现时", alOnAuthor: "新观众发言时", alSound: "播放提示音",
      alNotify: "桌面通知", alSpeak: "朗读高亮评论",
      hoverPause: "鼠标在评论区移动时暂停滚动",
      resetSettings: "重置页面设置", status: "状态", sources: "来源",
      rateTitle: "每分钟评论数（最近 10 分钟）", perMinute: "/分钟", today: "今天",
      undo: "撤销", shortcuts: "快捷键",
      kFeature: "把选中的评论放上直播画面（或撤下）", kNext: "下一条未读评论",
      kMove: "选择更早 / 更新的评论", kAnswered: "把选中的评论标为已回答",
      kHide: "屏蔽选中评论的作者", kUndo: "撤销上一次屏蔽",
      kPause: "暂停或继续滚动", kLive: "回到最新评论",
      kMarkAll: "全部标为已读", kFilter: "筛选", kQuestions: "只看提问",
      kEsc: "取消选择，离开筛选框", kHelp: "显示本帮助", close: "关闭",
      edited: "已编辑", deleted: "已删除", answered: "已回答",
      featureTitle: "放上直播画面 (F)", answeredTitle: "标为已回答 (A)",
      hideTitle: "屏蔽此作者 (H)", dismissTitle: "从直播画面撤下", remove: "移除",
      feedTop: "评论，最新在上", feedBottom: "评论，最新在下",
      connecting: "连接中…", reconnecting: "重新连接中…", live: "实时",
      offline: "已断开，正在重连",
      newComments: (n) => n.toLocaleString() + " 条新评论",
      unread: (n) => n.toLocaleString() + " 条未读", shown: (n) => "显示 " + n.toLocaleString() + " 条",
      pausedScroll: "已暂停：正在查看旧评论", pausedHover: "已暂停：鼠标在评论区",
      pausedManual: "已暂停", noName: "（无名）", justNow: "刚刚",
      minAgo: (n) => n + " 分钟前", hAgo: (n) => n + " 小时前",
      replyingTo: (name) => "↪ 回复 " + name, reply: "↪ 回复",
      st_starting: "启动中", st_ok: "正常", st_backoff: "重试中", st_quota: "配额用尽，已暂停",
      st_login: "需要登录", st_stopped: "已停止", st_standby: "由另一实例轮询", until: (t) => "至 " + t,
      lastError: "上次错误：", lastOk: "上次成功：", nextPoll: "下次获取：",
      unitsToday: (n) => "今日已用 " + n.toLocaleString() + " 单位",
      quotaLeft: (n) => "YouTube 今日剩余配额：" + n,
      hiddenToast: (w) => "已屏蔽：" + w, copied: "已复制叠加层网址",
      copyFailed: "请选中网址后复制", featureFailed: "无法放上直播画面：",
      queueFull: (n) => "直播画面最多 " + n + " 条：最早的一条会被替换",
      notifyHighlight: "高亮评论", notifyAuthor: "新观众",
      notifyDenied: "浏览器已禁止本站的通知",
      resetConfirm: "重置本页面的所有设置？",
    },
  };
  let lang = "en";
  function t(key, ...args) {
    const v = (I18N[lang] && I18N[lang][key]) ?? I18N.en[key];
    if (typeof v === "function") return v(...args);
    return v === undefined ? key : v;
  }
  function translate(root) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }

  // ------------------------------------------------------------ settings
  // The server's starting lists (CW_HIGHLIGHT, CW_BLOCK) plus what the page
  // added, minus what it removed: a later change of the env var still shows.
  let server = {};
  try {
    server = JSON.parse(app.dataset.config || "{}");
  } catch (_) {
    server = {};
  }
  const DEFAULTS = {
    order: "top", theme: "auto", lang: null, filter: "", source: "", questions: false,
    hlAdded: [], hlRemoved: [], blockAdded: [], blockRemoved: [],
    alHighlight: true, alAuthor: false, alSound: false, alNotify: false, alSpeak: false,
    hoverPause: true, answered: [],
    overlay: { mode: "featured", limit: 5, fade: 0, size: 28, theme: "dark", font: "" },
  };
  let settings = loadSettings();
  function loadSettings() {
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {};
    } catch (_) {
      saved = {};
    }
    const s = Object.assign({}, DEFAULTS, saved);
    s.overlay = Object.assign({}, DEFAULTS.overlay, saved.overlay || {});
    // Own copies: DEFAULTS' arrays must never be changed through `settings`.
    for (const k of ["hlAdded", "hlRemoved", "blockAdded", "blockRemoved", "answered"]) {
      s[k] = Array.isArray(s[k]) ? s[k].slice() : [];
    }
    return s;
  }
  let saveTimer = 0;
  function save() {
    // Coalesced: typing in the filter box writes once, not per key.
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, 200);
  }
  function saveNow() {
    clearTimeout(saveTimer);
    try {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    } catch (_) {
      /* private mode or full storage: settings last for this page only */
    }
  }
  window.addEventListener("pagehide", saveNow);

  // Unread marks outlive a reload: the keys of the comments still unread,
  // written a second after a change (and as the page goes away), and read
  // back for the backlog a reload shows.
  const UNREAD_KEY = SETTINGS_KEY + ".unread";
  let wasUnread = new Set();
  try {
    const saved = JSON.parse(localStorage.getItem(UNREAD_KEY) || "[]");
    if (Array.isArray(saved)) wasUnread = new Set(saved.filter((k) => typeof k === "string"));
  } catch (_) {
    wasUnread = new Set();
  }
  let unreadTimer = 0;
  function saveUnread() {
    if (!unreadTimer) unreadTimer = setTimeout(saveUnreadNow, 1000);
  }
  function saveUnreadNow() {
    clearTimeout(unreadTimer);
    unreadTimer = 0;
    const keys = [];
    for (const e of entries) if (e.unread) keys.push(key(e.c.source, e.c.id));
    try {
      localStorage.setItem(UNREAD_KEY, JSON.stringify(keys.slice(-5000)));
    } catch (_) {
      /* as for the settings */
    }
  }
  window.addEventListener("pagehide", () => saveUnreadNow());

  const norm = (s) => String(s).trim().toLowerCase();
  function effective(base, added, removed) {
    const out = [];
    const seen = new Set();
    const gone = new Set(removed.map(norm));
    for (const w of [...(base || []), ...added]) {
      const n = norm(w);
      if (!n || seen.has(n) || gone.has(n)) continue;
      seen.add(n);
      out.push(String(w).trim());
    }
    return out;
  }
  let highlights = []; // lower-cased words
  let blockWords = []; // lower-cased words
  let blockAuthors = new Set(); // lower-cased names or ids
  function computeLists() {
    highlights = effective(server.highlight, settings.hlAdded, settings.hlRemoved).map(norm);
    blockWords = [];
    blockAuthors = new Set();
    for (const w of effective(server.block, settings.blockAdded, settings.blockRemoved)) {
      const n = norm(w);
      if (n.startsWith("author:")) blockAuthors.add(n.slice(7).trim());
      else blockWords.push(n);
    }
  }
  function addTo(kind, word) {
    word = String(word).trim();
    if (!word) return;
    const n = norm(word);
    settings[kind + "Removed"] = settings[kind + "Removed"].filter((w) => norm(w) !== n);
    const base = (kind === "hl" ? server.highlight : server.block) || [];
    if (!base.some((w) => norm(w) === n) && !settings[kind + "Added"].some((w) => norm(w) === n)) {
      settings[kind + "Added"].push(word);
    }
    save();
  }
  function removeFrom(kind, word) {
    const n = norm(word);
    settings[kind + "Added"] = settings[kind + "Added"].filter((w) => norm(w) !== n);
    const base = (kind === "hl" ? server.highlight : server.block) || [];
    if (base.some((w) => norm(w) === n)) settings[kind + "Removed"].push(word);
    save();
  }

  // --------------------------------------------------------------- model
  const key = (source, id) => source + "\u0000" + id;
  const model = new Map(); // key -> entry
  let entries = []; // entries in arrival (seq) order, at most MODEL_CAP
  let pending = []; // visible entries that arrived while paused
  let pendingCount = 0; // all of them, even beyond what `pending` keeps
  let toInsert = []; // visible entries waiting for the next frame
  let renderScheduled = false;
  let lastSeq = 0; // highest seq applied; frames at or below it are dropped
  let logId = null; // which log the seqs belong to
  let backlogSeq = null; // latest_seq at the first hello: older is backlog
  let unreadCount = 0;
  let selected = null; // the selected entry (keyboard cursor)
  const answered = new Set(settings.answered);
  const featuredKeys = new Set();
  let featuredList = [];
  let featuredMax = server.featured_max || 5;
  const seenAuthors = new Set();

  function entryOf(li) {
    return li ? model.get(key(li.dataset.source, li.dataset.id)) : null;
  }

  function isQuestion(text) {
    return /[?？]\s*$/.test(text || "");
  }
  function blocked(c) {
    const a = c.author || {};
    if (blockAuthors.size && (blockAuthors.has(norm(a.name || "")) || blockAuthors.has(norm(a.id || "")))) return true;
    if (blockWords.length) {
      const text = norm(c.text || "");
      if (blockWords.some((w) => text.includes(w))) return true;
    }
    return false;
  }
  function passes(e) {
    const c = e.c;
    if (blocked(c)) return false;
    if (settings.source && c.source !== settings.source) return false;
    if (settings.questions && !isQuestion(c.text)) return false;
    const q = norm(settings.filter);
    if (q) {
      const a = c.author || {};
      const hay = norm((c.text || "") + "\n" + (a.name || "") + "\n" + c.source);
      if (!hay.includes(q)) return false;
    }
    return true;
  }
  function isHighlighted(c) {
    if (!highlights.length) return false;
    const text = norm(c.text || "");
    return highlights.some((w) => text.includes(w));
  }

  // ---------------------------------------------------------- connection
  let retries = 0;
  let socket = null;

  function setConn(state, label) {
    conn.dataset.state = state;
    conn.textContent = label;
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = lastSeq > 0 ? "?since=" + encodeURIComponent(lastSeq) : "";
    setConn("connecting", t(retries ? "reconnecting" : "connecting"));
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
      setConn("offline", t("offline"));
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
          clearAll();
          logId = frame.log_id;
          const stale = socket;
          socket = null;
          stale.close();
          connect();
          return;
        }
        logId = frame.log_id;
        if (backlogSeq === null) backlogSeq = frame.latest_seq;
        setConn("live", t("live"));
        refreshToday();
        break;
      case "status":
        renderStatus(frame.sources || []);
        break;
      case "featured":
        renderFeatured(frame.comments || [], frame.max);
        break;
      case "comment":
      case "update":
      case "delete":
        if (typeof frame.seq !== "number" || frame.seq <= lastSeq) return;
        lastSeq = frame.seq;
        if (frame.type === "delete") markDeleted(frame.source, frame.id);
        else if (frame.type === "update") update(frame.comment);
        else add(frame.seq, frame.comment);
        break;
    }
  }

  function clearAll() {
    for (const e of entries) e.node = null;
    feed.replaceChildren();
    model.clear();
    entries = [];
    pending = [];
    pendingCount = 0;
    toInsert = [];
    lastSeq = 0;
    unreadCount = 0;
    selected = null;
    backlogSeq = null;
    todayBase = null;
    updateCounts();
  }

  // A new comment: into the model, then (if the filters let it through)
  // onto the page at the next frame, or into `pending` while paused.
  function add(seq, c) {
    const k = key(c.source, c.id);
    const known = model.get(k);
    if (known) {
      known.c = c;
      if (known.node) fill(known.node, known);
      return;
    }
    const live = backlogSeq !== null && seq > backlogSeq;
    // Live comments are unread, and so are those left unread before a reload.
    const unread = live || wasUnread.has(k);
    const e = { seq, c, node: null, unread, hl: false };
    model.set(k, e);
    entries.push(e);
    if (unread) {
      unreadCount += 1;
      saveUnread();
    }
    countRate(c);
    countToday(seq);
    if (entries.length > MODEL_CAP) dropOldest(entries.length - MODEL_CAP);
    const authorKey = (c.author && (c.author.id || c.author.name)) || "";
    const newAuthor = authorKey && !seenAuthors.has(authorKey);
    if (seenAuthors.size > 50000) seenAuthors.clear();
    seenAuthors.add(authorKey);
    if (!passes(e)) return;
    e.hl = isHighlighted(c);
    if (live) alertFor(e, newAuthor);
    if (isPaused()) {
      pending.push(e);
      pendingCount += 1;
      if (pending.length > MAX_RENDERED) pending.splice(0, pending.length - MAX_RENDERED);
      updateCounts();
      return;
    }
    toInsert.push(e);
    scheduleRender();
  }

  function update(c) {
    const e = model.get(key(c.source, c.id));
    // An edit of a comment older than what this page holds: it is not
    // shown, and the log has it.
    if (!e) return;
    e.c = c;
    e.edited = true;
    if (!e.node) return;
    if (!passes(e)) {
      removeNode(e);
      return;
    }
    e.hl = isHighlighted(c);
    fill(e.node, e);
  }

  function markDeleted(source, id) {
    const e = model.get(key(source, id));
    if (!e) return;
    e.c = Object.assign({}, e.c, { deleted: true });
    if (e.node) e.node.classList.add("deleted");
  }

  function dropOldest(n) {
    const gone = entries.splice(0, n);
    for (const e of gone) {
      model.delete(key(e.c.source, e.c.id));
      if (e.unread) unreadCount -= 1;
      if (e.node) removeNode(e);
      if (selected === e) selected = null;
    }
  }

  function removeNode(e) {
    if (!e.node) return;
    e.node.remove();
    e.node = null;
  }

  // ------------------------------------------------------------- render
  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    // requestAnimationFrame batches a burst into one DOM change per frame;
    // the timeout covers a hidden tab, where frames do not run.
    const run = () => {
      if (!renderScheduled) return;
      renderScheduled = false;
      renderBatch();
    };
    requestAnimationFrame(run);
    setTimeout(run, 250);
  }

  const bottom = () => settings.order === "bottom";

  function renderBatch() {
    let batch = toInsert;
    toInsert = [];
    if (batch.length === 0) return;
    // Of a flood, only the newest MAX_RENDERED can be on the page anyway.
    if (batch.length > MAX_RENDERED) batch = batch.slice(batch.length - MAX_RENDERED);
    const frag = document.createDocumentFragment();
    const fresh = batch.length < 50; // no glow during a flood: less paint
    if (bottom()) {
      for (const e of batch) frag.append(nodeFor(e, fresh));
      feed.append(frag);
    } else {
      for (let i = batch.length - 1; i >= 0; i--) frag.append(nodeFor(batch[i], fresh));
      feed.prepend(frag);
    }
    trim();
    stickToEdge();
    updateCounts();
    // The chart follows arrivals within a second, not once per comment.
    if (!rateTimer) rateTimer = setTimeout(() => ((rateTimer = 0), drawRate()), Math.max(0, 1000 - (Date.now() - lastDrawRate)));
  }

  function nodeFor(e, fresh) {
    const li = commentTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.seq = String(e.seq);
    e.node = li;
    fill(li, e);
    if (fresh && e.unread) li.classList.add("fresh");
    return li;
  }

  // Keeps at most MAX_RENDERED comments, dropping from the far (old) end.
  function trim() {
    let extra = feed.childElementCount - MAX_RENDERED;
    while (extra-- > 0) {
      const old = bottom() ? feed.firstElementChild : feed.lastElementChild;
      const e = entryOf(old);
      if (e) e.node = null;
      if (e && selected === e) selected = null;
      old.remove();
    }
  }

  // Shows the newest MAX_RENDERED comments that pass the filters: after a
  // change of filter, order or block list, never per frame.
  function rebuild() {
    const chosen = [];
    for (let i = entries.length - 1; i >= 0 && chosen.length < MAX_RENDERED; i--) {
      const e = entries[i];
      if (passes(e)) {
        e.hl = isHighlighted(e.c);
        chosen.push(e);
      }
    }
    const keep = new Set(chosen);
    for (const e of entries) if (e.node && !keep.has(e)) e.node = null;
    if (bottom()) chosen.reverse();
    const nodes = chosen.map((e) => {
      if (e.node) {
        fill(e.node, e);
        e.node.classList.remove("fresh");
        return e.node;
      }
      return nodeFor(e, false);
    });
    feed.replaceChildren(...nodes);
    pending = [];
    pendingCount = 0;
    toInsert = [];
    if (selected && !selected.node) selected = null;
    scrolledAway = false;
    toEdge();
    updateCounts();
  }

  function fill(li, e) {
    const c = e.c;
    li.dataset.source = c.source;
    li.dataset.id = c.id;
    li.classList.toggle("edited", !!(c.edited || e.edited));
    li.classList.toggle("deleted", !!c.deleted);
    li.classList.toggle("paid", !!c.amount);
    li.classList.toggle("unread", !!e.unread);
    li.classList.toggle("hl", !!e.hl);
    li.classList.toggle("answered", answered.has(key(c.source, c.id)));
    setFeaturedMark(li, featuredKeys.has(key(c.source, c.id)));
    li.classList.toggle("selected", selected === e);
    const author = c.author || {};
    li.querySelector(".author").textContent = author.name || t("noName");
    renderAvatar(li.querySelector(".avatar"), author);
    const badge = li.querySelector(".source");
    badge.textContent = c.source;
    badge.title = c.source;
    badge.dataset.platform = c.source.split(":")[0];
    const time = li.querySelector(".time");
    time.dateTime = c.published_at;
    time.title = new Date(c.published_at).toLocaleString(lang);
    time.textContent = relative(c.published_at);
    const amount = li.querySelector(".amount");
    amount.hidden = !c.amount;
    amount.textContent = c.amount ? c.amount.display : "";
    if (c.amount) li.dataset.tier = String(tier(c.amount));
    else delete li.dataset.tier;
    const likes = li.querySelector(".likes");
    likes.hidden = !(c.likes > 0);
    likes.textContent = c.likes > 0 ? "♥ " + c.likes.toLocaleString() : "";
    const reply = li.querySelector(".reply-to");
    reply.hidden = !c.reply_to;
    if (c.reply_to) {
      const parent = model.get(key(c.source, c.reply_to));
      if (parent) {
        const name = (parent.c.author && parent.c.author.name) || t("noName");
        const snippet = Array.from(parent.c.text || "").slice(0, 80).join("");
        reply.textContent = t("replyingTo", name) + (snippet ? ": " + snippet : "");
      } else {
        reply.textContent = t("reply");
      }
    }
    const body = li.querySelector(".body");
    window.commentwatch.fillBody(body, c);
    if (e.hl) markWords(body);
  }

  // Super Chat tiers, roughly by value in US dollars (YouTube's colours).
  const RATE = { JPY: 0.0067, KRW: 0.00073, TWD: 0.031, CNY: 0.14, HKD: 0.13, INR: 0.012, EUR: 1.08, GBP: 1.27, CAD: 0.73, AUD: 0.66, PHP: 0.018, IDR: 0.000063, THB: 0.028, MXN: 0.055, BRL: 0.18, RUB: 0.011 };
  function tier(amount) {
    const usd = (amount.micros / 1e6) * (RATE[amount.currency] || 1);
    if (usd >= 100) return 5;
    if (usd >= 50) return 4;
    if (usd >= 20) return 3;
    if (usd >= 10) return 2;
    if (usd >= 5) return 1;
    return 0;
  }

  // Wraps highlighted words in <mark>, built as elements over the body's
  // text nodes (after the sanitized HTML is in place): no HTML strings.
  function markWords(body) {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const text = node.nodeValue;
      const lower = text.toLowerCase();
      const parts = [];
      let i = 0;
      let from = 0;
      while (i < text.length) {
        const w = highlights.find((h) => h && lower.startsWith(h, i));
        if (w) {
          if (i > from) parts.push(document.createTextNode(text.slice(from, i)));
          const mark = document.createElement("mark");
          mark.textContent = text.slice(i, i + w.length);
          parts.push(mark);
          i += w.length;
          from = i;
        } else {
          i += 1;
        }
      }
      if (parts.length === 0) continue;
      if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
      node.replaceWith(...parts);
    }
  }


  function renderAvatar(el, author) {
    const src = author.avatar || "";
    if (el.dataset.src === src && el.childNodes.length) return;
    el.dataset.src = src;
    el.replaceChildren();
    if (src) {
      const img = document.createElement("img");
      img.src = src; // https on a platform image host, checked server-side
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      el.append(img);
      delete el.dataset.hue;
    } else {
      el.textContent = Array.from((author.name || "?").trim())[0] || "?";
      el.dataset.hue = String(hue(author.id || author.name || ""));
    }
  }
  // An avatar that does not load becomes the author's initial (errors do
  // not bubble, so one capturing listener serves every image).
  feed.addEventListener(
    "error",
    (ev) => {
      const img = ev.target;
      if (!(img instanceof HTMLImageElement) || !img.parentElement || !img.parentElement.classList.contains("avatar")) return;
      const li = img.closest("li.comment");
      const e = entryOf(li);
      const holder = img.parentElement;
      const name = e ? (e.c.author && e.c.author.name) || "?" : "?";
      holder.textContent = Array.from(name.trim())[0] || "?";
      holder.dataset.hue = String(hue(name));
    },
    true,
  );

  // ------------------------------------------------- scrolling and pause
  let scrolledAway = false;
  let manualPause = false;
  let hoverUntil = 0;
  let hoverTimer = 0;
  const hoverHold = () => settings.hoverPause && Date.now() < hoverUntil;
  const isPaused = () => scrolledAway || manualPause || hoverHold();

  function atEdge() {
    if (bottom()) return scroller.scrollHeight - scroller.clientHeight - scroller.scrollTop <= EDGE_PX;
    return scroller.scrollTop <= EDGE_PX;
  }
  function toEdge() {
    scroller.scrollTop = bottom() ? scroller.scrollHeight : 0;
  }
  // At the live edge in chat order, new comments below must stay in view.
  function stickToEdge() {
    if (bottom() && !isPaused()) toEdge();
  }

  scroller.addEventListener(
    "scroll",
    () => {
      const away = !atEdge();
      if (away === scrolledAway) return;
      scrolledAway = away;
      if (!isPaused()) resume();
      else updateCounts();
    },
    { passive: true },
  );
  // Moving the mouse over the feed holds it (the comment you aim at stays
  // put); resting it lets the feed run again after a moment.
  scroller.addEventListener("pointermove", (ev) => {
    if (!settings.hoverPause || ev.pointerType === "touch") return;
    const was = isPaused();
    hoverUntil = Date.now() + HOVER_HOLD_MS;
    if (!was) updateCounts();
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(() => {
      if (!isPaused()) resume();
    }, HOVER_HOLD_MS + 50);
  });
  scroller.addEventListener("pointerleave", () => {
    hoverUntil = 0;
    if (!isPaused()) resume();
  });

  // Back to the live edge: what waited comes in, in one go.
  function resume() {
    if (pendingCount > pending.length) {
      // More arrived than the page may hold: show the newest from scratch.
      rebuild();
      return;
    }
    if (pending.length) {
      toInsert = pending.concat(toInsert);
      pending = [];
      pendingCount = 0;
      renderBatch();
    }
    pendingCount = 0;
    toEdge();
    updateCounts();
  }

  function goLive() {
    manualPause = false;
    hoverUntil = 0;
    scrolledAway = false;
    resume();
    toEdge();
    updateCounts();
  }

  newBtn.addEventListener("click", goLive);

  function updateCounts() {
    const n = pendingCount;
    newBtn.hidden = n === 0;
    if (n) newBtn.textContent = t("newComments", n) + (bottom() ? " ↓" : " ↑");
    newBtn.dataset.count = String(n);
    const note = $("pause-note");
    const paused = isPaused();
    note.hidden = !paused;
    if (paused) note.textContent = manualPause ? t("pausedManual") : scrolledAway ? t("pausedScroll") : t("pausedHover");
    const pauseBtn = $("pause-btn");
    pauseBtn.setAttribute("aria-pressed", String(manualPause));
    pauseBtn.lastElementChild.textContent = manualPause ? t("resume") : t("pause");
    counter.replaceChildren();
    const b = document.createElement("b");
    b.textContent = t("unread", unreadCount);
    counter.append(b, " · " + t("shown", feed.childElementCount));
    empty.hidden = feed.childElementCount > 0 || model.size > 0;
  }

  // ---------------------------------------------------- read, answered
  function markRead(e) {
    if (!e || !e.unread) return;
    e.unread = false;
    unreadCount -= 1;
    if (e.node) e.node.classList.remove("unread");
    saveUnread();
  }
  function markAllRead() {
    for (const e of entries) e.unread = false;
    unreadCount = 0;
    for (const li of feed.querySelectorAll("li.comment.unread")) li.classList.remove("unread");
    saveUnread();
    updateCounts();
  }
  function toggleAnswered(e) {
    if (!e) return;
    const k = key(e.c.source, e.c.id);
    if (answered.has(k)) answered.delete(k);
    else answered.add(k);
    markRead(e);
    // Remember the latest 2,000 answers.
    settings.answered = Array.from(answered).slice(-2000);
    save();
    if (e.node) e.node.classList.toggle("answered", answered.has(k));
    updateCounts();
  }
  function select(e, scroll) {
    if (selected && selected.node) selected.node.classList.remove("selected");
    selected = e && e.node ? e : null;
    if (!selected) return;
    selected.node.classList.add("selected");
    markRead(selected);
    if (scroll) selected.node.scrollIntoView({ block: "nearest" });
    updateCounts();
  }
  // The oldest unread comment on the page: read in the order they came.
  function nextUnread() {
    const items = feed.children;
    const n = items.length;
    for (let i = 0; i < n; i++) {
      const li = items[bottom() ? i : n - 1 - i];
      if (li.classList.contains("unread")) {
        select(entryOf(li), true);
        return;
      }
    }
  }
  function moveSelection(older) {
    const cur = selected && selected.node;
    let li;
    if (!cur) li = bottom() ? feed.lastElementChild : feed.firstElementChild;
    else {
      const towardsTop = older === bottom();
      li = towardsTop ? cur.previousElementSibling : cur.nextElementSibling;
    }
    if (li) select(entryOf(li), true);
  }

  feed.addEventListener("click", (ev) => {
    const li = ev.target.closest("li.comment");
    const e = entryOf(li);
    if (!e) return;
    const act = ev.target.closest("button.act");
    if (act) {
      if (act.dataset.act === "feature") toggleFeatured(e);
      else if (act.dataset.act === "answered") toggleAnswered(e);
      else if (act.dataset.act === "hide") hideAuthor(e);
      return;
    }
    if (ev.target.closest("a")) return;
    select(e, false);
  });

  // ------------------------------------------------------------ featuring
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    if (!resp.ok) throw new Error((data && data.error) || resp.status + " " + resp.statusText);
    return data;
  }
  async function toggleFeatured(e) {
    if (!e) return;
    const target = { source: e.c.source, id: e.c.id };
    const on = featuredKeys.has(key(target.source, target.id));
    markRead(e);
    // The moment of the click, for the test that times the overlay.
    window.cwLastFeatureClick = Date.now();
    try {
      const q = await api(on ? "DELETE" : "POST", "/api/featured", target);
      if (q) renderFeatured(q.comments || [], q.max);
    } catch (err) {
      toast(t("featureFailed") + err.message);
    }
  }
  function setFeaturedMark(li, on) {
    li.classList.toggle("featured", on);
    const star = li.querySelector("button.feature");
    star.textContent = on ? "★" : "☆";
    star.setAttribute("aria-pressed", String(on));
  }
  function renderFeatured(list, max) {
    featuredList = list;
    if (typeof max === "number") featuredMax = max;
    const before = new Set(featuredKeys);
    featuredKeys.clear();
    for (const c of list) featuredKeys.add(key(c.source, c.id));
    for (const k of new Set([...before, ...featuredKeys])) {
      const e = model.get(k);
      if (e && e.node) setFeaturedMark(e.node, featuredKeys.has(k));
    }
    const ol = $("featured");
    const items = list.map((c) => {
      const li = featuredTemplate.content.firstElementChild.cloneNode(true);
      translate(li);
      li.dataset.source = c.source;
      li.dataset.id = c.id;
      li.querySelector(".f-author").textContent = (c.author && c.author.name) || t("noName");
      const amount = li.querySelector(".f-amount");
      amount.hidden = !c.amount;
      amount.textContent = c.amount ? c.amount.display : "";
      li.querySelector(".f-text").textContent = c.text;
      return li;
    });
    ol.replaceChildren(...items);
    $("featured-empty").hidden = list.length > 0;
    $("featured-count").textContent = list.length + "/" + featuredMax;
    $("featured-count").title = t("queueFull", featuredMax);
    document.querySelector(".onstream").classList.toggle("has-items", list.length > 0);
  }
  $("featured").addEventListener("click", async (ev) => {
    const li = ev.target.closest("li.featured-item");
    if (!li) return;
    const target = { source: li.dataset.source, id: li.dataset.id };
    if (ev.target.closest("button[data-act=dismiss]")) {
      try {
        renderFeaturedResponse(await api("DELETE", "/api/featured", target));
      } catch (err) {
        toast(t("featureFailed") + err.message);
      }
      return;
    }
    const e = model.get(key(target.source, target.id));
    if (e && e.node) select(e, true);
  });
  function renderFeaturedResponse(q) {
    if (q) renderFeatured(q.comments || [], q.max);
  }
  $("clear-featured").addEventListener("click", async () => {
    try {
      renderFeaturedResponse(await api("DELETE", "/api/featured"));
    } catch (err) {
      toast(t("featureFailed") + err.message);
    }
  });

  // ----------------------------------------------- highlight and hiding
  let lastHidden = null;
  function hideAuthor(e) {
    if (!e) return;
    const name = (e.c.author && e.c.author.name) || "";
    if (!name) return;
    const word = "author:" + name;
    addTo("block", word);
    lastHidden = word;
    listsChanged();
    toast(t("hiddenToast", name), () => undoHide());
  }
  function undoHide() {
    if (!lastHidden) return;
    removeFrom("block", lastHidden);
    lastHidden = null;
    listsChanged();
    hideToast();
  }
  function listsChanged() {
    computeLists();
    renderChips();
    rebuild();
  }
  function renderChips() {
    const chips = (ul, words, kind) => {
      ul.replaceChildren(
        ...words.map((w) => {
          const li = chipTemplate.content.firstElementChild.cloneNode(true);
          translate(li);
          li.querySelector(".chip-text").textContent = w;
          li.dataset.word = w;
          li.dataset.kind = kind;
          return li;
        }),
      );
    };
    chips($("hl-list"), effective(server.highlight, settings.hlAdded, settings.hlRemoved), "hl");
    chips($("block-list"), effective(server.block, settings.blockAdded, settings.blockRemoved), "block");
  }
  for (const id of ["hl-list", "block-list"]) {
    $(id).addEventListener("click", (ev) => {
      const x = ev.target.closest(".chip-x");
      if (!x) return;
      const li = x.closest("li.chip");
      const word = li.dataset.word;
      const kind = li.dataset.kind;
      removeFrom(kind, word);
      if (kind === "block") {
        lastHidden = null;
      }
      listsChanged();
      if (kind === "hl") return;
      // Unhiding can be undone too: hide it again.
      toast(t("remove") + ": " + word, () => {
        addTo("block", word);
        listsChanged();
        hideToast();
      });
    });
  }
  $("hl-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("hl-input");
    addTo("hl", input.value);
    input.value = "";
    listsChanged();
  });
  $("block-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("block-input");
    const word = input.value.trim();
    if (!word) return;
    addTo("block", word);
    lastHidden = word;
    input.value = "";
    listsChanged();
    toast(t("hiddenToast", word), () => undoHide());
  });

  // ------------------------------------------------------------- filters
  let filterTimer = 0;
  filterInput.value = settings.filter;
  filterInput.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      settings.filter = filterInput.value;
      filterInput.classList.toggle("active", !!norm(settings.filter));
      save();
      rebuild();
    }, 120);
  });
  sourceSelect.addEventListener("change", () => {
    settings.source = sourceSelect.value;
    save();
    rebuild();
  });
  function setQuestions(on) {
    settings.questions = on;
    $("only-questions").setAttribute("aria-pressed", String(on));
    save();
  }
  $("only-questions").addEventListener("click", () => {
    setQuestions(!settings.questions);
    rebuild();
  });
  $("pause-btn").addEventListener("click", () => {
    manualPause = !manualPause;
    if (!isPaused()) resume();
    updateCounts();
  });
  $("mark-all-read").addEventListener("click", markAllRead);
  $("next-unread").addEventListener("click", nextUnread);
  function applyOrder() {
    app.classList.toggle("bottom", bottom());
    $("order-label").dataset.i18n = bottom() ? "orderBottom" : "orderTop";
    $("order-label").textContent = t($("order-label").dataset.i18n);
    feed.setAttribute("aria-label", t(bottom() ? "feedBottom" : "feedTop"));
  }
  $("order-btn").addEventListener("click", () => {
    settings.order = bottom() ? "top" : "bottom";
    save();
    applyOrder();
    rebuild();
  });

  // -------------------------------------------------- theme and language
  const THEMES = ["auto", "light", "dark"];
  function applyTheme() {
    const th = THEMES.includes(settings.theme) ? settings.theme : "auto";
    if (th === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = th;
    const label = $("theme-label");
    label.dataset.i18n = "theme" + th[0].toUpperCase() + th.slice(1);
    label.textContent = t(label.dataset.i18n);
  }
  $("theme-btn").addEventListener("click", () => {
    settings.theme = THEMES[(THEMES.indexOf(settings.theme) + 1) % THEMES.length];
    save();
    applyTheme();
  });
  function applyLang() {
    const wanted = settings.lang || (navigator.languages || [navigator.language || "en"]).find(() => true) || "en";
    lang = /^zh/i.test(wanted) ? "zh-CN" : "en";
    document.documentElement.lang = lang;
    $("lang-btn").textContent = lang === "en" ? "中文" : "English";
    translate(document);
    translate(commentTemplate.content);
    translate(featuredTemplate.content);
    translate(chipTemplate.content);
    applyOrder();
    applyTheme();
    renderFeatured(featuredList);
    lastStatus && renderStatus(lastStatus);
    for (const e of entries) if (e.node) fill(e.node, e);
    updateCounts();
    renderQuota();
  }
  $("lang-btn").addEventListener("click", () => {
    settings.lang = lang === "en" ? "zh-CN" : "en";
    save();
    applyLang();
  });
  $("side-btn").addEventListener("click", () => app.classList.toggle("show-side"));
  $("reset-settings").addEventListener("click", () => {
    if (!confirm(t("resetConfirm"))) return;
    try {
      localStorage.removeItem(SETTINGS_KEY);
    } catch (_) {
      /* nothing stored */
    }
    clearTimeout(saveTimer);
    window.removeEventListener("pagehide", saveNow);
    location.reload();
  });

  // -------------------------------------------------------------- status
  const STATE_KEYS = ["starting", "ok", "backoff", "quota", "login", "stopped", "standby"];
  let lastStatus = null;
  let quotaUsed = null;
  function renderStatus(list) {
    lastStatus = list;
    const fmt = (iso) => new Date(iso).toLocaleString(lang);
    const items = list.map((s) => {
      const li = document.createElement("li");
      li.className = "source-status";
      li.dataset.source = s.source;
      li.dataset.state = s.state;
      let label = s.source + ": " + (STATE_KEYS.includes(s.state) ? t("st_" + s.state) : s.state);
      if ((s.state === "backoff" || s.state === "quota") && s.next_poll) {
        label += " " + t("until", new Date(s.next_poll).toLocaleTimeString(lang));
      }
      if (typeof s.quota_used === "number") label += " · " + t("unitsToday", s.quota_used);
      li.textContent = label;
      const lines = [];
      if (s.detail) lines.push(s.detail);
      if (s.last_error) lines.push(t("lastError") + s.last_error);
      if (s.last_ok) lines.push(t("lastOk") + fmt(s.last_ok));
      if (s.next_poll) lines.push(t("nextPoll") + fmt(s.next_poll));
      li.title = lines.join("\n");
      return li;
    });
    sourcesEl.replaceChildren(...items);
    // Every YouTube source spends from the one key: the day's total is the
    // largest count any of them reports.
    const used = list.filter((s) => typeof s.quota_used === "number").map((s) => s.quota_used);
    quotaUsed = used.length ? Math.max(...used) : null;
    renderQuota();
    // The source filter offers every source there is.
    const names = list.map((s) => s.source);
    const have = Array.from(sourceSelect.options).map((o) => o.value).filter(Boolean);
    if (names.join("\n") !== have.join("\n")) {
      const first = sourceSelect.options[0];
      const opts = names.map((n) => {
        const o = document.createElement("option");
        o.value = n;
        o.textContent = n;
        return o;
      });
      if (settings.source && !names.includes(settings.source)) {
        const o = document.createElement("option");
        o.value = settings.source;
        o.textContent = settings.source;
        opts.push(o);
      }
      sourceSelect.replaceChildren(first, ...opts);
      sourceSelect.value = settings.source;
    }
  }
  function renderQuota() {
    const el = $("quota");
    if (quotaUsed === null || !server.youtube_daily_quota) {
      el.hidden = true;
      return;
    }
    const left = Math.max(0, server.youtube_daily_quota - quotaUsed);
    el.hidden = false;
    el.classList.toggle("warn", left < server.youtube_daily_quota * 0.1);
    el.replaceChildren();
    const b = document.createElement("b");
    b.textContent = left.toLocaleString(lang) + " / " + server.youtube_daily_quota.toLocaleString(lang);
    el.append(t("quotaLeft", ""), b);
  }

  // ------------------------------------------------ rate and day counter
  const BUCKET_MS = 10000;
  const BUCKETS = 60; // ten minutes
  const buckets = new Map(); // bucket index -> comments fetched in it
  function countRate(c) {
    const now = Date.now();
    const at = Math.min(now, Date.parse(c.fetched_at) || now);
    if (now - at > BUCKET_MS * BUCKETS) return;
    const b = Math.floor(at / BUCKET_MS);
    buckets.set(b, (buckets.get(b) || 0) + 1);
  }
  let lastDrawRate = 0;
  let rateTimer = 0;
  function drawRate() {
    lastDrawRate = Date.now();
    const nowB = Math.floor(Date.now() / BUCKET_MS);
    for (const b of buckets.keys()) if (b <= nowB - BUCKETS) buckets.delete(b);
    const counts = [];
    for (let i = BUCKETS - 1; i >= 0; i--) counts.push(buckets.get(nowB - i) || 0);
    // Comments in the last minute: five whole buckets and the current one.
    const perMin = counts.slice(-6).reduce((a, b) => a + b, 0);
    $("rate").textContent = perMin.toLocaleString(lang);
    const max = Math.max(4, ...counts);
    const pts = ["0,24"];
    counts.forEach((n, i) => pts.push(((i / (BUCKETS - 1)) * 120).toFixed(1) + "," + (23 - (n / max) * 21).toFixed(1)));
    pts.push("120,24");
    $("spark-line").setAttribute("points", pts.join(" "));
  }
  setInterval(drawRate, 2000);

  let todayBase = null; // {comments, latest_seq, day} from /api/today
  let todayExtra = 0;
  function midnight() {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    return d;
  }
  async function refreshToday() {
    const day = midnight();
    try {
      const s = await api("GET", "/api/today?since=" + encodeURIComponent(day.toISOString()));
      todayBase = { comments: s.comments, seq: s.latest_seq, day: day.getTime() };
      todayExtra = 0;
      renderToday();
    } catch (_) {
      /* the counter waits for the next connection */
    }
  }
  function countToday(seq) {
    if (todayBase && seq > todayBase.seq) {
      todayExtra += 1;
      renderToday();
    }
  }
  function renderToday() {
    if (!todayBase) return;
    $("today").textContent = (todayBase.comments + todayExtra).toLocaleString(lang);
  }
  setInterval(() => {
    if (todayBase && midnight().getTime() !== todayBase.day) refreshToday();
  }, 60000);

  // -------------------------------------------------------------- alerts
  let lastSound = 0;
  let lastNotify = 0;
  let audio = null;
  function alertFor(e, newAuthor) {
    const why = e.hl && settings.alHighlight ? "hl" : newAuthor && settings.alAuthor ? "author" : null;
    if (!why) return;
    const now = Date.now();
    // A flood must not become a siren: at most one sound per 1.5 s and one
    // notification per 5 s; reading aloud keeps at most two in the queue.
    if (settings.alSound && now - lastSound > 1500) {
      lastSound = now;
      beep(why === "hl" ? 880 : 660);
    }
    if (settings.alNotify && now - lastNotify > 5000 && "Notification" in window && Notification.permission === "granted") {
      lastNotify = now;
      const name = (e.c.author && e.c.author.name) || t("noName");
      try {
        const n = new Notification(t(why === "hl" ? "notifyHighlight" : "notifyAuthor") + " · " + name, {
          body: Array.from(e.c.text || "").slice(0, 160).join(""),
          tag: "commentwatch",
          silent: true,
        });
        n.addEventListener("click", () => {
          window.focus();
          if (e.node) select(e, true);
        });
      } catch (_) {
        /* some browsers only notify from a service worker */
      }
    }
    if (settings.alSpeak && why === "hl" && "speechSynthesis" in window) speak(e.c);
  }
  function beep(freq) {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (_) {
      /* no audio output */
    }
  }
  let speaking = 0;
  function speak(c) {
    if (speaking >= 2) return;
    const text = Array.from(((c.author && c.author.name) || "") + ": " + (c.text || "")).slice(0, 300).join("");
    const u = new SpeechSynthesisUtterance(text);
    // The voice follows the script of the comment, not the page's language.
    if (/[\u3040-\u30ff]/.test(text)) u.lang = "ja-JP";
    else if (/[\uac00-\ud7af]/.test(text)) u.lang = "ko-KR";
    else if (/[\u4e00-\u9fff]/.test(text)) u.lang = "zh-CN";
    speaking += 1;
    const done = () => (speaking = Math.max(0, speaking - 1));
    u.addEventListener("end", done);
    u.addEventListener("error", done);
    speechSynthesis.speak(u);
  }
  function bindCheck(id, name, onChange) {
    const box = $(id);
    box.checked = !!settings[name];
    box.addEventListener("change", () => {
      settings[name] = box.checked;
      save();
      if (onChange) onChange(box);
    });
  }
  bindCheck("al-highlight", "alHighlight");
  bindCheck("al-author", "alAuthor");
  bindCheck("al-sound", "alSound", (box) => box.checked && beep(880));
  bindCheck("al-notify", "alNotify", async (box) => {
    if (!box.checked || !("Notification" in window)) return;
    if (Notification.permission === "default") await Notification.requestPermission();
    if (Notification.permission !== "granted") {
      box.checked = false;
      settings.alNotify = false;
      save();
      toast(t("notifyDenied"));
    }
  });
  bindCheck("al-speak", "alSpeak");
  bindCheck("hover-pause", "hoverPause", () => {
    hoverUntil = 0;
    if (!isPaused()) resume();
  });

  // ------------------------------------------------------ overlay URL
  let overlayKey = null;
  const ov = {
    mode: $("ov-mode"), limit: $("ov-limit"), fade: $("ov-fade"),
    size: $("ov-size"), theme: $("ov-theme"), font: $("ov-font"),
  };
  function overlayUrl() {
    const o = settings.overlay;
    const p = new URLSearchParams();
    p.set("mode", o.mode);
    p.set("limit", String(o.limit));
    p.set("fade", String(o.fade));
    p.set("size", String(o.size));
    p.set("theme", o.theme);
    if (o.font) p.set("font", o.font);
    if (overlayKey) p.set("key", overlayKey);
    return location.origin + "/overlay?" + p.toString();
  }
  function renderOverlayUrl() {
    $("overlay-url").value = overlayUrl();
  }
  for (const [name, el] of Object.entries(ov)) {
    el.value = String(settings.overlay[name]);
    el.addEventListener("input", () => {
      const num = el.type === "number";
      let v = num ? Number(el.value) : el.value.trim();
      if (num) {
        if (!isFinite(v)) return;
        v = Math.min(Number(el.max), Math.max(Number(el.min), Math.round(v)));
      }
      settings.overlay[name] = v;
      save();
      renderOverlayUrl();
    });
  }
  $("copy-overlay").addEventListener("click", async () => {
    const url = $("overlay-url");
    renderOverlayUrl();
    try {
      await navigator.clipboard.writeText(url.value);
      toast(t("copied"));
    } catch (_) {
      // No clipboard API (plain http on a LAN address): select it instead.
      url.focus();
      url.select();
      toast(t("copyFailed"));
    }
  });
  $("open-overlay").addEventListener("click", () => {
    window.open(overlayUrl(), "_blank", "noopener,noreferrer");
  });
  api("GET", "/api/overlay")
    .then((o) => {
      overlayKey = o && o.key;
      if (o && typeof o.featured_max === "number") featuredMax = o.featured_max;
      renderOverlayUrl();
    })
    .catch(() => renderOverlayUrl());

  // ---------------------------------------------------------------- toast
  let toastTimer = 0;
  let toastUndo = null;
  function toast(text, undo) {
    $("toast-text").textContent = text;
    toastUndo = undo || null;
    $("toast-undo").hidden = !undo;
    $("toast").hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(hideToast, undo ? 8000 : 3000);
  }
  function hideToast() {
    $("toast").hidden = true;
    toastUndo = null;
  }
  $("toast-undo").addEventListener("click", () => toastUndo && toastUndo());

  // ------------------------------------------------------------ keyboard
  const help = $("help");
  $("help-btn").addEventListener("click", () => help.showModal());
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const typing = ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable]");
    if (ev.key === "Escape") {
      if (typing) ev.target.blur();
      select(null);
      return;
    }
    if (typing || help.open) return;
    const k = ev.key;
    const target = selected || newestShown();
    let handled = true;
    if (k === "?") help.showModal();
    else if (k === "/") filterInput.focus();
    else if (k === "p" || k === "P") $("pause-btn").click();
    else if (k === "f" || k === "F") toggleFeatured(target);
    else if (k === "n" || k === "N") nextUnread();
    else if (k === "j") moveSelection(true);
    else if (k === "k") moveSelection(false);
    else if (k === "a" || k === "A") toggleAnswered(selected);
    else if (k === "h" || k === "H") hideAuthor(selected);
    else if (k === "u" || k === "U") undoHide();
    else if (k === "l" || k === "L") goLive();
    else if (k === "m" || k === "M") markAllRead();
    else if (k === "q" || k === "Q") $("only-questions").click();
    else handled = false;
    if (handled) ev.preventDefault();
  });
  function newestShown() {
    return entryOf(bottom() ? feed.lastElementChild : feed.firstElementChild);
  }

  // --------------------------------------------------------------- misc
  function hue(s) {
    let h = 0;
    for (const ch of s) h = (h * 31 + ch.codePointAt(0)) % 360;
    return Math.floor(h / 30) * 30; // 12 colour classes in style.css
  }

  function relative(iso) {
    const secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!isFinite(secs)) return "";
    if (secs < 45) return t("justNow");
    if (secs < 3600) return t("minAgo", Math.max(1, Math.round(secs / 60)));
    if (secs < 86400) return t("hAgo", Math.round(secs / 3600));
    return new Date(iso).toLocaleDateString(lang);
  }

  setInterval(() => {
    for (const el of feed.querySelectorAll("time.time")) {
      const text = relative(el.dateTime);
      if (el.textContent !== text) el.textContent = text;
    }
  }, 30000);

  // ---------------------------------------------------------------- start
  computeLists();
  renderChips();
  setQuestions(!!settings.questions);
  filterInput.classList.toggle("active", !!norm(settings.filter));
  applyLang();
  renderFeatured([], featuredMax);
  renderOverlayUrl();
  drawRate();
  connect();
})();
