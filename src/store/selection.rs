//! Which comments a reader wants, as a typed value: the [`Selection`] every
//! reader of the log (the `/log` page, `/api`, the exports, the CLI) hands
//! the store, and the [`Page`] a keyset walk gets back.
//!
//! The store never sees a query string: `crate::params` turns request and
//! command-line parameters into a `Selection`. This module holds values and
//! the few helpers both backends' SQL builders share; it does no I/O and
//! knows nothing of HTTP, the platforms or a backend.

use chrono::{DateTime, Utc};

use crate::domain::{Comment, Kind, Role};

/// A yes/no property filter: `Only` keeps only comments that have it,
/// `Without` only those that do not, `Any` keeps both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flag {
    #[default]
    Any,
    Only,
    Without,
}

/// Which sources a selection covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFilter {
    /// One configured source, e.g. `youtube:dQw4w9WgXcQ` or `demo`.
    Exact(String),
    /// Every source of a platform: `youtube`, `youtube-live`, `bilibili`,
    /// `generic` (every `platform:…` source name).
    Platform(&'static str),
}

impl SourceFilter {
    /// The source or platform name this filter keeps.
    pub fn as_str(&self) -> &str {
        match self {
            SourceFilter::Exact(s) => s,
            SourceFilter::Platform(p) => p,
        }
    }
}

/// Which comments a reader wants. The default selects the whole log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// A substring of the text or the author's name, cleaned like comment
    /// text (so invisible characters the sanitizer drops cannot spoil it).
    pub q: Option<String>,
    pub source: Option<SourceFilter>,
    /// An author's platform id, or their name (case-insensitive).
    pub author: Option<String>,
    /// Published at or after.
    pub since: Option<DateTime<Utc>>,
    /// Published before.
    pub until: Option<DateTime<Utc>>,
    pub deleted: Flag,
    pub edited: Flag,
    pub replies: Flag,
    /// Paid messages (Super Chats).
    pub paid: Flag,
    /// Comments that were put on stream.
    pub featured: Flag,
    /// Comments containing a highlight word (`CW_HIGHLIGHT`).
    pub highlighted: Flag,
    /// The highlight words (lower case), given by the caller, not the URL.
    pub highlight_words: Vec<String>,
    /// Authors with any of these roles; empty keeps every author. Sorted,
    /// each once.
    pub roles: Vec<Role>,
    /// Messages of any of these kinds (`Text` for ordinary ones); empty
    /// keeps every kind. Each once, in [`Kind::ALL`] order.
    pub kinds: Vec<Kind>,
}

impl Selection {
    /// True when nothing narrows the selection.
    pub fn is_everything(&self) -> bool {
        *self == Selection::default()
    }

    /// Whether answering needs the search indexes (text or author).
    pub fn uses_index(&self) -> bool {
        self.q.is_some() || self.author.is_some()
    }
}

/// One page of a keyset walk, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// `(seq, comment)` pairs.
    pub comments: Vec<(i64, Comment)>,
    /// Pass as `before_seq` for the next page; `None` on the last one.
    pub next_before_seq: Option<i64>,
}

impl Page {
    /// A page of `limit` from `limit + 1` rows read newest first: the one
    /// more tells whether another page follows.
    pub(super) fn from_one_more(mut comments: Vec<(i64, Comment)>, limit: u64) -> Page {
        let next_before_seq = if comments.len() as u64 > limit {
            comments.truncate(limit as usize);
            comments.last().map(|(seq, _)| *seq)
        } else {
            None
        };
        Page {
            comments,
            next_before_seq,
        }
    }
}

/// The kinds a filter keeps as their stored names: ordinary text is
/// stored as NULL, so it is said apart (`(names, with_text)`); both
/// backends' builders.
pub(super) fn stored_kinds(kinds: &[Kind]) -> (Vec<&'static str>, bool) {
    let names = kinds
        .iter()
        .filter(|k| !k.is_text())
        .map(|k| k.as_str())
        .collect();
    (names, kinds.contains(&Kind::Text))
}

/// Lowercases the way the search indexes do (and `/log` highlighting).
pub fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// ` WHERE a AND b …`, or nothing without clauses: both backends' builders.
pub(super) fn where_clause<S: AsRef<str>>(clauses: &[S]) -> String {
    if clauses.is_empty() {
        return String::new();
    }
    let joined: Vec<&str> = clauses.iter().map(AsRef::as_ref).collect();
    format!(" WHERE {}", joined.join(" AND "))
}
