//! The one connection to `TWITCH_IRC_URL` that every `twitch:` source of an
//! app shares: the first source to join opens it (anonymous login), each
//! source `JOIN`s its channel on it and gets its own stream of batches, and
//! the last one to leave closes it. Lines are routed by channel to each
//! channel's `messages::Chat`; `PING` is answered, a quiet connection
//! pinged and dropped when it does not answer. When the connection ends
//! (`RECONNECT`, a drop, silence) every source's stream ends with it and
//! each source's runner reopens it, which joins the next connection.
//!
//! It must not touch the log, the web or the sanitizer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::irc::Message;
use super::messages::{Chat, Control};
use super::{MAX_MESSAGE, TwitchSettings, span};
use crate::source::{PushedBatch, SourceError};

/// What a source's stream receives; the channel closing ends it cleanly.
pub type Item = Result<PushedBatch, SourceError>;

/// The shared connection, if one is open. Cloned with the settings, so all
/// the sources built from one configuration share it.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<Option<Handle>>>);

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

/// The running connection's mailbox.
#[derive(Clone)]
struct Handle {
    id: u64,
    cmd: mpsc::UnboundedSender<Cmd>,
}

enum Cmd {
    Join {
        channel: String,
        reply: oneshot::Sender<Result<mpsc::UnboundedReceiver<Item>, SourceError>>,
    },
    Part(String),
}

/// A source's place on the connection: leaving it (dropping this) parts
/// the channel.
pub struct Membership {
    channel: String,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let _ = self.cmd.send(Cmd::Part(self.channel.clone()));
    }
}

impl Connections {
    /// Joins `channel` on the shared connection (opening it if needed) and
    /// returns its batches once Twitch confirmed the join.
    pub async fn join(
        &self,
        channel: &str,
        settings: &TwitchSettings,
    ) -> Result<(Membership, mpsc::UnboundedReceiver<Item>), SourceError> {
        let handle = {
            let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
            match open.as_ref().filter(|h| !h.cmd.is_closed()) {
                Some(h) => h.clone(),
                None => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let h = Handle {
                        id: rand::random(),
                        cmd: tx,
                    };
                    *open = Some(h.clone());
                    tokio::spawn(run(self.clone(), h.id, rx, settings.clone()));
                    h
                }
            }
        };
        let (reply, answer) = oneshot::channel();
        let gone = || SourceError::transient("Twitch chat: the connection ended while joining");
        handle
            .cmd
            .send(Cmd::Join {
                channel: channel.to_owned(),
                reply,
            })
            .map_err(|_| gone())?;
        let batches = answer.await.map_err(|_| gone())??;
        let membership = Membership {
            channel: channel.to_owned(),
            cmd: handle.cmd,
        };
        Ok((membership, batches))
    }

    /// Forgets connection `id` once it ended, unless another replaced it.
    fn ended(&self, id: u64) {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if open.as_ref().is_some_and(|h| h.id == id) {
            *open = None;
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A channel on the connection.
struct Member {
    chat: Chat,
    tx: mpsc::UnboundedSender<Item>,
    state: State,
}

enum State {
    /// Until Twitch confirms the join: who waits for it, and what to hand
    /// them (lines that come first wait in it).
    Joining(
        oneshot::Sender<Result<mpsc::UnboundedReceiver<Item>, SourceError>>,
        mpsc::UnboundedReceiver<Item>,
    ),
    Joined,
    /// The channel cannot be read, or nobody waits for it: part it.
    Leaving,
}

/// The connection's task: connects, then serves joins, parts and lines
/// until the connection ends or no channel is left.
async fn run(
    connections: Connections,
    id: u64,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    settings: TwitchSettings,
) {
    let nick = format!("justinfan{}", rand::random_range(10_000..100_000_000u32));
    let connected = tokio::time::timeout(settings.connect_timeout, connect(&settings, &nick)).await;
    let mut ws = match connected {
        Ok(Ok(ws)) => ws,
        failed => {
            let e = match failed {
                Ok(Err(e)) => e,
                _ => SourceError::transient(format!(
                    "Twitch chat: connecting took longer than {}",
                    span(settings.connect_timeout)
                )),
            };
            connections.ended(id);
            // Everyone who asked to join hears why.
            cmds.close();
            while let Some(cmd) = cmds.recv().await {
                if let Cmd::Join { reply, .. } = cmd {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            return;
        }
    };
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut carry = String::new();
    let mut pinged = false;
    let end = loop {
        let wait = if pinged {
            settings.pong_wait
        } else {
            settings.quiet
        };
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Join { channel, reply }) => {
                    if let Err(e) = send(&mut ws, &format!("JOIN #{channel}")).await {
                        let _ = reply.send(Err(e.clone()));
                        break Some(e);
                    }
                    let (tx, rx) = mpsc::unbounded_channel();
                    let chat = Chat {
                        channel: channel.clone(),
                        nick: nick.clone(),
                        emote_base: settings.emote_base.clone(),
                    };
                    let state = State::Joining(reply, rx);
                    members.insert(channel, Member { chat, tx, state });
                }
                Some(Cmd::Part(channel)) => {
                    // A membership dropped after its channel was joined
                    // again belongs to the old one: the new one stays.
                    if members.get(&channel).is_some_and(|m| m.tx.is_closed()) {
                        members.remove(&channel);
                        let _ = send(&mut ws, &format!("PART #{channel}")).await;
                    }
                    if members.is_empty() {
                        break None;
                    }
                }
                None => break None,
            },
            frame = tokio::time::timeout(wait, ws.next()) => {
                let frame = match frame {
                    Err(_) if pinged => break Some(SourceError::transient(format!(
                        "Twitch chat: no answer to a PING in {}", span(wait)
                    ))),
                    Err(_) => {
                        pinged = true;
                        if let Err(e) = send(&mut ws, "PING :tmi.twitch.tv").await {
                            break Some(e);
                        }
                        continue;
                    }
                    Ok(frame) => frame,
                };
                pinged = false;
                let text = match frame {
                    Some(Ok(Frame::Text(t))) => t,
                    Some(Ok(Frame::Close(_))) | None => break Some(SourceError::transient(
                        "Twitch chat: the server closed the connection",
                    )),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Some(SourceError::transient(format!(
                        "Twitch chat: the connection dropped: {e}"
                    ))),
                };
                match read_frame(&mut members, &mut carry, &text) {
                    Routed::Go => {}
                    Routed::Pong(p) => {
                        if let Err(e) = send(&mut ws, &format!("PONG :{p}")).await {
                            break Some(e);
                        }
                    }
                    Routed::Reconnect => break None,
                }
                let leaving: Vec<String> = members
                    .iter()
                    .filter(|(_, m)| matches!(m.state, State::Leaving))
                    .map(|(c, _)| c.clone())
                    .collect();
                for channel in leaving {
                    members.remove(&channel);
                    let _ = send(&mut ws, &format!("PART #{channel}")).await;
                }
                if members.is_empty() {
                    break None;
                }
            },
        }
    };
    connections.ended(id);
    let _ = ws.close(None).await;
    for (_, m) in members.drain() {
        let e = end.clone().unwrap_or_else(|| {
            SourceError::transient("Twitch chat: the connection ended while joining")
        });
        match m.state {
            State::Joining(reply, _) => {
                let _ = reply.send(Err(e));
            }
            // A clean end (RECONNECT) closes the stream; an error ends it
            // with the error.
            State::Joined => {
                if let Some(e) = end.clone() {
                    let _ = m.tx.send(Err(e));
                }
            }
            State::Leaving => {}
        }
    }
}

/// Connects and logs in anonymously.
async fn connect(settings: &TwitchSettings, nick: &str) -> Result<Socket, SourceError> {
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE));
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(settings.irc_url.as_str(), Some(config), true)
            .await
            .map_err(|e| SourceError::transient(format!("Twitch chat: could not connect: {e}")))?;
    send(&mut ws, "CAP REQ :twitch.tv/tags twitch.tv/commands").await?;
    send(&mut ws, &format!("NICK {nick}")).await?;
    Ok(ws)
}

