//! YouTube Data API v3: video comments (`youtube:VIDEO_ID`) and live chat
//! (`youtube-live:VIDEO_ID`).
//!
//! Video comments come from `commentThreads.list` (newest first, 100 per
//! page); threads whose inline replies are incomplete get the rest from
//! `comments.list?parentId=`, once per growth of their reply count. Live chat
//! finds the video's `activeLiveChatId` and then follows
//! `liveChatMessages.list` page tokens, honouring `pollingIntervalMillis`.
//!
//! Every request spends quota (failed ones too); the adapters count it and
//! the poller plans with it. The API key goes only into request URLs, which
//! never reach an error text or a log line.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::http::{Http, JsonResponse};
use super::{
    BoxFuture, Page, Paging, PolledSource, QuotaGate, QuotaMeter, Source, SourceError, SpentUnits,
};
pub use crate::domain::video::youtube::is_video_id;
use crate::domain::{RawAmount, RawComment, SourceSpec};
use crate::quota;

/// Quota units of one `commentThreads.list` or `comments.list` call.
pub const COST_COMMENT_THREADS: i64 = 1;
/// Quota units of one `liveChatMessages.list` call.
pub const COST_LIVE_CHAT: i64 = 5;
/// Quota units of one `videos.list` call.
pub const COST_VIDEOS: i64 = 1;
/// Reply pages read for one thread at most (100 replies each).
const MAX_REPLY_PAGES: usize = 5;

/// Settings shared by every YouTube source. `Debug` hides the key.
#[derive(Clone)]
pub struct YouTubeSettings {
    /// `YOUTUBE_API_KEY`; never logged.
    pub api_key: String,
    /// `YOUTUBE_API_BASE`, without a trailing slash.
    pub api_base: String,
    /// `YOUTUBE_DAILY_QUOTA`.
    pub daily_quota: i64,
    /// `CW_SESSION_HOURS`.
    pub session_hours: f64,
}

impl std::fmt::Debug for YouTubeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YouTubeSettings")
            .field("api_key", &"(hidden)")
            .field("api_base", &self.api_base)
            .field("daily_quota", &self.daily_quota)
            .field("session_hours", &self.session_hours)
            .finish()
    }
}

/// What both YouTube adapters share: the video, the key, the client, and
/// the count of quota units spent.
struct Api {
    video: String,
    settings: YouTubeSettings,
    http: Http,
    spent: AtomicI64,
    /// Units spent that no gate recorded.
    unrecorded: AtomicI64,
    gate: OnceLock<Arc<dyn QuotaGate>>,
}

impl Api {
    fn new(video: &str, settings: YouTubeSettings, http: Http) -> Api {
        Api {
            video: video.to_owned(),
            settings,
            http,
            spent: AtomicI64::new(0),
            unrecorded: AtomicI64::new(0),
            gate: OnceLock::new(),
        }
    }

    /// `GET $YOUTUBE_API_BASE/youtube/v3/{method}` with `query` and the key,
    /// counting `cost` units (spent even when the call fails), and the
    /// Data API's error envelope turned into what it means.
    async fn get(
        &self,
        method: &str,
        query: &[(&str, &str)],
        cost: i64,
        kind: Kind,
    ) -> Result<Value, SourceError> {
        match self.gate.get() {
            Some(gate) => {
                let reserved = gate.reserve(cost).await.map_err(|why| {
                    SourceError::transient(format!("{method}: cannot check the quota: {why}"))
                })?;
                if !reserved {
                    return Err(SourceError::Quota {
                        reason: format!(
                            "{method}: the day's quota (YOUTUBE_DAILY_QUOTA) is spent; paused \
                             until midnight Pacific time"
                        ),
                        until: quota::next_reset(Utc::now()),
                    });
                }
            }
            None => {
                self.unrecorded.fetch_add(cost, Ordering::Relaxed);
            }
        }
        self.spent.fetch_add(cost, Ordering::Relaxed);
        let url = format!("{}/youtube/v3/{method}", self.settings.api_base);
        let request = self
            .http
            .client
            .get(url)
            .query(query)
            .query(&[("key", self.settings.api_key.as_str())]);
        check(self.http.json(request).await?, kind)
    }

    fn take_spent_units(&self) -> SpentUnits {
        SpentUnits {
            total: self.spent.swap(0, Ordering::Relaxed),
            unrecorded: self.unrecorded.swap(0, Ordering::Relaxed),
        }
    }

    fn set_quota_gate(&self, gate: Arc<dyn QuotaGate>) {
        let _ = self.gate.set(gate);
    }
}

