//! `youtube-live:VIDEO_ID`: a live stream's chat. Finds the video's
//! `activeLiveChatId`, then follows `liveChatMessages.list` page tokens
//! (a resume token the poller stores), honouring `pollingIntervalMillis`.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::super::http::Http;
use super::super::{
    BoxFuture, Page, Paging, PolledSource, QuotaGate, QuotaMeter, Source, SourceError, SpentUnits,
};
use super::*;
use crate::domain::{RawAmount, RawComment, SourceSpec};

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
    /// The chat said it ended (`offlineAt`, `chatEndedEvent`).
    ended: bool,
    /// The stored page token was refused; start over without it.
    ignore_cursor: bool,
    /// The stream's title, read with its chat id (same call, same cost).
    title: Option<String>,
}

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
                Some(Message::Ended) => self.chat().ended = true,
                Some(Message::Other) => {}
                None => page.skipped += 1,
            }
        }
        if body.get("offlineAt").is_some() {
            // Keep this page's messages; the next poll reports the end.
            self.chat().ended = true;
        }
        Ok(page)
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

pub(super) enum Message {
    Comment(Box<RawComment>),
    Deleted(String),
    Ended,
    /// Membership events, polls and the like: not comments.
    Other,
}

/// One `liveChatMessage`. Live chat text is plain text, not HTML.
pub(super) fn parse_message(m: &Value) -> Option<Message> {
    let s = m.get("snippet")?;
    let kind = s.get("type")?.as_str()?;
    let (text, amount) = match kind {
        "textMessageEvent" => (
            s.pointer("/textMessageDetails/messageText")
                .or_else(|| s.get("displayMessage"))?
                .as_str()?
                .to_owned(),
            None,
        ),
        "superChatEvent" | "superStickerEvent" => {
            let d = s
                .get("superChatDetails")
                .or_else(|| s.get("superStickerDetails"))?;
            let text = d
                .get("userComment")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let micros = match d.get("amountMicros") {
                // Documented as a string of digits; accept a number too.
                Some(Value::String(s)) => s.parse::<i64>().ok()?,
                Some(v) => v.as_i64()?,
                None => 0,
            };
            let amount = RawAmount {
                display: str_of(d.get("amountDisplayString")),
                micros,
                currency: str_of(d.get("currency")),
            };
            (text, Some(amount))
        }
        "messageDeletedEvent" => {
            let id = s
                .pointer("/messageDeletedDetails/deletedMessageId")?
                .as_str()?;
            return Some(Message::Deleted(id.to_owned()));
        }
        "chatEndedEvent" => return Some(Message::Ended),
        _ => return Some(Message::Other),
    };
    let a = m.get("authorDetails");
    Some(Message::Comment(Box::new(RawComment {
        id: m.get("id")?.as_str()?.to_owned(),
        author_name: str_of(a.and_then(|a| a.get("displayName"))),
        author_id: a
            .and_then(|a| a.get("channelId"))
            .or_else(|| s.get("authorChannelId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        author_avatar: a
            .and_then(|a| a.get("profileImageUrl"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        text,
        html: None,
        published_at: time_of(s.get("publishedAt")),
        updated_at: None,
        likes: 0,
        reply_to: None,
        amount,
        emotes: Vec::new(),
        ..RawComment::default()
    })))
}