/// Sends one IRC line.
async fn send(ws: &mut Socket, line: &str) -> Result<(), SourceError> {
    ws.send(Frame::text(format!("{line}\r\n")))
        .await
        .map_err(|e| SourceError::transient(format!("Twitch chat: could not send: {e}")))
}

/// What the connection must do after a frame.
enum Routed {
    Go,
    Pong(String),
    Reconnect,
}

/// Reads a frame's complete lines, each to its channel's member (one batch
/// per member per frame, handed out after the frame); a join confirmation
/// or a stop is applied to the member.
fn read_frame(members: &mut HashMap<String, Member>, carry: &mut String, frame: &str) -> Routed {
    let mut routed = Routed::Go;
    let mut batches: HashMap<String, PushedBatch> = HashMap::new();
    for line in super::complete_lines(carry, frame) {
        let Ok(m) = Message::parse(&line) else {
            continue;
        };
        // Lines of the connection itself.
        match m.command.as_str() {
            "PING" => {
                routed = Routed::Pong(m.param(0).unwrap_or("tmi.twitch.tv").to_owned());
                continue;
            }
            "RECONNECT" => return Routed::Reconnect,
            _ => {}
        }
        let Some(member) = m.channel().and_then(|c| members.get_mut(&c)) else {
            continue;
        };
        let batch = batches.entry(member.chat.channel.clone()).or_default();
        match member.chat.read(&line, batch) {
            Control::Joined => {
                let state = std::mem::replace(&mut member.state, State::Joined);
                if let State::Joining(reply, rx) = state
                    && reply.send(Ok(rx)).is_err()
                {
                    member.state = State::Leaving;
                }
            }
            Control::Stop(reason) => {
                let stop = SourceError::Stopped { reason };
                match std::mem::replace(&mut member.state, State::Leaving) {
                    State::Joining(reply, _) => {
                        let _ = reply.send(Err(stop));
                    }
                    _ => {
                        let _ = member.tx.send(Err(stop));
                    }
                }
            }
            Control::Pong(_) | Control::Reconnect | Control::Nothing => {}
        }
    }
    for (channel, batch) in batches {
        if let Some(m) = members.get(&channel)
            && !matches!(m.state, State::Leaving)
            && super::has_news(&batch)
        {
            let _ = m.tx.send(Ok(batch));
        }
    }
    routed
}