impl Source for VideoComments {
    fn name(&self) -> String {
        SourceSpec::YouTube(self.api.video.clone()).to_string()
    }

    fn quota(&self) -> Option<&dyn QuotaMeter> {
        Some(self)
    }
}

impl PolledSource for VideoComments {
    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(VideoComments::fetch_page(self, cursor))
    }
}

impl QuotaMeter for VideoComments {
    fn cost_per_poll(&self) -> i64 {
        COST_COMMENT_THREADS
    }

    fn take_spent_units(&self) -> SpentUnits {
        self.api.take_spent_units()
    }

    fn set_gate(&self, gate: Arc<dyn QuotaGate>) {
        self.api.set_quota_gate(gate);
    }
}

impl Source for LiveChat {
    fn name(&self) -> String {
        SourceSpec::YouTubeLive(self.api.video.clone()).to_string()
    }

    fn quota(&self) -> Option<&dyn QuotaMeter> {
        Some(self)
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

/// `youtube:VIDEO_ID`: a video's comment threads and their replies.
pub struct VideoComments {
    api: Api,
    /// `totalReplyCount` of each thread whose replies were fetched in full,
    /// so the replies are fetched again only when the count grows.
    replies_fetched: Mutex<HashMap<String, i64>>,
}

impl VideoComments {
    pub fn new(video: &str, settings: YouTubeSettings, http: Http) -> VideoComments {
        VideoComments {
            api: Api::new(video, settings, http),
            replies_fetched: Mutex::new(HashMap::new()),
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

    /// One page of comment threads, newest first; each thread's replies
    /// (newest first) come just before the thread's own comment, so that the
    /// poller, which numbers a poll's comments oldest first, numbers a parent
    /// before its replies.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        let mut query = vec![
            ("part", "snippet,replies"),
            ("videoId", self.api.video.as_str()),
            ("order", "time"),
            ("maxResults", "100"),
            ("textFormat", "html"),
        ];
        if let Some(token) = cursor {
            query.push(("pageToken", token));
        }
        let body = self
            .api
            .get(
                "commentThreads",
                &query,
                COST_COMMENT_THREADS,
                Kind::Comments,
            )
            .await?;
        let mut page = Page {
            next: non_empty(body.get("nextPageToken")),
            ..Page::default()
        };
        let Some(items) = body.get("items").and_then(Value::as_array) else {
            return Err(SourceError::transient(
                "the commentThreads response has no items array",
            ));
        };
        // Threads are in time order; replies under old threads are not, so
        // only thread ids decide whether the poll has caught up.
        let mut timeline = Vec::with_capacity(items.len());
        for item in items {
            let Some((thread_id, top, total_replies)) = parse_thread(item) else {
                page.skipped += 1;
                continue;
            };
            let inline: Vec<&Value> = item
                .pointer("/replies/comments")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let mut replies: Vec<RawComment> = Vec::new();
            let already = self
                .replies_fetched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&thread_id)
                .copied();
            if total_replies > inline.len() as i64 && already != Some(total_replies) {
                match self.fetch_replies(&thread_id).await {
                    Ok((all, skipped)) => {
                        page.skipped += skipped;
                        replies = all;
                        self.replies_fetched
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(thread_id.clone(), total_replies);
                    }
                    // Quota and stops end the page; a failed reply fetch
                    // alone keeps the inline replies and tries next time.
                    Err(e @ (SourceError::Quota { .. } | SourceError::Stopped { .. })) => {
                        return Err(e);
                    }
                    Err(_) => {}
                }
            }
            if replies.is_empty() {
                for r in inline {
                    match parse_comment(r) {
                        Some(c) => replies.push(c),
                        None => page.skipped += 1,
                    }
                }
            }
            for r in &mut replies {
                if r.reply_to.is_none() {
                    r.reply_to = Some(thread_id.clone());
                }
            }
            replies.sort_by_key(|r| std::cmp::Reverse(r.published_at));
            page.comments.extend(replies);
            page.comments.push(top);
            timeline.push(thread_id);
        }
        page.timeline = Some(timeline);
        Ok(page)
    }

    /// Every reply of a thread, via `comments.list?parentId=`.
    async fn fetch_replies(
        &self,
        thread_id: &str,
    ) -> Result<(Vec<RawComment>, usize), SourceError> {
        let mut out = Vec::new();
        let mut skipped = 0;
        let mut token: Option<String> = None;
        for _ in 0..MAX_REPLY_PAGES {
            let mut query = vec![
                ("part", "snippet"),
                ("parentId", thread_id),
                ("maxResults", "100"),
                ("textFormat", "html"),
            ];
            if let Some(t) = token.as_deref() {
                query.push(("pageToken", t));
            }
            let body = self
                .api
                .get("comments", &query, COST_COMMENT_THREADS, Kind::Comments)
                .await?;
            for item in body
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match parse_comment(item) {
                    Some(c) => out.push(c),
                    None => skipped += 1,
                }
            }
            token = non_empty(body.get("nextPageToken"));
            if token.is_none() {
                break;
            }
        }
        Ok((out, skipped))
    }
}

