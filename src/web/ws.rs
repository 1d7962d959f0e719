//! `GET /ws?since=SEQ`: the live feed of the comment log.
//!
//! Each socket task subscribes to the hub *before* reading the log, replays
//! from the log, then forwards live frames, skipping any `seq` it has already
//! sent. A frame committed between the two steps therefore arrives exactly
//! once, whichever path delivers it. A client that falls behind the hub's
//! buffer is caught up from the log instead of silently missing frames: a
//! slow refresh is better than a missed comment.
//!
//! A backlog the hub's recent frames cover is sent from them, already
//! encoded and shared by every client, so a connecting dashboard neither
//! reads the log nor encodes a frame; otherwise it comes from the log.
//!
//! `batch=1` (opt-in) lets one WebSocket message carry several frames, as a
//! JSON array, whenever several are written at once (a poll's batch, a
//! backlog): fewer messages for a page to handle under a flood.
//!
//! The wire itself (handshake, framing, reads) is `socket`'s.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tracing::{Instrument, debug, warn};

use super::AppState;
use super::socket::{Broken, Incoming, Socket, Upgrade};
use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::hub::{ClientGuard, Hub};
use crate::metrics::Metrics;
use crate::protocol::Frame;
use crate::store::CommentLog;

/// Comments sent to a client that gives no `since`.
pub const BACKLOG: usize = 300;
/// Changes read from the log per query while replaying.
const REPLAY_BATCH: usize = 500;
/// Longest a single frame may wait to be written before the client counts
/// as stuck and is dropped (it resumes by `seq` when it comes back).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection is pinged, and how long it may stay silent
/// (no pong, no anything) before it counts as dead.
const PING_EVERY: Duration = Duration::from_secs(30);
const SILENT_LIMIT: Duration = Duration::from_secs(75);
/// Frames written with one flush at most.
const MAX_BATCH: usize = 256;

/// Close codes (RFC 6455, 7.4.1).
mod close_code {
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const POLICY: u16 = 1008;
    pub const SIZE: u16 = 1009;
    pub const ERROR: u16 = 1011;
}

#[derive(Debug, Deserialize)]
pub struct LiveParams {
    #[serde(default)]
    since: Option<i64>,
    /// `1` (or `true`): several frames written at once go as one message
    /// holding a JSON array of them.
    #[serde(default)]
    batch: Option<String>,
}

impl LiveParams {
    fn batched(&self) -> bool {
        matches!(self.batch.as_deref(), Some("1" | "true"))
    }
}

/// One client's connection and how it asked to be written to.
struct Client {
    socket: Socket,
    batched: bool,
}

pub async fn live(
    ws: Upgrade,
    Query(params): Query<LiveParams>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    open(ws, params, &headers, state, Reader::Dashboard)
}

/// Who a WebSocket is for: overlays may not take the slots kept for
/// dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Dashboard,
    Overlay,
}

/// Admits a `/ws`-style feed (the dashboard's, or an overlay's `latest`).
pub fn open(
    ws: Upgrade,
    params: LiveParams,
    headers: &HeaderMap,
    state: AppState,
    reader: Reader,
) -> Response {
    let counted = match admit(headers, &state, reader) {
        Ok(counted) => counted,
        Err(refused) => return refused,
    };
    let span = tracing::Span::current();
    let batched = params.batched();
    ws.on_upgrade(move |socket| {
        stream(Client { socket, batched }, state, params.since, counted).instrument(span)
    })
}

/// The overlay's `mode=featured` feed: only `featured` and `hidden` frames,
/// with the same admission, limits and liveness checks as `/ws`.
pub fn featured(ws: Upgrade, headers: &HeaderMap, state: AppState) -> Response {
    let counted = match admit(headers, &state, Reader::Overlay) {
        Ok(counted) => counted,
        Err(refused) => return refused,
    };
    let span = tracing::Span::current();
    ws.on_upgrade(move |socket| {
        let client = Client {
            socket,
            batched: false,
        };
        featured_stream(client, state, counted).instrument(span)
    })
}

/// Counts the client in, or says why it may not open: another site's page,
/// or `CW_MAX_CLIENTS` reached (for overlays, the share they may use).
#[allow(clippy::result_large_err)] // a refusal is rare; boxing buys nothing
fn admit(headers: &HeaderMap, state: &AppState, reader: Reader) -> Result<ClientGuard, Response> {
    // Browsers always send `Origin` with a WebSocket; it must be one of this
    // server's own origins (never merely the `Host` the request chose: see
    // `hosts`). Tools that send none are let through (the token applies).
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        Some(o) => o.to_str().is_ok_and(|o| state.hosts.allows_origin(o)),
    };
    if !origin_ok {
        // A page on another site must not read the streamer's feed through
        // their browser (cross-site WebSocket hijacking).
        state.metrics.ws_refused("cross_origin");
        return Err((StatusCode::FORBIDDEN, "cross-origin WebSocket refused\n").into_response());
    }
    let cap = state.limits.max_clients;
    let limit = match reader {
        Reader::Dashboard => cap,
        Reader::Overlay => cap - dashboard_reserve(cap),
    };
    state.hub.try_admit(limit).ok_or_else(|| {
        state.metrics.ws_refused("capacity");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            format!("too many dashboards are connected (CW_MAX_CLIENTS={cap}); try again later\n"),
        )
            .into_response()
    })
}

