//! The poller: asks every source for its new comments on a schedule and runs
//! each batch through the rest of the pipeline (sanitize → log → hub).
//!
//! `poll_once` is the whole of one poll and is public so tests can call it
//! directly. The scheduled job around it (`SourceTask::tick`) is a dumb
//! trigger: it skips a tick while the previous poll is still running, keeps
//! each source within its quota and minimum interval, backs off after errors
//! and reports each source's state to the hub. The poller never builds HTML;
//! that is the sanitizer's job.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tracing::{debug, info, warn};

use crate::domain::Schedule;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::protocol::{Frame, SourceState, SourceStatus};
use crate::quota;
use crate::sanitize;
use crate::source::{Paging, PolledSource, SourceError};
use crate::store::{Batch, Change, ChangeKind, CommentLog, LogError};

/// Pages a poll may read once a source has been backfilled: enough to catch
/// up after a restart or a busy minute, bounded so one poll cannot run away.
pub const MAX_PAGES_PER_POLL: u32 = 20;
/// The longest wait between retries of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Below this much session left, the quota planner stops shrinking it: a
/// session that runs over its planned length keeps polling, slowly.
const MIN_SESSION_LEFT: Duration = Duration::from_secs(15 * 60);

/// What one poll did, logged as one line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    pub pages: u32,
    /// Comments in the responses, counting repeats.
    pub fetched: usize,
    /// Comments the log had not seen before.
    pub new: usize,
    /// Known comments that were edited on the platform.
    pub updated: usize,
    /// Known comments the platform retracted.
    pub deleted: usize,
    /// Items the adapter could not read, or the sanitizer refused.
    pub skipped: usize,
    /// Quota units this poll spent.
    pub quota_units: i64,
    /// The platform asked not to be polled again sooner than this.
    pub wait_at_least: Option<Duration>,
    pub duration: Duration,
}

/// Why a poll failed. Whatever it fetched before failing is kept.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the poll took longer than {0:?}")]
    Timeout(Duration),
}

/// Where polled comments go: the log, then the hub. The lock makes "commit,
/// then publish" one step, so frames leave in `seq` order even when several
/// sources poll at once (a dashboard that saw `seq` 11 must never be sent 10).
/// On a log shared by several instances the hub hears every change, this
/// instance's included, from `crate::feed` instead.
///
/// When the log cannot be written (disk full, file locked), fetched batches
/// wait in memory, up to `MAX_PENDING_COMMENTS`, and are written first, in
/// order, once it can.
#[derive(Clone)]
pub struct Pipeline {
    pub log: CommentLog,
    pub hub: Hub,
    pub metrics: Metrics,
    /// Held while committing and publishing; also guards the pending batches.
    order: Arc<tokio::sync::Mutex<VecDeque<Batch>>>,
}

/// Fetched comments kept in memory while the log refuses writes. Past this
/// the oldest are let go: sources that page newest-first fetch them again.
pub const MAX_PENDING_COMMENTS: usize = 100_000;

impl Pipeline {
    pub fn new(log: CommentLog, hub: Hub) -> Pipeline {
        Pipeline {
            log,
            hub,
            metrics: Metrics::new(),
            order: Arc::default(),
        }
    }

    /// Commits `batch` (after any that are waiting) to the log and publishes
    /// what changed. On error the batch waits for the next call.
    pub async fn ingest(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        let mut pending = self.order.lock().await;
        // A poll that found nothing writes nothing (on a shared log, it does
        // not queue for the feed lock either).
        if pending.is_empty() && is_empty(&batch) {
            return Ok(Vec::new());
        }
        pending.push_back(batch);
        let mut all = Vec::new();
        while let Some(next) = pending.front() {
            match self.log.record(next.clone()).await {
                Ok(changes) => {
                    pending.pop_front();
                    // A shared log reaches the hub through `crate::feed`,
                    // in the order every instance committed.
                    if !self.log.is_shared() {
                        for change in &changes {
                            self.hub.publish(Frame::change(change));
                        }
                    }
                    all.extend(changes);
                }
                Err(e) => {
                    let mut held: usize = pending.iter().map(|b| b.comments.len()).sum();
                    while held > MAX_PENDING_COMMENTS && pending.len() > 1 {
                        let dropped = pending.pop_front().map_or(0, |b| b.comments.len());
                        held -= dropped;
                        warn!(
                            comments.dropped = dropped,
                            "the comment log has been failing for long; letting go of {dropped} \
                             fetched comments held in memory"
                        );
                    }
                    self.metrics.set_pending(held);
                    return Err(e);
                }
            }
        }
        self.metrics.set_pending(0);
        Ok(all)
    }
}

