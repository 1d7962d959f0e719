//! The poller: runs every polled source on its schedule and hands each
//! batch to the rest of the pipeline (sanitize → log → hub). It never builds
//! HTML (that is the sanitizer's job) and never touches the web.
//!
//! - `pipeline`: where fetched comments go — the log, then the hub, in `seq`
//!   order, held in memory while the log refuses writes;
//! - `poll`: `poll_once`, the whole of one poll (paging, gaps, resume
//!   tokens), public so tests can call it directly;
//! - `task`: `SourceTask`, a dumb trigger around `poll_once` that skips a
//!   tick while the previous poll runs, waits out backoff and minimum
//!   intervals, and reports each source's state;
//! - `lease`: which instance polls a source when several share the log;
//! - `quota`: the YouTube quota book and gate, and the polling floor it sets;
//! - `schedule`: `Poller`, the ticks of every task's `Schedule`, and the
//!   backoff arithmetic.
//!
//! - `push`: `PushTask`, the runner of a pushed source (a long-lived stream
//!   with resume tokens), feeding the same `Pipeline`.

mod lease;
mod pipeline;
mod poll;
mod push;
mod quota;
mod schedule;
mod task;

pub use pipeline::{MAX_PENDING_COMMENTS, Pipeline};
pub use poll::{MAX_PAGES_PER_POLL, PollError, PollReport, poll_once};
pub use push::{HEALTHY_STREAM, PushTask, STREAMING};
pub use quota::QuotaBook;
pub use schedule::Poller;
pub use task::SourceTask;
