//! The WebSocket protocol of DESIGN.md: the frames a dashboard receives and
//! their JSON. Each frame is serialized exactly once, into a `Frame` that all
//! clients share (cloning one is a reference-count increment).

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::comment::{Comment, rfc3339};
use crate::store::{Change, ChangeKind};

/// A serialized server-to-client frame, ready for every socket.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The change-feed position, for frames that have one; clients use it to
    /// resume and to drop what they already have.
    pub seq: Option<i64>,
    pub json: Utf8Bytes,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Wire<'a> {
    Hello {
        latest_seq: i64,
        log_id: &'a str,
    },
    Comment {
        seq: i64,
        comment: &'a Comment,
    },
    Update {
        seq: i64,
        comment: &'a Comment,
    },
    Delete {
        seq: i64,
        source: &'a str,
        id: &'a str,
    },
    Status {
        sources: &'a [SourceStatus],
    },
    Featured {
        comments: &'a [Comment],
        max: usize,
    },
}

impl Frame {
    fn new(seq: Option<i64>, wire: &Wire<'_>) -> Frame {
        let json = serde_json::to_string(wire).expect("frames always serialize");
        Frame {
            seq,
            json: json.into(),
        }
    }

    /// `{"type":"hello","latest_seq":N,"log_id":"…"}`, the first frame on
    /// every socket. `log_id` (an extension of DESIGN.md's protocol) changes
    /// when the log file is replaced, so a client can tell its `seq`s are stale.
    pub fn hello(latest_seq: i64, log_id: &str) -> Frame {
        Frame::new(None, &Wire::Hello { latest_seq, log_id })
    }

    /// The frame for one change of the log.
    pub fn change(change: &Change) -> Frame {
        let seq = change.seq;
        let c = &change.comment;
        let wire = match change.kind {
            ChangeKind::New => Wire::Comment { seq, comment: c },
            ChangeKind::Update => Wire::Update { seq, comment: c },
            ChangeKind::Delete => Wire::Delete {
                seq,
                source: &c.source,
                id: &c.id,
            },
        };
        Frame::new(Some(seq), &wire)
    }

    /// `{"type":"status","sources":[…]}`.
    pub fn status(sources: &[SourceStatus]) -> Frame {
        Frame::new(None, &Wire::Status { sources })
    }

    /// `{"type":"featured","comments":[COMMENT…],"max":N}`: what the streamer
    /// put on stream, oldest first. Not a change of the log, so no `seq`.
    pub fn featured(comments: &[Comment], max: usize) -> Frame {
        Frame::new(None, &Wire::Featured { comments, max })
    }

    /// Whether this is a `featured` frame. serde writes an internally tagged
    /// enum's tag first, so the prefix decides without parsing.
    pub fn is_featured(&self) -> bool {
        self.json.as_str().starts_with(r#"{"type":"featured""#)
    }

    /// Whether this frame changes a comment already in the log (`update` or
    /// `delete`), which the featured queue must follow.
    pub fn is_edit_or_delete(&self) -> bool {
        let json = self.json.as_str();
        json.starts_with(r#"{"type":"update""#) || json.starts_with(r#"{"type":"delete""#)
    }
}

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

/// One source's state, the SOURCE_STATUS of DESIGN.md. It is read back
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

fn opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339::format(t)),
        None => s.serialize_none(),
    }
}
