//! Source adapters: one file per platform. Each knows how to ask its platform
//! for one page of comments (newest first) and how to turn the response into
//! `RawComment`s. None of them stores, sanitizes or publishes anything; the
//! poller drives paging and decides when a source has caught up.

pub mod demo;

use std::fmt;

use crate::comment::RawComment;
use crate::config::{Config, Schedule};

/// A source as configured in `CW_SOURCES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The built-in simulator.
    Demo,
    /// `youtube:VIDEO_ID`: a video's comment threads.
    YouTube(String),
    /// `youtube-live:VIDEO_ID`: a live stream's chat.
    YouTubeLive(String),
    /// `bilibili:BVID_OR_AID`: a Bilibili video's replies.
    Bilibili(String),
    /// `generic:NAME`: a JSON API described by `CW_GENERIC_<NAME>_*`.
    Generic(String),
}

impl fmt::Display for SourceSpec {
    /// The name that comments carry in their `source` field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Demo => write!(f, "demo"),
            SourceSpec::YouTube(id) => write!(f, "youtube:{id}"),
            SourceSpec::YouTubeLive(id) => write!(f, "youtube-live:{id}"),
            SourceSpec::Bilibili(id) => write!(f, "bilibili:{id}"),
            SourceSpec::Generic(name) => write!(f, "generic:{name}"),
        }
    }
}

impl SourceSpec {
    /// Parses `CW_SOURCES`. The error says what is accepted.
    pub fn parse_list(list: &str) -> Result<Vec<SourceSpec>, String> {
        let mut specs = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let spec = SourceSpec::parse(item)?;
            if specs.contains(&spec) {
                return Err(format!("{spec} is listed twice"));
            }
            specs.push(spec);
        }
        if specs.is_empty() {
            return Err("expected at least one source, e.g. demo or youtube:VIDEO_ID".into());
        }
        Ok(specs)
    }

    fn parse(item: &str) -> Result<SourceSpec, String> {
        let (kind, arg) = item.split_once(':').unwrap_or((item, ""));
        let arg = arg.trim();
        let is_id = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let spec = match kind.trim() {
            "demo" if arg.is_empty() => SourceSpec::Demo,
            "youtube" if is_id(arg) => SourceSpec::YouTube(arg.to_owned()),
            "youtube-live" if is_id(arg) => SourceSpec::YouTubeLive(arg.to_owned()),
            "bilibili" if is_id(arg) => SourceSpec::Bilibili(arg.to_owned()),
            "generic" if is_id(arg) => SourceSpec::Generic(arg.to_owned()),
            _ => {
                return Err(format!(
                    "cannot read source {item:?}; expected demo, youtube:VIDEO_ID, \
                     youtube-live:VIDEO_ID, bilibili:BVID_OR_AID or generic:NAME, comma-separated"
                ));
            }
        };
        if spec != SourceSpec::Demo {
            // The platform adapters are not part of this build yet; refuse at
            // start rather than accept a source that would never poll.
            return Err(format!(
                "{spec}: only the demo source is available in this version"
            ));
        }
        Ok(spec)
    }
}

/// One page of a platform's comments, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub comments: Vec<RawComment>,
    /// The cursor for the next (older) page, if there is one.
    pub next: Option<String>,
}

/// Why a page could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// Worth retrying after a backoff (network error, 5xx, malformed body).
    #[error("{0}")]
    Transient(String),
}

/// A configured, ready-to-poll source.
pub enum Source {
    Demo(demo::DemoSource),
}

impl Source {
    pub fn new(spec: &SourceSpec, config: &Config) -> Source {
        match spec {
            SourceSpec::Demo => Source::Demo(demo::DemoSource::new(
                config.demo_rate_per_min,
                config.demo_seed,
            )),
            // `SourceSpec::parse` refuses these until their adapters exist.
            other => unreachable!("source {other} is refused by config"),
        }
    }

    /// The name comments from this source carry, e.g. `youtube:VIDEO_ID`.
    pub fn name(&self) -> String {
        match self {
            Source::Demo(_) => SourceSpec::Demo.to_string(),
        }
    }

    /// When to poll if `CW_POLL` is not set.
    pub fn default_schedule(&self) -> Schedule {
        match self {
            // The simulator costs nothing to ask, so it polls often enough to
            // look like a live chat.
            Source::Demo(_) => Schedule::Every(std::time::Duration::from_secs(2)),
        }
    }

    /// Fetches one page: the newest when `cursor` is `None`.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        match self {
            Source::Demo(demo) => demo.fetch_page(cursor),
        }
    }
}
