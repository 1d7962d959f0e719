//! Sources: one folder or file per platform behind one interface. A source
//! knows its platform and nothing else: it must not touch the log, the web,
//! the sanitizer or the whole `Config` (it is built from its own platform's
//! settings, [`Settings`]).
//!
//! A source is either **polled** ([`PolledSource`]: asked for one page at a
//! time; the poller drives paging and decides when it has caught up) or
//! **pushed** ([`PushedSource`]: a long-lived stream that yields batches, each
//! with a resume token). [`SourceKind`] holds one or the other, so the code
//! that runs sources can grow a runner for pushed ones beside the poller
//! without touching the pipeline behind them.
//!
//! Sources parse items one by one: a malformed item is skipped and counted,
//! never allowed to sink its neighbours.

pub mod bilibili;
pub mod demo;
pub mod generic;
pub mod http;
pub mod twitch;
pub mod youtube;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::domain::SourceSpec;
use crate::domain::{ConfigError, RawComment, Schedule};

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
    /// Authors the platform banned from the chat: all their comments in
    /// this source are retracted.
    pub banned_authors: Vec<String>,
    /// What the source's status should say about this page (a ban), as
    /// plain text lines.
    pub notes: Vec<String>,
    /// The types of messages the adapter does not know and skipped, for the
    /// metrics (`commentwatch_messages_unknown_total`).
    pub unknown: Vec<String>,
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
    /// The answer does not fit the source's settings: a JSON pointer of a
    /// `generic:` source that finds nothing. Retried with backoff like
    /// `Transient` (an API answering an error body with status 200 looks the
    /// same), but `reason`, which names the setting, is what people see.
    #[error("{reason}")]
    Settings { reason: String },
    /// What the source reads is not there, but may appear: a video that is
    /// private, unlisted or a scheduled premiere. Asked again every
    /// `retry_every`, however long it takes; `reason` says so to people.
    #[error("{reason}")]
    NotYet {
        reason: String,
        retry_every: Duration,
    },
}

