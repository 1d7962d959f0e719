//! `PushTask`: the runner of one pushed source. It opens the source's stream
//! with the resume token stored in the log, hands each batch to the same
//! `Pipeline` the poller uses (sanitize → log → hub) with the batch's token
//! in the same write, and reopens after an end or an error. It never builds
//! HTML, never reads the web and never touches the sources' parsing.
//!
//! With a log several instances share, one of them streams each source:
//! whichever holds its lock in the log (as for polled sources). The others
//! stand by and take over, from the stored token, when that instance goes.
//! Unlike polled sources, streams are not spread for fairness: a stream
//! costs its units once per connection, and moving it would cost another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::quota::LogQuotaGate;
use super::schedule::{backoff, human};
use super::{Pipeline, QuotaBook};
use crate::quota;
use crate::sanitize;
use crate::source::{PushedBatch, PushedSource, SourceError};
use crate::status::{SourceState, SourceStatus};
use crate::store::Batch;

/// The status detail of a source whose stream is open.
pub const STREAMING: &str = "live (streaming)";

/// A stream that stayed open this long was healthy: when it ends, the
/// runner reopens it at once instead of backing off.
pub const HEALTHY_STREAM: Duration = Duration::from_secs(30);

/// A stream that ended cleanly but quickly is reopened after this, at least
/// (±20 %), so a server that closes at once is not hammered.
const QUICK_END_PAUSE: Duration = Duration::from_secs(1);

/// One pushed source and what it needs to run.
pub struct PushTask {
    source: Box<dyn PushedSource>,
    name: String,
    pipeline: Pipeline,
    /// The state last reported and when it began.
    since: std::sync::Mutex<Option<(SourceState, chrono::DateTime<Utc>)>>,
    /// Quota units the key spent today, as last read from the log (sources
    /// with a quota only): every connection's units count there.
    quota_used: std::sync::Mutex<Option<i64>>,
    /// The key's quota book, for the planner's floor when the source polls.
    book: Option<Arc<QuotaBook>>,
    /// The planner's floor, as last computed: connections cost units too,
    /// so a stream the server ends quickly is not reopened sooner.
    floor: std::sync::Mutex<Duration>,
    /// Streams opened since start, for the status.
    connections: std::sync::atomic::AtomicU64,
}

/// How often an instance that stands by asks for a stream's lock, and how
/// often the instance streaming checks it still holds it (±20 %).
const LEASE_CHECK: Duration = Duration::from_secs(5);

/// How one opened stream ended.
enum Ended {
    /// The server closed it (or the batch stream ended): reopen.
    Closed,
    /// An error: reopen after a backoff, pause, or stop, by its kind.
    Failed(SourceError),
    /// Shutdown.
    Cancelled,
    /// Another instance sharing the log streams it now.
    LeaseLost,
}

