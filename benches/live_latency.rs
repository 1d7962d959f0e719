//! Live chat latency under push: a mock `liveChatMessages.streamList` on
//! loopback pushes one message at a known instant, the real `commentwatch`
//! binary (release build) holds the stream open, and N dashboard clients on
//! `/ws` receive it. Latency = the frame's arrival at a client − the instant
//! the mock wrote the message to the stream (so it includes the HTTP chunk,
//! parsing, sanitizing, the log's commit and the fan-out).
//!
//! Run with `cargo bench --bench live_latency` (1 and 100 clients, three
//! runs each, 400 messages a run at 20 a second). Prints p50/p99/max per run
//! and the spread, the connections the stream needed, and the quota a
//! four-hour session spends streaming vs polling on one default key.
//!
//! Not part of `cargo test`: it takes about a minute and wants a quiet
//! machine.

mod common;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use server::Server;

const MESSAGES: u64 = 400;
const EVERY: Duration = Duration::from_millis(50);
const RUNS: usize = 3;

/// One message of the wire format, as one pushed response with its token.
fn pushed(k: u64) -> String {
    format!(
        r#"{{"kind":"youtube#liveChatMessageListResponse","etag":"e","nextPageToken":"t{k}","items":[{{"kind":"youtube#liveChatMessage","id":"LCC.run{r}_{k:010}","snippet":{{"type":"textMessageEvent","liveChatId":"CHAT1","authorChannelId":"UCv{a}","publishedAt":"2026-12-03T09:00:00Z","hasDisplayContent":true,"displayMessage":"latency probe {k}: hello from the chat","textMessageDetails":{{"messageText":"latency probe {k}: hello from the chat"}}}},"authorDetails":{{"channelId":"UCv{a}","displayName":"Viewer {a}","isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":false}}}}]}}"#,
        a = k % 97,
        r = k / MESSAGES
    )
}

struct Mock {
    base: String,
    /// Messages to push: each is written to the open stream, and the
    /// instant it was written is recorded.
    push: mpsc::UnboundedSender<u64>,
    /// `pushed_at[k]`: nanoseconds after the epoch.
    pushed_at: Arc<std::sync::Mutex<Vec<u64>>>,
    connections: Arc<AtomicU64>,
}

async fn start_mock(epoch: Instant) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (push, rx) = mpsc::unbounded_channel::<u64>();
    let rx = Arc::new(Mutex::new(rx));
    let pushed_at = Arc::new(std::sync::Mutex::new(vec![0; MESSAGES as usize * RUNS * 2]));
    let connections = Arc::new(AtomicU64::new(0));
    let (at, conns) = (pushed_at.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (rx, at, conns) = (rx.clone(), at.clone(), conns.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let path = target.split('?').next().unwrap_or("");
                if path == "/youtube/v3/videos" {
                    let body = r#"{"items":[{"id":"BENCHVID001","snippet":{"title":"Latency bench"},"liveStreamingDetails":{"activeLiveChatId":"CHAT1"}}]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    return;
                }
                if path != "/youtube/v3/liveChat/messages/stream" {
                    let _ = socket
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}")
                        .await;
                    return;
                }
                conns.fetch_add(1, Ordering::SeqCst);
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut rx = rx.lock().await;
                let mut first = true;
                while let Some(k) = rx.recv().await {
                    let body = if first {
                        pushed(k)
                    } else {
                        format!(",\n{}", pushed(k))
                    };
                    first = false;
                    let chunk = format!("{:x}\r\n{body}\r\n", body.len());
                    at.lock().unwrap()[k as usize] = epoch.elapsed().as_nanos() as u64;
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Mock {
        base,
        push,
        pushed_at,
        connections,
    }
}

#[derive(Default)]
struct Seen {
    arrivals: Vec<(u64, Duration)>,
    duplicates: u64,
    out_of_order: u64,
}

impl common::Sink for Seen {
    fn arrival(&mut self, k: u64, at: Duration) {
        self.arrivals.push((k, at));
    }
    fn duplicate(&mut self) {
        self.duplicates += 1;
    }
    fn out_of_order(&mut self) {
        self.out_of_order += 1;
    }
}

/// One run: `n` clients, `MESSAGES` pushed from index `first`. Returns the
/// sorted latencies in ms and the missing/duplicate/out-of-order counts.
async fn run(
    server: &Server,
    mock: &Mock,
    epoch: Instant,
    n: usize,
    first: u64,
) -> (Vec<f64>, u64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let url = format!("ws://{}/ws", server.addr);
    // Each run's ids have their own prefix: a client that connects gets the
    // recent backlog, and the previous runs' messages in it are not ours.
    let prefix = format!("\"id\":\"LCC.run{}_", first / MESSAGES);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let client = common::ws::connect(&url).await.expect("a client connects");
        clients.push(client);
    }
    let reader = {
        let (stop, ready, delivered) = (stop.clone(), ready.clone(), delivered.clone());
        tokio::spawn(async move {
            let mut seen = Seen::default();
            common::read_frames(
                clients, epoch, &prefix, &stop, &ready, &delivered, &mut seen,
            )
            .await;
            seen
        })
    };
    while ready.load(Ordering::SeqCst) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tick = tokio::time::interval(EVERY);
    for k in first..first + MESSAGES {
        tick.tick().await;
        mock.push.send(k).unwrap();
    }
    let want = MESSAGES * n as u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered.load(Ordering::SeqCst) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let pushed_at = mock.pushed_at.lock().unwrap().clone();
    let mut ms: Vec<f64> = seen
        .arrivals
        .iter()
        .map(|(k, at)| (at.as_nanos() as f64 - pushed_at[*k as usize] as f64) / 1e6)
        .collect();
    ms.sort_by(f64::total_cmp);
    let missing = want.saturating_sub(seen.arrivals.len() as u64);
    (ms, missing, seen.duplicates, seen.out_of_order)
}

