//! `SourceTask`: one polled source with its schedule and the state between
//! polls. A tick is a dumb trigger around `poll_once`: it skips while the
//! previous poll runs, waits out backoff, quota and minimum intervals, and
//! reports the source's state to the hub (and, on a shared log, to the other
//! instances). It never builds HTML and never reads the web.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::lease::Lease;
use super::quota::LogQuotaGate;
use super::schedule::{backoff, human};
use super::{MAX_PAGES_PER_POLL, Pipeline, PollError, PollReport, QuotaBook, poll_once};
use crate::domain::Schedule;
use crate::protocol::{SourceState, SourceStatus};
use crate::sanitize;
use crate::source::{PolledSource, SourceError};

/// One source with its schedule and the state between polls.
pub struct SourceTask {
    pub(super) source: Box<dyn PolledSource>,
    pub(super) name: String,
    pub(super) schedule: Schedule,
    pub(super) pipeline: Pipeline,
    pub(super) backfill_pages: u32,
    pub(super) timeout: Duration,
    pub(super) quota: Option<Arc<QuotaBook>>,
    /// Held for the length of a poll: a tick that cannot take it skips.
    pub(super) state: tokio::sync::Mutex<TaskState>,
    /// How many sources the instances sharing the log poll between them.
    pub(super) sources_in_all: usize,
    /// Set at shutdown: a tick that starts later does nothing.
    pub(super) shut: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
pub(super) struct TaskState {
    pub(super) backfilled: bool,
    pub(super) failures: u32,
    /// No poll before this (backoff, quota, minimum interval, platform's wish).
    pub(super) not_before: Option<Instant>,
    pub(super) last_ok: Option<DateTime<Utc>>,
    pub(super) stopped: bool,
    /// The state last reported, so a log line is written per change only.
    pub(super) reported: Option<(SourceState, Option<String>)>,
    /// When the state last reported began.
    pub(super) since: Option<DateTime<Utc>>,
    /// Whether the quota clamp was already announced.
    pub(super) clamp_announced: bool,
    /// A `Login` report stays on until a poll passes without one.
    pub(super) login: Option<String>,
    /// Who polls this source, as last found (a shared log only asks).
    pub(super) lease: Lease,
    /// Handed to another instance: not asked for again before this.
    pub(super) handed_over_until: Option<Instant>,
    /// What the source last said about its pages (a ban), and when: shown
    /// as the status's detail for [`NOTE_SHOWN_FOR`].
    pub(super) note: Option<(String, Instant)>,
}

/// How long a source's note (a ban) stays in its status.
const NOTE_SHOWN_FOR: Duration = Duration::from_secs(600);

impl SourceTask {
    pub fn new(
        source: impl PolledSource + 'static,
        schedule: Schedule,
        pipeline: Pipeline,
        backfill_pages: u32,
        timeout: Duration,
        quota: Option<Arc<QuotaBook>>,
    ) -> SourceTask {
        SourceTask::boxed(
            Box::new(source),
            schedule,
            pipeline,
            backfill_pages,
            timeout,
            quota,
        )
    }

