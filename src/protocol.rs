//! The WebSocket protocol of docs/PROTOCOL.md: the frames a dashboard receives and
//! their JSON. Each frame is serialized exactly once, into a `Frame` that all
//! clients share (cloning one is a reference-count increment).

use serde::Serialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::Comment;
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
    Hidden {
        words: &'a [String],
        authors: &'a [String],
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
    /// every socket. `log_id` (an extension; see docs/PROTOCOL.md) changes
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

    /// `{"type":"hidden","words":[…],"authors":[…]}`: the hidden words, and
    /// the hidden authors' names or ids (without `author:`), as the streamer
    /// typed them. The whole list each time; not a change of the log, so no
    /// `seq`.
    pub fn hidden(words: &[String], authors: &[String]) -> Frame {
        Frame::new(None, &Wire::Hidden { words, authors })
    }

    /// Whether this is a `hidden` frame (see `is_featured`).
    pub fn is_hidden(&self) -> bool {
        self.json.as_str().starts_with(r#"{"type":"hidden""#)
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

pub use crate::status::{SourceState, SourceStatus};