/// Whether writing `batch` would change nothing.
fn is_empty(batch: &Batch) -> bool {
    batch.comments.is_empty()
        && batch.deleted.is_empty()
        && batch.cursor.is_none()
        && batch.quota.is_none()
}

impl Pipeline {
    /// At shutdown: one last try to write what waits in memory; says how
    /// many fetched comments could not be written (the sources that page
    /// newest first fetch them again at the next start).
    pub async fn flush(&self) {
        let mut pending = self.order.lock().await;
        while let Some(next) = pending.front() {
            match self.log.record(next.clone()).await {
                Ok(_) => {
                    pending.pop_front();
                }
                Err(e) => {
                    let lost: usize = pending.iter().map(|b| b.comments.len()).sum();
                    warn!(
                        error = %e,
                        comments.lost = lost,
                        "the comment log still refuses writes at shutdown: {lost} fetched \
                         comments held in memory are not written"
                    );
                    return;
                }
            }
        }
    }
}

/// Polls `source` once and records what it fetched.
///
/// For a `NewestFirst` source, reads pages from the newest until one holds a
/// comment the log already has (or the last page), then records everything
/// oldest first so `seq` follows posting order. If the poll stops before that
/// — an error on page 3, or `max_pages` reached — the page it could not read
/// is remembered as a *gap* and read on later polls, so a failure in the
/// middle of paging never loses the comments below it. (The first poll of a
/// source is a backfill of `max_pages` pages, not a promise: it leaves no gap.)
///
/// For a `Resume` source, reads one page from the stored cursor and stores
/// the new cursor in the same transaction as the comments.
///
/// Either way, what was fetched before an error is kept.
pub async fn poll_once(
    source: &dyn PolledSource,
    pipeline: &Pipeline,
    max_pages: u32,
    timeout: Duration,
) -> Result<PollReport, PollError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let name = source.name();
    let paging = source.paging();
    let mut report = PollReport::default();
    let mut batch = Batch {
        source: name.clone(),
        ..Batch::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let stored_cursor = pipeline.log.cursor(name.clone()).await?;
    let first = !pipeline.log.has_source(name.clone()).await?;
    // Where to start reading: the top, then any gaps earlier polls left.
    let mut runs: Vec<Gap> = vec![Gap::top()];
    let old_gaps: Vec<Gap> = match paging {
        Paging::Resume => Vec::new(),
        Paging::NewestFirst => stored_cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default(),
    };
    if paging == Paging::NewestFirst {
        runs.extend(old_gaps.iter().cloned());
    }
    let mut gaps: Vec<Gap> = Vec::new();
    let mut failure = None;
    let mut first_response: Option<Instant> = None;
    let mut runs = runs.into_iter();
    'runs: for run in runs.by_ref() {
        let mut cursor = match paging {
            Paging::Resume => stored_cursor.clone(),
            Paging::NewestFirst => run.token.clone(),
        };
        loop {
            if report.pages >= max_pages.max(1) {
                // Out of pages for this poll: what is left is read next time.
                if !first && cursor.is_some() && paging == Paging::NewestFirst {
                    gaps.push(Gap::at(cursor, run.failures));
                }
                break 'runs;
            }
            let fetch = source.fetch_page(cursor.as_deref());
            let page = match tokio::time::timeout_at(deadline, fetch).await {
                Ok(Ok(page)) => Some(page),
                Ok(Err(e)) => {
                    failure = Some(PollError::Source(e));
                    None
                }
                Err(_) => {
                    failure = Some(PollError::Timeout(timeout));
                    None
                }
            };
            let Some(page) = page else {
                if !first && cursor.is_some() && paging == Paging::NewestFirst {
                    let failures = run.failures + u32::from(run.token == cursor);
                    if failures < GAP_ATTEMPTS {
                        gaps.push(Gap::at(cursor, failures));
                    } else {
                        warn!(source = %name, "giving up on a page that failed {GAP_ATTEMPTS} polls in a row");
                    }
                }
                break 'runs;
            };
            first_response.get_or_insert_with(Instant::now);
            report.pages += 1;
            report.fetched += page.comments.len();
            report.skipped += page.skipped;
            report.wait_at_least = report.wait_at_least.max(page.wait_at_least);
            batch.deleted.extend(page.deleted);
            let fetched_at = Utc::now();
            let mut page_ids = Vec::with_capacity(page.comments.len());
            for raw in page.comments {
                match sanitize::sanitize(&name, raw, fetched_at) {
                    Ok(c) => {
                        if page.timeline.is_none() {
                            page_ids.push(c.id.clone());
                        }
                        if seen.insert(c.id.clone()) {
                            batch.comments.push(c);
                        }
                    }
                    Err(_) => report.skipped += 1,
                }
            }
            if paging == Paging::Resume {
                // A stream's next token is where the next poll starts.
                batch.cursor = page.next;
                break 'runs;
            }
            if let Some(timeline) = page.timeline {
                page_ids = timeline.iter().map(|id| sanitize::clean_id(id)).collect();
            }
            let known = match pipeline.log.known_ids(name.clone(), page_ids).await {
                Ok(known) => known,
                // What was fetched is kept (the pipeline holds it while the
                // log refuses writes); the next page is read later.
                Err(e) => {
                    if !first && paging == Paging::NewestFirst && page.next.is_some() {
                        gaps.push(Gap::at(page.next, 0));
                    }
                    failure = Some(PollError::Log(e));
                    break 'runs;
                }
            };
            if !known.is_empty() {
                break;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    if paging == Paging::NewestFirst {
        // Gaps not reached this time stay for the next poll.
        gaps.extend(runs.filter(|g| g.token.is_some()));
        gaps.truncate(MAX_GAPS);
        if gaps != old_gaps {
            batch.cursor = Some(serde_json::to_string(&gaps).expect("gaps serialize"));
        }
        // Pages come newest first; the log numbers comments as they were posted.
        batch.comments.reverse();
    }
    let spent = source
        .quota()
        .map(|q| q.take_spent_units())
        .unwrap_or_default();
    report.quota_units = spent.total;
    if spent.unrecorded > 0 {
        batch.quota = Some((quota::quota_day(Utc::now()), spent.unrecorded));
    }
    let changes = pipeline.ingest(batch).await?;
    if let Some(t) = first_response
        && !changes.is_empty()
    {
        pipeline
            .metrics
            .published(changes.len() as u64, t.elapsed().as_secs_f64());
    }
    for change in &changes {
        match change.kind {
            ChangeKind::New => report.new += 1,
            ChangeKind::Update => report.updated += 1,
            ChangeKind::Delete => report.deleted += 1,
        }
    }
    report.duration = started.elapsed();
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Polls a gap may fail before it is given up.
const GAP_ATTEMPTS: u32 = 3;
/// Gaps remembered per source.
const MAX_GAPS: usize = 8;

/// A page a poll could not read, to be read by a later one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Gap {
    /// The page's cursor; `None` only for the top of the list.
    token: Option<String>,
    /// Polls that failed on this page so far.
    failures: u32,
}

impl Gap {
    fn top() -> Gap {
        Gap {
            token: None,
            failures: 0,
        }
    }

    fn at(token: Option<String>, failures: u32) -> Gap {
        Gap { token, failures }
    }
}

/// What every source on one API key shares: the daily quota and the session
/// length it must last.
pub struct QuotaBook {
    pub daily: i64,
    pub session: Duration,
    /// How many sources spend from this key.
    pub sources: usize,
    pub started: Instant,
}

/// Reserves quota units in the log, against the key's daily budget.
struct LogQuotaGate {
    log: CommentLog,
    daily: i64,
}

impl crate::source::QuotaGate for LogQuotaGate {
    fn reserve(&self, units: i64) -> crate::source::BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move {
            let day = quota::quota_day(Utc::now());
            // Unknown is not "yes": without the log the request waits.
            self.log
                .reserve_quota(day, units, self.daily)
                .await
                .map(|reserved| reserved.is_some())
                .map_err(|e| e.to_string())
        })
    }
}

