//! The cluster lease: with a log several instances share, one of them polls
//! each source — whichever holds its lock in the log — and an instance that
//! polls more than its fair share hands sources over. With a log of its own
//! an instance always holds every lease. No polling here (that is `task`).

use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::{debug, info};

use super::task::{SourceTask, TaskState};
use crate::protocol::SourceState;
use crate::sanitize;

/// Who polls a source when several instances share the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Lease {
    /// Not asked yet, or the log could not be asked.
    #[default]
    Unknown,
    /// This instance holds the source's lock.
    Here,
    /// Another instance does.
    Elsewhere,
}

impl SourceTask {
    /// With a log shared by several instances, one of them polls each
    /// source: whichever holds its lock. Whether this instance does now
    /// (always, with a log of its own); reports the source's state when it
    /// does not.
    pub(super) async fn hold_lease(&self, state: &mut TaskState) -> bool {
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

    /// With a shared log: when this instance polls more than its fair share
    /// of the sources, lets go of this one for a while, so that an instance
    /// with fewer takes it (and takes it back if none does).
    pub(super) async fn spread(&self, state: &mut TaskState) {
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
        // Every source task of this instance asks at about the same moment
        // (they poll on one schedule) and sees the same count: if each let
        // go, all of them would, and the instance that takes them would
        // hand them all back. Each lets go with the chance that makes the
        // expected number let go `held - fair`.
        let excess = (held - fair) as f64 / held as f64;
        if rand::random_range(0.0..1.0) >= excess {
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
        let period = self
            .schedule
            .period(Utc::now())
            .unwrap_or(Duration::from_secs(10));
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
}