/// WebSocket slots only dashboards may use: a fifth, at least one when
/// there are two or more.
pub fn dashboard_reserve(cap: usize) -> usize {
    if cap < 2 {
        0
    } else {
        cap.div_ceil(5).min(cap - 1)
    }
}

/// The "on stream" queue and the hidden list now, then every change of
/// either, until either side closes.
async fn featured_stream(mut client: Client, state: AppState, counted: ClientGuard) {
    let metrics = state.metrics;
    let _counted = counted;
    // Subscribe before reading the queue, so no change falls in between.
    let mut rx = state.hub.subscribe();
    if send(&mut client, &metrics, state.featured.frame())
        .await
        .is_err()
        || send(&mut client, &metrics, state.hidden.frame())
            .await
            .is_err()
    {
        return;
    }
    let mut alive = Liveness::new();
    loop {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                return close(&mut client, close_code::AWAY, "server shutting down").await;
            }
            received = rx.recv() => match received {
                Ok(frame) if frame.is_featured() || frame.is_hidden() => {
                    if send(&mut client, &metrics, frame).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // Whatever was missed, the latest queue and list say it all.
                Err(RecvError::Lagged(_)) => {
                    if send(&mut client, &metrics, state.featured.frame()).await.is_err()
                        || send(&mut client, &metrics, state.hidden.frame()).await.is_err()
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => {
                    return close(&mut client, close_code::AWAY, "server shutting down").await;
                }
            },
            _ = alive.ping.tick() => {
                if alive.ping_or_drop(&mut client, &metrics).await.is_err() {
                    return;
                }
            }
            incoming = client.socket.recv() => {
                if alive.heard(&mut client, &metrics, incoming).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Pings an idle connection and drops one that stays silent.
struct Liveness {
    ping: tokio::time::Interval,
    last_heard: Instant,
}

impl Liveness {
    fn new() -> Liveness {
        Liveness {
            ping: tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY),
            last_heard: Instant::now(),
        }
    }

    /// On each ping tick: `Err` when the client is to be let go.
    async fn ping_or_drop(&mut self, client: &mut Client, metrics: &Metrics) -> Result<(), ()> {
        if self.last_heard.elapsed() > SILENT_LIMIT {
            metrics.ws_dropped("silent");
            close(client, close_code::POLICY, "no answer to pings").await;
            return Err(());
        }
        timed(metrics, client.socket.ping()).await
    }

    /// What the client sent: anything shows it is alive; a ping is
    /// answered; a close, a broken rule or the end of the connection ends
    /// it (`Err`).
    async fn heard(
        &mut self,
        client: &mut Client,
        metrics: &Metrics,
        incoming: Result<Incoming, Broken>,
    ) -> Result<(), ()> {
        self.last_heard = Instant::now();
        match incoming {
            Ok(Incoming::Other) => Ok(()),
            Ok(Incoming::Ping(payload)) => timed(metrics, client.socket.pong(&payload)).await,
            Ok(Incoming::Close) => {
                let _ = client.socket.close(1000, "").await;
                Err(())
            }
            Err(Broken::Gone) => Err(()),
            Err(Broken::Protocol(why)) => {
                close(client, close_code::PROTOCOL, why).await;
                Err(())
            }
            Err(Broken::TooBig) => {
                close(client, close_code::SIZE, "frame too large").await;
                Err(())
            }
        }
    }
}

async fn stream(mut client: Client, state: AppState, since: Option<i64>, counted: ClientGuard) {
    let hub = state.hub;
    let log = state.log;
    let metrics = state.metrics;
    let _counted = counted;
    // Subscribe first: anything published from here on reaches us.
    let mut rx = hub.subscribe();
    let Ok(latest) = log.latest_seq().await else {
        return close(&mut client, close_code::ERROR, "comment log unavailable").await;
    };
    // The opening frames go in one write.
    let opening = vec![
        Frame::hello(latest, log.log_id()),
        hub.status_frame(),
        state.featured.frame(),
        state.hidden.frame(),
    ];
    let mut none = 0;
    if send_batch(&mut client, &metrics, opening, &mut none)
        .await
        .is_err()
    {
        return;
    }
    let start = match since {
        // A cursor from a log that has since been replaced: start afresh.
        Some(s) if s <= latest => s.max(0),
        _ => match log.recent_start(BACKLOG).await {
            Ok(s) => s,
            Err(_) => {
                return close(&mut client, close_code::ERROR, "comment log unavailable").await;
            }
        },
    };
    let mut sent = start;
    if catch_up(&mut client, &metrics, &hub, &log, &mut sent)
        .await
        .is_err()
    {
        return;
    }
    let mut alive = Liveness::new();
    loop {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                return close(&mut client, close_code::AWAY, "server shutting down").await;
            }
            received = rx.recv() => match received {
                Ok(frame) => {
                    // Frames already waiting go out in the same write: one
                    // syscall for a burst instead of one per comment.
                    let mut batch = vec![frame];
                    let mut lagged = false;
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(f) => batch.push(f),
                            Err(TryRecvError::Lagged(_)) => {
                                lagged = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if send_batch(&mut client, &metrics, batch, &mut sent).await.is_err() {
                        return;
                    }
                    if lagged {
                        metrics.ws_resync();
                        if resync(&mut client, &state.featured, &state.hidden, &metrics, &hub, &log, &mut sent).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    metrics.ws_resync();
                    debug!(missed, "a dashboard fell behind; catching it up from the log");
                    if resync(&mut client, &state.featured, &state.hidden, &metrics, &hub, &log, &mut sent).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => {
                    return close(&mut client, close_code::AWAY, "server shutting down").await;
                }
            },
            _ = alive.ping.tick() => {
                if alive.ping_or_drop(&mut client, &metrics).await.is_err() {
                    return;
                }
            }
            incoming = client.socket.recv() => {
                if alive.heard(&mut client, &metrics, incoming).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Catches a client that fell behind the hub up: every change from the log,
/// then the "on stream" queue and the hidden list as they are now (frames
/// of either may have been among those it missed).
async fn resync(
    client: &mut Client,
    featured: &Featured,
    hidden: &Hidden,
    metrics: &Metrics,
    hub: &Hub,
    log: &CommentLog,
    sent: &mut i64,
) -> Result<(), ()> {
    catch_up(client, metrics, hub, log, sent).await?;
    send(client, metrics, featured.frame()).await?;
    send(client, metrics, hidden.frame()).await
}

/// Sends every change after `*sent`, advancing `*sent`: from the hub's
/// recent frames when they hold them all, else from the log.
async fn catch_up(
    client: &mut Client,
    metrics: &Metrics,
    hub: &Hub,
    log: &CommentLog,
    sent: &mut i64,
) -> Result<(), ()> {
    if let Some(frames) = hub.recent_after(*sent) {
        return send_batch(client, metrics, frames, sent).await;
    }
    loop {
        let batch = match log.changes_since(*sent, REPLAY_BATCH).await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "replaying the comment log to a dashboard failed");
                close(client, close_code::ERROR, "comment log unavailable").await;
                return Err(());
            }
        };
        if batch.is_empty() {
            return Ok(());
        }
        let full = batch.len() == REPLAY_BATCH;
        hub.saw_log(*sent, batch.iter().map(|c| c.seq));
        let frames = batch.iter().map(Frame::change).collect();
        send_batch(client, metrics, frames, sent).await?;
        if !full {
            return Ok(());
        }
    }
}

/// Writes `frames` (skipping any `seq` at or below `*sent`) in one write.
async fn send_batch(
    client: &mut Client,
    metrics: &Metrics,
    frames: Vec<Frame>,
    sent: &mut i64,
) -> Result<(), ()> {
    let mut last = *sent;
    let fresh: Vec<&[u8]> = frames
        .iter()
        .filter(|frame| match frame.seq {
            Some(s) if s <= last => false,
            Some(s) => {
                last = s;
                true
            }
            None => true,
        })
        .map(|frame| frame.json.as_bytes())
        .collect();
    let batched = client.batched;
    timed(metrics, client.socket.send_texts(&fresh, batched)).await?;
    *sent = last;
    Ok(())
}

async fn send(client: &mut Client, metrics: &Metrics, frame: Frame) -> Result<(), ()> {
    timed(
        metrics,
        client.socket.send_texts(&[frame.json.as_bytes()], false),
    )
    .await
}

/// A write, bounded in time. A client that stops reading fills its TCP
/// window; past that, a write waits. It may not wait forever: the client is
/// dropped, and resumes from its last `seq` when it reconnects.
async fn timed(
    metrics: &Metrics,
    write: impl Future<Output = std::io::Result<()>>,
) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            metrics.ws_dropped("too_slow");
            debug!("a dashboard stopped reading; disconnecting it");
            Err(())
        }
    }
}

async fn close(client: &mut Client, code: u16, reason: &'static str) {
    let _ = tokio::time::timeout(SEND_TIMEOUT, client.socket.close(code, reason)).await;
}
