//! `youtube-live:VIDEO_ID` pushed: one long-lived `streamList` connection
//! (`GET $YOUTUBE_API_BASE/youtube/v3/liveChat/messages/stream`, 5 quota
//! units per connection), each pushed `LiveChatMessageListResponse` read by
//! `framing` and `LiveChat::page_of` into a batch with its `nextPageToken`.
//! When YouTube refuses the stream (404, 403 other than quota, a body that
//! is not a stream), it falls back to polling `liveChatMessages.list` and
//! says so in its status detail. It must not touch the log or the web.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::super::http::{Http, JsonResponse};
use super::super::{
    BoxFuture, BoxStream, PushedBatch, PushedSource, QuotaGate, QuotaMeter, Source, SourceError,
    SpentUnits,
};
use super::framing::ObjectSplitter;
use super::{COST_LIVE_CHAT, Kind, LiveChat, YouTubeSettings, check};
use crate::source::Page;

/// Quota units of one `streamList` connection.
pub const COST_STREAM: i64 = 5;

/// The longest one connection may stay open before it is reopened (with
/// its token): a guard against a server that stops sending silently.
const CONNECTION_LIMIT: Duration = Duration::from_secs(3600);

/// How often the fallback polls when YouTube names no interval.
const FALLBACK_POLL: Duration = Duration::from_secs(10);

/// `CW_YOUTUBE_LIVE`: how live chat is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveMode {
    /// `streamList`, falling back to polling when refused.
    #[default]
    Stream,
    /// `liveChatMessages.list` only.
    Poll,
}

/// The chat of a live stream, pushed by `streamList`.
pub struct LiveStream {
    chat: LiveChat,
    /// Why streaming was refused, once it was: the source polls since.
    refused: Mutex<Option<String>>,
    /// The interval the fallback polls at, as YouTube last asked.
    interval: Mutex<Duration>,
    /// The quota planner's floor: the fallback never polls faster.
    floor: Mutex<Duration>,
}

impl LiveStream {
    pub fn new(video: &str, settings: YouTubeSettings, http: Http) -> LiveStream {
        LiveStream {
            chat: LiveChat::new(video, settings, http),
            refused: Mutex::new(None),
            interval: Mutex::new(FALLBACK_POLL),
            floor: Mutex::new(Duration::ZERO),
        }
    }

    /// How often the fallback polls: as YouTube asks, never faster than
    /// the quota allows.
    fn poll_every(&self) -> Duration {
        let asked = *self.interval.lock().unwrap_or_else(|p| p.into_inner());
        let floor = *self.floor.lock().unwrap_or_else(|p| p.into_inner());
        asked.max(floor)
    }

    fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens `streamList`; `Ok(None)` when YouTube refuses to stream.
    async fn connect(
        &self,
        resume: Option<&str>,
    ) -> Result<Option<reqwest::Response>, SourceError> {
        if let Some(end) = self.chat.end_reason() {
            return Err(end);
        }
        let chat_id = self.chat.chat_id().await?;
        let api = self.chat.api();
        api.reserve("liveChat/messages/stream", COST_STREAM).await?;
        let url = format!(
            "{}/youtube/v3/liveChat/messages/stream",
            api.settings.api_base
        );
        let mut query = vec![
            ("liveChatId", chat_id.as_str()),
            ("part", "id,snippet,authorDetails"),
        ];
        if let Some(token) = resume {
            query.push(("pageToken", token));
        }
        let resp = api
            .http
            .client
            .get(url)
            .query(&query)
            .query(&[("key", api.settings.api_key.as_str())])
            .timeout(CONNECTION_LIMIT)
            .send()
            .await
            .map_err(|e| SourceError::transient(format!("streamList: {}", e.without_url())))?;
        let status = resp.status();
        if status == StatusCode::OK {
            return Ok(Some(resp));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(SourceError::transient(format!(
                "streamList: YouTube answered HTTP {}",
                status.as_u16()
            )));
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        // The error body may come bare or wrapped in the stream's array.
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let body = match body {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        };
        let checked = check(
            JsonResponse {
                status,
                headers: Default::default(),
                body,
            },
            Kind::LiveChat,
        );
        match checked {
            Err(e @ (SourceError::Quota { .. } | SourceError::Stopped { .. })) => Err(e),
            Err(e) => {
                let why = crate::sanitize::clean_line(&e.to_string(), 200);
                tracing::warn!(source = %self.chat.name(), "streamList refused ({why}); polling instead");
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                Ok(None)
            }
            Ok(_) => Ok(None),
        }
    }

    /// The fallback: one `list` page per interval, as a stream.
    fn polling<'a>(
        &'a self,
        resume: Option<&'a str>,
    ) -> BoxStream<'a, Result<PushedBatch, SourceError>> {
        let start = (resume.map(str::to_owned), true);
        Box::pin(futures_util::stream::unfold(
            start,
            move |(cursor, first)| async move {
                if !first {
                    tokio::time::sleep(self.poll_every()).await;
                }
                match self.chat.fetch_page(cursor.as_deref()).await {
                    Ok(page) => {
                        if let Some(wait) = page.wait_at_least {
                            *self.interval.lock().unwrap_or_else(|p| p.into_inner()) =
                                wait.max(Duration::from_secs(1));
                        }
                        let next = page.next.clone().or(cursor);
                        Some((Ok(batch_of(page)), (next, false)))
                    }
                    // The runner reopens (or stops) after an error.
                    Err(e) => Some((Err(e), (None, false))),
                }
            },
        ))
    }
}

