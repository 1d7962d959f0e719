//! Serving the router over HTTP/1.1 with limits a hostile client cannot get
//! around: a deadline for each request head (which is also the idle
//! keep-alive timeout), a deadline for a write the client does not read, and
//! a cap on open connections. It owns the sockets and nothing else: what a
//! request may do is the router's business.
//!
//! `axum::serve` has none of these knobs, so connections are served here with
//! hyper directly, the way axum does it, plus:
//! - **head timeout**: a connection must deliver a complete request head
//!   within [`ServeLimits::head_timeout`] of opening, and of finishing its
//!   previous response (hyper starts the timer whenever it waits for a head),
//!   so slowloris headers and idle keep-alive connections are closed;
//! - **write stall**: a write that makes no progress for
//!   [`ServeLimits::write_stall`] fails, closing the connection, so a client
//!   that requests an export and never reads cannot hold its buffers forever;
//! - **connection cap**: past [`ServeLimits::max_connections`] open HTTP
//!   connections, a new one is closed at once (a WebSocket stops counting here
//!   when it upgrades: `CW_MAX_CLIENTS` caps those);
//! - the open-file limit is raised to its hard limit at start, so the caps
//!   and not the kernel decide who is refused.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, info, warn};

/// How long a connection may take to send a request head, counted from when
/// it opened or finished its last response.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may wait for the client to read.
pub const WRITE_STALL: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests in flight (an export, say).
const DRAIN: Duration = Duration::from_secs(10);

/// The socket-level limits.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub head_timeout: Duration,
    pub write_stall: Duration,
    pub max_connections: usize,
}

impl ServeLimits {
    /// Limits for a process allowed `open_files` descriptors, of which
    /// `websockets` may go to WebSocket clients.
    pub fn for_open_files(open_files: u64, websockets: usize) -> ServeLimits {
        let spare = open_files.saturating_sub(websockets as u64 + 64);
        ServeLimits {
            head_timeout: HEAD_TIMEOUT,
            write_stall: WRITE_STALL,
            max_connections: spare.clamp(64, 4096) as usize,
        }
    }
}

/// Raises the soft open-file limit to the hard one, where the system allows,
/// and returns the limit in force.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            match rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard) {
                Ok(()) => hard,
                Err(e) => {
                    warn!(error = %e, "could not raise the open-file limit from {soft}");
                    soft
                }
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish (for a few seconds at most)
/// and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let refused = AtomicU64::new(0);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // accepted: wait a little, as axum does, and go on.
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Full: close this one at once rather than letting the backlog
            // grow behind connections that may never finish a request.
            if refused.fetch_add(1, Ordering::Relaxed).is_power_of_two() {
                warn!(
                    limit = limits.max_connections,
                    "too many open connections; refusing new ones until some close"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Guarded::new(stream, limits.write_stall));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let stop = stop.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .keep_alive(true);
            let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                debug!(client = %remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stop.cancel();
    tasks.close();
    if tokio::time::timeout(DRAIN, tasks.wait()).await.is_err() {
        info!("shutdown: some responses were still being sent; closing them");
    }
    Ok(())
}

/// A TCP stream whose writes fail once they have waited `stall` for the
/// client to read.
struct Guarded {
    inner: TcpStream,
    stall: Duration,
    /// Running while a write waits; reset by every write that progresses.
    blocked: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn new(inner: TcpStream, stall: Duration) -> Guarded {
        Guarded {
            inner,
            stall,
            blocked: None,
        }
    }

    /// After the inner stream said `Pending`: fails once the stall lasted
    /// too long, otherwise makes sure the task wakes when it does.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let stall = self.stall;
        let timer = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.poll_stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.blocked = None;
                ready
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The address a request came from, as the connection knows it.
pub fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
