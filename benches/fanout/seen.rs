//! What one task's clients of the fan-out benchmark saw, by phase: the
//! backlog a client gets at connect, the comments posted after the clients
//! connected, and a second burst. Fed by `common::read_frames`; touches
//! nothing else.

use std::time::Duration;

use crate::common;

/// Where a client counts a benchmark comment, by its index: below `base`,
/// the backlog it gets at connect (`backlog` of them per client, which
/// [`crate::connect_clients`] waits for); from `second` on, the second burst's;
/// in between, the comments posted after the clients connected.
#[derive(Clone, Copy)]
pub struct Phases {
    pub backlog: u64,
    pub base: u64,
    pub second: u64,
}

impl Phases {
    /// No backlog, no second burst: every comment counts as posted live.
    pub const LIVE: Phases = Phases {
        backlog: 0,
        base: 0,
        second: u64::MAX,
    };
}

/// Frames of one phase, and their faults.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub frames: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.frames += other.frames;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
    }
}

/// What every client saw: per comment index, arrival offsets; plus counts.
pub struct Seen {
    pub phases: Phases,
    /// `(comment index, arrival offset)` for each delivered frame posted
    /// after the clients connected (index ≥ `phases.base`).
    pub arrivals: Vec<(u64, Duration)>,
    /// Faults among the comments posted after connect, before the second
    /// burst (and frames without a benchmark index).
    pub duplicates: u64,
    pub out_of_order: u64,
    /// The backlog's frames and faults, apart from the figures.
    pub backlog: Tally,
    /// The second burst's faults (its frames are in `arrivals`; the
    /// summary counts them).
    pub second: Tally,
    /// WebSocket text messages received, and the frames they carried,
    /// but for those that carried backlog comments, counted apart.
    pub messages: u64,
    pub frames: u64,
    pub backlog_messages: u64,
    pub backlog_message_frames: u64,
    /// The frames of the message being read, until it is counted as one
    /// carrying backlog (once).
    current: Option<u64>,
}

impl Seen {
    pub fn new(phases: Phases) -> Seen {
        Seen {
            phases,
            arrivals: Vec::new(),
            duplicates: 0,
            out_of_order: 0,
            backlog: Tally::default(),
            second: Tally::default(),
            messages: 0,
            frames: 0,
            backlog_messages: 0,
            backlog_message_frames: 0,
            current: None,
        }
    }

    /// The message being read carries backlog: moves it to the backlog's
    /// count, once.
    fn backlog_message(&mut self) {
        if let Some(frames) = self.current.take() {
            self.messages -= 1;
            self.frames -= frames;
            self.backlog_messages += 1;
            self.backlog_message_frames += frames;
        }
    }
}

impl common::Sink for Seen {
    fn arrival(&mut self, k: u64, at: Duration) {
        if k < self.phases.base {
            self.backlog_message();
            self.backlog.frames += 1;
        } else {
            self.arrivals.push((k, at));
        }
    }
    fn duplicate(&mut self) {
        self.duplicates += 1;
    }
    fn out_of_order(&mut self) {
        self.out_of_order += 1;
    }
    fn duplicate_of(&mut self, k: u64) {
        match k {
            k if k < self.phases.base => {
                self.backlog_message();
                self.backlog.duplicates += 1;
            }
            k if k >= self.phases.second => self.second.duplicates += 1,
            _ => self.duplicates += 1,
        }
    }
    fn out_of_order_at(&mut self, k: Option<u64>) {
        match k {
            Some(k) if k < self.phases.base => {
                self.backlog_message();
                self.backlog.out_of_order += 1;
            }
            Some(k) if k >= self.phases.second => self.second.out_of_order += 1,
            _ => self.out_of_order += 1,
        }
    }
    fn message(&mut self, frames: usize) {
        self.messages += 1;
        self.frames += frames as u64;
        self.current = Some(frames as u64);
    }
}