/// `(thread id, top-level comment, totalReplyCount)` of one thread.
fn parse_thread(item: &Value) -> Option<(String, RawComment, i64)> {
    let thread_id = item.get("id")?.as_str()?.to_owned();
    let top = parse_comment(item.pointer("/snippet/topLevelComment")?)?;
    let total = item
        .pointer("/snippet/totalReplyCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Some((thread_id, top, total))
}

/// A `youtube#comment` resource. `textDisplay` is HTML (the sanitizer cleans
/// it and derives text from it when `textOriginal` is absent).
fn parse_comment(c: &Value) -> Option<RawComment> {
    let id = c.get("id")?.as_str()?.to_owned();
    let s = c.get("snippet")?;
    let html = s.get("textDisplay").and_then(Value::as_str);
    let text = s.get("textOriginal").and_then(Value::as_str);
    if html.is_none() && text.is_none() {
        return None;
    }
    Some(RawComment {
        id,
        author_name: str_of(s.get("authorDisplayName")),
        author_id: s
            .pointer("/authorChannelId/value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        author_avatar: s
            .get("authorProfileImageUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
        text: text.unwrap_or_default().to_owned(),
        html: html.map(str::to_owned),
        published_at: time_of(s.get("publishedAt")),
        updated_at: time_of(s.get("updatedAt")),
        likes: s.get("likeCount").and_then(Value::as_i64).unwrap_or(0),
        reply_to: s.get("parentId").and_then(Value::as_str).map(str::to_owned),
        amount: None,
        emotes: Vec::new(),
    })
}

/// `youtube-live:VIDEO_ID`: the chat of a live stream.
pub struct LiveChat {
    api: Api,
    chat: Mutex<ChatState>,
}

#[derive(Default)]
struct ChatState {
    live_chat_id: Option<String>,
    /// The chat said it ended (`offlineAt`, `chatEndedEvent`).
    ended: bool,
    /// The stored page token was refused; start over without it.
    ignore_cursor: bool,
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

    fn chat(&self) -> std::sync::MutexGuard<'_, ChatState> {
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
            ("part", "liveStreamingDetails"),
            ("id", self.api.video.as_str()),
        ];
        let body = self
            .api
            .get("videos", &query, COST_VIDEOS, Kind::LiveChat)
            .await?;
        let Some(video) = body.pointer("/items/0") else {
            return Err(SourceError::Stopped {
                reason: "the video does not exist or is private".into(),
            });
        };
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

fn ended() -> SourceError {
    SourceError::Stopped {
        reason: "the live stream has ended".into(),
    }
}

enum Message {
    Comment(Box<RawComment>),
    Deleted(String),
    Ended,
    /// Membership events, polls and the like: not comments.
    Other,
}

/// One `liveChatMessage`. Live chat text is plain text, not HTML.
fn parse_message(m: &Value) -> Option<Message> {
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
    })))
}

#[derive(Clone, Copy)]
enum Kind {
    Comments,
    LiveChat,
}

