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
    /// When the source entered `state`; absent from an instance that does
    /// not send it, and then never counted as "too long".
    #[serde(
        default,
        serialize_with = "opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<DateTime<Utc>>,
    /// The video's (or stream's) title as the platform gives it, as one
    /// plain-text line of at most [`MAX_TITLE_CHARS`]; absent until known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Streams a pushed source opened since the instance started (each one
    /// costs quota where the platform counts connections); absent for
    /// polled sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
}

/// The longest title a status carries, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// How long a source may back off, wait for its quota or for a login before
/// `/healthz` calls the instance degraded: a few failed polls are normal, a
/// source that has not recovered in three minutes needs a person.
pub const DEGRADED_AFTER: std::time::Duration = std::time::Duration::from_secs(180);

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
            since: None,
            title: None,
            connections: None,
        }
    }

    /// Why this source makes the instance degraded at `now`, if it does: it
    /// is stopped, or it has been backing off (or waiting for its quota or a
    /// login) for longer than [`DEGRADED_AFTER`] since that state began.
    pub fn trouble(&self, now: DateTime<Utc>) -> Option<String> {
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        match self.state {
            SourceState::Stopped => Some(format!("{} is stopped{detail}", self.source)),
            SourceState::Backoff | SourceState::Quota | SourceState::Login => {
                let lasted = (now - self.since?).to_std().ok()?;
                (lasted >= DEGRADED_AFTER).then(|| {
                    let state = match self.state {
                        SourceState::Backoff => "backing off",
                        SourceState::Quota => "waiting for its quota",
                        _ => "waiting for a login",
                    };
                    format!(
                        "{} has been {state} for {} min{detail}",
                        self.source,
                        lasted.as_secs() / 60
                    )
                })
            }
            SourceState::Starting | SourceState::Ok | SourceState::Standby => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: SourceState, since_secs_ago: Option<i64>) -> SourceStatus {
        SourceStatus {
            state,
            detail: Some("retrying in 5m".into()),
            since: since_secs_ago.map(|s| Utc::now() - chrono::Duration::seconds(s)),
            ..SourceStatus::starting("youtube:AAAAAAAAAAA".into())
        }
    }

    #[test]
    fn a_stopped_source_is_trouble_at_once() {
        let why = status(SourceState::Stopped, Some(0)).trouble(Utc::now());
        assert_eq!(
            why.as_deref(),
            Some("youtube:AAAAAAAAAAA is stopped: retrying in 5m")
        );
    }

    #[test]
    fn backing_off_is_trouble_only_after_three_minutes_in_that_state() {
        let now = Utc::now();
        for state in [SourceState::Backoff, SourceState::Quota, SourceState::Login] {
            assert_eq!(status(state, Some(170)).trouble(now), None, "{state:?}");
            let why = status(state, Some(200)).trouble(now).expect("degraded");
            assert!(why.starts_with("youtube:AAAAAAAAAAA has been "), "{why}");
            assert!(why.contains(" for 3 min"), "{why}");
            // Without a start time (an older instance's status) it is not.
            assert_eq!(status(state, None).trouble(now), None);
        }
        for state in [SourceState::Ok, SourceState::Starting, SourceState::Standby] {
            assert_eq!(status(state, Some(10_000)).trouble(now), None);
        }
    }

    #[test]
    fn since_is_optional_on_the_wire() {
        let old = r#"{"source":"demo","state":"ok","detail":null,"last_ok":null,
            "last_error":null,"next_poll":null,"quota_used":null}"#;
        let s: SourceStatus = serde_json::from_str(old).unwrap();
        assert_eq!(s.since, None);
        let json = serde_json::to_value(status(SourceState::Ok, Some(0))).unwrap();
        assert!(json["since"].as_str().unwrap().ends_with('Z'));
    }
}
