//! `-- floor [N]`: what this machine allows, with no server and no
//! WebSocket: the bytes of one poll's batch (50 frames of the size the
//! server sends, ~25 MB for 1,000 clients) and of a burst of 500 written
//! to N loopback TCP sockets, one writing task per socket on a 2-thread
//! runtime of its own (as the server's), and read on this process's
//! runtime, 50 sockets per task (as the clients), which only count the
//! bytes. The time from the start of the writes to each socket's last byte
//! is the floor under the fan-out's latency: a batch cannot reach the last
//! client sooner than this, whatever the server does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes of one comment frame as the server sends it (the mock's comments).
const FRAME: usize = 520;

pub async fn floor(n: usize) {
    let writer_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (label, frames, rounds) in [
        ("a poll of 50", 50usize, 20usize),
        ("a burst of 500", 500, 5),
    ] {
        let mut lat = Vec::new();
        for _ in 0..rounds {
            lat.extend(round(&writer_rt, n, frames * FRAME).await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lat.sort_by(f64::total_cmp);
        let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        println!(
            "floor N={n:>5}  {label:<15} ({:.1} MB a round): last byte p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({rounds} rounds)",
            (n * frames * FRAME) as f64 / 1e6,
            at(0.5),
            at(0.99),
            lat[lat.len() - 1]
        );
    }
    writer_rt.shutdown_background();
}

/// One round: `bytes` to each of `n` fresh socket pairs; ms to each last byte.
async fn round(writer_rt: &tokio::runtime::Runtime, n: usize, bytes: usize) -> Vec<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = writer_rt.spawn(async move {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let (s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            out.push(s);
        }
        out
    });
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        readers.push(TcpStream::connect(addr).await.unwrap());
    }
    let writers = accept.await.unwrap();
    let payload: Arc<[u8]> = vec![b'x'; bytes].into();
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut readers = readers.into_iter();
    loop {
        let chunk: Vec<TcpStream> = readers.by_ref().take(50).collect();
        if chunk.is_empty() {
            break;
        }
        tasks.push(tokio::spawn(read_all(chunk, bytes, start)));
    }
    let mut handles = Vec::new();
    for mut w in writers {
        let payload = payload.clone();
        handles.push(writer_rt.spawn(async move {
            w.write_all(&payload).await.unwrap();
            w
        }));
    }
    let mut lat = Vec::with_capacity(n);
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    for h in handles {
        drop(h.await.unwrap());
    }
    lat
}

/// Reads `bytes` from each socket, in one task; ms from `start` to each
/// socket's last byte.
async fn read_all(sockets: Vec<TcpStream>, bytes: usize, start: Instant) -> Vec<f64> {
    let reads = sockets.into_iter().map(|mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < bytes {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the writer closed early");
            got += n;
        }
        start.elapsed().as_secs_f64() * 1000.0
    });
    futures_util::future::join_all(reads).await
}
