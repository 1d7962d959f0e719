//! `GET /ws?since=SEQ`: the live feed of the comment log.
//!
//! Each socket task subscribes to the hub *before* reading the log, replays
//! from the log, then forwards live frames, skipping any `seq` it has already
//! sent. A frame committed between the two steps therefore arrives exactly
//! once, whichever path delivers it. A client that falls behind the hub's
//! buffer is caught up from the log instead of silently missing frames: a
//! slow refresh is better than a missed comment.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::{Instrument, debug, warn};

use super::AppState;
use crate::protocol::Frame;
use crate::store::CommentLog;

/// Comments sent to a client that gives no `since`.
pub const BACKLOG: usize = 300;
/// Changes read from the log per query while replaying.
const REPLAY_BATCH: usize = 500;

#[derive(Debug, Deserialize)]
pub struct LiveParams {
    #[serde(default)]
    since: Option<i64>,
}

pub async fn live(
    ws: WebSocketUpgrade,
    Query(params): Query<LiveParams>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    if !same_origin(&headers) {
        // A page on another site must not read the streamer's feed through
        // their browser (cross-site WebSocket hijacking).
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused\n").into_response();
    }
    let span = tracing::Span::current();
    ws.max_message_size(4096)
        .on_upgrade(move |socket| stream(socket, state, params.since).instrument(span))
}

/// Browsers always send `Origin`; it must name the host that served the page.
/// Tools that send no `Origin` are let through (the token still applies).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

async fn stream(mut socket: WebSocket, state: AppState, since: Option<i64>) {
    let hub = state.hub;
    let log = state.log;
    let _counted = hub.client_guard();
    // Subscribe first: anything published from here on reaches us.
    let mut rx = hub.subscribe();
    let Ok(latest) = log.latest_seq().await else {
        return close(&mut socket, close_code::ERROR, "comment log unavailable").await;
    };
    if send(&mut socket, Frame::hello(latest, log.log_id()))
        .await
        .is_err()
        || send(&mut socket, hub.status_frame()).await.is_err()
    {
        return;
    }
    let start = match since {
        // A cursor from a log that has since been replaced: start afresh.
        Some(s) if s <= latest => s.max(0),
        _ => match log.recent_start(BACKLOG).await {
            Ok(s) => s,
            Err(_) => {
                return close(&mut socket, close_code::ERROR, "comment log unavailable").await;
            }
        },
    };
    let mut sent = start;
    if catch_up(&mut socket, &log, &mut sent).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                return close(&mut socket, close_code::AWAY, "server shutting down").await;
            }
            received = rx.recv() => match received {
                Ok(frame) => {
                    if frame.seq.is_some_and(|s| s <= sent) {
                        continue;
                    }
                    let seq = frame.seq;
                    if send(&mut socket, frame).await.is_err() {
                        return;
                    }
                    if let Some(s) = seq {
                        sent = s;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    debug!(missed, "a dashboard fell behind; catching it up from the log");
                    if catch_up(&mut socket, &log, &mut sent).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => {
                    return close(&mut socket, close_code::AWAY, "server shutting down").await;
                }
            },
            incoming = socket.recv() => match incoming {
                // Clients only send pings, pongs and close; pings are
                // answered by axum itself.
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Sends every change after `*sent` from the log, advancing `*sent`.
async fn catch_up(socket: &mut WebSocket, log: &CommentLog, sent: &mut i64) -> Result<(), ()> {
    loop {
        let batch = match log.changes_since(*sent, REPLAY_BATCH).await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "replaying the comment log to a dashboard failed");
                close(socket, close_code::ERROR, "comment log unavailable").await;
                return Err(());
            }
        };
        let Some(last) = batch.last().map(|c| c.seq) else {
            return Ok(());
        };
        for change in &batch {
            send(socket, Frame::change(change)).await?;
        }
        *sent = last;
        if batch.len() < REPLAY_BATCH {
            return Ok(());
        }
    }
}

async fn send(socket: &mut WebSocket, frame: Frame) -> Result<(), ()> {
    socket.send(Message::Text(frame.json)).await.map_err(|_| ())
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}
