//! One WebSocket connection to a danmaku server: connect (with the same
//! User-Agent as the HTTP requests), authenticate, then read frames while
//! sending a heartbeat every interval; two heartbeats without a reply end
//! the connection with an error so that the runner reconnects. Frames are
//! handed back decoded (`packet`); what the commands mean is not known here.
//! The cookie goes only into the request's header, never into an error.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::packet::{self, Decoded};
use crate::source::SourceError;
use crate::source::http::BROWSER_UA;

/// How long connecting, and then waiting for the authentication reply,
/// may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest frame accepted.
const MAX_FRAME: usize = 4 << 20;

/// Heartbeats in a row that may go unanswered.
const MISSED_HEARTBEATS: u32 = 2;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An authenticated connection.
pub(super) struct Connection {
    ws: Ws,
    every: Duration,
    next_beat: Instant,
    /// Heartbeats sent since the last reply.
    unanswered: u32,
    /// What arrived with the authentication reply, not yet handed out.
    early: Option<Decoded>,
}

/// What `Connection::next` yields.
pub(super) enum Read {
    /// One frame's packets.
    Frame(Decoded),
    /// The server closed the connection.
    Closed,
}

fn transient(what: impl Into<String>) -> SourceError {
    SourceError::transient(what.into())
}

/// Connects to `url`, sends the authentication `auth` (JSON) and waits for
/// its reply. A refused authentication is an error (the runner retries
/// with backoff).
pub(super) async fn open(
    url: &str,
    cookie: Option<HeaderValue>,
    auth: &serde_json::Value,
    heartbeat: Duration,
) -> Result<Connection, SourceError> {
    let mut request = url
        .into_client_request()
        .map_err(|_| transient("the danmaku server's address is not a WebSocket URL"))?;
    let host = request.uri().host().unwrap_or("").to_owned();
    request
        .headers_mut()
        .insert("User-Agent", HeaderValue::from_static(BROWSER_UA));
    if let Some(cookie) = cookie {
        request.headers_mut().insert("Cookie", cookie);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let (mut ws, _) = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
        .await
        .map_err(|_| transient(format!("the danmaku server {host} did not answer in time")))?
        .map_err(|e| {
            transient(format!(
                "could not connect to the danmaku server {host}: {}",
                brief(&e)
            ))
        })?;
    let body = auth.to_string();
    ws.send(Message::binary(packet::client_packet(
        packet::OP_AUTH,
        body.as_bytes(),
    )))
    .await
    .map_err(|e| {
        transient(format!(
            "the danmaku server {host} dropped the login: {}",
            brief(&e)
        ))
    })?;
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let early = loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| {
                transient(format!(
                    "the danmaku server {host} did not answer the login"
                ))
            })?;
        let frame = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(_))) | None => {
                return Err(transient(format!(
                    "the danmaku server {host} closed the connection at login"
                )));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                return Err(transient(format!(
                    "the danmaku server {host} failed at login: {}",
                    brief(&e)
                )));
            }
        };
        let mut decoded = packet::decode(&frame);
        if decoded.auth_replies.is_empty() {
            continue;
        }
        let reply: serde_json::Value =
            serde_json::from_slice(&decoded.auth_replies.remove(0)).unwrap_or_default();
        match reply.get("code").and_then(serde_json::Value::as_i64) {
            Some(0) => break decoded,
            code => {
                return Err(transient(format!(
                    "the danmaku server refused the login (code {})",
                    code.map_or("(none)".into(), |c| c.to_string())
                )));
            }
        }
    };
    let mut conn = Connection {
        ws,
        every: heartbeat,
        next_beat: Instant::now(),
        unanswered: 0,
        early: Some(early),
    };
    // The web client sends its first heartbeat at once.
    conn.beat().await?;
    Ok(conn)
}

/// An error without the URL (tungstenite's messages do not carry it, but
/// keep them short).
fn brief(e: &tokio_tungstenite::tungstenite::Error) -> String {
    crate::sanitize::clean_line(&e.to_string(), 120)
}

impl Connection {
    async fn beat(&mut self) -> Result<(), SourceError> {
        self.ws
            .send(Message::binary(packet::client_packet(
                packet::OP_HEARTBEAT,
                b"[object Object]",
            )))
            .await
            .map_err(|e| transient(format!("the danmaku connection dropped: {}", brief(&e))))?;
        self.unanswered += 1;
        self.next_beat = Instant::now() + self.every;
        Ok(())
    }

    /// The next frame, sending heartbeats on time meanwhile.
    pub(super) async fn next(&mut self) -> Result<Read, SourceError> {
        if let Some(early) = self.early.take() {
            return Ok(Read::Frame(early));
        }
        loop {
            tokio::select! {
                msg = self.ws.next() => {
                    let frame = match msg {
                        Some(Ok(Message::Binary(b))) => b,
                        Some(Ok(Message::Close(_))) | None => return Ok(Read::Closed),
                        // Text, ping and pong frames carry nothing of the
                        // protocol (tungstenite answers pings itself).
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            return Err(transient(format!(
                                "the danmaku connection dropped: {}",
                                brief(&e)
                            )));
                        }
                    };
                    let decoded = packet::decode(&frame);
                    if !decoded.heartbeats.is_empty() {
                        self.unanswered = 0;
                    }
                    return Ok(Read::Frame(decoded));
                }
                _ = tokio::time::sleep_until(self.next_beat) => {
                    if self.unanswered >= MISSED_HEARTBEATS {
                        return Err(transient(format!(
                            "the danmaku server answered no heartbeat for {} s; reconnecting",
                            (self.every * MISSED_HEARTBEATS).as_secs()
                        )));
                    }
                    self.beat().await?;
                }
            }
        }
    }

    /// Closes the connection politely (best effort).
    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}
