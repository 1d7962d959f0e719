//! `youtube:VIDEO_ID`: a video's comment threads (`commentThreads.list`,
//! newest first, 100 per page), with the rest of a thread's replies from
//! `comments.list?parentId=` once per growth of its reply count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::super::http::Http;
use super::super::{
    BoxFuture, Page, PolledSource, QuotaGate, QuotaMeter, Source, SourceError, SpentUnits,
};
use super::*;
use crate::domain::{RawComment, Role, SourceSpec};

impl Source for VideoComments {
    fn name(&self) -> String {
        SourceSpec::YouTube(self.api.video.clone()).to_string()
    }

    fn quota(&self) -> Option<&dyn QuotaMeter> {
        Some(self)
    }

    fn title(&self) -> Option<String> {
        self.title.get().cloned()
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

/// `youtube:VIDEO_ID`: a video's comment threads and their replies.
pub struct VideoComments {
    api: Api,
    /// `totalReplyCount` of each thread whose replies were fetched in full,
    /// so the replies are fetched again only when the count grows.
    replies_fetched: Mutex<HashMap<String, i64>>,
    /// The video's title, from one `videos.list` call (1 unit) before the
    /// first poll; asked again on later polls after a transient failure, at
    /// most [`MAX_TITLE_ATTEMPTS`] times in all.
    title: OnceLock<String>,
    title_attempts: AtomicU32,
    /// The video's channel (`snippet.channelId`, read with the title): its
    /// comments are the owner's.
    channel: OnceLock<String>,
}

/// How many transient failures of the title's `videos.list` call are tried
/// again before the source does without a title.
const MAX_TITLE_ATTEMPTS: u32 = 3;

impl VideoComments {
    pub fn new(video: &str, settings: YouTubeSettings, http: Http) -> VideoComments {
        VideoComments {
            api: Api::new(video, settings, http),
            replies_fetched: Mutex::new(HashMap::new()),
            title: OnceLock::new(),
            title_attempts: AtomicU32::new(0),
            channel: OnceLock::new(),
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
        if cursor.is_none()
            && self.title.get().is_none()
            && self.title_attempts.load(Ordering::Relaxed) < MAX_TITLE_ATTEMPTS
        {
            match self.api.video_title(Kind::Comments).await {
                Ok((title, channel)) => {
                    let _ = self.title.set(title);
                    if let Some(channel) = channel {
                        let _ = self.channel.set(channel);
                    }
                }
                // A title is worth a few tries, not a failed poll: the
                // comments are what matters.
                Err(SourceError::Transient { .. }) => {
                    self.title_attempts.fetch_add(1, Ordering::Relaxed);
                }
                // Not found, the key refused, the quota spent: the comments
                // would fail the same way.
                Err(e) => return Err(e),
            }
        }
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
                    Err(
                        e @ (SourceError::Quota { .. }
                        | SourceError::Stopped { .. }
                        | SourceError::NotYet { .. }),
                    ) => {
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
        if let Some(channel) = self.channel.get() {
            for c in page.comments.iter_mut().filter(|c| &c.author_id == channel) {
                c.roles.push(Role::Owner);
            }
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
pub(super) fn parse_thread(item: &Value) -> Option<(String, RawComment, i64)> {
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
pub(super) fn parse_comment(c: &Value) -> Option<RawComment> {
    let id = c.get("id")?.as_str()?.to_owned();
    let s = c.get("snippet")?;
    let html = s.get("textDisplay").and_then(Value::as_str);
    let text = s.get("textOriginal").and_then(Value::as_str);
    if html.is_none() && text.is_none() {
        return None;
    }
    let author_id = s
        .pointer("/authorChannelId/value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A comment's `channelId` is its video's channel: the owner wrote it
    // when it is also the author's (the source checks the video's too).
    let by_owner =
        !author_id.is_empty() && s.get("channelId").and_then(Value::as_str) == Some(author_id);
    Some(RawComment {
        id,
        author_name: str_of(s.get("authorDisplayName")),
        author_id: author_id.to_owned(),
        roles: if by_owner {
            vec![Role::Owner]
        } else {
            Vec::new()
        },
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
        ..RawComment::default()
    })
}