/// One source with its schedule and the state between polls.
pub struct SourceTask {
    source: Box<dyn PolledSource>,
    name: String,
    schedule: Schedule,
    pipeline: Pipeline,
    backfill_pages: u32,
    timeout: Duration,
    quota: Option<Arc<QuotaBook>>,
    /// Held for the length of a poll: a tick that cannot take it skips.
    state: tokio::sync::Mutex<TaskState>,
    /// How many sources the instances sharing the log poll between them.
    sources_in_all: usize,
    /// Set at shutdown: a tick that starts later does nothing.
    shut: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct TaskState {
    backfilled: bool,
    failures: u32,
    /// No poll before this (backoff, quota, minimum interval, platform's wish).
    not_before: Option<Instant>,
    last_ok: Option<DateTime<Utc>>,
    stopped: bool,
    /// The state last reported, so a log line is written per change only.
    reported: Option<(SourceState, Option<String>)>,
    /// Whether the quota clamp was already announced.
    clamp_announced: bool,
    /// A `Login` report stays on until a poll passes without one.
    login: Option<String>,
    /// Who polls this source, as last found (a shared log only asks).
    lease: Lease,
    /// Handed to another instance: not asked for again before this.
    handed_over_until: Option<Instant>,
}

/// Who polls a source when several instances share the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Lease {
    /// Not asked yet, or the log could not be asked.
    #[default]
    Unknown,
    /// This instance holds the source's lock.
    Here,
    /// Another instance does.
    Elsewhere,
}

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

    /// With a log shared by several instances, one of them polls each
    /// source: whichever holds its lock. Whether this instance does now
    /// (always, with a log of its own); reports the source's state when it
    /// does not.
    async fn hold_lease(&self, state: &mut TaskState) -> bool {
        if state.handed_over_until.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let claim = match self.pipeline.log.shared() {
            Some(shared) => shared.claim(&self.name).await,
            // A log of its own: nobody else polls.
            None => Ok(true),
        };
        let claimed = match claim {
            Ok(claimed) => claimed,
            Err(e) => {
                // Polling without the lock could mean several pollers and
                // unchecked quota: wait for the log, and say so.
                self.pipeline.metrics.set_polling(&self.name, false);
                self.pipeline.hub.set_polled_elsewhere(&self.name, false);
                state.lease = Lease::Unknown;
                let error = sanitize::clean_line(&e.to_string(), 500);
                let status = self.status(
                    state,
                    SourceState::Backoff,
                    Some(
                        "cannot reach the shared comment log; polling resumes when it answers"
                            .into(),
                    ),
                    Some(error),
                    None,
                );
                self.report(state, status);
                return false;
            }
        };
        if !claimed {
            self.pipeline.metrics.set_polling(&self.name, false);
            self.pipeline.hub.set_polled_elsewhere(&self.name, true);
            if state.lease != Lease::Elsewhere {
                state.lease = Lease::Elsewhere;
                let status = self.status(
                    state,
                    SourceState::Standby,
                    Some("polled by another instance".into()),
                    None,
                    None,
                );
                self.report(state, status);
            }
            return false;
        }
        self.pipeline.metrics.set_polling(&self.name, true);
        self.pipeline.hub.set_polled_elsewhere(&self.name, false);
        if state.lease == Lease::Elsewhere {
            // Whoever polled before may have left a deeper read undone.
            state.backfilled = false;
            info!(source = %self.name, "this instance now polls {}", self.name);
        }
        state.lease = Lease::Here;
        true
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
                info!(
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
                );
                state.backfilled = true;
                state.failures = 0;
                state.login = None;
                state.last_ok = Some(Utc::now());
                let mut status = self.status(&state, SourceState::Ok, None, None, quota_used);
                if let (Some(f), Some(period)) = (floor, schedule_period(&self.schedule))
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

    /// With a shared log: when this instance polls more than its fair share
    /// of the sources, lets go of this one for a while, so that an instance
    /// with fewer takes it (and takes it back if none does).
    async fn spread(&self, state: &mut TaskState) {
        let Some(log) = self.pipeline.log.shared() else {
            return;
        };
        let Ok((held, instances)) = log.share().await else {
            return;
        };
        let fair = self.sources_in_all.div_ceil(instances);
        if instances < 2 || held <= fair {
            return;
        }
        // Not "polled here" from before the lock goes: two instances never
        // both say so.
        self.pipeline.metrics.set_polling(&self.name, false);
        if let Err(e) = log.release(&self.name).await {
            debug!(source = %self.name, error = %e, "could not hand a source over");
            self.pipeline.metrics.set_polling(&self.name, true);
            return;
        }
        let period = schedule_period(&self.schedule).unwrap_or(Duration::from_secs(10));
        state.handed_over_until = Some(Instant::now() + 2 * period);
        state.lease = Lease::Unknown;
        info!(
            source = %self.name,
            "handing {} to another instance: this one polls {held} of {} sources, {instances} \
             instances share them",
            self.name,
            self.sources_in_all
        );
    }

    /// Nothing left to spend today: waits for the reset.
    fn quota_spent(&self, state: &mut TaskState, book: &QuotaBook, used: i64) {
        let until = quota::next_reset(Utc::now());
        let err = SourceError::Quota {
            reason: format!(
                "{used} of {} YouTube quota units spent today; paused until the reset",
                book.daily
            ),
            until,
        };
        self.after_failure(state, PollError::Source(err), Some(used));
    }

    fn count(&self, result: &Result<PollReport, PollError>, seconds: f64) {
        let (outcome, counts) = match result {
            Ok(r) => (
                "ok",
                [r.fetched, r.new, r.updated, r.deleted].map(|n| n as u64),
            ),
            Err(e) => {
                let outcome = match e {
                    PollError::Source(SourceError::Transient { .. }) => "error",
                    PollError::Source(SourceError::Quota { .. }) => "quota",
                    PollError::Source(SourceError::Login { .. }) => "login",
                    PollError::Source(SourceError::Stopped { .. }) => "stopped",
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

    /// Units spent today and the floor interval for this source.
    async fn quota_floor(&self, book: &QuotaBook) -> Result<(i64, Option<Duration>), LogError> {
        let used = self
            .pipeline
            .log
            .quota_used(quota::quota_day(Utc::now()))
            .await?;
        let cost = self.source.quota().map_or(1, |q| q.cost_per_poll());
        let session_left = book
            .session
            .saturating_sub(book.started.elapsed())
            .max(MIN_SESSION_LEFT);
        let floor = quota::floor_interval(cost, book.sources, book.daily - used, session_left);
        Ok((used, floor))
    }

    fn announce_clamp(&self, state: &mut TaskState, floor: Duration, book: &QuotaBook) {
        let Some(period) = schedule_period(&self.schedule) else {
            return;
        };
        if floor > period && !state.clamp_announced {
            state.clamp_announced = true;
            warn!(
                source = %self.name,
                floor_ms = floor.as_millis() as u64,
                "CW_POLL ({}) is faster than YOUTUBE_DAILY_QUOTA={} allows for {} YouTube source(s) over \
                 CW_SESSION_HOURS; polling {} every {} instead",
                human(period),
                book.daily,
                book.sources,
                self.name,
                human(floor)
            );
        }
    }

    fn after_failure(&self, state: &mut TaskState, e: PollError, quota_used: Option<i64>) {
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

    fn status(
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
            next_tick(&self.schedule).max(waiting)
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
        }
    }

    /// Sends the status to the hub and logs a line when the state changed.
    fn report(&self, state: &mut TaskState, status: SourceStatus) {
        let key = (status.state, status.last_error.clone());
        let changed = state.reported.as_ref().map(|(s, _)| *s) != Some(status.state);
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

/// 5 s, 10 s, 20 s … up to five minutes, each ±20 % so that sources that
/// failed together do not retry together.
fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(10));
    let base = Duration::from_secs(secs).min(MAX_BACKOFF);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// The time between two ticks of `schedule` (for cron, the next two).
fn schedule_period(schedule: &Schedule) -> Option<Duration> {
    schedule.period(Utc::now())
}

fn next_tick(schedule: &Schedule) -> Option<DateTime<Utc>> {
    schedule.next_tick(Utc::now())
}

/// `1.5s`, `3m`: a duration rounded for people.
fn human(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    let rounded = if ms < 10_000 {
        Duration::from_millis(ms / 100 * 100)
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(rounded).to_string()
}

/// The running poller: the scheduler and every source's task.
pub struct Poller {
    scheduler: JobScheduler,
    tasks: Vec<Arc<SourceTask>>,
}

impl Poller {
    /// Polls every task once right away, then on its schedule.
    pub async fn start(tasks: Vec<SourceTask>) -> Result<Poller, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        let tasks: Vec<Arc<SourceTask>> = tasks.into_iter().map(Arc::new).collect();
        for task in &tasks {
            let first = task.clone();
            tokio::spawn(async move { first.tick().await });
            let job_task = task.clone();
            let run = move |_id, _sched| {
                let task = job_task.clone();
                Box::pin(async move { task.tick().await })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            };
            let job = match &task.schedule {
                Schedule::Every(d) => Job::new_repeated_async(*d, run)?,
                Schedule::Cron(cron) => Job::new_async(cron.as_str(), run)?,
            };
            scheduler.add(job).await?;
        }
        scheduler.start().await?;
        Ok(Poller { scheduler, tasks })
    }

    /// Stops scheduling and lets polls in flight finish their write.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            warn!(error = %e, "the poll scheduler did not stop cleanly");
        }
        for task in &self.tasks {
            task.finish(Duration::from_secs(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes_with_jitter() {
        for _ in 0..50 {
            let b1 = backoff(1).as_secs_f64();
            assert!((4.0..=6.0).contains(&b1), "{b1}");
            let b3 = backoff(3).as_secs_f64();
            assert!((16.0..=24.0).contains(&b3), "{b3}");
            assert!(backoff(50) <= MAX_BACKOFF.mul_f64(1.2));
        }
    }

    #[test]
    fn a_cron_schedule_has_a_period() {
        let p = schedule_period(&Schedule::cron("*/15 * * * * *")).unwrap();
        assert_eq!(p, Duration::from_secs(15));
    }
}
