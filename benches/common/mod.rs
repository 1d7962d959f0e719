//! What the fan-out benchmarks share: reading a client's frames without
//! building a JSON tree, and tallying arrivals, duplicates and frames out
//! of order. `benches/fanout/` and `benches/cluster.rs` each decide where
//! the tallies go; the reading loop is written once, here. A WebSocket
//! message is one frame object or (with `/ws?batch=1`) a JSON array of
//! frames, in order; both are read. `ws` is the client that reads them.

pub mod ws;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use memchr::memmem::Finder;

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
/// order, as slices of `text` (no JSON tree is built).
///
/// An element starts where `{"type":"` follows a `,`: every frame is an
/// object whose first key is `type` (docs/PROTOCOL.md); the objects inside a
/// frame that start with a `type` key (a comment's `event`) follow a `:`,
/// never a `,` (the protocol has no array of them); and `{"` cannot occur
/// inside a JSON string (a quote in a string is always escaped), so a
/// comment's text cannot split a frame, whatever it holds. One search for that marker is much
/// cheaper than scanning every byte, which matters on the two cores the
/// clients share with the server.
pub fn split_frames(text: &str) -> Vec<&str> {
    static FRAME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"{\"type\":\""));
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return vec![trimmed];
    };
    if inner.trim().is_empty() {
        return Vec::new();
    }
    let mut frames = Vec::new();
    let mut start = 0;
    for at in FRAME.find_iter(inner.as_bytes()) {
        let before = inner[..at].trim_end();
        if let Some(element) = before.strip_suffix(',') {
            frames.push(element[start..].trim());
            start = at;
        }
    }
    frames.push(inner[start..].trim());
    frames
}

/// The fields the benchmarks read in a frame, found with searchers built
/// once per reader rather than once per frame.
pub struct Fields<'p> {
    seq: Finder<'static>,
    id: Finder<'p>,
    id_len: usize,
}

impl<'p> Fields<'p> {
    /// Benchmark comments' ids follow `prefix` (e.g. `"id":"bench`).
    pub fn new(prefix: &'p str) -> Fields<'p> {
        Fields {
            seq: Finder::new(b"\"seq\":"),
            id: Finder::new(prefix.as_bytes()),
            id_len: prefix.len(),
        }
    }

    /// The index of a benchmark comment in a frame: the ten digits after
    /// the prefix.
    pub fn comment_index(&self, frame: &str) -> Option<u64> {
        let at = self.id.find(frame.as_bytes())? + self.id_len;
        frame.get(at..at + 10)?.parse().ok()
    }

    pub fn seq(&self, frame: &str) -> Option<i64> {
        let at = self.seq.find(frame.as_bytes())? + 6;
        let end = frame[at..].find([',', '}'])? + at;
        frame[at..end].parse().ok()
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Reads the frames of `clients` until `stop` is set (checked every 100 ms,
/// not per message) or every client has gone. When every client has its
/// `hello`, adds their number to `ready`. Comment frames of benchmark
/// comments (ids after `prefix`) go to `sink`, and count in `delivered`.
/// The clients are read concurrently on the calling task.
pub async fn read_frames<S: Sink + Send>(
    clients: Vec<ws::Client>,
    epoch: Instant,
    prefix: &str,
    stop: &AtomicBool,
    ready: &AtomicU64,
    delivered: &AtomicU64,
    sink: &mut S,
) {
    let count = clients.len();
    // Uncontended: the clients take turns on this one task.
    let sink = Mutex::new(sink);
    let hellos = AtomicUsize::new(0);
    let fields = Fields::new(prefix);
    let (sink, hellos, fields) = (&sink, &hellos, &fields);
    let readers = clients.into_iter().map(|mut client| async move {
        let mut last_seq = 0i64;
        let mut got = SeenIds::default();
        loop {
            let text = match client.next_text().await {
                Ok(Some(text)) => text,
                Ok(None) => break,
                Err(e) => {
                    // Its missing frames show in the figures; this says why.
                    eprintln!("a benchmark client stopped reading: {e}");
                    break;
                }
            };
            let arrival = epoch.elapsed();
            let frames = split_frames(text);
            let mut sink = sink.lock().unwrap();
            sink.message(frames.len());
            for text in frames {
                if text.starts_with(r#"{"type":"hello""#) {
                    if hellos.fetch_add(1, Ordering::Relaxed) + 1 == count {
                        ready.fetch_add(count as u64, Ordering::SeqCst);
                    }
                    continue;
                }
                if !text.starts_with(r#"{"type":"comment""#) {
                    continue;
                }
                let Some(seq) = fields.seq(text) else {
                    continue;
                };
                let k = fields.comment_index(text);
                if seq <= last_seq {
                    sink.out_of_order_at(k);
                }
                last_seq = seq;
                // The demo's backlog, replayed to every new client, is not ours.
                let Some(k) = k else {
                    continue;
                };
                if !got.insert(k) {
                    sink.duplicate_of(k);
                    continue;
                }
                // Every frame of a message shares its arrival time.
                sink.arrival(k, arrival);
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let stopped = async {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        _ = futures_util::future::join_all(readers) => {}
        _ = stopped => {}
    }
}

/// The benchmark comments one client has seen, by index (a counter from 0:
/// one bit each).
#[derive(Default)]
struct SeenIds(Vec<u64>);

impl SeenIds {
    /// Marks `k`; `false` if it was already marked.
    fn insert(&mut self, k: u64) -> bool {
        let (word, bit) = ((k / 64) as usize, 1u64 << (k % 64));
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }
}
