//! A platform account the streamer connected (OAuth), as the log keeps it:
//! its refresh token, which channel it is and who connected it. The log
//! stores it and gives it back; what the token may do is `crate::oauth`'s
//! business. Nothing of HTTP or the platforms; never part of an export.

use crate::domain::Secret;

/// One connected account; at most one per platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedAccount {
    /// `youtube`.
    pub platform: String,
    /// Never in a log line (`Secret`), a frame, a URL or an export.
    pub refresh_token: Secret,
    pub channel_id: String,
    pub channel_title: String,
    /// Unix seconds.
    pub connected_at: i64,
    /// The SHA-256 of the dashboard session that connected it, if any.
    pub connected_by: Option<String>,
}

/// One action taken on a platform from the dashboard, as the log records
/// it, whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    /// Unix seconds.
    pub at: i64,
    /// The SHA-256 of the dashboard session that asked (`bearer` for a tool
    /// with the token, `open` without `CW_TOKEN`).
    pub session: String,
    /// `delete`, `timeout`, `ban`, `unban` (live chat); `hold`, `reject`, `reply` (video comments).
    pub action: String,
    pub source: String,
    pub comment_id: String,
    pub author_id: String,
    /// The timeout's seconds, when there is one.
    pub duration: Option<i64>,
    /// Whether the platform did it.
    pub ok: bool,
    /// The platform's answer in a few words (`done`, or why not).
    pub answer: String,
    /// The ban's id the platform returned (what unbanning needs).
    pub ban_id: Option<String>,
}
