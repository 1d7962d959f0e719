//! One stored comment: the columns both backends keep for it, and the one
//! mapping from such a row to a [`Comment`].
//!
//! Every read of a whole comment, on either backend, selects
//! [`COMMENT_COLUMNS`] first (anything else after them) and reads it with
//! [`read_comment`], each column by its name in [`Col`]. The stored HTML
//! and emotes are checked again on the way out. No I/O of its own, and
//! nothing of HTTP or the platforms.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Amount, Author, Comment, Event, Kind, Role};
use crate::sanitize::{self, SafeHtml};

/// A column of a stored comment. Its position in [`COMMENT_COLUMNS`] is
/// its discriminant: rows are read by name in code, by index at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Col {
    Seq,
    Source,
    Id,
    AuthorName,
    AuthorId,
    AuthorAvatar,
    Text,
    Html,
    PublishedAt,
    FetchedAt,
    Likes,
    ReplyTo,
    AmountDisplay,
    AmountMicros,
    AmountCurrency,
    Edited,
    Deleted,
    Emotes,
    Roles,
    MemberLevel,
    Kind,
    Event,
    Who,
}

impl Col {
    /// The column's index in a row that starts with [`COMMENT_COLUMNS`].
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// How many columns [`COMMENT_COLUMNS`] has: where any extra column a
/// query selects after them starts.
pub(super) const COMMENT_COLUMN_COUNT: usize = 23;

/// The columns of a stored comment, in [`Col`] order, `c` being the
/// `comments` table.
pub(super) const COMMENT_COLUMNS: &str = "c.seq, c.source, c.id, c.author_name, c.author_id, \
    c.author_avatar, c.text, c.html, c.published_at, c.fetched_at, c.likes, c.reply_to, \
    c.amount_display, c.amount_micros, c.amount_currency, c.edited, c.deleted, c.emotes, \
    c.roles, c.member_level, c.kind, c.event, c.who";

/// [`COMMENT_COLUMNS`] without the table's name, for a `RETURNING`
/// clause (SQLite refuses qualified names there).
pub(super) fn unqualified_columns() -> String {
    COMMENT_COLUMNS.replace("c.", "")
}

/// A backend's result row, read one stored column at a time.
pub(super) trait Columns {
    type Error;
    fn text(&self, col: Col) -> Result<String, Self::Error>;
    fn opt_text(&self, col: Col) -> Result<Option<String>, Self::Error>;
    fn int(&self, col: Col) -> Result<i64, Self::Error>;
    fn opt_int(&self, col: Col) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, col: Col) -> Result<bool, Self::Error>;
    /// The error for a stored value that cannot be read (a time).
    fn unreadable(col: Col, e: chrono::ParseError) -> Self::Error;
}

/// A stored comment as its columns hold it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredRow {
    pub seq: i64,
    pub source: String,
    pub id: String,
    pub author_name: String,
    pub author_id: String,
    pub author_avatar: Option<String>,
    pub text: String,
    pub html: String,
    pub published_at: String,
    pub fetched_at: String,
    pub likes: i64,
    pub reply_to: Option<String>,
    pub amount_display: Option<String>,
    pub amount_micros: Option<i64>,
    pub amount_currency: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    pub emotes: Option<String>,
    /// The author's roles, comma-separated (`owner,member`), or NULL.
    pub roles: Option<String>,
    pub member_level: Option<String>,
    /// The message's kind (`superchat`, …); NULL for an ordinary text.
    pub kind: Option<String>,
    /// The event's details as JSON, or NULL.
    pub event: Option<String>,
    /// Who wrote it beyond roles ([`StoredWho`] as JSON), or NULL.
    pub who: Option<String>,
}

