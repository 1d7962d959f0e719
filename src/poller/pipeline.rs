//! `Pipeline`: where polled comments go — the log, then the hub. It must not
//! touch the sources or the web: it takes batches that are already
//! sanitized.

use std::collections::VecDeque;
use std::sync::Arc;

use tracing::warn;

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::protocol::Frame;
use crate::store::{Batch, Change, CommentLog, LogError};

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
                        self.hub
                            .publish_all(changes.iter().map(Frame::change).collect());
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
        && batch.banned_authors.is_empty()
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
