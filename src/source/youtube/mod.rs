//! YouTube Data API v3: video comments (`youtube:VIDEO_ID`) and live chat
//! (`youtube-live:VIDEO_ID`).
//!
//! Video comments come from `commentThreads.list` (newest first, 100 per
//! page); threads whose inline replies are incomplete get the rest from
//! `comments.list?parentId=`, once per growth of their reply count. Live chat
//! finds the video's `activeLiveChatId` and then follows
//! `liveChatMessages.list` page tokens, honouring `pollingIntervalMillis`.
//!
//! `video` and `live` hold the two sources; here are the settings, the
//! request every call goes through, and the Data API's error envelope.
//!
//! Every request spends quota (failed ones too); the adapters count it and
//! the poller plans with it. The API key goes only into request URLs, which
//! never reach an error text or a log line.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::http::{Http, JsonResponse};
use super::{QuotaGate, SourceError, SpentUnits};
pub use crate::domain::video::youtube::is_video_id;
use crate::quota;

pub mod framing;
mod live;
mod messages;
mod stream;
mod video;

pub use live::LiveChat;
pub use stream::{COST_STREAM, LiveMode, LiveStream};
pub use video::VideoComments;

/// Quota units of one `commentThreads.list` or `comments.list` call.
pub const COST_COMMENT_THREADS: i64 = 1;

/// Quota units of one `liveChatMessages.list` call.
pub const COST_LIVE_CHAT: i64 = 5;

/// Quota units of one `videos.list` call.
pub const COST_VIDEOS: i64 = 1;

/// Reply pages read for one thread at most (100 replies each).
pub(super) const MAX_REPLY_PAGES: usize = 5;

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
pub(super) struct Api {
    pub(super) video: String,
    pub(super) settings: YouTubeSettings,
    pub(super) http: Http,
    pub(super) spent: AtomicI64,
    /// Units spent that no gate recorded.
    pub(super) unrecorded: AtomicI64,
    pub(super) gate: OnceLock<Arc<dyn QuotaGate>>,
}

impl Api {
    pub(super) fn new(video: &str, settings: YouTubeSettings, http: Http) -> Api {
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
    pub(super) async fn get(
        &self,
        method: &str,
        query: &[(&str, &str)],
        cost: i64,
        kind: Kind,
    ) -> Result<Value, SourceError> {
        self.reserve(method, cost).await?;
        let url = format!("{}/youtube/v3/{method}", self.settings.api_base);
        let request = self
            .http
            .client
            .get(url)
            .query(query)
            .query(&[("key", self.settings.api_key.as_str())]);
        check(self.http.json(request).await?, kind)
    }

    /// Asks the quota gate for `cost` units before a call to `method`, and
    /// counts them as spent.
    pub(super) async fn reserve(&self, method: &str, cost: i64) -> Result<(), SourceError> {
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
        Ok(())
    }

    /// The video's title and its channel's id via `videos.list?part=snippet`
    /// (1 unit, counted like every call, so the quota planner sees it). No
    /// item means YouTube does not show the video: [`video_not_found`].
    pub(super) async fn video_title(
        &self,
        kind: Kind,
    ) -> Result<(String, Option<String>), SourceError> {
        let query = [("part", "snippet"), ("id", self.video.as_str())];
        let body = self.get("videos", &query, COST_VIDEOS, kind).await?;
        let video = body.pointer("/items/0").ok_or_else(video_not_found)?;
        Ok((
            str_of(video.pointer("/snippet/title")),
            non_empty(video.pointer("/snippet/channelId")),
        ))
    }

    pub(super) fn take_spent_units(&self) -> SpentUnits {
        SpentUnits {
            total: self.spent.swap(0, Ordering::Relaxed),
            unrecorded: self.unrecorded.swap(0, Ordering::Relaxed),
        }
    }

    pub(super) fn set_quota_gate(&self, gate: Arc<dyn QuotaGate>) {
        let _ = self.gate.set(gate);
    }
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Comments,
    LiveChat,
}

/// Turns a non-200 response into the error it means, per the Data API's
/// documented `error.errors[].reason` values.
pub(super) fn check(resp: JsonResponse, kind: Kind) -> Result<Value, SourceError> {
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
        ("videoNotFound", _) => video_not_found(),
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

/// How often a video that is not found is looked for again.
pub const NOT_FOUND_RETRY: Duration = Duration::from_secs(300);

/// A video YouTube does not show: it may be private, unlisted (and not yet
/// shared), or a premiere not yet public, all of which turn public later.
pub(super) fn video_not_found() -> SourceError {
    SourceError::NotYet {
        reason: format!(
            "video not found (private, unlisted or a premiere?) — checking again every {} min",
            NOT_FOUND_RETRY.as_secs() / 60
        ),
        retry_every: NOT_FOUND_RETRY,
    }
}

pub(super) fn strip_tags(s: &str) -> String {
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

pub(super) fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub(super) fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(super) fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::messages::{Message, parse_message};
    use super::video::parse_thread;
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
    fn a_line_break_in_text_display_without_text_original_stays_one_break() {
        // `textDisplay` as captured, with `textOriginal` absent.
        for display in [
            "first line\r<br>second line\r<br>\r<br>after a blank line",
            "first line<br>second line<br><br>after a blank line",
            "first line\r\n<br>second line\n<br>\r\n<br />after a blank line",
        ] {
            let item = serde_json::json!({
                "id": "c1",
                "snippet": {"textDisplay": display, "authorDisplayName": "a"}
            });
            let raw = super::video::parse_comment(&item).unwrap();
            assert_eq!(
                raw.text, "",
                "no textOriginal: the text comes from the HTML"
            );
            let c = crate::sanitize::sanitize("youtube:v", raw, Utc::now()).unwrap();
            assert_eq!(
                c.text, "first line\nsecond line\n\nafter a blank line",
                "{display:?}"
            );
        }
    }

    #[test]
    fn a_comment_by_the_videos_own_channel_is_the_owners() {
        let page = fixture("youtube_commentThreads_page1.json");
        let mut owners = Vec::new();
        let mut others = 0;
        for item in page["items"].as_array().unwrap() {
            let (_, top, _) = parse_thread(item).unwrap();
            let replies = item
                .pointer("/replies/comments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| super::video::parse_comment(r).unwrap());
            for c in std::iter::once(top).chain(replies) {
                if c.roles.is_empty() {
                    others += 1;
                } else {
                    assert_eq!(c.roles, [crate::domain::Role::Owner]);
                    owners.push(c.author_id);
                }
            }
        }
        assert_eq!(owners, ["UCq7N2mZpL4xT8vB1kR9sYwA"]);
        assert!(others > 5);
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
