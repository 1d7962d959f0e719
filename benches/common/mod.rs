//! What the fan-out benchmarks share: reading a client's frames without
//! building a JSON tree, and tallying arrivals, duplicates and frames out
//! of order. `benches/fanout.rs` and `benches/cluster.rs` each decide where
//! the tallies go; the reading loop is written once, here.

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
        let text = text.as_str();
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
        let arrival = epoch.elapsed();
        let Some(seq) = seq_of(text) else { continue };
        if seq <= last_seq[i] {
            sink.out_of_order();
        }
        last_seq[i] = seq;
        // The demo's backlog, replayed to every new client, is not ours.
        let Some(k) = comment_index(text, prefix) else {
            continue;
        };
        if !got[i].insert(k) {
            sink.duplicate();
            continue;
        }
        sink.arrival(k, arrival);
        delivered.fetch_add(1, Ordering::Relaxed);
    }
}
