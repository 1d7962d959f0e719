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
/// The hidden words and authors, kept in the log and sent to every page.
pub mod hidden;
/// Fan-out of serialized frames to every connected dashboard.
pub mod hub;
/// Counters and histograms for `/metrics`.
pub mod metrics;
/// The streamer's own YouTube account (OAuth), for acting where a comment
/// was posted.
pub mod oauth;
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

/// The seams of the module map hold: no module imports one it must not
/// (see each module's `//!` header).
#[cfg(test)]
pub(crate) mod boundaries {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, recursively (none if it is missing):
    /// what the tests that read the source walk.
    pub(crate) fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Files under `src/<under>` (a folder, and its `.rs` file beside it)
    /// whose code (not comments) mentions `needle`.
    fn offenders(under: &str, needle: &str) -> Vec<PathBuf> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src.join(under), &mut all);
        all.push(src.join(format!("{under}.rs")));
        all.into_iter()
            .filter(|f| {
                std::fs::read_to_string(f).is_ok_and(|text| {
                    text.lines()
                        .any(|l| !l.trim_start().starts_with("//") && l.contains(needle))
                })
            })
            .collect()
    }

    #[test]
    fn no_module_imports_across_a_seam_it_must_not_cross() {
        let rules = [
            ("domain", "crate::"),
            ("source", "crate::config"),
            ("source", "crate::store"),
            ("source", "crate::web"),
            ("sanitize", "crate::store"),
            ("sanitize", "crate::web"),
            ("config", "crate::web"),
            ("store", "crate::source"),
            ("web", "crate::source"),
            ("store", "crate::web"),
            ("config", "crate::cli"),
            ("oauth", "crate::web"),
            ("oauth", "crate::source"),
        ];
        for (under, needle) in rules {
            let found = offenders(under, needle);
            assert!(
                found.is_empty(),
                "{needle} used under src/{under}: {found:?}"
            );
        }
    }
}
