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