impl SourceError {
    pub fn transient(reason: impl Into<String>) -> SourceError {
        SourceError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// What every source has, polled or pushed.
pub trait Source: Send + Sync {
    /// The name comments from it carry, e.g. `youtube:VIDEO_ID`.
    fn name(&self) -> String;

    /// Its quota meter, for sources with a daily quota.
    fn quota(&self) -> Option<&dyn QuotaMeter> {
        None
    }

    /// The title of what it reads (a video, a stream), once the platform
    /// gave it; raw text, cleaned by whoever shows it.
    fn title(&self) -> Option<String> {
        None
    }

    /// A check of the settings against a first response, run once at start
    /// so that a mistake is reported right away (a generic source's
    /// pointers). A failure is a warning, not a stop.
    fn check(&self) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A source that is asked for one page at a time.
pub trait PolledSource: Source {
    /// How its pages relate to each other.
    fn paging(&self) -> Paging {
        Paging::NewestFirst
    }

    /// When to poll if `CW_POLL` is not set.
    fn default_schedule(&self) -> Schedule {
        Schedule::Every(Duration::from_secs(10))
    }

    /// The shortest time allowed between two polls, whatever `CW_POLL` says.
    fn min_interval(&self) -> Option<Duration> {
        None
    }

    /// Fetches one page: the first (newest, or the stream's start) when
    /// `cursor` is `None`.
    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>>;
}

/// A boxed stream, as [`PushedSource::open`] returns.
pub type BoxStream<'a, T> = std::pin::Pin<Box<dyn futures_util::Stream<Item = T> + Send + 'a>>;

/// One batch a pushed source yields.
#[derive(Debug, Clone, Default)]
pub struct PushedBatch {
    /// Comments in the order they arrived (oldest first).
    pub comments: Vec<RawComment>,
    /// Ids of comments the platform retracted.
    pub deleted: Vec<String>,
    /// Authors the platform banned from the chat, as in [`Page`].
    pub banned_authors: Vec<String>,
    /// What the source's status should say about this batch (a ban).
    pub notes: Vec<String>,
    /// The types of messages the adapter does not know and skipped.
    pub unknown: Vec<String>,
    /// Where to resume after this batch: stored with it, in the same write,
    /// and passed to [`PushedSource::open`] after a reconnect or a restart.
    pub resume: Option<String>,
    /// Items that could not be read and were skipped.
    pub skipped: usize,
}

/// A source that pushes: a long-lived connection (WebSocket, streaming
/// HTTP) that yields batches as the platform sends them.
///
/// The runner (`crate::poller::PushTask`) opens the stream with the resume token stored
/// with the last batch, hands each batch to the same pipeline the poller
/// uses (sanitize, log, hub) with its token, and reopens after an error
/// with backoff. A stream that ends (`None`) is reopened too; an error that
/// is not `Transient` ends the source as it would a polled one.
pub trait PushedSource: Source {
    /// What the status should say while the source runs, when it is not
    /// the runner's `live (streaming)` (a source that fell back to polling).
    fn detail(&self) -> Option<String> {
        None
    }

    /// The shortest time between two requests the day's quota allows for
    /// this source (the quota planner's floor), for a source that polls
    /// when it cannot stream. Ignored by sources that only stream.
    fn set_floor(&self, _floor: Duration) {}

    /// Opens the stream, resuming after `resume` when given.
    fn open<'a>(
        &'a self,
        resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>>;
}

/// A configured source, ready to run.
pub enum SourceKind {
    Polled(Box<dyn PolledSource>),
    Pushed(Box<dyn PushedSource>),
}

impl SourceKind {
    /// What it has in common with every source.
    pub fn source(&self) -> &dyn Source {
        match self {
            SourceKind::Polled(s) => s.as_ref(),
            SourceKind::Pushed(s) => s.as_ref(),
        }
    }
}

/// A source's quota: what one poll costs, what was spent, and the gate
/// every request asks first.
pub trait QuotaMeter: Send + Sync {
    /// Quota units one ordinary poll costs.
    fn cost_per_poll(&self) -> i64;

    /// Quota units spent since the last call (every request counts, failed
    /// ones included).
    fn take_spent_units(&self) -> SpentUnits;

    /// Makes every request that spends quota ask `gate` first. Set once,
    /// before the first poll.
    fn set_gate(&self, gate: Arc<dyn QuotaGate>);
}

/// The settings sources are built from: each platform's own, and the
/// outbound HTTP limits they all share. Borrowed from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub http: &'a http::HttpSettings,
    /// `CW_BACKFILL_PAGES`: how deep a first read goes (also a Bilibili
    /// root's reply pages the first time it is seen).
    pub backfill_pages: u32,
    pub demo: &'a demo::DemoSettings,
    pub youtube: &'a youtube::YouTubeSettings,
    /// `CW_YOUTUBE_LIVE`: whether `youtube-live:` streams or polls.
    pub youtube_live: youtube::LiveMode,
    pub bilibili: &'a bilibili::BilibiliSettings,
    /// `TWITCH_IRC_URL`, `TWITCH_EMOTE_BASE`.
    pub twitch: &'a twitch::TwitchSettings,
    /// `BILIBILI_LIVE_*`, for `bilibili-live:` rooms.
    pub bilibili_live: &'a bilibili::live::LiveSettings,
    /// Settings of each `generic:NAME` source, by name.
    pub generic: &'a [(String, generic::GenericSettings)],
}

/// Builds the source `spec` names from its platform's settings.
pub fn build(spec: &SourceSpec, settings: Settings<'_>) -> Result<SourceKind, ConfigError> {
    let http = http::Http::new(settings.http.timeout, settings.http.max_body);
    let polled: Box<dyn PolledSource> = match spec {
        SourceSpec::Demo => Box::new(demo::DemoSource::new(
            settings.demo.rate_per_min,
            settings.demo.seed,
        )),
        SourceSpec::YouTube(video) => Box::new(youtube::VideoComments::new(
            video,
            settings.youtube.clone(),
            http,
        )),
        SourceSpec::YouTubeLive(video) => match settings.youtube_live {
            youtube::LiveMode::Poll => Box::new(youtube::LiveChat::new(
                video,
                settings.youtube.clone(),
                http,
            )),
            youtube::LiveMode::Stream => {
                return Ok(SourceKind::Pushed(Box::new(youtube::LiveStream::new(
                    video,
                    settings.youtube.clone(),
                    http,
                ))));
            }
        },
        SourceSpec::Bilibili(video) => Box::new(
            bilibili::Bilibili::new(video, settings.bilibili.clone(), http)
                .map_err(|why| ConfigError::invalid("CW_SOURCES", &spec.to_string(), why))?
                .with_backfill_pages(settings.backfill_pages),
        ),
        SourceSpec::Twitch(channel) => {
            return Ok(SourceKind::Pushed(Box::new(twitch::TwitchChat::new(
                channel,
                settings.twitch.clone(),
            ))));
        }
        SourceSpec::BilibiliLive(room) => {
            let live = bilibili::live::BilibiliLive::new(
                room,
                settings.bilibili.clone(),
                settings.bilibili_live.clone(),
                http,
            )
            .map_err(|why| ConfigError::invalid("CW_SOURCES", &spec.to_string(), why))?;
            return Ok(SourceKind::Pushed(Box::new(live)));
        }
        SourceSpec::Generic(name) => {
            let generic = settings
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
            Box::new(generic::Generic::new(name, generic, http))
        }
    };
    Ok(SourceKind::Polled(polled))
}
