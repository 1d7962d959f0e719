//! The hub: fans out what the log accepted (and source status) to every
//! connected dashboard. It holds no comments of its own beyond a bounded
//! broadcast buffer and the last change frames it published, already
//! encoded, which a connecting client's backlog shares instead of reading
//! and encoding the log again; a client that falls behind either is caught
//! up from the log by its socket task, never silently skipped. The hub never
//! talks to sources or to the log.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::protocol::{Frame, SourceStatus};

/// Frames buffered for slow clients before they must catch up from the log.
const BUFFER: usize = 4096;
/// Change frames kept, encoded, for connecting clients' backlogs: more than
/// the 300-comment backlog, so the edits among those comments fit too.
const RECENT: usize = 1024;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Frame>,
    recent: Mutex<Recent>,
    statuses: Mutex<Vec<SourceStatus>>,
    /// Sources another instance sharing the log polls: their status comes
    /// from that instance.
    elsewhere: Mutex<HashSet<String>>,
    clients: AtomicUsize,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (tx, _) = broadcast::channel(BUFFER);
        Hub {
            inner: Arc::new(Inner {
                tx,
                recent: Mutex::new(Recent::new(RECENT)),
                statuses: Mutex::new(Vec::new()),
                elsewhere: Mutex::new(HashSet::new()),
                clients: AtomicUsize::new(0),
            }),
        }
    }

    /// A receiver of every frame published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.inner.tx.subscribe()
    }

    /// Sends a frame to every subscriber. Having none is not an error.
    /// Change frames (those with a `seq`) are kept for [`Hub::recent_after`]
    /// first, so a client that subscribed, then read the recent frames, has
    /// each one from either or both (its `seq` dedupes).
    pub fn publish(&self, frame: Frame) {
        self.publish_all(vec![frame]);
    }

    /// Publishes `frames` in order, back to back: encode them all first,
    /// then call this, so a client woken by the first finds the rest
    /// waiting and writes the whole batch at once (one wake-up and one
    /// write per client per batch, not one per frame).
    pub fn publish_all(&self, frames: Vec<Frame>) {
        {
            let mut recent = self.lock_recent();
            for frame in &frames {
                if let Some(seq) = frame.seq {
                    recent.push(seq, frame.clone());
                }
            }
        }
        for frame in frames {
            let _ = self.inner.tx.send(frame);
        }
    }

    /// Every change after `after`, as published, oldest first, when the
    /// recent frames hold them all (changes published later reach a
    /// subscriber); `None` when some may be missing, and the log must say.
    pub fn recent_after(&self, after: i64) -> Option<Vec<Frame>> {
        self.lock_recent().after(after)
    }

    /// Tells the recent frames what a read of the log found: `seqs` are
    /// every change after `after`, in order. Where they reach the oldest
    /// recent frame, nothing before it is missing from the recent frames.
    pub fn saw_log(&self, after: i64, seqs: impl IntoIterator<Item = i64>) {
        self.lock_recent().saw_log(after, seqs);
    }

    /// Forgets the recent frames (comments were pruned from the log, and
    /// some of them may be among the frames): backlogs come from the log
    /// until the frames are known to cover them again.
    pub fn forget_recent(&self) {
        let mut recent = self.lock_recent();
        recent.frames.clear();
        recent.floor = None;
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.inner.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a source's state and, if it changed, tells every client.
    pub fn set_status(&self, status: SourceStatus) {
        let frame = {
            let mut all = self
                .inner
                .statuses
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match all.iter_mut().find(|s| s.source == status.source) {
                Some(old) if *old == status => return,
                Some(old) => *old = status,
                None => all.push(status),
            }
            Frame::status(&all)
        };
        self.publish(frame);
    }

    /// Marks `source` as polled by another instance (or by this one again).
    pub fn set_polled_elsewhere(&self, source: &str, elsewhere: bool) {
        let mut set = self
            .inner
            .elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if elsewhere {
            set.insert(source.to_owned());
        } else {
            set.remove(source);
        }
    }

    /// A status another instance reported: shown only for a source that
    /// instance polls, never over this instance's own.
    pub fn set_remote_status(&self, status: SourceStatus) {
        let elsewhere = self
            .inner
            .elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&status.source);
        if elsewhere {
            self.set_status(status);
        }
    }

    /// Every source's current state, for a client that just connected.
    pub fn status_frame(&self) -> Frame {
        let all = self
            .inner
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Frame::status(&all)
    }

    pub fn statuses(&self) -> Vec<SourceStatus> {
        self.inner
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Counts a connected dashboard until the guard is dropped.
    pub fn client_guard(&self) -> ClientGuard {
        self.inner.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(self.clone())
    }

    /// Counts a new client only if fewer than `limit` are connected, in one
    /// atomic step, so simultaneous handshakes cannot overshoot the limit.
    pub fn try_admit(&self, limit: usize) -> Option<ClientGuard> {
        self.inner
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| ClientGuard(self.clone()))
    }

    pub fn clients(&self) -> usize {
        self.inner.clients.load(Ordering::Relaxed)
    }
}

