//! A source's state as dashboards show it (the SOURCE_STATUS of the
//! WebSocket protocol), and as instances sharing a log hand it to each
//! other: a plain value with its serde shape. No I/O; it imports nothing
//! else of the crate.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// What a source is doing, as dashboards show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Not polled yet.
    Starting,
    Ok,
    /// Retrying after errors.
    Backoff,
    /// Paused until the platform's quota resets.
    Quota,
    /// The platform needs a login cookie.
    Login,
    /// Will not poll again (comments closed, video gone, stream ended).
    Stopped,
    /// Another instance sharing the log polls this source (PostgreSQL).
    Standby,
}

/// One source's state, the SOURCE_STATUS of docs/PROTOCOL.md. It is read back
/// from JSON only when another instance sharing the log sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub state: SourceState,
    pub detail: Option<String>,
    #[serde(serialize_with = "opt_time")]
    pub last_ok: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "opt_time")]
    pub next_poll: Option<DateTime<Utc>>,
    pub quota_used: Option<i64>,
}

impl SourceStatus {
    pub fn starting(source: String) -> SourceStatus {
        SourceStatus {
            source,
            state: SourceState::Starting,
            detail: None,
            last_ok: None,
            last_error: None,
            next_poll: None,
            quota_used: None,
        }
    }
}

/// RFC 3339 in UTC to the second, as every time on the wire.
fn opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}
