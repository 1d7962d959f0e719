//! `poll_once`: the whole of one poll of a polled source — paging from the
//! newest page or the stored resume token, remembering pages it could not
//! read (gaps), sanitizing and recording what it fetched. No scheduling, no
//! status reports (that is `task`), no HTML.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::warn;

use super::Pipeline;
use crate::quota;
use crate::sanitize;
use crate::source::{Paging, PolledSource, SourceError};
use crate::store::{Batch, ChangeKind, LogError};

/// Pages a poll may read once a source has been backfilled: enough to catch
/// up after a restart or a busy minute, bounded so one poll cannot run away.
pub const MAX_PAGES_PER_POLL: u32 = 20;

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
    /// What the source said about its pages for the status (a ban).
    pub notes: Vec<String>,
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
    // Where each comment id of this poll sits in `batch.comments`.
    let mut seen: HashMap<String, usize> = HashMap::new();
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
            batch.banned_authors.extend(page.banned_authors);
            report.notes.extend(page.notes);
            for kind in &page.unknown {
                pipeline.metrics.unknown_message(&name, kind);
            }
            report.skipped += page.unknown.len();
            let fetched_at = Utc::now();
            let mut page_ids = Vec::with_capacity(page.comments.len());
            for raw in page.comments {
                match sanitize::sanitize(&name, raw, fetched_at) {
                    Ok(c) => {
                        if page.timeline.is_none() {
                            page_ids.push(c.id.clone());
                        }
                        match seen.get(&c.id) {
                            None => {
                                seen.insert(c.id.clone(), batch.comments.len());
                                batch.comments.push(c);
                            }
                            // A stream that repeats an id sends the message's
                            // latest state (a gift's combo count, a poll's
                            // votes): the later one wins.
                            Some(&i) if paging == Paging::Resume => batch.comments[i] = c,
                            Some(_) => {}
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