/// The quota a four-hour session on one default key (10,000 units) spends
/// on one live chat beside two video sources, streaming vs polling.
fn quota_arithmetic(connections: u64) {
    let session = Duration::from_secs(4 * 3600);
    let daily = 10_000;
    // Polling: the planner gives each of the 3 sources an equal share; the
    // chat polls `liveChatMessages.list` (5 units) at its floor.
    let floor = commentwatch::quota::floor_interval(5, 3, daily, session).unwrap();
    let polls = session.as_secs_f64() / floor.as_secs_f64();
    println!("\nquota, 4-hour session, one 10,000-unit key, 1 live chat + 2 video sources:");
    println!(
        "  polling the chat:   a poll every {:.1} s → {:.0} polls × 5 units = {:.0} units for the chat",
        floor.as_secs_f64(),
        polls,
        polls * 5.0
    );
    println!(
        "  streaming the chat: 1 unit (videos.list) + 5 per connection; this run needed {connections} connection(s) = {} units",
        1 + 5 * connections
    );
    for lasts in [3600u64, 600, 60] {
        let conns = (session.as_secs() / lasts).max(1);
        println!(
            "    if the server ends each stream after {}: {conns} connections = {} units",
            humantime::format_duration(Duration::from_secs(lasts)),
            1 + 5 * conns
        );
    }
    let conns10 = session.as_secs() / 10;
    println!(
        "    if it ends each stream after 10 s: {conns10} connections would cost {} units; reconnects are paced to the plan instead (one per {:.1} s)",
        5 * conns10,
        floor.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let epoch = Instant::now();
    let mock = start_mock(epoch).await;
    let server = Server::start(
        &[
            ("CW_SOURCES", "youtube-live:BENCHVID001".into()),
            ("YOUTUBE_API_KEY", "bench".into()),
            ("YOUTUBE_API_BASE", mock.base.clone().into()),
        ],
        None,
    );
    let opened = Instant::now();
    while mock.connections.load(Ordering::SeqCst) == 0 {
        assert!(
            opened.elapsed() < Duration::from_secs(20),
            "the stream never opened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "live chat latency: streamList push → /ws frame; {MESSAGES} messages a run at {}/s, {RUNS} runs",
        1000 / EVERY.as_millis()
    );
    let mut first = 0;
    for n in [1usize, 100] {
        let mut p99s = Vec::new();
        for r in 0..RUNS {
            let (ms, missing, dup, ooo) = run(&server, &mock, epoch, n, first).await;
            first += MESSAGES;
            let p50 = common::percentile(&ms, 0.5);
            let p99 = common::percentile(&ms, 0.99);
            p99s.push(p99);
            println!(
                "  {n:>3} client(s), run {}: p50 {p50:6.2} ms  p99 {p99:6.2} ms  max {:6.2} ms  ({} frames; missing {missing}, duplicate {dup}, out of order {ooo})",
                r + 1,
                ms.last().copied().unwrap_or(f64::NAN),
                ms.len()
            );
        }
        p99s.sort_by(f64::total_cmp);
        println!(
            "  {n:>3} client(s): p99 {:.2}–{:.2} ms over {RUNS} runs (target: under 50 ms)",
            p99s[0],
            p99s[p99s.len() - 1]
        );
    }
    quota_arithmetic(mock.connections.load(Ordering::SeqCst));
}
