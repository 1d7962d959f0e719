//! What every YouTube source on one API key shares: the quota book, the gate
//! each request asks (a reservation in the log), and the polling floor that
//! keeps the day's quota alive for the session. The arithmetic itself is
//! `crate::quota`'s; this module only wires it to a task.

use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::warn;

use super::PollError;
use super::schedule::human;
use super::task::{SourceTask, TaskState};
use crate::quota;
use crate::source::SourceError;
use crate::store::{CommentLog, LogError};

/// Below this much session left, the quota planner stops shrinking it: a
/// session that runs over its planned length keeps polling, slowly.
const MIN_SESSION_LEFT: Duration = Duration::from_secs(15 * 60);

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
pub(super) struct LogQuotaGate {
    pub(super) log: CommentLog,
    pub(super) daily: i64,
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

impl SourceTask {
    /// Nothing left to spend today: waits for the reset.
    pub(super) fn quota_spent(&self, state: &mut TaskState, book: &QuotaBook, used: i64) {
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

    /// Units spent today and the floor interval for this source.
    pub(super) async fn quota_floor(
        &self,
        book: &QuotaBook,
    ) -> Result<(i64, Option<Duration>), LogError> {
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

    pub(super) fn announce_clamp(&self, state: &mut TaskState, floor: Duration, book: &QuotaBook) {
        let Some(period) = self.schedule.period(Utc::now()) else {
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
}