/// The last change frames published, in `seq` order. Every change in
/// `(floor, last]` is among them; `floor` is unknown until the first frame
/// is let go or a log read reaches the oldest one (after a start, the log
/// holds changes the hub never published).
struct Recent {
    frames: VecDeque<Frame>,
    cap: usize,
    floor: Option<i64>,
}

impl Recent {
    fn new(cap: usize) -> Recent {
        Recent {
            frames: VecDeque::with_capacity(cap),
            cap,
            floor: None,
        }
    }

    fn last(&self) -> Option<i64> {
        self.frames.back().and_then(|f| f.seq)
    }

    fn push(&mut self, seq: i64, frame: Frame) {
        if self.last().is_some_and(|last| seq <= last) {
            // Out of order (never, from the pipeline or the feed): trust
            // nothing kept so far.
            self.frames.clear();
            self.floor = None;
        }
        if self.frames.len() == self.cap
            && let Some(gone) = self.frames.pop_front()
        {
            self.floor = gone.seq;
        }
        self.frames.push_back(frame);
    }

    fn after(&self, after: i64) -> Option<Vec<Frame>> {
        if self.floor.is_none_or(|floor| floor > after) {
            return None;
        }
        let from = self
            .frames
            .partition_point(|f| f.seq.is_some_and(|s| s <= after));
        Some(self.frames.range(from..).cloned().collect())
    }

    fn saw_log(&mut self, after: i64, seqs: impl IntoIterator<Item = i64>) {
        let Some(oldest) = self.frames.front().and_then(|f| f.seq) else {
            return;
        };
        if self.floor.is_some_and(|floor| floor <= after) || after >= oldest {
            return;
        }
        let mut before = after;
        for seq in seqs {
            if seq >= oldest {
                if seq == oldest {
                    self.floor = Some(self.floor.map_or(before, |f| f.min(before)));
                }
                return;
            }
            before = seq;
        }
    }
}

pub struct ClientGuard(Hub);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.inner.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, kind: &str) -> Frame {
        Frame {
            seq: Some(seq),
            json: format!(r#"{{"type":"{kind}","seq":{seq}}}"#).into(),
        }
    }

    fn seqs(frames: &[Frame]) -> Vec<(i64, String)> {
        frames
            .iter()
            .map(|f| (f.seq.unwrap(), f.json.as_str().to_owned()))
            .collect()
    }

