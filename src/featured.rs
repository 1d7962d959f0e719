//! The "on stream" queue: comments the streamer featured from the dashboard,
//! shown by the OBS overlay until dismissed.
//!
//! It holds at most `CW_FEATURED_MAX` comments, oldest first; featuring one
//! more drops the oldest. Every change is published once, as one serialized
//! `featured` frame shared by every socket, and the latest frame is kept for
//! sockets that connect later.
//!
//! The queue lives in memory, and each change is also written to the log's
//! copy of it (`record`), which `app` reads back at start (`reload`): after
//! a restart the overlay and the dashboard show what was on stream before.
//! With a log several instances share, every instance shows that copy
//! (`reload`, driven by `crate::feed`), so an overlay on any instance shows
//! what was featured through any other. Comments come from the
//! log, never from the request, so the overlay only ever shows what the
//! sanitizer produced; and a featured comment that is edited or deleted on
//! the platform is updated or taken off stream at once (`follow`, which
//! reads each change from the log, typed, never from a frame's JSON), so a
//! moderator's deletion never lingers on a broadcast. It never writes
//! comments and never talks to a client but through the hub.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::domain::Comment;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::store::{Change, CommentLog, FeaturedOp};

/// A cheap, cloneable handle on the queue.
#[derive(Clone)]
pub struct Featured {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    hub: Hub,
    state: Mutex<State>,
}

struct State {
    comments: Vec<Comment>,
    /// `comments` serialized, ready for a socket that connects.
    frame: Frame,
}

impl Featured {
    /// An empty queue of at most `max` comments that publishes on `hub`.
    pub fn new(max: usize, hub: Hub) -> Featured {
        let max = max.max(1);
        Featured {
            inner: Arc::new(Inner {
                max,
                hub,
                state: Mutex::new(State {
                    comments: Vec::new(),
                    frame: Frame::featured(&[], max),
                }),
            }),
        }
    }

    /// How many comments the queue holds at most.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// The current queue as a frame, for a socket that just connected.
    pub fn frame(&self) -> Frame {
        self.lock().frame.clone()
    }

    /// The featured comments, oldest first.
    pub fn comments(&self) -> Vec<Comment> {
        self.lock().comments.clone()
    }

    /// Puts `comment` on stream (at the end; the oldest leaves when full).
    /// Featuring one that is already on stream refreshes it in place.
    pub fn feature(&self, comment: Comment) -> bool {
        self.change(|list, max| {
            match list
                .iter_mut()
                .find(|c| c.source == comment.source && c.id == comment.id)
            {
                Some(old) if *old == comment => return false,
                Some(old) => *old = comment,
                None => {
                    list.push(comment);
                    let excess = list.len().saturating_sub(max);
                    list.drain(..excess);
                }
            }
            true
        })
    }

    /// Takes one comment off stream; `false` if it was not on.
    pub fn dismiss(&self, source: &str, id: &str) -> bool {
        self.change(|list, _| {
            let before = list.len();
            list.retain(|c| !(c.source == source && c.id == id));
            list.len() != before
        })
    }

    /// Takes every comment off stream.
    pub fn clear(&self) -> bool {
        self.change(|list, _| {
            let had = !list.is_empty();
            list.clear();
            had
        })
    }

    /// Makes the queue `comments` (oldest first, at most `max` of them
    /// kept): what another instance sharing the log put on stream.
    fn replace(&self, mut comments: Vec<Comment>) -> bool {
        self.change(|list, max| {
            let excess = comments.len().saturating_sub(max);
            comments.drain(..excess);
            if *list == comments {
                return false;
            }
            *list = comments;
            true
        })
    }

