//! `bilibili-live:ROOM_ID`: a live room's danmaku, pushed over the danmaku
//! server's WebSocket. Each open resolves the room (`api`: short id → real
//! id, owner, state, title), asks `getDanmuInfo` for servers and a token
//! (WBI-signed with the video source's signer), connects (`conn`: the
//! browser's User-Agent, authentication with the cookie's uid or 0,
//! heartbeats) and turns each frame (`packet`) of commands (`commands`)
//! into one batch.
//!
//! Bilibili replays nothing: a reconnect is a gap, said in the status, and
//! there is no resume token. Danmaku seen in a recent window are not sent
//! again. Without a logged-in cookie Bilibili masks names and uids; the
//! status says so.
//!
//! It must not touch the log, the web or the sanitizer, and must never put
//! the cookie into a log line, an error, a URL or the status.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::http::Http;
use super::super::{BoxFuture, BoxStream, PushedBatch, PushedSource, Source, SourceError};
use super::BilibiliSettings;
use crate::domain::SourceSpec;

mod api;
mod commands;
mod conn;
mod gift_v2;
pub mod packet;

/// How often the web client sends a heartbeat; the server disconnects
/// after 60 s without one.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How many recent message ids are remembered so that none is sent twice.
const RECENT_IDS: usize = 10_000;

/// The status while streaming, when there is more to say.
const STREAMING: &str = "live (streaming)";

/// `BILIBILI_LIVE_API_BASE`, `BILIBILI_LIVE_WS`.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Scheme and host of the live API (`room_init`, `getDanmuInfo`).
    pub api_base: String,
    /// A danmaku server to use instead of those `getDanmuInfo` lists.
    pub ws: Option<String>,
}

/// What the status says beyond "streaming", and the counts behind it.
#[derive(Default)]
struct State {
    /// The room's state, from `room_init` or the last `LIVE`/`PREPARING`.
    live: Option<bool>,
    /// Names and uids arrive masked.
    masked: bool,
    /// The last reconnect's gap, as said in the status.
    gap: Option<String>,
    /// When the last frame arrived (the start of a gap).
    last_frame: Option<DateTime<Utc>>,
    /// Connections opened so far.
    connections: u32,
    /// Connections tried so far, failed ones included: each tries the next
    /// server of the list.
    attempts: u32,
}

