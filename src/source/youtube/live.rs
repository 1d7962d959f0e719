//! `youtube-live:VIDEO_ID`: a live stream's chat. Finds the video's
//! `activeLiveChatId`, then follows `liveChatMessages.list` page tokens
//! (a resume token the poller stores), honouring `pollingIntervalMillis`.
//! Each message is read by `messages`; bans, retractions and the chat's end
//! become the page's deletions, banned authors and the source's stop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::warn;

use super::super::http::Http;
use super::super::{
    BoxFuture, Page, Paging, PolledSource, QuotaGate, QuotaMeter, Source, SourceError, SpentUnits,
};
use super::messages::{Message, parse_message};
use super::*;
use crate::domain::SourceSpec;

impl Source for LiveChat {
    fn name(&self) -> String {
        SourceSpec::YouTubeLive(self.api.video.clone()).to_string()
    }

    fn quota(&self) -> Option<&dyn QuotaMeter> {
        Some(self)
    }

    fn title(&self) -> Option<String> {
        self.chat().title.clone()
    }
}

impl PolledSource for LiveChat {
    /// A chat continues from where the last poll stopped.
    fn paging(&self) -> Paging {
        Paging::Resume
    }

    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(LiveChat::fetch_page(self, cursor))
    }
}

impl QuotaMeter for LiveChat {
    fn cost_per_poll(&self) -> i64 {
        COST_LIVE_CHAT
    }

    fn take_spent_units(&self) -> SpentUnits {
        self.api.take_spent_units()
    }

    fn set_gate(&self, gate: Arc<dyn QuotaGate>) {
        self.api.set_quota_gate(gate);
    }
}

/// `youtube-live:VIDEO_ID`: the chat of a live stream.
pub struct LiveChat {
    api: Api,
    chat: Mutex<ChatState>,
}

#[derive(Default)]
pub(super) struct ChatState {
    live_chat_id: Option<String>,
    /// The stream said it ended (`offlineAt`, `actualEndTime`).
    ended: bool,
    /// The chat said it ended (`chatEndedEvent`).
    chat_ended: bool,
    /// The stored page token was refused; start over without it.
    ignore_cursor: bool,
    /// The stream's title, read with its chat id (same call, same cost).
    title: Option<String>,
    /// Message types this build does not know, each logged once.
    unknown_seen: HashSet<String>,
}

/// Distinct unknown message types named in logs and metrics; more are
/// counted as `other`, so a platform cannot grow the metrics without bound.
const MAX_UNKNOWN_TYPES: usize = 20;

impl LiveChat {
    pub fn new(video: &str, settings: YouTubeSettings, http: Http) -> LiveChat {
        LiveChat {
            api: Api::new(video, settings, http),
            chat: Mutex::new(ChatState::default()),
        }
    }

    pub fn video_id(&self) -> &str {
        &self.api.video
    }

    pub fn take_spent_units(&self) -> SpentUnits {
        self.api.take_spent_units()
    }

    pub fn set_quota_gate(&self, gate: Arc<dyn QuotaGate>) {
        self.api.set_quota_gate(gate);
    }