impl PushTask {
    pub fn new(source: Box<dyn PushedSource>, pipeline: Pipeline) -> PushTask {
        let name = source.name();
        pipeline
            .hub
            .set_status(SourceStatus::starting(name.clone()));
        PushTask {
            source,
            name,
            pipeline,
            since: std::sync::Mutex::new(None),
            quota_used: std::sync::Mutex::new(None),
            book: None,
            floor: std::sync::Mutex::new(Duration::ZERO),
            connections: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// With the daily quota the source's key has: every connection reserves
    /// its units in the log first, so the sources and instances sharing the
    /// key cannot together pass its budget.
    pub fn with_daily_quota(self, daily: i64) -> PushTask {
        if let Some(meter) = self.source.quota() {
            meter.set_gate(Arc::new(LogQuotaGate {
                log: self.pipeline.log.clone(),
                daily,
            }));
        }
        self
    }

    /// With the quota book of the key it shares with other sources: a
    /// source that falls back to polling polls no faster than the planner
    /// allows.
    pub fn with_quota_book(mut self, book: Arc<QuotaBook>) -> PushTask {
        self.book = Some(book);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs on its own task until `cancel`.
    pub fn spawn(self, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move { self.run(cancel).await })
    }

    /// Opens, reads and reopens the stream until `cancel` or an error that
    /// retrying cannot help.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut failures: u32 = 0;
        let mut last_ok = None;
        loop {
            if cancel.is_cancelled() {
                return;
            }
            if !self.hold_lease(last_ok).await {
                let wait = LEASE_CHECK.mul_f64(rand::random_range(0.8..1.2));
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
            let opened = Instant::now();
            let ended = self.stream_once(&cancel, &mut last_ok).await;
            self.record_spent().await;
            let lasted = opened.elapsed();
            let wait = match ended {
                Ended::Cancelled => return,
                Ended::LeaseLost => {
                    info!(source = %self.name, "another instance streams {} now", self.name);
                    Duration::ZERO
                }
                Ended::Closed => {
                    failures = 0;
                    let quick = if lasted >= HEALTHY_STREAM {
                        Duration::ZERO
                    } else {
                        QUICK_END_PAUSE.mul_f64(rand::random_range(0.8..1.2))
                    };
                    // Each connection costs units: never open them closer
                    // together than the quota plan allows. Polling is never
                    // sooner for the same units: a connection costs what a
                    // poll does, opens on the poll's schedule, brings what
                    // was missed (it resumes from the token) and then
                    // delivers at once for as long as the server keeps it.
                    let floor = *self.floor.lock().unwrap_or_else(|p| p.into_inner());
                    let paced = floor.saturating_sub(lasted);
                    if paced > quick {
                        let detail = format!(
                            "{STREAMING} — the server ended the stream after {}; reconnecting \
                             every {} to stay within the day's quota, as often as polling could \
                             for the same units",
                            human(lasted.max(Duration::from_millis(100))),
                            human(floor)
                        );
                        self.report(SourceState::Ok, Some(detail), None, last_ok);
                        paced
                    } else {
                        quick
                    }
                }
                Ended::Failed(e) => {
                    if lasted >= HEALTHY_STREAM {
                        failures = 0;
                    }
                    failures += 1;
                    let reason = sanitize::clean_line(&e.to_string(), 500);
                    match e {
                        SourceError::Stopped { .. } => {
                            self.report(SourceState::Stopped, Some(reason.clone()), None, last_ok);
                            info!(source = %self.name, "{} stopped: {reason}", self.name);
                            return;
                        }
                        SourceError::Quota { until, .. } => {
                            self.report(SourceState::Quota, Some(reason), Some(until), last_ok);
                            (until - Utc::now()).to_std().unwrap_or_default()
                        }
                        SourceError::NotYet { retry_every, .. } => {
                            self.report(SourceState::Backoff, Some(reason), None, last_ok);
                            retry_every
                        }
                        SourceError::Login { .. } => {
                            self.report(SourceState::Login, Some(reason), None, last_ok);
                            backoff(failures)
                        }
                        SourceError::Transient { retry_after, .. } => {
                            let wait = backoff(failures).max(retry_after.unwrap_or_default());
                            warn!(source = %self.name, error = %reason, "{}: the stream failed; reopening in {}", self.name, human(wait));
                            self.report(SourceState::Backoff, Some(reason), None, last_ok);
                            wait
                        }
                        SourceError::Settings { .. } => {
                            self.report(SourceState::Backoff, Some(reason), None, last_ok);
                            backoff(failures)
                        }
                    }
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Opens the stream once from the stored token and reads it to its end.
    async fn stream_once(
        &self,
        cancel: &CancellationToken,
        last_ok: &mut Option<chrono::DateTime<Utc>>,
    ) -> Ended {
        let resume = match self.pipeline.log.cursor(self.name.clone()).await {
            Ok(c) => c,
            Err(e) => return Ended::Failed(SourceError::transient(format!("the log: {e}"))),
        };
        let open = self.source.open(resume.as_deref());
        let mut stream = tokio::select! {
            _ = cancel.cancelled() => return Ended::Cancelled,
            opened = open => match opened {
                Ok(s) => s,
                Err(e) => return Ended::Failed(e),
            },
        };
        *last_ok = Some(Utc::now());
        self.connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.source.quota().is_some() {
            self.record_spent().await;
            let used = self
                .pipeline
                .log
                .quota_used(quota::quota_day(Utc::now()))
                .await
                .ok();
            *self.quota_used.lock().unwrap_or_else(|p| p.into_inner()) = used;
            self.pace(used);
        }
        let mut detail = self.source.detail().unwrap_or_else(|| STREAMING.to_owned());
        self.report(SourceState::Ok, Some(detail.clone()), None, *last_ok);
        let mut lease_check = tokio::time::interval(LEASE_CHECK);
        lease_check.tick().await;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Ended::Cancelled,
                _ = lease_check.tick() => {
                    if !self.still_held().await {
                        return Ended::LeaseLost;
                    }
                    continue;
                }
                next = stream.next() => next,
            };
            match next {
                None => return Ended::Closed,
                Some(Err(e)) => return Ended::Failed(e),
                Some(Ok(batch)) => {
                    if let Err(e) = self.ingest(batch).await {
                        // The pipeline holds the batch (and its token) and
                        // writes it first once the log accepts writes again.
                        warn!(source = %self.name, error = %e, "{}: the log refused a pushed batch; it waits in memory", self.name);
                    }
                    *last_ok = Some(Utc::now());
                    if self.source.detail().is_some() && self.book.is_some() {
                        // Polling: each batch spent a poll's units.
                        let used = self
                            .pipeline
                            .log
                            .quota_used(quota::quota_day(Utc::now()))
                            .await
                            .ok();
                        *self.quota_used.lock().unwrap_or_else(|p| p.into_inner()) = used;
                        self.pace(used);
                    }
                    // What the source says of itself may change with a
                    // batch (the interval a fallback polls at).
                    let now = self.source.detail().unwrap_or_else(|| STREAMING.to_owned());
                    if now != detail {
                        detail = now;
                        self.report(SourceState::Ok, Some(detail.clone()), None, *last_ok);
                    }
                }
            }
        }
    }

    /// With a shared log, whether this instance holds the source's lock (or
    /// takes it now); reports `standby` when another instance does, and
    /// waits for the log when it cannot be asked. Always true with a log of
    /// its own.
    async fn hold_lease(&self, last_ok: Option<chrono::DateTime<Utc>>) -> bool {
        let Some(shared) = self.pipeline.log.shared() else {
            return true;
        };
        match shared.claim(&self.name).await {
            Ok(true) => {
                self.pipeline.metrics.set_polling(&self.name, true);
                self.pipeline.hub.set_polled_elsewhere(&self.name, false);
                true
            }
            Ok(false) => {
                self.pipeline.metrics.set_polling(&self.name, false);
                self.pipeline.hub.set_polled_elsewhere(&self.name, true);
                let before = self
                    .since
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .map(|(s, _)| s);
                if before == Some(SourceState::Standby) {
                    // Said once: the streaming instance's status shows here.
                    return false;
                }
                self.report(
                    SourceState::Standby,
                    Some("streamed by another instance".into()),
                    None,
                    last_ok,
                );
                false
            }
            Err(e) => {
                // Streaming without the lock could mean two streams and
                // unchecked quota: wait for the log, and say so.
                self.pipeline.metrics.set_polling(&self.name, false);
                self.pipeline.hub.set_polled_elsewhere(&self.name, false);
                let error = sanitize::clean_line(&e.to_string(), 300);
                self.report(
                    SourceState::Backoff,
                    Some(format!(
                        "cannot reach the shared comment log; streaming resumes when it answers ({error})"
                    )),
                    None,
                    last_ok,
                );
                false
            }
        }
    }

    /// While streaming on a shared log: false only when the log says the
    /// lock is gone (its connection broke and another instance may hold it
    /// now). A log that cannot be asked keeps the stream: nobody else can
    /// take the lock from it either.
    async fn still_held(&self) -> bool {
        match self.pipeline.log.shared() {
            Some(shared) => !matches!(shared.claim(&self.name).await, Ok(false)),
            None => true,
        }
    }

    /// Sanitizes `pushed` and writes it with its resume token, in one write.
    async fn ingest(&self, pushed: PushedBatch) -> Result<(), crate::store::LogError> {
        let received = Instant::now();
        let mut batch = Batch {
            source: self.name.clone(),
            deleted: pushed.deleted,
            banned_authors: pushed.banned_authors,
            cursor: pushed.resume,
            ..Batch::default()
        };
        for kind in &pushed.unknown {
            self.pipeline.metrics.unknown_message(&self.name, kind);
        }
        let fetched_at = Utc::now();
        for raw in pushed.comments {
            if let Ok(c) = sanitize::sanitize(&self.name, raw, fetched_at) {
                // A repeated id carries the message's latest state.
                match batch.comments.iter().position(|k| k.id == c.id) {
                    Some(i) => batch.comments[i] = c,
                    None => batch.comments.push(c),
                }
            }
        }
        let spent = self
            .source
            .quota()
            .map(|q| q.take_spent_units())
            .unwrap_or_default();
        if spent.unrecorded > 0 {
            batch.quota = Some((quota::quota_day(Utc::now()), spent.unrecorded));
        }
        let changes = self.pipeline.ingest(batch).await?;
        if !changes.is_empty() {
            self.pipeline
                .metrics
                .published(changes.len() as u64, received.elapsed().as_secs_f64());
        }
        if let Some(note) = pushed.notes.last() {
            let note = sanitize::clean_line(note, 300);
            let detail = self.source.detail().unwrap_or_else(|| STREAMING.to_owned());
            self.report(
                SourceState::Ok,
                Some(format!("{detail} — {note}")),
                None,
                Some(Utc::now()),
            );
        }
        Ok(())
    }

    /// Tells the source the planner's floor for the units left today.
    fn pace(&self, used: Option<i64>) {
        let (Some(book), Some(used), Some(meter)) = (&self.book, used, self.source.quota()) else {
            return;
        };
        let session_left = book
            .session
            .saturating_sub(book.started.elapsed())
            .max(Duration::from_secs(15 * 60));
        let floor = quota::floor_interval(
            meter.cost_per_poll(),
            book.sources,
            book.daily - used,
            session_left,
        );
        let floor = floor.unwrap_or(Duration::ZERO);
        *self.floor.lock().unwrap_or_else(|p| p.into_inner()) = floor;
        self.source.set_floor(floor);
    }

    /// Writes quota units spent by an open that yielded no batch.
    async fn record_spent(&self) {
        let Some(meter) = self.source.quota() else {
            return;
        };
        let spent = meter.take_spent_units();
        if spent.unrecorded > 0 {
            let batch = Batch {
                source: self.name.clone(),
                quota: Some((quota::quota_day(Utc::now()), spent.unrecorded)),
                ..Batch::default()
            };
            if let Err(e) = self.pipeline.ingest(batch).await {
                warn!(source = %self.name, error = %e, "could not record quota units spent");
            }
        }
    }

    fn report(
        &self,
        state: SourceState,
        detail: Option<String>,
        until: Option<chrono::DateTime<Utc>>,
        last_ok: Option<chrono::DateTime<Utc>>,
    ) {
        let failed = matches!(
            state,
            SourceState::Backoff | SourceState::Quota | SourceState::Stopped | SourceState::Login
        );
        let mut status = SourceStatus::starting(self.name.clone());
        status.state = state;
        status.last_ok = last_ok;
        status.next_poll = until;
        status.quota_used = *self.quota_used.lock().unwrap_or_else(|p| p.into_inner());
        status.connections = Some(self.connections.load(std::sync::atomic::Ordering::Relaxed));
        if failed {
            status.last_error = detail.clone();
        }
        status.detail = detail;
        status.since = {
            let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
            match *since {
                Some((s, at)) if s == state => Some(at),
                _ => {
                    if state == SourceState::Ok {
                        info!(source = %self.name, "{} is streaming", self.name);
                    }
                    *since = Some((state, Utc::now()));
                    Some(Utc::now())
                }
            }
        };
        status.title = self
            .source
            .title()
            .map(|t| sanitize::clean_line(&t, crate::status::MAX_TITLE_CHARS - 1))
            .filter(|t| !t.is_empty());
        if self.pipeline.log.is_shared() && state != SourceState::Standby {
            // The other instances' dashboards show what this one reports.
            let log = self.pipeline.log.clone();
            let (shared_status, at) = (status.clone(), Utc::now());
            tokio::spawn(async move {
                let Some(shared) = log.shared() else { return };
                if let Err(e) = shared.share_status(&shared_status, at).await {
                    tracing::debug!(error = %e, "could not share a source's status");
                }
            });
        }
        self.pipeline.hub.set_status(status);
    }
}