/// Ids seen lately, oldest first.
#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Recent {
    /// True the first time `id` is seen (within the window).
    fn first_time(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= RECENT_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// One live room's danmaku.
pub struct BilibiliLive {
    name: String,
    /// The room id as configured (short or real).
    room: u64,
    live_base: String,
    api_base: String,
    ws_override: Option<String>,
    /// `BILIBILI_COOKIE`: only ever sent as a sensitive header.
    cookie: Option<String>,
    /// The cookie's `DedeUserID`, or 0.
    uid: u64,
    http: Http,
    heartbeat: Duration,
    keys: tokio::sync::Mutex<Option<api::CachedKey>>,
    buvid: tokio::sync::Mutex<Option<String>>,
    title: std::sync::OnceLock<String>,
    state: Mutex<State>,
    recent: Mutex<Recent>,
}

/// Written by hand: the cookie is a login.
impl fmt::Debug for BilibiliLive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BilibiliLive")
            .field("room", &self.room)
            .field("cookie", &self.cookie.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

impl BilibiliLive {
    /// A source for room `room` (digits). The error names the problem
    /// without repeating the cookie.
    pub fn new(
        room: &str,
        settings: BilibiliSettings,
        live: LiveSettings,
        http: Http,
    ) -> Result<BilibiliLive, String> {
        let id: u64 = room
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{room:?} is not a live room number"))?;
        let cookie = settings.cookie.filter(|c| !c.trim().is_empty());
        let uid = cookie
            .as_deref()
            .and_then(|c| api::cookie_value(c, "DedeUserID"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(BilibiliLive {
            name: SourceSpec::BilibiliLive(room.to_owned()).to_string(),
            room: id,
            live_base: live.api_base.trim_end_matches('/').to_owned(),
            api_base: settings.api_base.trim_end_matches('/').to_owned(),
            ws_override: live.ws,
            cookie,
            uid,
            http,
            heartbeat: HEARTBEAT,
            keys: tokio::sync::Mutex::new(None),
            buvid: tokio::sync::Mutex::new(None),
            title: std::sync::OnceLock::new(),
            state: Mutex::new(State::default()),
            recent: Mutex::new(Recent::default()),
        })
    }

    /// With another heartbeat interval (tests use a short one).
    pub fn with_heartbeat(mut self, every: Duration) -> BilibiliLive {
        self.heartbeat = every;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves the room, asks for a server and a token, connects.
    async fn connect(&self) -> Result<(conn::Connection, commands::Room), SourceError> {
        // getDanmuInfo wants a buvid3 cookie: have one before asking.
        let buvid = self.buvid().await.unwrap_or_default();
        let room = self.resolve_room().await?;
        let info = self.danmu_info(room.room_id).await?;
        let attempt = {
            let mut state = self.state();
            state.attempts = state.attempts.wrapping_add(1);
            state.attempts - 1
        };
        let url = server_url(self.ws_override.as_deref(), &info.urls, attempt);
        let mut auth = serde_json::json!({
            "uid": self.uid,
            "roomid": room.room_id,
            "protover": 3,
            "platform": "web",
            "type": 2,
            "buvid": buvid,
        });
        if let Some(token) = &info.token {
            auth["key"] = token.clone().into();
        }
        let cookie = self.cookie_header().await;
        let conn = conn::open(&url, cookie, &auth, self.heartbeat).await?;
        let now = Utc::now();
        let mut state = self.state();
        if state.connections > 0 {
            let since = state.last_frame.unwrap_or(now);
            state.gap = Some(format!(
                "reconnected at {} UTC; danmaku sent since {} UTC may be missing \
                 (Bilibili replays nothing)",
                now.format("%H:%M:%S"),
                since.format("%H:%M:%S")
            ));
        }
        state.connections += 1;
        state.last_frame = Some(now);
        state.live = Some(room.live);
        Ok((
            conn,
            commands::Room {
                owner_uid: room.owner_uid,
            },
        ))
    }

    /// One frame as a batch; `None` when it carries nothing to tell.
    fn batch_of(&self, frame: packet::Decoded, room: commands::Room) -> Option<PushedBatch> {
        let mut reading = commands::Reading::default();
        for body in &frame.commands {
            commands::read(body, room, &mut reading);
        }
        let mut batch = reading.batch;
        batch.skipped += frame.malformed;
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            batch.comments.retain(|c| recent.first_time(&c.id));
        }
        let mut changed = false;
        {
            let mut state = self.state();
            state.last_frame = Some(Utc::now());
            if let Some(live) = reading.live
                && state.live != Some(live)
            {
                state.live = Some(live);
                changed = true;
            }
            if reading.masked && !state.masked {
                state.masked = true;
                changed = true;
            }
        }
        let empty = batch.comments.is_empty()
            && batch.deleted.is_empty()
            && batch.banned_authors.is_empty()
            && batch.notes.is_empty()
            && batch.unknown.is_empty()
            && batch.skipped == 0;
        (changed || !empty).then_some(batch)
    }
}

/// The server of attempt `attempt`: `BILIBILI_LIVE_WS` when set, else the
/// list's servers in turn.
fn server_url(fixed: Option<&str>, urls: &[String], attempt: u32) -> String {
    match fixed {
        Some(url) => url.to_owned(),
        None => urls[attempt as usize % urls.len()].clone(),
    }
}

impl Source for BilibiliLive {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn title(&self) -> Option<String> {
        self.title.get().cloned()
    }
}

impl PushedSource for BilibiliLive {
    fn detail(&self) -> Option<String> {
        let state = self.state();
        let mut parts: Vec<String> = Vec::new();
        if state.live == Some(false) {
            parts.push("the room is not live; waiting for the stream to start".into());
        }
        if state.masked {
            parts.push(
                "connected anonymously: Bilibili hides viewer names and IDs (shown as ***); \
                 set BILIBILI_COOKIE to a logged-in cookie (SESSDATA, DedeUserID, buvid3) to \
                 see them"
                    .into(),
            );
        }
        if let Some(gap) = &state.gap {
            parts.push(gap.clone());
        }
        (!parts.is_empty()).then(|| format!("{STREAMING} — {}", parts.join("; ")))
    }

    fn open<'a>(
        &'a self,
        _resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>> {
        Box::pin(async move {
            let (conn, room) = self.connect().await?;
            let stream = futures_util::stream::unfold(Some(conn), move |conn| async move {
                let mut conn = conn?;
                loop {
                    match conn.next().await {
                        Ok(conn::Read::Frame(frame)) => {
                            if let Some(batch) = self.batch_of(frame, room) {
                                return Some((Ok(batch), Some(conn)));
                            }
                        }
                        Ok(conn::Read::Closed) => {
                            conn.close().await;
                            return None;
                        }
                        Err(e) => {
                            conn.close().await;
                            return Some((Err(e), None));
                        }
                    }
                }
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
    fn each_attempt_tries_the_next_server_unless_one_is_set() {
        let urls = vec!["wss://a:2245/sub".to_owned(), "wss://b:443/sub".to_owned()];
        let picked: Vec<String> = (0..3).map(|n| server_url(None, &urls, n)).collect();
        assert_eq!(
            picked,
            ["wss://a:2245/sub", "wss://b:443/sub", "wss://a:2245/sub"]
        );
        assert_eq!(
            server_url(Some("ws://127.0.0.1:9/sub"), &urls, 1),
            "ws://127.0.0.1:9/sub"
        );
    }

    #[test]
    fn ids_are_remembered_within_the_window_only() {
        let mut recent = Recent::default();
        assert!(recent.first_time("a"));
        assert!(!recent.first_time("a"));
        for i in 0..RECENT_IDS {
            assert!(recent.first_time(&i.to_string()));
        }
        assert!(recent.first_time("a"), "forgotten after the window");
        assert_eq!(recent.order.len(), RECENT_IDS);
    }

    #[test]
    fn the_cookie_gives_the_uid_and_never_shows() {
        let live = BilibiliLive::new(
            "21452505",
            BilibiliSettings {
                api_base: "https://api.bilibili.com".into(),
                cookie: Some("SESSDATA=topsecret; DedeUserID=42; buvid3=X".into()),
                min_interval: Duration::from_secs(10),
            },
            LiveSettings {
                api_base: "https://api.live.bilibili.com".into(),
                ws: None,
            },
            Http::new(Duration::from_secs(1), 1024),
        )
        .unwrap();
        assert_eq!(live.uid, 42);
        assert_eq!(live.name(), "bilibili-live:21452505");
        assert!(!format!("{live:?}").contains("topsecret"));
        assert!(
            BilibiliLive::new(
                "0",
                BilibiliSettings {
                    api_base: String::new(),
                    cookie: None,
                    min_interval: Duration::ZERO
                },
                LiveSettings {
                    api_base: String::new(),
                    ws: None
                },
                Http::new(Duration::from_secs(1), 1024),
            )
            .is_err()
        );
    }
}