impl StoredRow {
    /// Reads the [`COMMENT_COLUMNS`] at the start of `r`.
    pub(super) fn read<R: Columns>(r: &R) -> Result<StoredRow, R::Error> {
        Ok(StoredRow {
            seq: r.int(Col::Seq)?,
            source: r.text(Col::Source)?,
            id: r.text(Col::Id)?,
            author_name: r.text(Col::AuthorName)?,
            author_id: r.text(Col::AuthorId)?,
            author_avatar: r.opt_text(Col::AuthorAvatar)?,
            text: r.text(Col::Text)?,
            html: r.text(Col::Html)?,
            published_at: r.text(Col::PublishedAt)?,
            fetched_at: r.text(Col::FetchedAt)?,
            likes: r.int(Col::Likes)?,
            reply_to: r.opt_text(Col::ReplyTo)?,
            amount_display: r.opt_text(Col::AmountDisplay)?,
            amount_micros: r.opt_int(Col::AmountMicros)?,
            amount_currency: r.opt_text(Col::AmountCurrency)?,
            edited: r.flag(Col::Edited)?,
            deleted: r.flag(Col::Deleted)?,
            emotes: r.opt_text(Col::Emotes)?,
            roles: r.opt_text(Col::Roles)?,
            member_level: r.opt_text(Col::MemberLevel)?,
            kind: r.opt_text(Col::Kind)?,
            event: r.opt_text(Col::Event)?,
            who: r.opt_text(Col::Who)?,
        })
    }

    /// The row's `seq` and the comment it holds; an unreadable time names
    /// its column.
    pub(super) fn into_comment(self) -> Result<(i64, Comment), (Col, chrono::ParseError)> {
        let time = |col: Col, s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| (col, e))
        };
        let published_at = time(Col::PublishedAt, &self.published_at)?;
        let fetched_at = time(Col::FetchedAt, &self.fetched_at)?;
        let amount = self.amount_display.map(|display| Amount {
            display,
            micros: self.amount_micros.unwrap_or(0),
            currency: self.amount_currency.unwrap_or_default(),
        });
        let who = who_from_stored(self.who);
        let comment = Comment {
            source: self.source,
            id: self.id,
            author: Author {
                name: self.author_name,
                id: self.author_id,
                avatar: self.author_avatar,
                roles: roles_from_stored(self.roles.as_deref()),
                member_level: self.member_level,
                badges: who.badges,
                color: who.color,
            },
            html: html_from_stored(&self.text, &self.html),
            text: self.text,
            published_at,
            fetched_at,
            likes: self.likes,
            reply_to: self.reply_to,
            amount,
            edited: self.edited,
            deleted: self.deleted,
            emotes: emotes_from_stored(self.emotes),
            kind: self
                .kind
                .as_deref()
                .and_then(Kind::parse)
                .unwrap_or_default(),
            event: event_from_stored(self.event),
            pinned: who.pinned,
            liked_by_owner: who.liked_by_owner,
            location: who.location,
        };
        Ok((self.seq, comment))
    }
}

/// The `seq` and comment of a row that starts with [`COMMENT_COLUMNS`].
pub(super) fn read_comment<R: Columns>(r: &R) -> Result<(i64, Comment), R::Error> {
    StoredRow::read(r)?
        .into_comment()
        .map_err(|(col, e)| R::unreadable(col, e))
}

/// The HTML of a stored comment. Most comments' HTML is exactly what
/// `html_from_text` makes of their text (escaping, no links), and then that
/// is the answer, at the cost of an escape; anything else goes through the
/// full sanitizer again, as every read from the log did before. Sound
/// because `html_from_text` only ever returns safe HTML: if it equals what
/// is stored, what is stored is safe.
pub(super) fn html_from_stored(text: &str, stored: &str) -> SafeHtml {
    if !text.contains("://") {
        let derived = sanitize::html_from_text(text);
        if derived.as_str() == stored {
            return derived;
        }
    }
    sanitize::html_from_log(stored)
}

