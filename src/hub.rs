//! The hub: fans out what the log accepted (and source status) to every
//! connected dashboard. It holds no comments of its own beyond a bounded
//! broadcast buffer; a client that falls behind that buffer is caught up from
//! the log by its socket task, never silently skipped. The hub never talks to
//! sources or to the log.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::protocol::{Frame, SourceStatus};

/// Frames buffered for slow clients before they must catch up from the log.
const BUFFER: usize = 4096;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Frame>,
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
    pub fn publish(&self, frame: Frame) {
        let _ = self.inner.tx.send(frame);
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

pub struct ClientGuard(Hub);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.inner.clients.fetch_sub(1, Ordering::Relaxed);
    }
}
