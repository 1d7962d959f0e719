//! What the fan-out benchmarks share: reading a client's frames without
//! building a JSON tree, and tallying arrivals, duplicates and frames out
//! of order. `benches/fanout/` and `benches/cluster.rs` each decide where
//! the tallies go; the reading loop is written once, here. A WebSocket
//! message is one frame object or (with `/ws?batch=1`) a JSON array of
//! frames, in order; both are read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use tokio_tungstenite::tungstenite::{Error, Message};

/// Where one task's clients report what they saw.
pub trait Sink {
    /// The first copy of benchmark comment `k` reached a client `at` after
    /// the epoch.
    fn arrival(&mut self, k: u64, at: Duration);
    fn duplicate(&mut self);
    fn out_of_order(&mut self);
    /// A second copy of benchmark comment `k`; by default [`Sink::duplicate`].
    fn duplicate_of(&mut self, _k: u64) {
        self.duplicate();
    }
    /// A frame whose `seq` is not above the client's last one, with the
    /// index `k` of its benchmark comment if it has one; by default
    /// [`Sink::out_of_order`].
    fn out_of_order_at(&mut self, _k: Option<u64>) {
        self.out_of_order();
    }
    /// A WebSocket text message carrying `frames` frames arrived (1 for a
    /// single frame object, the length of an array otherwise).
    fn message(&mut self, _frames: usize) {}
}

/// The frames in one WebSocket text message: the message itself when it is
/// one frame object, else the elements of its top-level JSON array, in
/// order, as slices of `text` (no JSON tree is built). Strings are skipped
/// with their escapes, so a `,` `[` `]` `{` `}` inside a comment's text
/// does not split it.
pub fn split_frames(text: &str) -> Vec<&str> {
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return vec![trimmed];
    };
    let bytes = inner.as_bytes();
    let mut frames = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                frames.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() || !frames.is_empty() {
        frames.push(last);
    }
    frames
}

/// The index of a benchmark comment in a frame: the ten digits after
/// `prefix` (e.g. `"id":"bench`).
pub fn comment_index(frame: &str, prefix: &str) -> Option<u64> {
    let at = frame.find(prefix)? + prefix.len();
    frame.get(at..at + 10)?.parse().ok()
}

pub fn seq_of(frame: &str) -> Option<i64> {
    let at = frame.find("\"seq\":")? + 6;
    let end = frame[at..].find([',', '}'])? + at;
    frame[at..end].parse().ok()
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Reads the frames of `count` clients, merged into `streams` as
/// `(client, message)`, until `stop` is set. When every client has its
/// `hello`, adds `count` to `ready`. Comment frames of benchmark comments
/// (ids after `prefix`) go to `sink`, and count in `delivered`.
#[allow(clippy::too_many_arguments)]
pub async fn read_frames<St, S>(
    mut streams: St,
    count: usize,
    epoch: Instant,
    prefix: &str,
    stop: &AtomicBool,
    ready: &AtomicU64,
    delivered: &AtomicU64,
    sink: &mut S,
) where
    St: Stream<Item = (usize, Result<Message, Error>)> + Unpin,
    S: Sink,
{
    let mut last_seq = vec![0i64; count];
    let mut got: Vec<std::collections::HashSet<u64>> = vec![Default::default(); count];
    let mut hellos = 0;
    loop {
        let next = tokio::time::timeout(Duration::from_millis(200), streams.next()).await;
        let Ok(Some((i, msg))) = next else {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            continue;
        };
        let Ok(Message::Text(text)) = msg else {
            continue;
        };
        let arrival = epoch.elapsed();
        let frames = split_frames(text.as_str());
        sink.message(frames.len());
        for text in frames {
            if text.starts_with(r#"{"type":"hello""#) {
                hellos += 1;
                if hellos == count {
                    ready.fetch_add(count as u64, Ordering::SeqCst);
                }
                continue;
            }
            if !text.starts_with(r#"{"type":"comment""#) {
                continue;
            }
            let Some(seq) = seq_of(text) else { continue };
            let k = comment_index(text, prefix);
            if seq <= last_seq[i] {
                sink.out_of_order_at(k);
            }
            last_seq[i] = seq;
            // The demo's backlog, replayed to every new client, is not ours.
            let Some(k) = k else {
                continue;
            };
            if !got[i].insert(k) {
                sink.duplicate_of(k);
                continue;
            }
            // Every frame of a message shares its arrival time.
            sink.arrival(k, arrival);
            delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
}