/// Turns a non-200 response into the error it means, per the Data API's
/// documented `error.errors[].reason` values.
fn check(resp: JsonResponse, kind: Kind) -> Result<Value, SourceError> {
    if resp.status == StatusCode::OK {
        return Ok(resp.body);
    }
    let reason = resp
        .body
        .pointer("/error/errors/0/reason")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    // The message holds HTML (`<a href…>`); it is shown as text, tags removed.
    let message = strip_tags(
        resp.body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let status = resp.status.as_u16();
    let what = if reason.is_empty() {
        format!("YouTube answered HTTP {status}")
    } else {
        format!("YouTube answered HTTP {status} {reason}")
    };
    let with_message = if message.is_empty() {
        what.clone()
    } else {
        format!("{what}: {message}")
    };
    Err(match (reason.as_str(), kind) {
        // A short-term limit on the request rate, not the day's quota:
        // back off and try again, rather than pause until midnight.
        ("rateLimitExceeded" | "userRateLimitExceeded", _) => SourceError::Transient {
            reason: format!("{what}: requests too fast for YouTube; slowing down"),
            retry_after: Some(Duration::from_secs(60)),
        },
        ("quotaExceeded" | "dailyLimitExceeded", _) => {
            let until = quota::next_reset(Utc::now());
            SourceError::Quota {
                reason: format!(
                    "{what}: the daily quota is spent; paused until midnight Pacific time"
                ),
                until,
            }
        }
        ("commentsDisabled", _) => SourceError::Stopped {
            reason: "comments are disabled on this video".into(),
        },
        ("videoNotFound", _) => SourceError::Stopped {
            reason: "the video does not exist or is private".into(),
        },
        ("liveChatEnded" | "liveChatNotFound" | "liveChatDisabled", Kind::LiveChat) => {
            SourceError::Stopped {
                reason: format!("the live chat is not available ({reason})"),
            }
        }
        (
            "keyInvalid" | "keyExpired" | "forbidden" | "accessNotConfigured" | "ipRefererBlocked",
            _,
        ) => SourceError::Stopped {
            reason: format!("{with_message} — check YOUTUBE_API_KEY"),
        },
        _ if status == 400 && resp.body.to_string().contains("API_KEY") => SourceError::Stopped {
            reason: format!("{with_message} — check YOUTUBE_API_KEY"),
        },
        _ => SourceError::transient(with_message),
    })
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.chars().take(300).collect()
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_thread_keeps_html_for_display_and_the_original_text() {
        let page = fixture("youtube_commentThreads_page1.json");
        let (id, top, total) = parse_thread(&page["items"][0]).unwrap();
        assert_eq!(id, "UgywcU79b0AS0xX57Xd4AaABAg");
        assert_eq!(total, 0);
        assert_eq!(top.text, "<script>alert(document.cookie)</script> first!!");
        assert_eq!(
            top.html.as_deref(),
            Some("&lt;script&gt;alert(document.cookie)&lt;/script&gt; first!!")
        );
        assert_eq!(top.author_id, "UCL4LNwKh8bFC7qVIs_5_HuN");
    }

    #[test]
    fn an_author_without_a_channel_id_is_still_a_comment() {
        let page = fixture("youtube_commentThreads_page2.json");
        let parsed: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| parse_thread(i).expect("every thread parses"))
            .collect();
        assert!(parsed.iter().any(|(_, c, _)| c.author_id.is_empty()));
    }

    #[test]
    fn live_chat_messages_become_comments_super_chats_and_deletions() {
        let body = fixture("youtube_liveChatMessages.json");
        let msgs: Vec<_> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| parse_message(m).unwrap())
            .collect();
        let Message::Comment(first) = &msgs[0] else {
            panic!("a text message")
        };
        assert_eq!(first.text, "<img src=x onerror=alert(1)> hi chat");
        assert_eq!(first.html, None, "live chat text is plain text");
        let Message::Comment(paid) = &msgs[1] else {
            panic!("a super chat")
        };
        let amount = paid.amount.as_ref().unwrap();
        assert_eq!(
            (amount.micros, amount.currency.as_str()),
            (1_000_000_000, "JPY")
        );
        assert_eq!(amount.display, "¥1,000");
        assert!(
            matches!(&msgs[3], Message::Deleted(id) if id == "LCC.LWc0Ds3JdmiqQSggjSBAkjf0leDutjC8YmFtNMoN")
        );
    }

    #[test]
    fn error_envelopes_map_to_what_the_poller_should_do() {
        let resp = |status: u16, name: &str| JsonResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: fixture(name),
        };
        match check(
            resp(403, "youtube_error_quotaExceeded.json"),
            Kind::Comments,
        ) {
            Err(SourceError::Quota { until, reason }) => {
                assert!(until > Utc::now());
                assert!(
                    !reason.contains('<'),
                    "no HTML from the error message: {reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(
                resp(403, "youtube_error_commentsDisabled.json"),
                Kind::Comments
            ),
            Err(SourceError::Stopped { .. })
        ));
        // The per-minute limit is not the daily quota.
        let rate = JsonResponse {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: serde_json::from_str(
                &fixture("youtube_error_quotaExceeded.json")
                    .to_string()
                    .replace("\"quotaExceeded\"", "\"rateLimitExceeded\""),
            )
            .unwrap(),
        };
        assert!(matches!(
            check(rate, Kind::Comments),
            Err(SourceError::Transient {
                retry_after: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn tags_are_stripped_from_error_messages() {
        assert_eq!(
            strip_tags("exceeded your <a href=\"/x\">quota</a>."),
            "exceeded your quota."
        );
    }
}
