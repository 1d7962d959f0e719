//! Integration tests: the real app on a real socket (port 0), a real SQLite
//! file in a temp directory, real WebSocket clients. One binary, one module
//! per area.

/// The shared headless-Chromium harness of the browser tests.
mod chrome;
/// Spawning the app, connecting WebSocket clients, reading frames.
mod helpers;

/// Attacks on access: DNS rebinding, guessing, stalled readers, slowloris.
mod access;
/// Acting on live chat messages with the connected YouTube account.
mod actions;
/// Acting on live chat messages from the dashboard, in Chromium.
mod actions_browser;
/// What was done on YouTube, reviewed in `/log`, in Chromium.
mod actions_log;
/// The action routes take a comment's `seq`.
mod actions_seq;
/// `CW_TOKEN`: sign-in, sessions, rate limits, nothing leaks to logs.
mod auth;
/// The dashboard in a real headless Chromium.
mod browser;
/// `commentwatch export|search|stats` on a live log: same bytes as the API.
mod cli;
/// Several instances on one PostgreSQL log: failover, fan-out, shared quota.
mod cluster;
/// The streamer's dashboard in a browser: order, pause, focus tools, flood.
mod cockpit;
/// Bad settings stop the binary with one line naming the variable.
mod config;
/// The real binary: SIGKILL, full disk, SIGTERM, corrupt files.
mod crash;
/// CSV and JSONL exports: hostile cells, formulas, BOM, streaming, filters.
mod export;
/// Acting on the right comment: the feed holds under a resting pointer,
/// F selects before it features.
mod feed_hold;
/// Hidden words and authors and the on-stream queue, kept in the log: the
/// overlay, restarts, the API, a shared log.
mod hidden;
/// Hostile comments come out inert, checked on the frames clients receive.
mod hostile;
/// The house rules: rooms stay small, files say what they are.
mod layering;
/// The live feed: order, shape, resume with `since`, restarts, dedupe.
mod live_feed;
/// `/log` and `/api/comments`: search in any script, filters, paging, retention.
mod log_page;
/// Filtering the log by role and kind.
mod log_roles;
/// Connecting the streamer's YouTube account (OAuth) against a mock Google.
mod oauth;
/// Whether the connected channel owns each monitored live chat.
mod oauth_chats;
/// Offline looks offline: the banner, grey sources, the gap mark, the
/// catch-up count after a restart.
mod offline;
/// The OBS overlay and featuring: the queue, the read-only key, transparency.
mod overlay;
/// Stuck clients, caps, storage faults, metrics.
mod resilience;
mod roles_ui;
/// Seeing well on the dashboard: text size, long comments, badges,
/// questions, alerts and read-aloud, a narrow screen, the rate chart.
mod seeing;
mod seeing_alerts;
/// Two instances on one PostgreSQL log: comments and the on-stream queue cross over.
mod shared_log;
/// Several real-format sources on one feed, configured by env vars.
mod side_by_side;
/// Signing in and out in a real browser.
mod signin;
/// Bilibili replies against a mock speaking the real format.
mod source_bilibili;
/// Bilibili live danmaku against a mock speaking the binary protocol.
mod source_bilibili_live;
mod source_bilibili_replies;
/// Who wrote each Bilibili reply, on every page.
mod source_bilibili_who;
/// Any JSON API configured by env vars, against a mock.
mod source_generic;
/// Twitch chat against a mock IRC-over-WebSocket server.
mod source_twitch;
/// Twitch chat on the dashboard and overlay, in Chromium.
mod source_twitch_browser;
/// YouTube comments and live chat against a mock, faults and quota.
mod source_youtube;
/// The log's contract on both backends (SQLite, PostgreSQL); concurrent writers.
mod store_suite;
/// Pages, assets, headers, the token.
mod web;
/// The WebSocket wire: batched frames, pings, what a client may not send.
mod ws_wire;
/// The attack corpus in role, member level and event fields.
mod xss_events;
/// The attack corpus through real sources into every page, in Chromium.
mod xss_proof;
/// The attack corpus in badges, the location line and the name colour.
mod xss_who;
/// Pushed sources: the stream runner, resume tokens.
/// A ban on a streamed YouTube chat, on an open dashboard and overlay.
mod youtube_ban_ui;
mod youtube_stream;
/// A streamed live chat in the whole app: the status line, a restart.
mod youtube_stream_app;
