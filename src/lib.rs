//! commentwatch: a live comment monitor for people who stream or publish video.
//!
//! # Brief overview
//!
//! ```text
//! source API --HTTP--> source adapter --RawComment--> sanitize --Comment--> store (SQLite log,
//!                      (source/*)                                           dedupe, seq)
//!                          ^                                                    |
//!                          | scheduled by the poller                            v new rows only
//!                                                                        hub (broadcast, one
//! browser <--WebSocket /ws-- web (axum routes, askama pages, assets) <--- serialized frame each)
//! ```
//!
//! Data moves one way. Adapters know their platform and nothing else; the
//! sanitizer is the only way a `RawComment` becomes a `Comment`; the store is
//! the single source of truth and hands out `seq`; the hub only fans out
//! what the store accepted; the web layer reads the store and the hub, never
//! a source. With a log several instances share (PostgreSQL), the hub hears
//! every change from `feed`, which follows the log's notifications, instead
//! of from the poller.

pub mod app;
/// The `export`, `search` and `stats` subcommands.
pub mod cli;
/// Settings from flags, env vars and `.env`, validated at start.
pub mod config;
/// The values that travel (comments, sources and platforms, video ids,
/// schedules) and their pure rules; no I/O, depends on nothing else here.
pub mod domain;
/// The "on stream" queue the OBS overlay shows.
pub mod featured;
/// Changes from a log shared by several instances, to this one's hub.
pub mod feed;
/// Fan-out of serialized frames to every connected dashboard.
pub mod hub;
/// Counters and histograms for `/metrics`.
pub mod metrics;
/// The parameters every reader of the log takes (`/log`, `/api`, the CLI),
/// parsed into a typed selection.
pub mod params;
/// Scheduling, paging, timeouts and backoff for every source.
pub mod poller;
/// The WebSocket frames and their JSON.
pub mod protocol;
/// The YouTube quota planner.
pub mod quota;
/// `RawComment -> Comment`: the only producer of HTML that reaches a page.
pub mod sanitize;
/// One adapter per platform.
pub mod source;
/// A source's state, as dashboards show it and instances share it.
pub mod status;
/// The comment log (SQLite, or PostgreSQL shared by several instances)
/// and its change feed.
pub mod store;
/// Routes, pages, the WebSocket endpoint and security headers.
pub mod web;

pub use app::{App, StartError};
pub use config::Config;