    pub(super) fn chat(&self) -> std::sync::MutexGuard<'_, ChatState> {
        self.chat.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Messages after `cursor` (the previous page's token), oldest first.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        if self.chat().chat_ended {
            return Err(SourceError::Stopped {
                reason: "the chat ended".into(),
            });
        }
        if self.chat().ended {
            return Err(ended());
        }
        let known = self.chat().live_chat_id.clone();
        let chat_id = match known {
            Some(id) => id,
            None => self.find_chat().await?,
        };
        let ignore_cursor = self.chat().ignore_cursor;
        let cursor = if ignore_cursor { None } else { cursor };
        let mut query = vec![
            ("liveChatId", chat_id.as_str()),
            ("part", "snippet,authorDetails"),
            ("maxResults", "2000"),
        ];
        if let Some(token) = cursor {
            query.push(("pageToken", token));
        }
        let answer = self
            .api
            .get("liveChat/messages", &query, COST_LIVE_CHAT, Kind::LiveChat)
            .await;
        let body = match answer {
            Err(SourceError::Transient { reason, .. }) if reason.contains("invalidPageToken") => {
                self.chat().ignore_cursor = true;
                return Err(SourceError::transient(
                    "the stored live chat page token was refused; reading from the start",
                ));
            }
            other => other?,
        };
        self.chat().ignore_cursor = false;
        Ok(self.page_of(&body))
    }

    /// One `LiveChatMessageListResponse` (a polled page or a pushed batch)
    /// as a page: comments, retractions, bans, unknown types; the chat's or
    /// the stream's end is remembered, and reported on the next request.
    pub(super) fn page_of(&self, body: &Value) -> Page {
        let mut page = Page {
            next: non_empty(body.get("nextPageToken")),
            wait_at_least: body
                .get("pollingIntervalMillis")
                .and_then(Value::as_u64)
                .map(|ms| Duration::from_millis(ms.min(600_000))),
            ..Page::default()
        };
        for item in body
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match parse_message(item) {
                Some(Message::Comment(c)) => page.comments.push(*c),
                Some(Message::Deleted(id)) => page.deleted.push(id),
                Some(Message::Banned(ban)) => {
                    page.notes.push(ban.note());
                    page.banned_authors.push(ban.channel_id);
                }
                // This page's messages are kept; the next request stops.
                Some(Message::Ended) => self.chat().chat_ended = true,
                Some(Message::Unknown(kind)) => page.unknown.push(self.unknown(kind)),
                None => page.skipped += 1,
            }
        }
        if body.get("offlineAt").is_some() {
            // Keep this page's messages; the next request reports the end.
            self.chat().ended = true;
        }
        page
    }

    /// Why the chat cannot be read any more, once it said so.
    pub(super) fn end_reason(&self) -> Option<SourceError> {
        let chat = self.chat();
        if chat.chat_ended {
            Some(SourceError::Stopped {
                reason: "the chat ended".into(),
            })
        } else if chat.ended {
            Some(ended())
        } else {
            None
        }
    }

    /// The chat's id, looked up once.
    pub(super) async fn chat_id(&self) -> Result<String, SourceError> {
        let known = self.chat().live_chat_id.clone();
        match known {
            Some(id) => Ok(id),
            None => self.find_chat().await,
        }
    }

    pub(super) fn api(&self) -> &Api {
        &self.api
    }

    /// The name an unknown message type is counted under; the first time
    /// a type is seen it is logged. Its neighbours are kept either way.
    fn unknown(&self, kind: String) -> String {
        let mut chat = self.chat();
        let kind: String = kind
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(64)
            .collect();
        if chat.unknown_seen.contains(&kind) {
            return kind;
        }
        if chat.unknown_seen.len() >= MAX_UNKNOWN_TYPES {
            return "other".into();
        }
        warn!(
            source = %SourceSpec::YouTubeLive(self.api.video.clone()),
            r#type = %kind,
            "a live chat message of a type this version does not know was skipped"
        );
        chat.unknown_seen.insert(kind.clone());
        kind
    }

    /// The video's `activeLiveChatId`, via `videos.list`.
    async fn find_chat(&self) -> Result<String, SourceError> {
        let query = [
            ("part", "snippet,liveStreamingDetails"),
            ("id", self.api.video.as_str()),
        ];
        let body = self
            .api
            .get("videos", &query, COST_VIDEOS, Kind::LiveChat)
            .await?;
        let Some(video) = body.pointer("/items/0") else {
            return Err(video_not_found());
        };
        if let Some(title) = non_empty(video.pointer("/snippet/title")) {
            self.chat().title = Some(title);
        }
        let Some(details) = video.get("liveStreamingDetails") else {
            return Err(SourceError::Stopped {
                reason: "this video is not a live stream (use youtube:VIDEO_ID for its comments)"
                    .into(),
            });
        };
        if let Some(id) = details.get("activeLiveChatId").and_then(Value::as_str) {
            self.chat().live_chat_id = Some(id.to_owned());
            return Ok(id.to_owned());
        }
        if details.get("actualEndTime").is_some() {
            self.chat().ended = true;
            return Err(ended());
        }
        Err(SourceError::Transient {
            reason: "the live stream has not started yet".into(),
            retry_after: Some(Duration::from_secs(60)),
        })
    }
}

pub(super) fn ended() -> SourceError {
    SourceError::Stopped {
        reason: "the live stream has ended".into(),
    }
}
