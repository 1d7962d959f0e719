//! `Poller`: the ticks of every task. Each task's `Schedule` (parsed once,
//! at start) says when its next tick is; the first tick runs at start. Also
//! the backoff arithmetic and how a wait is written for people. No polling
//! logic here: a tick only calls `SourceTask::tick`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::SourceTask;
use crate::domain::Schedule;

/// The longest wait between retries of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// 5 s, 10 s, 20 s … up to five minutes, each ±20 % so that sources that
/// failed together do not retry together.
pub(super) fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(10));
    let base = Duration::from_secs(secs).min(MAX_BACKOFF);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// `1.5s`, `3m`: a duration rounded for people.
pub(super) fn human(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    let rounded = if ms < 10_000 {
        Duration::from_millis(ms / 100 * 100)
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(rounded).to_string()
}

/// The running poller: every source's task and the loop that ticks it.
pub struct Poller {
    cancel: CancellationToken,
    tickers: Vec<JoinHandle<()>>,
    tasks: Vec<Arc<SourceTask>>,
}

impl Poller {
    /// Polls every task once right away, then on its schedule.
    pub fn start(tasks: Vec<SourceTask>) -> Poller {
        let cancel = CancellationToken::new();
        let tasks: Vec<Arc<SourceTask>> = tasks.into_iter().map(Arc::new).collect();
        let mut tickers = Vec::new();
        for task in &tasks {
            let first = task.clone();
            tokio::spawn(async move { first.tick().await });
            tickers.push(tokio::spawn(ticks(task.clone(), cancel.clone())));
        }
        Poller {
            cancel,
            tickers,
            tasks,
        }
    }

    /// Stops scheduling and lets polls in flight finish their write.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for ticker in self.tickers {
            let _ = ticker.await;
        }
        for task in &self.tasks {
            task.finish(Duration::from_secs(5)).await;
        }
    }
}

/// Ticks `task` on its schedule until `cancel`. Each tick runs in a task of
/// its own, so a poll that outlives the period makes the next tick skip
/// (`SourceTask` holds its state for the length of a poll), not wait.
async fn ticks(task: Arc<SourceTask>, cancel: CancellationToken) {
    let mut last = Utc::now();
    let mut interval = match task.schedule() {
        Schedule::Every(d) => {
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + *d, *d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            Some(i)
        }
        Schedule::Cron(_) => None,
    };
    loop {
        let wait = async {
            match interval.as_mut() {
                Some(i) => {
                    i.tick().await;
                    true
                }
                None => {
                    // Never the same moment twice, even if the timer wakes
                    // a little before the wall clock reaches it.
                    let now = Utc::now().max(last);
                    let Some(next) = task.schedule().next_tick(now) else {
                        return false;
                    };
                    last = next;
                    tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
                    true
                }
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            more = wait => if !more { return },
        }
        let tick = task.clone();
        tokio::spawn(async move { tick.tick().await });
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
}
