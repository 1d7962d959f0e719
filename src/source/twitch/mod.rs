//! Twitch chat (`twitch:CHANNEL`), read anonymously over IRC on a
//! WebSocket (`TWITCH_IRC_URL`): `CAP REQ` for tags and commands, `NICK
//! justinfan<random>` with no password, `JOIN #channel`; `PING` answered,
//! `RECONNECT` honoured, a quiet connection pinged and dropped when it does
//! not answer. The runner (`crate::poller::PushTask`) reopens a dropped
//! connection with its backoff; Twitch replays nothing, so the source notes
//! how long it was away when it is back.
//!
//! One connection per channel: each `twitch:` source opens its own (Twitch
//! allows many anonymous connections; a shared one is not done).
//!
//! Here: the settings and the connection. `irc` parses a line, `messages`
//! says what it means. It must not touch the log, the web or the sanitizer,
//! and must not build HTML.

pub mod irc;
mod messages;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{BoxFuture, BoxStream, PushedBatch, PushedSource, Source, SourceError};
use messages::{Chat, Control};

/// `TWITCH_IRC_URL`'s default.
pub const DEFAULT_IRC_URL: &str = "wss://irc-ws.chat.twitch.tv:443";
/// `TWITCH_EMOTE_BASE`'s default.
pub const DEFAULT_EMOTE_BASE: &str = "https://static-cdn.jtvnw.net";

/// Largest WebSocket message accepted: a line is at most a few KiB.
const MAX_MESSAGE: usize = 1 << 20;

/// The settings every `twitch:` source shares.
#[derive(Debug, Clone)]
pub struct TwitchSettings {
    /// `TWITCH_IRC_URL`: `ws://` or `wss://`.
    pub irc_url: String,
    /// `TWITCH_EMOTE_BASE`: `https://host`, emote images are under it.
    pub emote_base: String,
    /// How long connecting and joining may take.
    pub connect_timeout: Duration,
    /// After this long without a line, the source sends a `PING`.
    pub quiet: Duration,
    /// And drops the connection if nothing arrives this long after.
    pub pong_wait: Duration,
}

impl Default for TwitchSettings {
    fn default() -> TwitchSettings {
        TwitchSettings {
            irc_url: DEFAULT_IRC_URL.into(),
            emote_base: DEFAULT_EMOTE_BASE.into(),
            connect_timeout: Duration::from_secs(15),
            quiet: Duration::from_secs(60),
            pong_wait: Duration::from_secs(10),
        }
    }
}