/// The emotes of a stored comment (a JSON object, or NULL). Their URLs
/// passed the sanitizer's host check on the way in and are checked again;
/// an unreadable value is dropped rather than failing the row.
pub(super) fn emotes_from_stored(json: Option<String>) -> BTreeMap<String, String> {
    json.and_then(|json| serde_json::from_str::<BTreeMap<String, String>>(&json).ok())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| Some((k, sanitize::safe_avatar_url(&v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// What a comment's roles, kind and event are stored as: the `roles`,
/// `kind` and `event` columns (NULL when empty), for both backends' writes.
pub(super) struct StoredExtras {
    pub roles: Option<String>,
    pub kind: Option<&'static str>,
    pub event: Option<String>,
    /// The `who` column.
    pub who: Option<String>,
}

impl StoredExtras {
    pub(super) fn of(c: &Comment) -> StoredExtras {
        StoredExtras {
            roles: (!c.author.roles.is_empty()).then(|| {
                c.author
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            kind: (!c.kind.is_text()).then(|| c.kind.as_str()),
            event: c
                .event
                .as_ref()
                .map(|e| serde_json::to_string(e).expect("an event always serializes")),
            who: StoredWho::of(c).to_stored(),
        }
    }
}

/// What the `who` column holds (version 8 of the SQLite file, 5 of the
/// PostgreSQL schema): the author's badges and name colour, the owner's
/// marks and the location, each left out when empty.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct StoredWho {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub badges: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub liked_by_owner: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl StoredWho {
    fn of(c: &Comment) -> StoredWho {
        StoredWho {
            badges: c.author.badges.clone(),
            color: c.author.color.clone(),
            pinned: c.pinned,
            liked_by_owner: c.liked_by_owner,
            location: c.location.clone(),
        }
    }

    /// The column's value: NULL when there is nothing.
    fn to_stored(&self) -> Option<String> {
        (*self != StoredWho::default())
            .then(|| serde_json::to_string(self).expect("strings and flags serialize"))
    }
}

/// The `who` of a stored comment, through the sanitizer's rules again (a
/// file on disk can be edited); an unreadable value is nothing rather than
/// a failed row.
pub(super) fn who_from_stored(json: Option<String>) -> StoredWho {
    let Some(who) = json.and_then(|j| serde_json::from_str::<StoredWho>(&j).ok()) else {
        return StoredWho::default();
    };
    StoredWho {
        badges: sanitize::clean_badges(who.badges),
        color: who.color.as_deref().and_then(sanitize::clean_color),
        pinned: who.pinned,
        liked_by_owner: who.liked_by_owner,
        location: sanitize::clean_location(who.location),
    }
}

/// The roles of a stored comment; names this build does not know are
/// dropped.
pub(super) fn roles_from_stored(stored: Option<&str>) -> Vec<Role> {
    let Some(stored) = stored else {
        return Vec::new();
    };
    stored.split(',').filter_map(Role::parse).collect()
}

/// The event of a stored comment. Its image passed the sanitizer's host
/// check on the way in and is checked again; an unreadable value is
/// dropped rather than failing the row.
pub(super) fn event_from_stored(json: Option<String>) -> Option<Event> {
    let mut event: Event = serde_json::from_str(&json?).ok()?;
    event.image = event.image.as_deref().and_then(sanitize::safe_avatar_url);
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_list_follows_the_names_in_order() {
        let listed: Vec<&str> = COMMENT_COLUMNS.split(", ").collect();
        assert_eq!(listed.len(), COMMENT_COLUMN_COUNT);
        let named = [
            (Col::Seq, "seq"),
            (Col::Source, "source"),
            (Col::Id, "id"),
            (Col::AuthorName, "author_name"),
            (Col::AuthorId, "author_id"),
            (Col::AuthorAvatar, "author_avatar"),
            (Col::Text, "text"),
            (Col::Html, "html"),
            (Col::PublishedAt, "published_at"),
            (Col::FetchedAt, "fetched_at"),
            (Col::Likes, "likes"),
            (Col::ReplyTo, "reply_to"),
            (Col::AmountDisplay, "amount_display"),
            (Col::AmountMicros, "amount_micros"),
            (Col::AmountCurrency, "amount_currency"),
            (Col::Edited, "edited"),
            (Col::Deleted, "deleted"),
            (Col::Emotes, "emotes"),
            (Col::Roles, "roles"),
            (Col::MemberLevel, "member_level"),
            (Col::Kind, "kind"),
            (Col::Event, "event"),
            (Col::Who, "who"),
        ];
        assert_eq!(named.len(), COMMENT_COLUMN_COUNT);
        for (col, name) in named {
            assert_eq!(listed[col.index()], format!("c.{name}"), "{col:?}");
        }
        assert_eq!(Col::Who.index() + 1, COMMENT_COLUMN_COUNT);
    }
}