    /// Like [`SourceTask::new`], for a source already boxed.
    pub fn boxed(
        source: Box<dyn PolledSource>,
        schedule: Schedule,
        pipeline: Pipeline,
        backfill_pages: u32,
        timeout: Duration,
        quota: Option<Arc<QuotaBook>>,
    ) -> SourceTask {
        let name = source.name();
        if let Some(book) = &quota {
            // Every request reserves its units in the log first: sources and
            // instances sharing the key cannot together pass its budget.
            if let Some(meter) = source.quota() {
                meter.set_gate(Arc::new(LogQuotaGate {
                    log: pipeline.log.clone(),
                    daily: book.daily,
                }));
            }
        }
        pipeline
            .hub
            .set_status(SourceStatus::starting(name.clone()));
        SourceTask {
            source,
            name,
            schedule,
            pipeline,
            backfill_pages,
            timeout,
            quota,
            state: tokio::sync::Mutex::new(TaskState::default()),
            sources_in_all: 1,
            shut: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// With a log several instances share: how many sources they poll
    /// between them (every instance is configured with the same ones), so
    /// that an instance polling more than its fair share hands some over.
    pub fn with_sources_in_all(mut self, n: usize) -> SourceTask {
        self.sources_in_all = n.max(1);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it polls.
    pub(super) fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// One scheduled tick: poll unless a poll is running, the source stopped,
    /// or it must wait (backoff, quota, minimum interval).
    pub async fn tick(&self) {
        self.run(false).await;
    }

    /// Polls now, even during a backoff or before the minimum interval (a
    /// "retry now" for people, and for tests). A stopped source stays stopped.
    pub async fn poll_now(&self) {
        self.run(true).await;
    }

    async fn run(&self, force: bool) {
        let Ok(mut state) = self.state.try_lock() else {
            debug!(source = %self.name, "previous poll still running; skipping this tick");
            return;
        };
        // Checked under the state lock, so `finish` either waits for this
        // tick or this tick sees the shutdown.
        if self.shut.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if !self.hold_lease(&mut state).await {
            return;
        }
        let waiting = state.not_before.is_some_and(|t| Instant::now() < t);
        if state.stopped || (waiting && !force) {
            return;
        }
        let started = Instant::now();
        let mut floor = self.source.min_interval();
        let mut quota_used = None;
        if let Some(book) = &self.quota {
            match self.quota_floor(book).await {
                Ok((used, Some(f))) => {
                    quota_used = Some(used);
                    floor = floor.max(Some(f));
                    self.announce_clamp(&mut state, f, book);
                }
                Ok((used, None)) => return self.quota_spent(&mut state, book, used),
                Err(e) => {
                    warn!(source = %self.name, error = %e, "could not read the quota counter")
                }
            }
        }
        if !state.backfilled {
            // A source the log has never seen gets a deeper first read.
            state.backfilled = self
                .pipeline
                .log
                .has_source(self.name.clone())
                .await
                .unwrap_or(false);
        }
        let max_pages = if state.backfilled {
            MAX_PAGES_PER_POLL
        } else {
            self.backfill_pages
        };
        let result = poll_once(
            self.source.as_ref(),
            &self.pipeline,
            max_pages,
            self.timeout,
        )
        .await;
        self.count(&result, started.elapsed().as_secs_f64());
        if let (Some(used), Ok(r)) = (quota_used.as_mut(), &result) {
            *used += r.quota_units;
        }
        let wait = result.as_ref().ok().and_then(|r| r.wait_at_least);
        if let Some(f) = floor.max(wait) {
            state.not_before = Some(started + f);
        }
        match result {
            Ok(r) => {
                // One line per poll that changed something; a quiet poll
                // is DEBUG, or a quiet stream would fill the log with zeros.
                macro_rules! poll_line {
                    ($level:ident) => {
                        $level!(
                            source = %self.name,
                            pages = r.pages,
                            comments.fetched = r.fetched,
                            comments.new = r.new,
                            comments.updated = r.updated,
                            comments.deleted = r.deleted,
                            comments.skipped = r.skipped,
                            quota.units = r.quota_units,
                            duration_ms = r.duration.as_millis() as u64,
                            "poll of {} stored {} new comments", self.name, r.new
                        )
                    };
                }
                if r.new + r.updated + r.deleted > 0 {
                    poll_line!(info);
                } else {
                    poll_line!(debug);
                }
                state.backfilled = true;
                state.failures = 0;
                state.login = None;
                state.last_ok = Some(Utc::now());
                if !r.notes.is_empty() {
                    let note = sanitize::clean_line(&r.notes.join("; "), 500);
                    info!(source = %self.name, "{note}");
                    state.note = Some((note, Instant::now()));
                }
                let note = state
                    .note
                    .as_ref()
                    .filter(|(_, at)| at.elapsed() < NOTE_SHOWN_FOR)
                    .map(|(note, _)| note.clone());
                let mut status = self.status(&state, SourceState::Ok, note, None, quota_used);
                if let (Some(f), Some(period)) = (floor, self.schedule.period(Utc::now()))
                    && f > period
                {
                    status.detail = Some(format!(
                        "polling every {} (slower than CW_POLL) so the quota lasts the session",
                        human(f)
                    ));
                }
                self.report(&mut state, status);
            }
            Err(e) => self.after_failure(&mut state, e, quota_used),
        }
        self.spread(&mut state).await;
    }

    fn count(&self, result: &Result<PollReport, PollError>, seconds: f64) {
        let (outcome, counts) = match result {
            Ok(r) => (
                "ok",
                [r.fetched, r.new, r.updated, r.deleted].map(|n| n as u64),
            ),
            Err(e) => {
                let outcome = match e {
                    PollError::Source(
                        SourceError::Transient { .. } | SourceError::Settings { .. },
                    ) => "error",
                    PollError::Source(SourceError::Quota { .. }) => "quota",
                    PollError::Source(SourceError::Login { .. }) => "login",
                    PollError::Source(SourceError::Stopped { .. }) => "stopped",
                    PollError::Source(SourceError::NotYet { .. }) => "not_yet",
                    PollError::Timeout(_) => "timeout",
                    PollError::Log(_) => "log_error",
                };
                (outcome, [0; 4])
            }
        };
        self.pipeline
            .metrics
            .poll(&self.name, outcome, seconds, counts);
    }

    pub(super) fn after_failure(
        &self,
        state: &mut TaskState,
        e: PollError,
        quota_used: Option<i64>,
    ) {
        // Error texts can quote a platform's words: one clean line, so that
        // nothing a server sends can drive the terminal the log goes to.
        let error = sanitize::clean_line(&e.to_string(), 500);
        let (kind, detail, retry) = match &e {
            PollError::Source(SourceError::Stopped { reason }) => {
                state.stopped = true;
                (SourceState::Stopped, reason.clone(), None)
            }
            PollError::Source(SourceError::Quota { until, .. }) => {
                let wait = (*until - Utc::now()).to_std().unwrap_or_default();
                (
                    SourceState::Quota,
                    format!("quota spent; paused until {}", until.format("%H:%M UTC")),
                    Some(wait),
                )
            }
            PollError::Source(SourceError::Login { reason }) => {
                // What the poll could read is stored; keep polling as usual.
                state.login = Some(reason.clone());
                state.failures = 0;
                state.last_ok = Some(Utc::now());
                (SourceState::Login, reason.clone(), None)
            }
            PollError::Source(SourceError::NotYet {
                reason,
                retry_every,
            }) => {
                // Not a failure streak: the same slow pace for as long as
                // it takes, and a normal poll once it is there.
                state.failures = 0;
                (SourceState::Backoff, reason.clone(), Some(*retry_every))
            }
            PollError::Source(SourceError::Transient { retry_after, .. }) => {
                state.failures += 1;
                let wait = backoff(state.failures).max(retry_after.unwrap_or_default());
                let detail = format!(
                    "{} failed poll{} in a row; retrying in {}",
                    state.failures,
                    if state.failures == 1 { "" } else { "s" },
                    human(wait)
                );
                (SourceState::Backoff, detail, Some(wait))
            }
            PollError::Source(SourceError::Settings { reason }) => {
                state.failures += 1;
                let wait = backoff(state.failures);
                let detail = format!("{reason}; retrying in {}", human(wait));
                (SourceState::Backoff, detail, Some(wait))
            }
            PollError::Log(_) | PollError::Timeout(_) => {
                state.failures += 1;
                let wait = backoff(state.failures);
                let detail = format!("retrying in {}", human(wait));
                (SourceState::Backoff, detail, Some(wait))
            }
        };
        if let Some(wait) = retry {
            state.not_before = Some(Instant::now() + wait);
        }
        let detail = sanitize::clean_line(&detail, 500);
        let status = self.status(state, kind, Some(detail), Some(error), quota_used);
        self.report(state, status);
    }

    pub(super) fn status(
        &self,
        state: &TaskState,
        kind: SourceState,
        detail: Option<String>,
        last_error: Option<String>,
        quota_used: Option<i64>,
    ) -> SourceStatus {
        let next_poll = if state.stopped {
            None
        } else {
            let waiting = state.not_before.map(|t| {
                Utc::now()
                    + chrono::Duration::from_std(t.saturating_duration_since(Instant::now()))
                        .unwrap_or_default()
            });
            self.schedule.next_tick(Utc::now()).max(waiting)
        };
        let (kind, detail) = match (&state.login, kind) {
            (Some(login), SourceState::Ok) => (SourceState::Login, Some(login.clone())),
            _ => (kind, detail),
        };
        SourceStatus {
            source: self.name.clone(),
            state: kind,
            detail,
            last_ok: state.last_ok,
            last_error,
            next_poll,
            quota_used,
            since: None,
            // Titles are the platform's text: one clean line, hidden
            // characters removed, and shown only as text. A cut title ends
            // in "…", which counts towards the limit.
            title: self
                .source
                .title()
                .map(|t| sanitize::clean_line(&t, crate::status::MAX_TITLE_CHARS - 1))
                .filter(|t| !t.is_empty()),
            connections: None,
        }
    }

    /// Sends the status to the hub and logs a line when the state changed.
    pub(super) fn report(&self, state: &mut TaskState, mut status: SourceStatus) {
        let key = (status.state, status.last_error.clone());
        let changed = state.reported.as_ref().map(|(s, _)| *s) != Some(status.state);
        if changed || state.since.is_none() {
            state.since = Some(Utc::now());
        }
        status.since = state.since;
        if changed {
            match status.state {
                SourceState::Ok => info!(source = %self.name, "{} is polling normally", self.name),
                SourceState::Standby => {
                    info!(source = %self.name, "{} is polled by another instance", self.name)
                }
                SourceState::Starting => {}
                other => warn!(
                    source = %self.name,
                    state = ?other,
                    error = status.last_error.as_deref().unwrap_or(""),
                    "{} is now {:?}: {}",
                    self.name,
                    other,
                    status.detail.as_deref().unwrap_or("")
                ),
            }
        } else if status.last_error.is_some() {
            debug!(source = %self.name, error = status.last_error.as_deref().unwrap_or(""), "poll failed again");
        }
        state.reported = Some(key);
        if self.pipeline.log.is_shared() && status.state != SourceState::Standby {
            // The other instances' dashboards show what the poller reports.
            let log = self.pipeline.log.clone();
            let (shared_status, at) = (status.clone(), Utc::now());
            tokio::spawn(async move {
                let Some(shared) = log.shared() else { return };
                if let Err(e) = shared.share_status(&shared_status, at).await {
                    debug!(error = %e, "could not share a source's status");
                }
            });
        }
        self.pipeline.hub.set_status(status);
    }

    /// Stops polling: waits for a poll in flight to finish (at most
    /// `limit`), and no tick polls afterwards.
    pub async fn finish(&self, limit: Duration) {
        self.shut.store(true, std::sync::atomic::Ordering::Release);
        let _ = tokio::time::timeout(limit, self.state.lock()).await;
    }
}