/// Whether `name` is a Twitch channel login: 1 to 25 letters, digits or
/// `_` (lower-cased by the caller).
pub fn is_channel(name: &str) -> bool {
    (1..=25).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One channel's chat.
pub struct TwitchChat {
    channel: String,
    settings: TwitchSettings,
    /// When the last open connection ended, until the next one opens.
    lost_at: Mutex<Option<Instant>>,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open connection being read.
struct Reading<'a> {
    chat_source: &'a TwitchChat,
    ws: Socket,
    chat: Chat,
    /// Batches read but not yet handed out.
    ready: VecDeque<PushedBatch>,
    /// A line cut across two frames.
    carry: String,
    /// A `PING` of ours waits for an answer.
    pinged: bool,
    /// Nothing more is read: what is ready is handed out, then `end`.
    done: bool,
    /// The error the stream ends with, once `ready` is empty.
    end: Option<SourceError>,
}

impl TwitchChat {
    pub fn new(channel: &str, settings: TwitchSettings) -> TwitchChat {
        TwitchChat {
            channel: channel.to_ascii_lowercase(),
            settings,
            lost_at: Mutex::new(None),
        }
    }

    fn lost(&self) {
        let mut lost = self.lost_at.lock().unwrap_or_else(|p| p.into_inner());
        lost.get_or_insert_with(Instant::now);
    }

    /// Connects, logs in anonymously and joins; lines that arrive before
    /// the join is confirmed go into the first batch.
    async fn connect(&self) -> Result<(Socket, Chat, PushedBatch), SourceError> {
        let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE));
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
            self.settings.irc_url.as_str(),
            Some(config),
            true,
        )
        .await
        .map_err(|e| SourceError::transient(format!("Twitch chat: could not connect: {e}")))?;
        let chat = Chat {
            channel: self.channel.clone(),
            nick: format!("justinfan{}", rand::random_range(10_000..100_000_000u32)),
            emote_base: self.settings.emote_base.clone(),
        };
        for line in [
            "CAP REQ :twitch.tv/tags twitch.tv/commands".to_owned(),
            format!("NICK {}", chat.nick),
            format!("JOIN #{}", chat.channel),
        ] {
            send(&mut ws, &line).await?;
        }
        let mut first = PushedBatch::default();
        let mut carry = String::new();
        loop {
            let frame = ws.next().await;
            let text = match frame {
                Some(Ok(Frame::Text(t))) => t,
                Some(Ok(Frame::Close(_))) | None => {
                    return Err(SourceError::transient(
                        "Twitch chat: the server closed the connection before the channel was joined",
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Err(SourceError::transient(format!(
                        "Twitch chat: the connection dropped while joining: {e}"
                    )));
                }
            };
            let mut joined = false;
            for control in read_lines(&chat, &mut carry, &text, &mut first) {
                match control {
                    Control::Pong(p) => send(&mut ws, &format!("PONG :{p}")).await?,
                    Control::Joined => joined = true,
                    Control::Reconnect => {
                        return Err(SourceError::transient(
                            "Twitch chat: the server asked to reconnect while joining",
                        ));
                    }
                    Control::Stop(reason) => return Err(SourceError::Stopped { reason }),
                    Control::Nothing => {}
                }
            }
            if joined {
                return Ok((ws, chat, first));
            }
        }
    }

    /// The note of a reconnect: how long the chat went unread.
    fn gap_note(&self) -> Option<String> {
        let lost = self
            .lost_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        Some(format!(
            "reconnected after {} offline; Twitch replays nothing said in that gap",
            span(lost.elapsed())
        ))
    }
}

/// Sends one IRC line.
async fn send(ws: &mut Socket, line: &str) -> Result<(), SourceError> {
    ws.send(Frame::text(format!("{line}\r\n")))
        .await
        .map_err(|e| SourceError::transient(format!("Twitch chat: could not send: {e}")))
}

/// Reads the complete lines of `frame` (after what `carry` held) into
/// `batch`, keeping an unfinished last line in `carry`.
fn read_lines(
    chat: &Chat,
    carry: &mut String,
    frame: &str,
    batch: &mut PushedBatch,
) -> Vec<Control> {
    carry.push_str(frame);
    let Some(end) = carry.rfind('\n') else {
        if carry.len() > MAX_MESSAGE {
            carry.clear();
            batch.skipped += 1;
        }
        return Vec::new();
    };
    let complete: String = carry.drain(..=end).collect();
    complete
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(|l| chat.read(l, batch))
        .filter(|c| *c != Control::Nothing)
        .collect()
}

/// `45 s`, `3 min 5 s`, `2 h 4 min`: a gap's length for people.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// Whether a batch carries anything.
fn has_news(b: &PushedBatch) -> bool {
    !(b.comments.is_empty()
        && b.deleted.is_empty()
        && b.banned_authors.is_empty()
        && b.notes.is_empty()
        && b.unknown.is_empty()
        && b.skipped == 0)
}

