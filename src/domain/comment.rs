//! The comment values that travel through the pipeline: what a source
//! produces (`RawComment`, untrusted) and what everything after the sanitizer
//! works with (`Comment`, safe to show).
//!
//! This module only defines shapes. It performs no I/O, holds no policy and
//! imports nothing else of the crate: the rules that turn one into the other
//! live in `crate::sanitize`, the only caller of [`SafeHtml::from_sanitizer`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::event::{Event, Kind, Role};

/// HTML that went through the sanitizer's policy.
///
/// Only `crate::sanitize` makes one (a test there checks that no other file
/// calls [`SafeHtml::from_sanitizer`]), which is what lets templates and the
/// dashboard trust `Comment::html` and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    /// For `crate::sanitize` only: wraps HTML its policy produced.
    pub(crate) fn from_sanitizer(html: String) -> SafeHtml {
        SafeHtml(html)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for SafeHtml {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// One comment exactly as a platform described it. Every field is hostile:
/// text may carry markup or control characters, URLs may use any scheme, ids
/// may be absurdly long.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawComment {
    /// The platform's id for the comment, unique within its source.
    pub id: String,
    pub author_name: String,
    pub author_id: String,
    pub author_avatar: Option<String>,
    /// The comment as plain text (what the user typed).
    pub text: String,
    /// The comment as the platform's own HTML, when it offers one (YouTube's
    /// `textDisplay`). Plain-text platforms leave it `None` and the sanitizer
    /// derives the HTML from `text`.
    pub html: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// When the author last edited it, if the platform says.
    pub updated_at: Option<DateTime<Utc>>,
    pub likes: i64,
    /// The id of the comment this one answers.
    pub reply_to: Option<String>,
    pub amount: Option<RawAmount>,
    /// Emote tokens in `text` (e.g. `[doge]`) and the image each stands for.
    pub emotes: Vec<(String, String)>,
    /// What the author is (owner, moderator, member, verified); empty for
    /// an ordinary viewer.
    pub roles: Vec<Role>,
    /// The author's membership level name, when the platform gives it.
    pub member_level: Option<String>,
    /// What the message is; `Text` for an ordinary one.
    pub kind: Kind,
    /// The details of a non-text message.
    pub event: Option<Event>,
    /// The platform's own markers for the author, as short texts: a level
    /// (`LV6`), a fan medal (`name 12`), `大会员`, a verification.
    pub badges: Vec<String>,
    /// The colour the platform shows the author's name in (`#rrggbb`).
    pub author_color: Option<String>,
    /// Pinned by the channel's owner.
    pub pinned: bool,
    /// Liked by the channel's owner (Bilibili's "UP主觉得很赞").
    pub liked_by_owner: bool,
    /// Where the author posted from, as the platform words it
    /// (`IP属地：上海`).
    pub location: Option<String>,
}

/// A paid message's amount (YouTube Super Chat) as the platform sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawAmount {
    pub display: String,
    pub micros: i64,
    pub currency: String,
}

/// A comment that is safe to store, send and show. Serializes to the COMMENT
/// shape of the WebSocket protocol in docs/PROTOCOL.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub id: String,
    /// The configured source it came from, e.g. `youtube:VIDEO_ID` or `demo`.
    pub source: String,
    pub author: Author,
    pub text: String,
    pub html: SafeHtml,
    #[serde(with = "rfc3339")]
    pub published_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub fetched_at: DateTime<Utc>,
    pub likes: i64,
    pub reply_to: Option<String>,
    pub amount: Option<Amount>,
    pub edited: bool,
    pub deleted: bool,
    /// Emote tokens in `text` and their image URLs (`https`, on the
    /// platform's image host). An optional COMMENT field (docs/PROTOCOL.md), present
    /// only when there are emotes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub emotes: BTreeMap<String, String>,
    /// What the message is (optional COMMENT field `kind`); absent for an
    /// ordinary text message.
    #[serde(skip_serializing_if = "Kind::is_text")]
    pub kind: Kind,
    /// The details of a non-text message (optional COMMENT field `event`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// Optional COMMENT field `pinned`: the channel's owner pinned it.
    #[serde(skip_serializing_if = "is_false")]
    pub pinned: bool,
    /// Optional COMMENT field `liked_by_owner`: the channel's owner liked it.
    #[serde(skip_serializing_if = "is_false")]
    pub liked_by_owner: bool,
    /// Optional COMMENT field `location`: where the author posted from, as
    /// the platform words it; one line of plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Author {
    pub name: String,
    pub id: String,
    /// An `https` URL on the platform's image host, or `None`.
    pub avatar: Option<String>,
    /// Optional COMMENT field `author.roles`: absent for an ordinary viewer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Optional COMMENT field `author.member_level`: the membership level's
    /// name, when the platform gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_level: Option<String>,
    /// Optional COMMENT field `author.badges`: the platform's own markers
    /// (a level, a fan medal, a paid tier, a verification), each one line
    /// of plain text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub badges: Vec<String>,
    /// Optional COMMENT field `author.color`: the name's colour on the
    /// platform, exactly `#rrggbb` (lower case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Amount {
    pub display: String,
    pub micros: i64,
    pub currency: String,
}

/// RFC 3339 with second precision and a `Z`, the one time format on the wire.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }
}
