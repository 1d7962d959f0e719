//! The feed between instances that share one PostgreSQL log: every
//! instance listens for the log's notifications, reads each new change from
//! the log, in `seq` order, and publishes it to its own hub. What this
//! instance records itself arrives the same way, so the order its clients
//! see is the log's order, whoever wrote. This module reads the log and
//! feeds the hub; it never writes, and it never talks to a client.
//!
//! The same connection hears when any instance changes the "on stream"
//! queue, and this instance's overlay then shows the shared queue; when any
//! instance changes the hidden words and authors, which this instance's
//! pages then apply; and when
//! the instance polling a source reports its state, which this instance's
//! dashboards then show for that source.
//!
//! A notification only says "something changed": the log stays the truth.
//! A lost `LISTEN` connection is opened again and everything after the last
//! published `seq` is read, so nothing committed in between is skipped; a
//! slow timer reads the log too, in case a notification never comes.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::store::{CommentLog, Notice, SharedLog};

/// Changes read per query while catching up.
const BATCH: usize = 1_000;
/// How often the log is read when no notification came.
const SAFETY_READ: Duration = Duration::from_secs(5);
/// The wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// Publishes every change committed to a shared log after `from` (or after
/// the moment it is called), and keeps `featured` showing the shared "on
/// stream" queue and `hidden` the shared hidden list, until `stop`. Returns
/// at once for a log only this process writes (the pipeline publishes
/// those).
pub async fn follow(
    log: CommentLog,
    hub: Hub,
    featured: Featured,
    hidden: Hidden,
    from: Option<i64>,
    stop: CancellationToken,
) {
    let Some(shared) = log.shared() else {
        return;
    };
    // Clients replay what came before from the log themselves. `from` is
    // read before this instance's first poll, so none of its commits falls
    // below it; without it, read it now.
    let mut last = if let Some(from) = from {
        from
    } else {
        loop {
            match log.latest_seq().await {
                Ok(seq) => break seq,
                Err(e) => {
                    warn!(error = %e, "the shared comment log does not answer; retrying");
                    if pause(&stop, RETRY).await {
                        return;
                    }
                }
            }
        }
    };
    let mut lost = false;
    loop {
        let mut listener = match shared.listen().await {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot listen for other instances' comments; retrying");
                if pause(&stop, RETRY).await {
                    return;
                }
                continue;
            }
        };
        if lost {
            info!("listening for other instances' comments again; reading what was missed");
        }
        // Whatever was committed, put on stream, hidden or reported while
        // nobody listened.
        publish_new(&log, &hub, &mut last).await;
        featured.reload(&log).await;
        hidden.reload(&log).await;
        show_statuses(shared, &hub, None).await;
        loop {
            let notice = tokio::select! {
                _ = stop.cancelled() => return,
                notice = listener.changed() => notice,
                _ = tokio::time::sleep(SAFETY_READ) => {
                    Some(Notice { changes: true, ..Notice::default() })
                }
            };
            let Some(notice) = notice else {
                warn!("lost the connection that listens for other instances' comments");
                lost = true;
                break;
            };
            if notice.changes {
                publish_new(&log, &hub, &mut last).await;
            }
            if notice.featured {
                featured.reload(&log).await;
            }
            if notice.hidden {
                hidden.reload(&log).await;
            }
            if !notice.statuses.is_empty() {
                show_statuses(shared, &hub, Some(notice.statuses.into_iter().collect())).await;
            }
        }
    }
}

/// Publishes every change after `*last`, in order, advancing `*last`. A
/// failed read is retried at the next wake-up, from the same place.
async fn publish_new(log: &CommentLog, hub: &Hub, last: &mut i64) {
    loop {
        let changes = match log.changes_since(*last, BATCH).await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "reading new changes from the shared log failed; retrying");
                return;
            }
        };
        if let Some(newest) = changes.last() {
            *last = newest.seq;
        }
        hub.publish_all(changes.iter().map(Frame::change).collect());
        if changes.len() < BATCH {
            return;
        }
    }
}

/// Shows, for each of `sources` (every one when `None`) that another
/// instance polls, the status that instance reported.
async fn show_statuses(log: &dyn SharedLog, hub: &Hub, sources: Option<Vec<String>>) {
    match log.statuses(sources).await {
        Ok(all) => {
            for status in all {
                hub.set_remote_status(status);
            }
        }
        Err(e) => warn!(error = %e, "reading the sources' shared statuses failed"),
    }
}

/// Sleeps for `d`; true when `stop` came first.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