impl Reading<'_> {
    /// The stream's last item: an error, and the chat counts as lost.
    fn fail(&mut self, e: SourceError) -> Option<Result<PushedBatch, SourceError>> {
        self.done = true;
        self.chat_source.lost();
        Some(Err(e))
    }

    /// Reads until there is a batch to hand out, or the connection ends.
    async fn next(&mut self) -> Option<Result<PushedBatch, SourceError>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Some(Ok(b));
            }
            if self.done {
                return self.end.take().map(Err);
            }
            let settings = &self.chat_source.settings;
            let wait = if self.pinged {
                settings.pong_wait
            } else {
                settings.quiet
            };
            let frame = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) if self.pinged => {
                    return self.fail(SourceError::transient(format!(
                        "Twitch chat: no answer to a PING in {}",
                        span(wait)
                    )));
                }
                Err(_) => {
                    self.pinged = true;
                    if let Err(e) = send(&mut self.ws, "PING :tmi.twitch.tv").await {
                        return self.fail(e);
                    }
                    continue;
                }
                Ok(frame) => frame,
            };
            self.pinged = false;
            let text = match frame {
                Some(Ok(Frame::Text(t))) => t,
                Some(Ok(Frame::Close(_))) | None => {
                    return self.fail(SourceError::transient(
                        "Twitch chat: the server closed the connection",
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return self.fail(SourceError::transient(format!(
                        "Twitch chat: the connection dropped: {e}"
                    )));
                }
            };
            let mut batch = PushedBatch::default();
            let controls = read_lines(&self.chat, &mut self.carry, &text, &mut batch);
            if has_news(&batch) {
                self.ready.push_back(batch);
            }
            for control in controls {
                match control {
                    Control::Pong(p) => {
                        if let Err(e) = send(&mut self.ws, &format!("PONG :{p}")).await {
                            self.chat_source.lost();
                            self.done = true;
                            self.end = Some(e);
                        }
                    }
                    Control::Reconnect => {
                        // What came before it is handed out, then the
                        // stream ends and the runner reconnects at once.
                        self.done = true;
                        self.chat_source.lost();
                        let _ = self.ws.close(None).await;
                    }
                    Control::Stop(reason) => {
                        self.done = true;
                        self.end = Some(SourceError::Stopped { reason });
                    }
                    Control::Joined | Control::Nothing => {}
                }
            }
        }
    }
}

impl Source for TwitchChat {
    fn name(&self) -> String {
        format!("twitch:{}", self.channel)
    }
}

impl PushedSource for TwitchChat {
    fn open<'a>(
        &'a self,
        _resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>> {
        Box::pin(async move {
            let timeout = self.settings.connect_timeout;
            let (ws, chat, mut first) = tokio::time::timeout(timeout, self.connect())
                .await
                .map_err(|_| {
                    SourceError::transient(format!(
                        "Twitch chat: joining #{} took longer than {}",
                        self.channel,
                        span(timeout)
                    ))
                })??;
            if let Some(note) = self.gap_note() {
                first.notes.push(note);
            }
            let mut reading = Reading {
                chat_source: self,
                ws,
                chat,
                ready: VecDeque::new(),
                carry: String::new(),
                pinged: false,
                done: false,
                end: None,
            };
            if has_news(&first) {
                reading.ready.push_back(first);
            }
            let stream = futures_util::stream::unfold(reading, |mut r| async move {
                let item = r.next().await?;
                Some((item, r))
            });
            let stream: BoxStream<'a, Result<PushedBatch, SourceError>> = Box::pin(stream);
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_twitch_logins() {
        for ok in ["pajlada", "a", "x_y_9", "abcdefghijklmnopqrstuvwxy"] {
            assert!(is_channel(ok), "{ok}");
        }
        for bad in [
            "",
            "Caps",
            "#chan",
            "a-b",
            "abcdefghijklmnopqrstuvwxyz",
            "ü",
        ] {
            assert!(!is_channel(bad), "{bad}");
        }
    }

    #[test]
    fn lines_cut_across_frames_are_joined() {
        let chat = Chat {
            channel: "c".into(),
            nick: "justinfan1".into(),
            emote_base: DEFAULT_EMOTE_BASE.into(),
        };
        let mut carry = String::new();
        let mut b = PushedBatch::default();
        let c = read_lines(
            &chat,
            &mut carry,
            "@id=1 :u!u@u PRIVMSG #c :one\r\n@id=2 :u!u@u PRI",
            &mut b,
        );
        assert!(c.is_empty());
        assert_eq!(b.comments.len(), 1);
        let c = read_lines(&chat, &mut carry, "VMSG #c :two\r\nPING :x\r\n", &mut b);
        assert_eq!(c, [Control::Pong("x".into())]);
        assert_eq!(b.comments[1].text, "two");
        assert!(carry.is_empty());
    }

    #[test]
    fn gaps_read_as_people_say_them() {
        for (secs, said) in [
            (0, "0 s"),
            (59, "59 s"),
            (60, "1 min"),
            (125, "2 min 5 s"),
            (7440, "2 h 4 min"),
        ] {
            assert_eq!(span(Duration::from_secs(secs)), said);
        }
    }
}