    #[test]
    fn recent_frames_cover_only_what_they_are_known_to_hold() {
        let hub = Hub::new();
        assert!(hub.recent_after(0).is_none(), "nothing published yet");
        for seq in 11..=15 {
            hub.publish(change(seq, "comment"));
        }
        // After a start the log may hold changes before 11 never published.
        assert!(hub.recent_after(10).is_none());
        assert!(hub.recent_after(12).is_none());
        // A log read that does not reach the oldest frame teaches nothing.
        hub.saw_log(3, [5, 7]);
        assert!(hub.recent_after(10).is_none());
        // One that reaches it: after 7, 11 is the next change.
        hub.saw_log(3, [5, 7, 11, 12]);
        assert!(hub.recent_after(6).is_none(), "7 is not among them");
        let from_7 = hub.recent_after(7).expect("covered from 7");
        assert_eq!(
            seqs(&from_7).iter().map(|s| s.0).collect::<Vec<_>>(),
            [11, 12, 13, 14, 15]
        );
        let from_13 = hub.recent_after(13).expect("covered from 13");
        assert_eq!(
            seqs(&from_13).iter().map(|s| s.0).collect::<Vec<_>>(),
            [14, 15]
        );
        assert!(hub.recent_after(15).expect("up to date").is_empty());
        // Frames without a seq are not changes and are not kept.
        hub.publish(Frame::status(&[]));
        assert!(hub.recent_after(15).expect("still covered").is_empty());
    }

    #[test]
    fn a_batch_reaches_subscribers_and_the_recent_frames_in_order() {
        let hub = Hub::new();
        let mut rx = hub.subscribe();
        hub.publish_all((1..=50).map(|seq| change(seq, "comment")).collect());
        let got: Vec<i64> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|f| f.seq.unwrap())
            .collect();
        assert_eq!(got, (1..=50).collect::<Vec<_>>());
        hub.saw_log(0, [1]);
        assert_eq!(hub.recent_after(40).map(|f| f.len()), Some(10));
    }

    #[test]
    fn pruning_the_log_sends_backlogs_back_to_the_log() {
        let hub = Hub::new();
        for seq in 1..=3 {
            hub.publish(change(seq, "comment"));
        }
        hub.saw_log(0, [1, 2, 3]);
        assert!(hub.recent_after(0).is_some());
        hub.forget_recent();
        assert!(hub.recent_after(0).is_none(), "some may be pruned");
        hub.publish(change(4, "comment"));
        assert!(hub.recent_after(3).is_none(), "not known to cover yet");
        hub.saw_log(3, [4]);
        assert_eq!(hub.recent_after(3).map(|f| f.len()), Some(1));
    }

    #[test]
    fn letting_frames_go_moves_what_is_covered() {
        let mut recent = Recent::new(3);
        for seq in [2, 4, 6, 8] {
            recent.push(seq, change(seq, "comment"));
        }
        // 2 was let go: everything after it is held, nothing before.
        assert!(recent.after(1).is_none());
        let after_2 = recent.after(2).expect("covered after 2");
        assert_eq!(
            after_2.iter().map(|f| f.seq.unwrap()).collect::<Vec<_>>(),
            [4, 6, 8]
        );
        // A seq going back means the order cannot be trusted: start over.
        recent.push(5, change(5, "comment"));
        assert!(recent.after(2).is_none());
        assert!(recent.after(5).is_none());
    }

    #[test]
    fn updates_and_deletes_keep_their_order() {
        let hub = Hub::new();
        hub.publish(change(1, "comment"));
        hub.publish(change(2, "comment"));
        hub.publish(change(3, "update"));
        hub.publish(Frame::status(&[]));
        hub.publish(change(4, "delete"));
        hub.publish(change(5, "comment"));
        hub.publish(change(6, "update"));
        hub.saw_log(0, [1, 2]);
        let all = hub.recent_after(0).expect("covered from the start");
        let kinds: Vec<(i64, String)> = seqs(&all);
        assert_eq!(
            kinds,
            [
                (1, r#"{"type":"comment","seq":1}"#.to_owned()),
                (2, r#"{"type":"comment","seq":2}"#.to_owned()),
                (3, r#"{"type":"update","seq":3}"#.to_owned()),
                (4, r#"{"type":"delete","seq":4}"#.to_owned()),
                (5, r#"{"type":"comment","seq":5}"#.to_owned()),
                (6, r#"{"type":"update","seq":6}"#.to_owned()),
            ]
        );
        // The frames are the published ones, shared, not copies.
        let again = hub.recent_after(0).unwrap();
        assert_eq!(
            all[2].json.as_str().as_ptr(),
            again[2].json.as_str().as_ptr()
        );
    }
}