/// A page as a pushed batch.
fn batch_of(page: Page) -> PushedBatch {
    PushedBatch {
        comments: page.comments,
        deleted: page.deleted,
        banned_authors: page.banned_authors,
        notes: page.notes,
        unknown: page.unknown,
        resume: page.next,
        skipped: page.skipped,
    }
}

/// What one read of the response body gives.
struct Reading {
    resp: reqwest::Response,
    splitter: ObjectSplitter,
    ready: std::collections::VecDeque<Vec<u8>>,
    done: bool,
}

impl Source for LiveStream {
    fn name(&self) -> String {
        self.chat.name()
    }

    fn quota(&self) -> Option<&dyn QuotaMeter> {
        Some(self)
    }

    fn title(&self) -> Option<String> {
        self.chat.title()
    }
}

impl QuotaMeter for LiveStream {
    fn cost_per_poll(&self) -> i64 {
        COST_LIVE_CHAT
    }

    fn take_spent_units(&self) -> SpentUnits {
        self.chat.take_spent_units()
    }

    fn set_gate(&self, gate: Arc<dyn QuotaGate>) {
        self.chat.set_quota_gate(gate);
    }
}

impl PushedSource for LiveStream {
    fn detail(&self) -> Option<String> {
        self.refused().map(|why| {
            let every = self.poll_every().as_secs();
            format!("live (polling every {every} s) — streaming refused: {why}")
        })
    }

    fn set_floor(&self, floor: Duration) {
        *self.floor.lock().unwrap_or_else(|p| p.into_inner()) = floor;
    }

    fn open<'a>(
        &'a self,
        resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>> {
        Box::pin(async move {
            if self.refused().is_some() {
                return Ok(self.polling(resume));
            }
            let Some(resp) = self.connect(resume).await? else {
                return Ok(self.polling(resume));
            };
            let reading = Reading {
                resp,
                splitter: ObjectSplitter::default(),
                ready: Default::default(),
                done: false,
            };
            let stream = futures_util::stream::unfold(reading, move |mut r| async move {
                loop {
                    if let Some(object) = r.ready.pop_front() {
                        let body: Value = match serde_json::from_slice(&object) {
                            Ok(v) => v,
                            Err(e) => {
                                r.done = true;
                                return Some((
                                    Err(SourceError::transient(format!("streamList: {e}"))),
                                    r,
                                ));
                            }
                        };
                        if body.get("error").is_some() {
                            r.done = true;
                            let status = body
                                .pointer("/error/code")
                                .and_then(Value::as_u64)
                                .and_then(|c| StatusCode::from_u16(c as u16).ok())
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                            let e = check(
                                JsonResponse {
                                    status,
                                    headers: Default::default(),
                                    body,
                                },
                                Kind::LiveChat,
                            )
                            .err()
                            .unwrap_or_else(|| SourceError::transient("streamList: an error"));
                            return Some((Err(e), r));
                        }
                        return Some((Ok(batch_of(self.chat.page_of(&body))), r));
                    }
                    if r.done {
                        return None;
                    }
                    if let Some(end) = self.chat.end_reason() {
                        r.done = true;
                        return Some((Err(end), r));
                    }
                    match r.resp.chunk().await {
                        Ok(Some(bytes)) => match r.splitter.push(&bytes) {
                            Ok(objects) => r.ready.extend(objects),
                            Err(e) => {
                                r.done = true;
                                return Some((
                                    Err(SourceError::transient(format!("streamList: {e}"))),
                                    r,
                                ));
                            }
                        },
                        // The server ended the response: the runner reopens
                        // with the last token.
                        Ok(None) => r.done = true,
                        Err(e) => {
                            r.done = true;
                            return Some((
                                Err(SourceError::transient(format!(
                                    "streamList: the connection dropped: {}",
                                    e.without_url()
                                ))),
                                r,
                            ));
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

    fn stream() -> LiveStream {
        LiveStream::new(
            "VIDEO123456",
            YouTubeSettings {
                api_key: "k".into(),
                api_base: "http://127.0.0.1:9".into(),
                daily_quota: 10_000,
                session_hours: 4.0,
            },
            Http::new(Duration::from_secs(1), 1 << 20),
        )
    }

    #[test]
    fn the_fallback_polls_as_youtube_asks_but_never_faster_than_the_quota_floor() {
        let s = stream();
        assert_eq!(s.detail(), None, "streaming: the runner's own words");
        *s.refused.lock().unwrap() = Some("YouTube answered HTTP 404".into());
        *s.interval.lock().unwrap() = Duration::from_secs(2);
        assert_eq!(s.poll_every(), Duration::from_secs(2));
        s.set_floor(Duration::from_secs(30));
        assert_eq!(s.poll_every(), Duration::from_secs(30));
        assert_eq!(
            s.detail().unwrap(),
            "live (polling every 30 s) — streaming refused: YouTube answered HTTP 404"
        );
        s.set_floor(Duration::ZERO);
        assert_eq!(s.poll_every(), Duration::from_secs(2));
    }
}
