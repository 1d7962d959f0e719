//! Integration tests: the real app on a real socket (port 0), a real SQLite
//! file in a temp directory, real WebSocket clients. One binary, one module
//! per area.

/// Spawning the app, connecting WebSocket clients, reading frames.
mod helpers;

/// `CW_TOKEN`: sign-in, sessions, rate limits, nothing leaks to logs.
mod auth;
/// The dashboard in a real headless Chromium.
mod browser;
/// Bad settings stop the binary with one line naming the variable.
mod config;
/// Hostile comments come out inert, checked on the frames clients receive.
mod hostile;
/// The live feed: order, shape, resume with `since`, restarts, dedupe.
mod live_feed;
/// Several real-format sources on one feed, configured by env vars.
mod side_by_side;
/// Bilibili replies against a mock speaking the real format.
mod source_bilibili;
/// Any JSON API configured by env vars, against a mock.
mod source_generic;
/// YouTube comments and live chat against a mock, faults and quota.
mod source_youtube;
/// Pages, assets, headers, the token.
mod web;
