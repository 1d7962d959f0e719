//! Twitch chat (`twitch:CHANNEL`), read anonymously over IRC on a
//! WebSocket (`TWITCH_IRC_URL`): `CAP REQ` for tags and commands, `NICK
//! justinfan<random>` with no password, `JOIN #channel`; `PING` answered,
//! `RECONNECT` honoured, a quiet connection pinged and dropped when it does
//! not answer. Every `twitch:` source of the app shares one connection
//! (`connection`), each joining its channel on it. The runner
//! (`crate::poller::PushTask`) reopens a source whose connection ended, with
//! its backoff; Twitch replays nothing, so the source notes how long it was
//! away when it is back.
//!
//! Here: the settings and each source's stream. `irc` parses a line,
//! `messages` says what it means, `connection` holds the shared connection.
//! It must not touch the log, the web or the sanitizer, and must not build
//! HTML.

pub mod connection;
pub mod irc;
mod messages;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{BoxFuture, BoxStream, PushedBatch, PushedSource, Source, SourceError};
use connection::Connections;

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
    /// The connection the sources built from these settings share.
    pub connections: Connections,
}

impl Default for TwitchSettings {
    fn default() -> TwitchSettings {
        TwitchSettings {
            irc_url: DEFAULT_IRC_URL.into(),
            emote_base: DEFAULT_EMOTE_BASE.into(),
            connect_timeout: Duration::from_secs(15),
            quiet: Duration::from_secs(60),
            pong_wait: Duration::from_secs(10),
            connections: Connections::default(),
        }
    }
}

/// One channel's chat.
pub struct TwitchChat {
    channel: String,
    settings: TwitchSettings,
    /// When the last open connection ended, until the next one opens.
    lost_at: Mutex<Option<Instant>>,
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

/// The complete lines of `frame` after what `carry` held, without their
/// line ends; an unfinished last line stays in `carry`.
fn complete_lines(carry: &mut String, frame: &str) -> Vec<String> {
    carry.push_str(frame);
    let Some(end) = carry.rfind('\n') else {
        if carry.len() > MAX_MESSAGE {
            carry.clear();
        }
        return Vec::new();
    };
    let complete: String = carry.drain(..=end).collect();
    complete
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
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
            let joining = self
                .settings
                .connections
                .join(&self.channel, &self.settings);
            let (membership, batches) =
                tokio::time::timeout(timeout, joining).await.map_err(|_| {
                    SourceError::transient(format!(
                        "Twitch chat: joining #{} took longer than {}",
                        self.channel,
                        span(timeout)
                    ))
                })??;
            let first = self.gap_note().map(|note| PushedBatch {
                notes: vec![note],
                ..PushedBatch::default()
            });
            // The membership lives as long as the stream: dropping it parts
            // the channel. The receiver goes first (fields drop in order),
            // so the connection sees it closed when the part arrives.
            let state = (batches, membership, first, false);
            let stream = futures_util::stream::unfold(
                state,
                move |(mut batches, membership, first, done)| async move {
                    if let Some(b) = first {
                        return Some((Ok(b), (batches, membership, None, false)));
                    }
                    if done {
                        return None;
                    }
                    match batches.recv().await {
                        Some(Ok(b)) => Some((Ok(b), (batches, membership, None, false))),
                        Some(Err(e)) => {
                            self.lost();
                            Some((Err(e), (batches, membership, None, true)))
                        }
                        None => {
                            self.lost();
                            None
                        }
                    }
                },
            );
            let stream: BoxStream<'a, Result<PushedBatch, SourceError>> = Box::pin(stream);
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_across_frames_are_joined() {
        let mut carry = String::new();
        let lines = complete_lines(&mut carry, "@id=1 PRIVMSG #c :one\r\n@id=2 PRI");
        assert_eq!(lines, ["@id=1 PRIVMSG #c :one"]);
        let lines = complete_lines(&mut carry, "VMSG #c :two\r\n\r\nPING :x\n");
        assert_eq!(lines, ["@id=2 PRIVMSG #c :two", "PING :x"]);
        assert!(carry.is_empty());
        assert!(complete_lines(&mut carry, "no end yet").is_empty());
        assert_eq!(carry, "no end yet");
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
