//! Source adapters: one file per platform. Each knows how to ask its platform
//! for one page of comments and how to turn the response into `RawComment`s.
//! None of them stores, sanitizes or publishes anything; the poller drives
//! paging and decides when a source has caught up.
//!
//! Adapters parse items one by one: a malformed item is skipped and counted,
//! never allowed to sink its neighbours.

pub mod bilibili;
pub mod demo;
pub mod generic;
pub mod http;
pub mod youtube;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::RawComment;
pub use crate::domain::SourceSpec;
use crate::domain::{ConfigError, Schedule};

/// Where a source with a daily quota asks, before each request, whether its
/// units may be spent, and which records them if so: the budget several
/// sources (or instances) share is checked per request, not per poll.
pub trait QuotaGate: Send + Sync {
    /// `Ok(true)` when `units` were reserved (and now count as spent),
    /// `Ok(false)` when the budget has no room for them, `Err` when it
    /// could not be asked.
    fn reserve(&self, units: i64) -> BoxFuture<'_, Result<bool, String>>;
}

/// A boxed future, as [`QuotaGate`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Quota units a source spent since it was last asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpentUnits {
    /// Every unit, failed requests included.
    pub total: i64,
    /// The part no [`QuotaGate`] recorded: the poller records it with the
    /// poll's comments.
    pub unrecorded: i64,
}

/// How a source's pages relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Each poll starts at the newest page and reads older pages until one
    /// holds a comment the log already has. Comments come newest first.
    NewestFirst,
    /// Each poll continues from where the last one stopped (a stream with a
    /// resume token, like YouTube live chat). Comments come oldest first.
    Resume,
}

/// One page of a platform's comments.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// In the order `Paging` describes.
    pub comments: Vec<RawComment>,
    /// The cursor for the next page, if there is one.
    pub next: Option<String>,
    /// Ids of comments the platform retracted.
    pub deleted: Vec<String>,
    /// The platform asks not to be polled again sooner than this.
    pub wait_at_least: Option<Duration>,
    /// Items that could not be read and were skipped.
    pub skipped: usize,
    /// Ids of the page's own list (top-level comments in time order), when
    /// the page also carries comments that repeat on every poll — pinned
    /// comments, reply previews under old threads. Only these decide whether
    /// a poll has caught up. `None`: every comment on the page counts.
    pub timeline: Option<Vec<String>>,
}

/// Why a page could not be fetched, and so what the poller does next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// Retry after a backoff (network error, 5xx, 429, malformed body, risk
    /// control). `retry_after` is the least wait the platform asked for.
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The platform's quota is spent; poll again at `until`.
    #[error("{reason}")]
    Quota {
        reason: String,
        until: DateTime<Utc>,
    },
    /// The platform needs a login cookie to serve more than it did.
    #[error("{reason}")]
    Login { reason: String },
    /// Polling again cannot help: comments closed, video gone, stream ended,
    /// a key the platform refuses.
    #[error("{reason}")]
    Stopped { reason: String },
}

impl SourceError {
    pub fn transient(reason: impl Into<String>) -> SourceError {
        SourceError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// A configured, ready-to-poll source.
pub enum Source {
    Demo(demo::DemoSource),
    YouTube(youtube::VideoComments),
    YouTubeLive(youtube::LiveChat),
    Bilibili(bilibili::Bilibili),
    Generic(generic::Generic),
}

impl Source {
    pub fn new(spec: &SourceSpec, config: &Config) -> Result<Source, ConfigError> {
        let http = http::Http::new(config.http_timeout, config.max_body);
        Ok(match spec {
            SourceSpec::Demo => Source::Demo(demo::DemoSource::new(
                config.demo_rate_per_min,
                config.demo_seed,
            )),
            SourceSpec::YouTube(video) => Source::YouTube(youtube::VideoComments::new(
                video,
                config.youtube.clone(),
                http,
            )),
            SourceSpec::YouTubeLive(video) => {
                Source::YouTubeLive(youtube::LiveChat::new(video, config.youtube.clone(), http))
            }
            SourceSpec::Bilibili(video) => Source::Bilibili(
                bilibili::Bilibili::new(video, config.bilibili.clone(), http)
                    .map_err(|why| ConfigError::invalid("CW_SOURCES", &spec.to_string(), why))?,
            ),
            SourceSpec::Generic(name) => {
                let settings = config
                    .generic
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.clone())
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            "CW_SOURCES",
                            &spec.to_string(),
                            "no CW_GENERIC_<NAME>_URL is set for this source",
                        )
                    })?;
                Source::Generic(generic::Generic::new(name, settings, http))
            }
        })
    }

    /// The name comments from this source carry, e.g. `youtube:VIDEO_ID`.
    pub fn name(&self) -> String {
        match self {
            Source::Demo(_) => SourceSpec::Demo.to_string(),
            Source::YouTube(s) => SourceSpec::YouTube(s.video_id().to_owned()).to_string(),
            Source::YouTubeLive(s) => SourceSpec::YouTubeLive(s.video_id().to_owned()).to_string(),
            Source::Bilibili(s) => SourceSpec::Bilibili(s.video_id().to_owned()).to_string(),
            Source::Generic(s) => SourceSpec::Generic(s.name().to_owned()).to_string(),
        }
    }

    pub fn paging(&self) -> Paging {
        match self {
            Source::YouTubeLive(_) => Paging::Resume,
            _ => Paging::NewestFirst,
        }
    }

    /// When to poll if `CW_POLL` is not set.
    pub fn default_schedule(&self) -> Schedule {
        match self {
            // The simulator costs nothing to ask, so it polls often enough to
            // look like a live chat.
            Source::Demo(_) => Schedule::Every(Duration::from_secs(2)),
            _ => Schedule::Every(Duration::from_secs(10)),
        }
    }

    /// The shortest time allowed between two polls, whatever `CW_POLL` says.
    pub fn min_interval(&self) -> Option<Duration> {
        match self {
            Source::Bilibili(b) => Some(b.min_interval()),
            _ => None,
        }
    }

    /// Quota units one ordinary poll costs, for sources with a daily quota.
    pub fn quota_cost_per_poll(&self) -> Option<i64> {
        match self {
            Source::YouTube(_) => Some(youtube::COST_COMMENT_THREADS),
            Source::YouTubeLive(_) => Some(youtube::COST_LIVE_CHAT),
            _ => None,
        }
    }

    /// Quota units spent since the last call (every request counts, failed
    /// ones included).
    pub fn take_spent_units(&self) -> SpentUnits {
        match self {
            Source::YouTube(s) => s.take_spent_units(),
            Source::YouTubeLive(s) => s.take_spent_units(),
            _ => SpentUnits::default(),
        }
    }

    /// Makes every request that spends quota ask `gate` first (a source
    /// without a quota ignores it). Set once, before the first poll.
    pub fn set_quota_gate(&self, gate: std::sync::Arc<dyn QuotaGate>) {
        match self {
            Source::YouTube(s) => s.set_quota_gate(gate),
            Source::YouTubeLive(s) => s.set_quota_gate(gate),
            _ => {}
        }
    }

    /// Fetches one page: the first (newest, or the stream's start) when
    /// `cursor` is `None`.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        match self {
            Source::Demo(s) => s.fetch_page(cursor),
            Source::YouTube(s) => s.fetch_page(cursor).await,
            Source::YouTubeLive(s) => s.fetch_page(cursor).await,
            Source::Bilibili(s) => s.fetch_page(cursor).await,
            Source::Generic(s) => s.fetch_page(cursor).await,
        }
    }
}
