//! The poller: asks every source for its new comments on a schedule and runs
//! each batch through the rest of the pipeline (sanitize → log → hub).
//!
//! `poll_once` is the whole of one poll and is public so tests can call it
//! directly. The scheduled job around it (`SourceTask::tick`) is a dumb
//! trigger: it skips a tick while the previous poll is still running, backs
//! off after errors and reports each source's state to the hub. The poller
//! never builds HTML; that is the sanitizer's job.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tracing::{info, warn};

use crate::comment::Comment;
use crate::config::Schedule;
use crate::hub::Hub;
use crate::protocol::{Frame, SourceState, SourceStatus};
use crate::sanitize;
use crate::source::{Source, SourceError};
use crate::store::{Change, ChangeKind, CommentLog, LogError};

/// Pages a poll may read once a source has been backfilled: enough to catch
/// up after a restart or a busy minute, bounded so one poll cannot run away.
pub const MAX_PAGES_PER_POLL: u32 = 20;
/// The longest wait between retries of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

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
    /// Comments the sanitizer refused (no usable id).
    pub rejected: usize,
    pub duration: Duration,
}

/// Why a poll failed. Whatever it fetched before failing is kept.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("source: {0}")]
    Source(#[from] SourceError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the poll took longer than {0:?}")]
    Timeout(Duration),
}

/// Where polled comments go: the log, then the hub. The lock makes "commit,
/// then publish" one step, so frames leave in `seq` order even when several
/// sources poll at once (a dashboard that saw `seq` 11 must never be sent 10).
#[derive(Clone)]
pub struct Pipeline {
    pub log: CommentLog,
    pub hub: Hub,
    order: Arc<tokio::sync::Mutex<()>>,
}

impl Pipeline {
    pub fn new(log: CommentLog, hub: Hub) -> Pipeline {
        Pipeline {
            log,
            hub,
            order: Arc::default(),
        }
    }

    /// Commits `comments` to the log and publishes what was new or edited.
    pub async fn ingest(&self, comments: Vec<Comment>) -> Result<Vec<Change>, LogError> {
        if comments.is_empty() {
            return Ok(Vec::new());
        }
        let _in_order = self.order.lock().await;
        let changes = self.log.record(comments).await?;
        for change in &changes {
            self.hub.publish(Frame::change(change));
        }
        Ok(changes)
    }
}

/// Polls `source` once: reads pages newest first until one holds a comment
/// the log already has (or `max_pages`, or the last page), then records
/// everything fetched, oldest first so `seq` follows posting order.
pub async fn poll_once(
    source: &Source,
    pipeline: &Pipeline,
    max_pages: u32,
    timeout: Duration,
) -> Result<PollReport, PollError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let name = source.name();
    let mut report = PollReport::default();
    let mut fetched: Vec<Comment> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut failure = None;
    while report.pages < max_pages.max(1) {
        let page =
            match tokio::time::timeout_at(deadline, source.fetch_page(cursor.as_deref())).await {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => {
                    failure = Some(PollError::Source(e));
                    break;
                }
                Err(_) => {
                    failure = Some(PollError::Timeout(timeout));
                    break;
                }
            };
        report.pages += 1;
        report.fetched += page.comments.len();
        let fetched_at = Utc::now();
        let mut page_ids = Vec::with_capacity(page.comments.len());
        for raw in page.comments {
            match sanitize::sanitize(&name, raw, fetched_at) {
                Ok(c) => {
                    page_ids.push(c.id.clone());
                    if seen.insert(c.id.clone()) {
                        fetched.push(c);
                    }
                }
                Err(_) => report.rejected += 1,
            }
        }
        let known = pipeline.log.known_ids(name.clone(), page_ids).await?;
        if !known.is_empty() {
            break;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Pages come newest first; the log should number them as they were posted.
    fetched.reverse();
    let changes = pipeline.ingest(fetched).await?;
    report.new = changes.iter().filter(|c| c.kind == ChangeKind::New).count();
    report.updated = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Update)
        .count();
    report.duration = started.elapsed();
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// One source with its schedule and the state between polls.
pub struct SourceTask {
    source: Source,
    name: String,
    schedule: Schedule,
    pipeline: Pipeline,
    backfill_pages: u32,
    timeout: Duration,
    /// Held for the length of a poll: a tick that cannot take it skips.
    state: tokio::sync::Mutex<TaskState>,
}

#[derive(Default)]
struct TaskState {
    backfilled: bool,
    failures: u32,
    retry_at: Option<Instant>,
    last_ok: Option<chrono::DateTime<Utc>>,
}

impl SourceTask {
    pub fn new(
        source: Source,
        schedule: Schedule,
        pipeline: Pipeline,
        backfill_pages: u32,
        timeout: Duration,
    ) -> SourceTask {
        let name = source.name();
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
            state: tokio::sync::Mutex::new(TaskState::default()),
        }
    }

    /// One scheduled tick: poll unless a poll is running or backing off.
    pub async fn tick(&self) {
        let Ok(mut state) = self.state.try_lock() else {
            warn!(source = %self.name, "previous poll still running; skipping this tick");
            return;
        };
        if state.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
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
        let result = poll_once(&self.source, &self.pipeline, max_pages, self.timeout).await;
        let mut status = SourceStatus::starting(self.name.clone());
        match result {
            Ok(r) => {
                info!(
                    source = %self.name,
                    pages = r.pages,
                    comments.fetched = r.fetched,
                    comments.new = r.new,
                    comments.updated = r.updated,
                    comments.rejected = r.rejected,
                    duration_ms = r.duration.as_millis() as u64,
                    "poll of {} stored {} new comments", self.name, r.new
                );
                state.backfilled = true;
                state.failures = 0;
                state.retry_at = None;
                state.last_ok = Some(Utc::now());
                status.state = SourceState::Ok;
                status.next_poll = next_poll(&self.schedule);
            }
            Err(e) => {
                state.failures += 1;
                let wait = backoff(state.failures);
                state.retry_at = Some(Instant::now() + wait);
                warn!(
                    source = %self.name,
                    failures = state.failures,
                    retry_in_s = wait.as_secs(),
                    error = %e,
                    "poll of {} failed; retrying in {}s", self.name, wait.as_secs()
                );
                status.state = SourceState::Backoff;
                status.detail = Some(format!(
                    "{} failed polls in a row; retrying in {}s",
                    state.failures,
                    wait.as_secs()
                ));
                status.last_error = Some(e.to_string());
                let retry = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                status.next_poll = next_poll(&self.schedule).map(|t| t.max(retry));
            }
        }
        status.last_ok = state.last_ok;
        self.pipeline.hub.set_status(status);
    }

    /// Waits for a poll in flight to finish (at most `limit`).
    pub async fn finish(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.state.lock()).await;
    }
}

/// 5 s, 10 s, 20 s … up to five minutes.
fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(10));
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

fn next_poll(schedule: &Schedule) -> Option<chrono::DateTime<Utc>> {
    match schedule {
        Schedule::Every(d) => Some(Utc::now() + chrono::Duration::from_std(*d).ok()?),
        Schedule::Cron(expr) => croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .ok()?
            .find_next_occurrence(&Utc::now(), false)
            .ok(),
    }
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
                Schedule::Cron(expr) => Job::new_async(expr.as_str(), run)?,
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
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(50), MAX_BACKOFF);
    }
}