    /// Reads the log's copy of the queue and shows it, each comment as the
    /// log has it now (deleted or pruned ones left out): at start, and, with
    /// a log several instances share, whenever any of them changed it.
    pub async fn reload(&self, log: &CommentLog) {
        let keys = match log.featured().await {
            Ok(keys) => keys,
            Err(e) => {
                warn!(error = %e, "reading the \"on stream\" queue from the log failed");
                return;
            }
        };
        let mut comments = Vec::with_capacity(keys.len());
        for (source, id) in keys {
            match log.comment(source, id).await {
                Ok(Some(c)) if !c.deleted => comments.push(c),
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "reading a featured comment from the log failed");
                    return;
                }
            }
        }
        self.replace(comments);
    }

    /// Takes every comment `hidden` says is hidden off stream, in memory and
    /// in the log: a streamer who hides a troll expects them gone from the
    /// broadcast too. Returns how many left.
    pub async fn dismiss_matching(
        &self,
        log: &CommentLog,
        hidden: impl Fn(&Comment) -> bool,
    ) -> usize {
        let gone: Vec<Comment> = self.comments().into_iter().filter(|c| hidden(c)).collect();
        for c in &gone {
            self.dismiss(&c.source, &c.id);
            record(
                log,
                FeaturedOp::Remove {
                    source: c.source.clone(),
                    id: c.id.clone(),
                },
            )
            .await;
        }
        gone.len()
    }

    /// Replaces a featured comment by its current version from the log, or
    /// drops it if it was deleted; comments not on stream are ignored.
    fn refresh(&self, comment: &Comment) {
        self.change(|list, _| {
            let Some(pos) = list
                .iter()
                .position(|c| c.source == comment.source && c.id == comment.id)
            else {
                return false;
            };
            if comment.deleted {
                list.remove(pos);
            } else if list[pos] != *comment {
                list[pos] = comment.clone();
            } else {
                return false;
            }
            true
        });
    }

    fn is_featured(&self, source: &str, id: &str) -> bool {
        self.lock()
            .comments
            .iter()
            .any(|c| c.source == source && c.id == id)
    }

    /// Reads a featured comment again from the log and follows what
    /// happened to it there.
    async fn reread(&self, log: &CommentLog, source: String, id: String) {
        match log.comment(source.clone(), id.clone()).await {
            Ok(Some(now)) => self.refresh(&now),
            Ok(None) => {
                self.dismiss(&source, &id);
            }
            Err(e) => warn!(error = %e, "re-reading a featured comment from the log failed"),
        }
    }

    /// Reads every featured comment again from the log.
    async fn reread_all(&self, log: &CommentLog) {
        for c in self.comments() {
            self.reread(log, c.source, c.id).await;
        }
    }

    /// Applies `f` to the queue and, if it says something changed, publishes
    /// the new frame. Publishing under the lock keeps frames in the order of
    /// the changes (the hub's `publish` never blocks).
    fn change(&self, f: impl FnOnce(&mut Vec<Comment>, usize) -> bool) -> bool {
        let mut state = self.lock();
        if !f(&mut state.comments, self.inner.max) {
            return false;
        }
        state.frame = Frame::featured(&state.comments, self.inner.max);
        self.inner.hub.publish(state.frame.clone());
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change is a whole-vector update; a panic mid-way leaves a
        // consistent (if stale) queue, so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows edits and deletions of featured comments until `stop`: the
    /// task `app` spawns next to the poller.
    pub async fn follow(self, log: CommentLog, stop: CancellationToken) {
        let mut rx = self.inner.hub.subscribe();
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return,
                received = rx.recv() => received,
            };
            match received {
                Ok(frame) => {
                    // Edits and deletions are rare and the queue is usually
                    // empty: only those frames are looked at, and only then.
                    if !frame.is_edit_or_delete() || self.lock().comments.is_empty() {
                        continue;
                    }
                    let Some(seq) = frame.seq else { continue };
                    // The frame is for the clients; the log says, typed,
                    // which comment the change is about.
                    match log.changes_since(seq - 1, 1).await {
                        Ok(changes) => match changes.into_iter().find(|c| c.seq == seq) {
                            Some(Change { comment, .. }) => {
                                if self.is_featured(&comment.source, &comment.id) {
                                    self.reread(&log, comment.source, comment.id).await;
                                }
                            }
                            // Pruned already: whatever it was about may be gone.
                            None => self.reread_all(&log).await,
                        },
                        Err(e) => warn!(error = %e, "reading a change from the log failed"),
                    }
                }
                // Missed frames might have edited or deleted one of ours:
                // read each featured comment again from the log.
                Err(RecvError::Lagged(_)) => self.reread_all(&log).await,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Writes a change of the queue to the log's copy (which, on a shared log,
/// tells the other instances). This instance's queue changed already; a
/// failure leaves the log's copy as it was (a restart, or another instance,
/// would not see the change), and is logged.
pub async fn record(log: &CommentLog, op: FeaturedOp) {
    if let Err(e) = log.change_featured(op).await {
        warn!(error = %e, "could not keep the \"on stream\" queue in the log");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::domain::RawComment;
    use crate::poller::Pipeline;
    use crate::store::Batch;

    fn comment(id: &str, text: &str) -> Comment {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let raw = RawComment {
            id: id.into(),
            author_name: "viewer".into(),
            author_id: "v1".into(),
            text: text.into(),
            published_at: Some(at),
            ..RawComment::default()
        };
        crate::sanitize::sanitize("demo", raw, at).expect("a valid comment")
    }

    fn ids(f: &Featured) -> Vec<String> {
        f.comments().into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn the_queue_keeps_the_newest_max_and_publishes_each_change_once() {
        let hub = Hub::new();
        let mut rx = hub.subscribe();
        let f = Featured::new(2, hub);
        assert!(f.feature(comment("a", "one")));
        assert!(
            !f.feature(comment("a", "one")),
            "featuring twice changes nothing"
        );
        assert!(f.feature(comment("b", "two")));
        assert!(f.feature(comment("c", "three")));
        assert_eq!(ids(&f), ["b", "c"], "the oldest made room");
        assert!(f.dismiss("demo", "b"));
        assert!(!f.dismiss("demo", "b"));
        assert!(f.clear());
        assert!(!f.clear());
        let mut frames = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            assert!(frame.is_featured() && frame.seq.is_none());
            frames.push(frame);
        }
        assert_eq!(frames.len(), 5, "one frame per change, none for no-ops");
        assert_eq!(
            f.frame().json.as_str(),
            r#"{"type":"featured","comments":[],"max":2}"#
        );
    }

    #[tokio::test]
    async fn a_featured_comment_follows_its_edit_and_leaves_when_deleted() {
        let log = CommentLog::open_in_memory().unwrap();
        let hub = Hub::new();
        let pipeline = Pipeline::new(log.clone(), hub.clone());
        let f = Featured::new(5, hub);
        let stop = CancellationToken::new();
        tokio::spawn(f.clone().follow(log.clone(), stop.clone()));
        let batch = |comments: Vec<Comment>, deleted: Vec<String>| Batch {
            source: "demo".into(),
            comments,
            deleted,
            ..Batch::default()
        };
        pipeline
            .ingest(batch(vec![comment("x", "first words")], vec![]))
            .await
            .unwrap();
        let stored = log.comment("demo".into(), "x".into()).await.unwrap();
        f.feature(stored.expect("stored"));

        let mut edited = comment("x", "edited words");
        edited.edited = true;
        pipeline.ingest(batch(vec![edited], vec![])).await.unwrap();
        let wait = |done: &dyn Fn() -> bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !done() {
                assert!(std::time::Instant::now() < deadline, "timed out");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let g = f.clone();
        tokio::task::spawn_blocking(move || {
            wait(&|| {
                g.comments()
                    .first()
                    .is_some_and(|c| c.text == "edited words")
            })
        })
        .await
        .unwrap();

        pipeline
            .ingest(batch(vec![], vec!["x".into()]))
            .await
            .unwrap();
        let g = f.clone();
        tokio::task::spawn_blocking(move || wait(&|| g.comments().is_empty()))
            .await
            .unwrap();
        stop.cancel();
    }
}
