//! Reading the comment log back: search, filters, keyset pages, statistics,
//! streaming export and retention.
//!
//! Every reader of the log — the `/log` page, `/api/comments`, the CSV and
//! JSONL exports, `/api/stats` and the `export`/`search`/`stats` subcommands —
//! describes what it wants as `name=value` pairs parsed by [`Params::parse`]
//! into one [`Selection`], so the page, the API and the command line can never
//! disagree about what a filter means. SQL is assembled only from constant
//! fragments in this file; every value a user typed is a bound parameter. This
//! module knows nothing of HTTP or terminals, and it never writes to the log
//! except in `prune`.
//!
//! # Search
//!
//! `q` finds a substring of a comment's text or its author's name, in any
//! script, case-insensitively. Two FTS5 indexes, kept in sync with `comments`
//! by the triggers in `schema.sql`, answer it without scanning the log:
//!
//! - `comments_fts` (trigram tokenizer) answers queries of three characters
//!   or more: the query becomes one quoted phrase, so FTS5 syntax typed by a
//!   user (`NEAR(`, `*`, `OR`, `"`) is just text to find.
//! - `comments_grams` answers one- and two-character queries, which trigrams
//!   cannot (`主播`, `草`, `👍`, `w`): it indexes each comment's distinct
//!   lowercased characters and character pairs. Its tokens are the hex of
//!   their UTF-8 so that the `ascii` tokenizer keeps punctuation and emoji
//!   whole; the table is contentless and stores no positions, so it costs
//!   little disk.
//!
//! Both hand back rowids (= `seq`) newest first, so a page reads only as many
//! index entries as it shows, however common the query is.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use serde::Serialize;

use super::LogError;
use super::postgres::PgLog;
use super::sqlite::{SqliteLog, comment_from_row};
use crate::comment::{Comment, rfc3339};
use crate::sanitize::{self, SafeHtml};
use crate::source::SourceSpec;

/// Comments on one page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// The most comments one page may hold; exports have no limit.
pub const MAX_LIMIT: u64 = 1_000;
/// Longest search query, in characters: a sentence, not a document.
pub const MAX_QUERY_CHARS: usize = 200;
/// Rows read per round trip while exporting: big enough to amortise the
/// query, small enough that memory stays flat and the writer is never held
/// up for long when the export shares its connection.
pub const EXPORT_BATCH: u64 = 2_000;
/// Rows deleted per transaction when pruning, for the same reason.
const PRUNE_BATCH: i64 = 2_000;
/// Most points in the comments-per-minute series.
const MAX_BUCKETS: i64 = 240;

/// Every parameter the readers accept, in the order error messages list them.
const KNOWN: &[&str] = &[
    "q",
    "source",
    "author",
    "since",
    "until",
    "deleted",
    "edited",
    "replies",
    "paid",
    "featured",
    "highlighted",
    "limit",
    "before_seq",
    "bom",
    "stats",
];

/// The CSV columns, in order (DESIGN.md).
pub const CSV_COLUMNS: [&str; 11] = [
    "seq",
    "source",
    "id",
    "published_at",
    "author",
    "author_id",
    "text",
    "likes",
    "reply_to",
    "edited",
    "deleted",
];

/// A parameter the reader cannot accept. Shown to the user as is: it names
/// the parameter (the CLI turns `since` into `--since`) and what would do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl ParamError {
    pub fn new(param: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

/// A yes/no property filter: `1` keeps only comments that have it, `0` only
/// those that do not, absent (or `any`) keeps both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flag {
    #[default]
    Any,
    Only,
    Without,
}

impl Flag {
    /// The parameter value that means this flag (`""` for `Any`).
    pub fn as_param(self) -> &'static str {
        match self {
            Flag::Any => "",
            Flag::Only => "1",
            Flag::Without => "0",
        }
    }
}

/// Which sources a selection covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFilter {
    /// One configured source, e.g. `youtube:dQw4w9WgXcQ` or `demo`.
    Exact(String),
    /// Every source of a platform: `youtube`, `youtube-live`, `bilibili`,
    /// `generic`.
    Platform(&'static str),
}

impl SourceFilter {
    pub fn as_param(&self) -> &str {
        match self {
            SourceFilter::Exact(s) => s,
            SourceFilter::Platform(p) => p,
        }
    }
}

const PLATFORMS: &[&str] = &["youtube", "youtube-live", "bilibili", "generic"];

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

    /// The selection as canonical parameters (empty ones left out), for
    /// links: times become absolute RFC 3339, so a bookmarked page holds
    /// still.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        if let Some(s) = &self.source {
            out.push(("source", s.as_param().to_owned()));
        }
        if let Some(a) = &self.author {
            out.push(("author", a.clone()));
        }
        if let Some(t) = &self.since {
            out.push(("since", rfc3339::format(t)));
        }
        if let Some(t) = &self.until {
            out.push(("until", rfc3339::format(t)));
        }
        for (name, flag) in [
            ("deleted", self.deleted),
            ("edited", self.edited),
            ("replies", self.replies),
            ("paid", self.paid),
            ("featured", self.featured),
            ("highlighted", self.highlighted),
        ] {
            if flag != Flag::Any {
                out.push((name, flag.as_param().to_owned()));
            }
        }
        out
    }
}

/// A request's parameters: a selection plus paging and output options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub selection: Selection,
    /// As given; [`Params::page_limit`] applies the default and the maximum.
    pub limit: Option<u64>,
    /// Only comments with a smaller `seq` (the next page of a keyset walk).
    pub before_seq: Option<i64>,
    /// CSV: start with a UTF-8 byte order mark, for spreadsheets.
    pub bom: bool,
    /// `/log`: render the statistics panel on the server (for browsers
    /// without JavaScript).
    pub stats: bool,
}

impl Params {
    /// Parses query-string pairs. Unknown or repeated parameters are refused
    /// rather than ignored: a typo (`?sorce=`) must not quietly return the
    /// whole log. `now` anchors relative times such as `since=2h`.
    pub fn parse<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
        now: DateTime<Utc>,
    ) -> Result<Params, ParamError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: HashMap<String, String> = HashMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            // The token belongs to the auth layer, which consumes it.
            if k == "token" {
                continue;
            }
            if !KNOWN.contains(&k) {
                return Err(ParamError::new(
                    &shorten(k, 40),
                    format!("unknown parameter; expected one of {}", KNOWN.join(", ")),
                ));
            }
            if seen.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(ParamError::new(k, "given more than once"));
            }
        }
        let get = |k: &str| seen.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut sel = Selection {
            q: text_param("q", seen.get("q").map(String::as_str))?,
            author: text_param("author", seen.get("author").map(String::as_str))?,
            ..Selection::default()
        };
        if let Some(v) = get("source") {
            sel.source = Some(parse_source(v)?);
        }
        sel.since = get("since")
            .map(|v| parse_time("since", v, now))
            .transpose()?;
        sel.until = get("until")
            .map(|v| parse_time("until", v, now))
            .transpose()?;
        if let (Some(since), Some(until)) = (sel.since, sel.until)
            && until < since
        {
            return Err(ParamError::new(
                "until",
                "is earlier than since; nothing could match",
            ));
        }
        sel.deleted = parse_flag("deleted", get("deleted"))?;
        sel.edited = parse_flag("edited", get("edited"))?;
        sel.replies = parse_flag("replies", get("replies"))?;
        sel.paid = parse_flag("paid", get("paid"))?;
        sel.featured = parse_flag("featured", get("featured"))?;
        sel.highlighted = parse_flag("highlighted", get("highlighted"))?;
        let limit = match get("limit") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= 1 && n <= i64::MAX as u64 => Some(n),
                _ => {
                    return Err(ParamError::new(
                        "limit",
                        format!(
                            "{:?} is not a number of comments; expected a whole number from 1 to {MAX_LIMIT}",
                            shorten(v, 40)
                        ),
                    ));
                }
            },
        };
        let before_seq = match get("before_seq") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ParamError::new(
                        "before_seq",
                        format!(
                            "{:?} is not a seq; expected the next_before_seq of a previous page",
                            shorten(v, 40)
                        ),
                    ));
                }
            },
        };
        Ok(Params {
            selection: sel,
            limit,
            before_seq,
            bom: parse_flag("bom", get("bom"))? == Flag::Only,
            stats: parse_flag("stats", get("stats"))? == Flag::Only,
        })
    }

    /// The page size: `limit`, or 100; more than 1,000 is refused so that no
    /// request can ask one response for the whole log.
    pub fn page_limit(&self) -> Result<u64, ParamError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if n <= MAX_LIMIT => Ok(n),
            Some(n) => Err(ParamError::new(
                "limit",
                format!(
                    "{n} is more than {MAX_LIMIT}, the most one page holds; follow next_before_seq \
                     for more, or export the selection as CSV or JSONL"
                ),
            )),
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max).chain(std::iter::once('…')).collect()
    }
}

/// A free-text parameter, cleaned like comment text. Given but empty after
/// cleaning (only invisible characters) is an error, not "no filter".
fn text_param(name: &str, raw: Option<&str>) -> Result<Option<String>, ParamError> {
    let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err(ParamError::new(
            name,
            format!("longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let clean = sanitize::clean_line(raw, MAX_QUERY_CHARS);
    if clean.is_empty() {
        return Err(ParamError::new(
            name,
            "has no visible characters to look for",
        ));
    }
    Ok(Some(clean))
}

fn parse_source(v: &str) -> Result<SourceFilter, ParamError> {
    if let Some(p) = PLATFORMS.iter().find(|p| **p == v) {
        return Ok(SourceFilter::Platform(p));
    }
    match SourceSpec::parse_list(v) {
        Ok(specs) if specs.len() == 1 => Ok(SourceFilter::Exact(specs[0].to_string())),
        _ => Err(ParamError::new(
            "source",
            format!(
                "{:?} is not a source; expected one such as demo, youtube:VIDEO_ID, \
                 youtube-live:VIDEO_ID, bilibili:BVID or generic:NAME, or a platform: {}",
                shorten(v, 60),
                PLATFORMS.join(", ")
            ),
        )),
    }
}

fn parse_flag(name: &str, v: Option<&str>) -> Result<Flag, ParamError> {
    match v {
        None | Some("any") => Ok(Flag::Any),
        Some("1" | "only" | "true" | "yes") => Ok(Flag::Only),
        Some("0" | "none" | "false" | "no") => Ok(Flag::Without),
        Some(other) => Err(ParamError::new(
            name,
            format!(
                "{:?} is not accepted; expected 1 (only these), 0 (none of these) or any",
                shorten(other, 40)
            ),
        )),
    }
}

/// A time: RFC 3339 (`2024-05-01T20:40:00Z`, any offset); a date and time
/// without offset, read as UTC (what an HTML `datetime-local` field sends);
/// a date (midnight UTC); or a duration meaning that long before `now`
/// (`90m`, `2h`, `7d`).
pub fn parse_time(name: &str, v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if !v.contains(' ')
        && let Ok(d) = humantime::parse_duration(v)
        && let Ok(d) = Duration::from_std(d)
        && let Some(t) = now.checked_sub_signed(d)
    {
        return Ok(t);
    }
    Err(ParamError::new(
        name,
        format!(
            "{:?} is not a time; expected RFC 3339 (2024-05-01T20:40:00Z), a UTC date and time \
             (2024-05-01T20:40), a date (2024-05-01) or a duration ago (90m, 2h, 7d)",
            shorten(v, 60)
        ),
    ))
}

/// Lowercases the way the search indexes do.
pub fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The `comments_grams` document of one comment: every distinct lowercased
/// character and pair of adjacent characters in its text and in its author's
/// name (never across the two), as hex tokens separated by spaces, then the
/// author tokens ([`author_tokens`]). Whitespace is skipped: a trimmed query
/// of one or two characters never contains any.
pub fn grams(text: &str, author: &str, author_id: &str) -> String {
    // A gram as one number: first char in the high half, the second (or a
    // value no char has) in the low half. Sorting numbers is cheaper than
    // hashing strings, and this runs on every insert.
    const NONE: u64 = 0x11_0000;
    let mut keys: Vec<u64> = Vec::with_capacity(2 * (text.len() + author.len()));
    for field in [text, author] {
        let mut prev: Option<char> = None;
        for c in field.chars().flat_map(char::to_lowercase) {
            if c.is_whitespace() {
                prev = None;
                continue;
            }
            keys.push(((c as u64) << 32) | NONE);
            if let Some(p) = prev {
                keys.push(((p as u64) << 32) | c as u64);
            }
            prev = Some(c);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let mut out = String::with_capacity(keys.len() * 10);
    let mut buf = [0u8; 8];
    for k in keys {
        if !out.is_empty() {
            out.push(' ');
        }
        let first = char::from_u32((k >> 32) as u32).expect("made from a char");
        let mut len = first.encode_utf8(&mut buf).len();
        if let Some(second) = char::from_u32((k & 0xFFFF_FFFF) as u32) {
            len += second.encode_utf8(&mut buf[len..]).len();
        }
        push_hex(&mut out, &buf[..len]);
    }
    for token in author_tokens(author, author_id) {
        out.push(' ');
        out.push_str(&token);
    }
    out
}

/// The tokens that name an author exactly: `i` and the hex of their id,
/// `n` and the hex of their lowercased name (neither letter is a hex digit,
/// so these never collide with character tokens). An author filter matches
/// either.
pub fn author_tokens(name: &str, id: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if !id.is_empty() {
        let mut t = String::from("i");
        push_hex(&mut t, id.as_bytes());
        out.push(t);
    }
    let name = fold(name);
    if !name.is_empty() {
        let mut t = String::from("n");
        push_hex(&mut t, name.as_bytes());
        out.push(t);
    }
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// Registers `cw_grams(text, author)`, which the triggers in `schema.sql`
/// call. Every connection that writes comments needs it; opening the log
/// registers it before anything else runs.
pub(super) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    // `cw_contains_any(text, '["word", …]')`: 1 when the text contains any
    // of the (lower-case) words, whatever the case; the `highlighted`
    // filter. The word list is parsed once per statement, not per row.
    conn.create_scalar_function(
        "cw_contains_any",
        2,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let words: std::sync::Arc<Vec<String>> = ctx.get_or_create_aux(
                1,
                |v| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(serde_json::from_str::<Vec<String>>(v.as_str()?)?)
                },
            )?;
            let text = ctx.get_raw(0).as_str().unwrap_or("").to_lowercase();
            Ok(words
                .iter()
                .any(|w| !w.is_empty() && text.contains(w.as_str())))
        },
    )?;
    conn.create_scalar_function(
        "cw_grams",
        3,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let text = ctx.get_raw(0).as_str().unwrap_or("");
            let author = ctx.get_raw(1).as_str().unwrap_or("");
            let author_id = ctx.get_raw(2).as_str().unwrap_or("");
            Ok(grams(text, author, author_id))
        },
    )
}

/// Adds the comments with `after < seq <= upto` to both search indexes:
/// one statement per index for the whole range.
fn index_range(conn: &Connection, after: i64, upto: i64) -> rusqlite::Result<()> {
    if upto <= after {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO comments_fts (rowid, text, author_name) \
         SELECT seq, text, author_name FROM comments WHERE seq > ?1 AND seq <= ?2",
    )?
    .execute(params![after, upto])?;
    conn.prepare_cached(
        "INSERT INTO comments_grams (rowid, grams) \
         SELECT seq, cw_grams(text, author_name, author_id) FROM comments WHERE seq > ?1 AND seq <= ?2",
    )?
    .execute(params![after, upto])?;
    Ok(())
}

/// Comments indexed per transaction while catching up: about a tenth of a
/// second of work, so a poll waiting for the lock is never held up for
/// long.
const INDEX_CHUNK: i64 = 10_000;

/// Indexes up to `INDEX_CHUNK` comments stored since the last call, in one
/// transaction with the high-water mark (`meta.search_upto`: every comment
/// with a `seq` up to it is indexed). Returns whether more are waiting.
fn index_chunk(conn: &mut Connection) -> Result<bool, LogError> {
    let tx = conn.transaction()?;
    let done: i64 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'search_upto'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let newest: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM comments", [], |r| {
        r.get(0)
    })?;
    if newest <= done {
        return Ok(false);
    }
    let upto = newest.min(done + INDEX_CHUNK);
    index_range(&tx, done, upto)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('search_upto', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [upto.to_string()],
    )?;
    tx.commit()?;
    Ok(upto < newest)
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

/// ` WHERE a AND b …`, or nothing without clauses: both backends' builders.
pub(super) fn where_clause<S: AsRef<str>>(clauses: &[S]) -> String {
    if clauses.is_empty() {
        return String::new();
    }
    let joined: Vec<&str> = clauses.iter().map(AsRef::as_ref).collect();
    format!(" WHERE {}", joined.join(" AND "))
}

/// The grams-index token of one or two characters, quoted.
fn gram_token(s: &str) -> String {
    let mut token = String::from("\"");
    push_hex(&mut token, fold(s).as_bytes());
    token.push('"');
    token
}

/// `s` as one FTS5 phrase: whatever FTS5 syntax it holds is only text.
fn phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A selection turned into SQL: constant fragments plus bound values.
struct Sql {
    /// The `FROM` clause; `c` is always the comments table.
    from: &'static str,
    /// The column that orders by `seq`: the search index's rowid when it
    /// drives the query, so FTS5 can walk it newest first.
    key: &'static str,
    clauses: Vec<&'static str>,
    values: Vec<Value>,
}

impl Sql {
    fn new(sel: &Selection, before: Option<i64>) -> Sql {
        let mut sql = Sql {
            from: "comments AS c",
            key: "c.seq",
            clauses: Vec::new(),
            values: Vec::new(),
        };
        // Which index drives the query, walking rowids newest first: the
        // search text's, else the author's; with neither, the table itself.
        // An author is one exact token in the grams index (their id, or
        // their name lowercased), so it narrows any search cheaply.
        let author = sel.author.as_deref().map(|a| {
            let id = author_tokens("", a).concat();
            let name = author_tokens(a, "").concat();
            format!("(\"{id}\" OR \"{name}\")")
        });
        match (sel.q.as_deref(), &author) {
            (Some(q), _) if fold(q).chars().count() >= 3 => {
                sql.trigram(format!("{{text author_name}} : {}", phrase(q)));
                if let Some(a) = &author {
                    sql.clauses.push(
                        "c.seq IN (SELECT rowid FROM comments_grams WHERE comments_grams MATCH ?)",
                    );
                    sql.values.push(Value::Text(a.clone()));
                }
            }
            (Some(q), _) => {
                let mut m = gram_token(q);
                if let Some(a) = &author {
                    m = format!("{m} AND {a}");
                }
                sql.grams(m);
            }
            (None, Some(a)) => sql.grams(a.clone()),
            (None, None) => {}
        }
        if let Some(before) = before {
            // On the index's rowid when it drives, so FTS5 starts there.
            sql.clauses.push(match sql.key {
                "f.rowid" => "f.rowid < ?",
                "g.rowid" => "g.rowid < ?",
                _ => "c.seq < ?",
            });
            sql.values.push(Value::Integer(before));
        }
        match &sel.source {
            Some(SourceFilter::Exact(s)) => {
                sql.clauses.push("c.source = ?");
                sql.values.push(Value::Text(s.clone()));
            }
            Some(SourceFilter::Platform(p)) => {
                // `youtube:` up to `youtube;` (';' follows ':'): every
                // `youtube:ID` and nothing else. The unary `+` keeps SQLite
                // off the source index, which would fetch and sort all of a
                // platform's rows; walking newest first stops at the page.
                sql.clauses.push("+c.source >= ? AND +c.source < ?");
                sql.values.push(Value::Text(format!("{p}:")));
                sql.values.push(Value::Text(format!("{p};")));
            }
            None => {}
        }
        if let Some(t) = &sel.since {
            sql.clauses.push("c.published_at >= ?");
            sql.values.push(Value::Text(rfc3339::format(t)));
        }
        if let Some(t) = &sel.until {
            sql.clauses.push("c.published_at < ?");
            sql.values.push(Value::Text(rfc3339::format(t)));
        }
        for (flag, only, without) in [
            (sel.deleted, "c.deleted = 1", "c.deleted = 0"),
            (sel.edited, "c.edited = 1", "c.edited = 0"),
            (sel.replies, "c.reply_to IS NOT NULL", "c.reply_to IS NULL"),
            (
                sel.paid,
                "c.amount_display IS NOT NULL",
                "c.amount_display IS NULL",
            ),
            (
                sel.featured,
                "c.featured_at IS NOT NULL",
                "c.featured_at IS NULL",
            ),
        ] {
            match flag {
                Flag::Any => {}
                Flag::Only => sql.clauses.push(only),
                Flag::Without => sql.clauses.push(without),
            }
        }
        if sel.highlighted != Flag::Any {
            sql.clauses.push(if sel.highlighted == Flag::Only {
                "cw_contains_any(c.text, ?) = 1"
            } else {
                "cw_contains_any(c.text, ?) = 0"
            });
            let words = serde_json::to_string(&sel.highlight_words).expect("strings serialize");
            sql.values.push(Value::Text(words));
        }
        sql
    }

    /// Lets the trigram index drive, with an FTS5 query built by this module.
    fn trigram(&mut self, fts_query: String) {
        self.from = "comments_fts AS f JOIN comments AS c ON c.seq = f.rowid";
        self.key = "f.rowid";
        self.clauses.push("f.comments_fts MATCH ?");
        self.values.push(Value::Text(fts_query));
    }

    /// Lets the grams index drive, with an FTS5 query of its tokens.
    fn grams(&mut self, fts_query: String) {
        self.from = "comments_grams AS g JOIN comments AS c ON c.seq = g.rowid";
        self.key = "g.rowid";
        self.clauses.push("g.comments_grams MATCH ?");
        self.values.push(Value::Text(fts_query));
    }

    fn where_clause(&self) -> String {
        where_clause(&self.clauses)
    }

    /// `SELECT columns … ORDER BY seq DESC LIMIT ?` (the limit is the last value).
    fn newest_first(mut self, columns: &str, limit: u64) -> (String, Vec<Value>) {
        let text = format!(
            "SELECT {columns} FROM {}{} ORDER BY {} DESC LIMIT ?",
            self.from,
            self.where_clause(),
            self.key
        );
        self.values
            .push(Value::Integer(limit.min(i64::MAX as u64) as i64));
        (text, self.values)
    }

    fn unordered(self, columns: &str) -> (String, Vec<Value>) {
        let text = format!("SELECT {columns} FROM {}{}", self.from, self.where_clause());
        (text, self.values)
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

/// A comment with its `seq` beside its own fields: the rows of
/// `/api/comments` and of the JSONL export.
#[derive(Serialize)]
pub struct Row<'a> {
    pub seq: i64,
    #[serde(flatten)]
    pub comment: &'a Comment,
}

fn page_blocking(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
) -> Result<Page, LogError> {
    // One row more than asked tells whether another page follows.
    let (text, values) = Sql::new(sel, before).newest_first("c.*", limit + 1);
    let mut stmt = conn.prepare_cached(&text)?;
    let rows = stmt.query_map(params_from_iter(values), |r| {
        Ok((r.get::<_, i64>(0)?, comment_from_row(r, 0)?))
    })?;
    Ok(Page::from_one_more(
        rows.collect::<Result<Vec<_>, _>>()?,
        limit,
    ))
}

/// How many comments one source holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub source: String,
    pub count: u64,
}

/// An author and how many of their comments are in the selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorCount {
    /// The name on their most recent comment in the selection.
    pub name: String,
    pub id: String,
    pub count: u64,
}

/// One point of the comments-per-minute series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket, RFC 3339.
    pub start: String,
    pub count: u64,
    /// `count` divided by the bucket's minutes.
    pub per_minute: f64,
}

/// A minute and how many comments were posted in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moment {
    /// Start of the minute, RFC 3339.
    pub minute: String,
    pub count: u64,
}

/// Statistics of a selection, for the `/log` panel, `/api/stats` and
/// `commentwatch stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub total: u64,
    /// Most comments first.
    pub sources: Vec<SourceCount>,
    /// When the first and the last comment were posted, RFC 3339.
    pub first: Option<String>,
    pub last: Option<String>,
    /// Width of each point of `per_minute`, in minutes (1 for up to four
    /// hours of comments, wider beyond so the series stays short).
    pub bucket_minutes: i64,
    /// Comments per minute over time, oldest first, empty buckets included.
    pub per_minute: Vec<Bucket>,
    /// The ten most active authors, most comments first.
    pub top_authors: Vec<AuthorCount>,
    /// The five minutes with the most comments, busiest first.
    pub busiest: Vec<Moment>,
}

fn stats_blocking(conn: &Connection, sel: &Selection) -> Result<Stats, LogError> {
    let (text, values) = Sql::new(sel, None).unordered(STATS_COLUMNS);
    let mut stmt = conn.prepare_cached(&text)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut stats = StatsBuilder::default();
    while let Some(r) = rows.next()? {
        let text_at = |i: usize| -> rusqlite::Result<&str> {
            r.get_ref(i)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        };
        stats.add(
            text_at(0)?,
            text_at(1)?,
            text_at(2)?,
            text_at(3)?,
            r.get::<_, i64>(4)?,
        );
    }
    Ok(stats.finish())
}

/// The columns [`StatsBuilder::add`] takes, in order (`seq` is read so the
/// latest name of each author wins).
pub(super) const STATS_COLUMNS: &str =
    "c.source, c.author_id, c.author_name, c.published_at, c.seq";

/// Statistics, one row at a time: what both backends feed their rows to.
#[derive(Default)]
pub(super) struct StatsBuilder {
    total: u64,
    sources: HashMap<String, u64>,
    authors: HashMap<String, (String, i64, u64)>,
    // Keyed by "YYYY-MM-DDTHH:MM", the first 16 bytes of the stored time:
    // sorting the keys sorts the minutes.
    minutes: HashMap<[u8; 16], u64>,
}

impl StatsBuilder {
    /// Counts one comment of the selection.
    pub(super) fn add(&mut self, source: &str, id: &str, name: &str, published_at: &str, seq: i64) {
        self.total += 1;
        match self.sources.get_mut(source) {
            Some(n) => *n += 1,
            None => {
                self.sources.insert(source.to_owned(), 1);
            }
        }
        // Without a platform id, the name is all there is to go by.
        let key = if id.is_empty() { name } else { id };
        match self.authors.get_mut(key) {
            Some((latest, latest_seq, n)) => {
                *n += 1;
                if seq > *latest_seq && latest != name {
                    *latest = name.to_owned();
                    *latest_seq = seq;
                }
            }
            None => {
                self.authors
                    .insert(key.to_owned(), (name.to_owned(), seq, 1));
            }
        }
        if let Some(minute) = published_at.as_bytes().get(..16) {
            *self
                .minutes
                .entry(minute.try_into().expect("16 bytes"))
                .or_default() += 1;
        }
    }

    /// The statistics of every comment added.
    pub(super) fn finish(self) -> Stats {
        let StatsBuilder {
            total,
            sources,
            authors,
            minutes,
        } = self;
        let mut sources: Vec<SourceCount> = sources
            .into_iter()
            .map(|(source, count)| SourceCount { source, count })
            .collect();
        sources.sort_by(|a, b| b.count.cmp(&a.count).then(a.source.cmp(&b.source)));
        let mut top_authors: Vec<AuthorCount> = authors
            .into_iter()
            .map(|(id, (name, _, count))| AuthorCount {
                id: if id == name { String::new() } else { id },
                name,
                count,
            })
            .collect();
        top_authors.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        top_authors.truncate(10);
        let mut minutes: Vec<(DateTime<Utc>, u64)> = minutes
            .into_iter()
            .filter_map(|(k, n)| {
                let s = std::str::from_utf8(&k).ok()?;
                let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok()?;
                Some((t.and_utc(), n))
            })
            .collect();
        minutes.sort_unstable();
        let mut busiest: Vec<&(DateTime<Utc>, u64)> = minutes.iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let busiest = busiest
            .into_iter()
            .take(5)
            .map(|(t, n)| Moment {
                minute: rfc3339::format(t),
                count: *n,
            })
            .collect();
        let (first, last) = match (minutes.first(), minutes.last()) {
            (Some(f), Some(l)) => (Some(f.0), Some(l.0)),
            _ => (None, None),
        };
        let mut bucket_minutes = 1;
        let mut per_minute = Vec::new();
        if let (Some(first), Some(last)) = (first, last) {
            let span = (last - first).num_minutes() + 1;
            bucket_minutes = bucket_width(span);
            let n = (span + bucket_minutes - 1) / bucket_minutes;
            let mut counts = vec![0u64; n as usize];
            for (t, c) in &minutes {
                counts[((*t - first).num_minutes() / bucket_minutes) as usize] += c;
            }
            per_minute = counts
                .into_iter()
                .enumerate()
                .map(|(i, count)| Bucket {
                    start: rfc3339::format(&(first + Duration::minutes(i as i64 * bucket_minutes))),
                    count,
                    per_minute: count as f64 / bucket_minutes as f64,
                })
                .collect();
        }
        Stats {
            total,
            sources,
            first: first.map(|t| rfc3339::format(&t)),
            // The end of the last minute that has a comment.
            last: minutes
                .last()
                .map(|(t, _)| rfc3339::format(&(*t + Duration::minutes(1)))),
            bucket_minutes,
            per_minute,
            top_authors,
            busiest,
        }
    }
}

/// The narrowest round bucket width, in minutes, that keeps a span of
/// `span` minutes within `MAX_BUCKETS` points.
fn bucket_width(span: i64) -> i64 {
    const ROUND: &[i64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080,
    ];
    let needed = (span + MAX_BUCKETS - 1) / MAX_BUCKETS;
    ROUND
        .iter()
        .copied()
        .find(|w| *w >= needed)
        // Beyond weeks: whole weeks.
        .unwrap_or_else(|| (needed + 10079) / 10080 * 10080)
}

impl SqliteLog {
    /// Up to `limit` comments of `sel` with `seq < before` (all when `None`),
    /// newest first, and where the next page starts.
    pub async fn page(
        &self,
        sel: Selection,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Page, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| page_blocking(conn, &sel, before, limit))
            .await
    }

    /// Brings the search indexes up to date with every comment stored so
    /// far, a chunk per transaction. Storing a comment does not index it:
    /// that would put the most expensive write on the path from the poller
    /// to the dashboards. `app` calls this every second, and every search
    /// calls it first, so results are never stale. A file from before
    /// search existed is indexed this way too.
    pub async fn index_pending(&self) -> Result<(), LogError> {
        while self.with(index_chunk).await? {}
        Ok(())
    }

    /// Totals, activity over time and the most active authors of `sel`.
    /// Reads every matching row once: a few hundred milliseconds for a
    /// million, so pages fetch it separately.
    pub async fn stats(&self, sel: Selection) -> Result<Stats, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| stats_blocking(conn, &sel)).await
    }

    /// How many comments `sel` covers.
    pub async fn count_matching(&self, sel: Selection) -> Result<u64, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| {
            let (text, values) = Sql::new(&sel, None).unordered("count(*)");
            Ok(conn.query_row(&text, params_from_iter(values), |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    /// Every source the log holds comments from, sorted. One index seek per
    /// source (a skip scan), not a pass over the log.
    pub async fn sources(&self) -> Result<Vec<String>, LogError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "WITH RECURSIVE s(name) AS ( \
                   SELECT min(source) FROM comments \
                   UNION ALL \
                   SELECT (SELECT min(source) FROM comments WHERE source > s.name) FROM s \
                   WHERE s.name IS NOT NULL) \
                 SELECT name FROM s WHERE name IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
    }

    /// Deletes every comment fetched before `older_than` (and its entries in
    /// the change feed and the search indexes) and returns how many.
    ///
    /// Retention counts from `fetched_at`, not `published_at`: backfilling a
    /// years-old video must not delete what it just fetched (which the next
    /// poll would then fetch again as new). Deletes run in batches of a few
    /// thousand, each its own transaction, so polls keep writing meanwhile.
    /// `seq` never goes back: `changes` is AUTOINCREMENT. Afterwards the
    /// search indexes merge away their deleted entries and, in files created
    /// with incremental auto-vacuum, the freed pages go back to the disk.
    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError> {
        let cutoff = rfc3339::format(&older_than);
        let mut total = 0usize;
        loop {
            let cutoff = cutoff.clone();
            let n = self
                .with(move |conn| {
                    Ok(conn.execute(
                        "DELETE FROM comments WHERE seq IN \
                         (SELECT seq FROM comments WHERE fetched_at < ?1 ORDER BY seq LIMIT ?2)",
                        params![cutoff, PRUNE_BATCH],
                    )?)
                })
                .await?;
            total += n;
            if (n as i64) < PRUNE_BATCH {
                break;
            }
        }
        if total > 0 {
            self.with(|conn| {
                conn.execute_batch(
                    "INSERT INTO comments_fts (comments_fts, rank) VALUES ('merge', 500); \
                     INSERT INTO comments_grams (comments_grams, rank) VALUES ('merge', 500); \
                     PRAGMA incremental_vacuum;",
                )?;
                // Shrinks the WAL back; busy readers just make it partial.
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(())
            })
            .await?;
        }
        Ok(total)
    }

    /// A connection for a long read (an export); call
    /// [`SqliteLog::index_pending`] first when the selection searches. For a log file it is a new
    /// read-only connection, so the export never holds the writer's lock (WAL
    /// lets readers and the writer run side by side); for an in-memory log,
    /// where a second connection would see another database, it is the
    /// shared one, locked one batch at a time.
    pub fn reader(&self) -> Result<Reader, LogError> {
        match &self.file {
            Some(path) => {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                register_functions(&conn)?;
                Ok(Reader(ReaderConn::Own(conn)))
            }
            None => Ok(Reader(ReaderConn::Shared(self.conn.clone()))),
        }
    }

    /// The file the log lives in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// A connection for reading in batches; see `CommentLog::reader`.
pub struct Reader(ReaderConn);

enum ReaderConn {
    Own(Connection),
    Shared(Arc<Mutex<Connection>>),
    /// PostgreSQL, driven from this blocking thread on the runtime that
    /// opened the log.
    Postgres(PgLog, tokio::runtime::Handle),
}

impl Reader {
    /// A reader on a PostgreSQL log. Must be made on the runtime (its
    /// calls then block the thread they are made on, which must not be one
    /// of the runtime's own).
    pub(super) fn postgres(log: PgLog) -> Reader {
        Reader(ReaderConn::Postgres(log, tokio::runtime::Handle::current()))
    }

    /// Runs `f` on this reader's connection.
    fn run<T>(&mut self, f: impl FnOnce(Conn<'_>) -> Result<T, LogError>) -> Result<T, LogError> {
        match &mut self.0 {
            ReaderConn::Own(conn) => f(Conn::Sqlite(conn)),
            ReaderConn::Shared(shared) => {
                let guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                f(Conn::Sqlite(&guard))
            }
            ReaderConn::Postgres(log, handle) => f(Conn::Postgres(log, handle)),
        }
    }

    /// A page, read on this connection (blocking).
    pub fn page(
        &mut self,
        sel: &Selection,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Page, LogError> {
        self.run(|conn| match conn {
            Conn::Sqlite(conn) => page_blocking(conn, sel, before, limit),
            Conn::Postgres(pg, rt) => rt.block_on(pg.page(sel.clone(), before, limit)),
        })
    }

    /// Statistics, read on this connection (blocking).
    pub fn stats(&mut self, sel: &Selection) -> Result<Stats, LogError> {
        self.run(|conn| match conn {
            Conn::Sqlite(conn) => stats_blocking(conn, sel),
            Conn::Postgres(pg, rt) => rt.block_on(pg.stats(sel.clone())),
        })
    }

    /// How many comments `sel` covers (blocking).
    pub fn count(&mut self, sel: &Selection) -> Result<u64, LogError> {
        self.run(|conn| match conn {
            Conn::Sqlite(conn) => {
                let (text, values) = Sql::new(sel, None).unordered("count(*)");
                Ok(conn.query_row(&text, params_from_iter(values), |r| r.get::<_, i64>(0))? as u64)
            }
            Conn::Postgres(pg, rt) => rt.block_on(pg.count_matching(sel.clone())),
        })
    }

    /// Formats up to `limit` rows of `sel` below `before` into `buf`;
    /// returns the row count and the last `seq`. SQLite formats straight
    /// from its rows; PostgreSQL reads a page and formats its comments.
    fn batch(
        &mut self,
        sel: &Selection,
        before: Option<i64>,
        limit: u64,
        format: Format,
        buf: &mut Vec<u8>,
    ) -> Result<(u64, Option<i64>), LogError> {
        self.run(|conn| match (conn, format) {
            (Conn::Sqlite(conn), Format::Csv { .. }) => csv_batch(conn, sel, before, limit, buf),
            (Conn::Sqlite(conn), Format::Jsonl) => jsonl_batch(conn, sel, before, limit, buf),
            (Conn::Postgres(pg, rt), format) => {
                let page = rt.block_on(pg.page(sel.clone(), before, limit))?;
                format_page(&page, format, buf)
            }
        })
    }
}

/// The connection a [`Reader`] reads through.
enum Conn<'a> {
    Sqlite(&'a Connection),
    Postgres(&'a PgLog, &'a tokio::runtime::Handle),
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with the [`CSV_COLUMNS`]; `bom` starts it with U+FEFF so
    /// spreadsheets read it as UTF-8.
    Csv { bom: bool },
    /// One JSON object per line, shaped like the rows of `/api/comments`.
    Jsonl,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing failed: the disk is full, or the client went away.
    #[error("writing the export failed: {0}")]
    Write(#[from] io::Error),
}

/// Writes every comment of `sel` (with `seq < before`, at most `limit`),
/// newest first, to `out`, and returns how many. Reads in keyset batches of
/// [`EXPORT_BATCH`] and formats each batch before writing it, so memory does
/// not grow with the row count and a slow `out` never holds a lock on the
/// log. `progress` hears the running total after each batch.
pub fn export(
    reader: &mut Reader,
    sel: &Selection,
    mut before: Option<i64>,
    limit: Option<u64>,
    format: Format,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    if let Format::Csv { bom } = format {
        let mut head = Vec::new();
        if bom {
            head.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut w = csv_writer(&mut head);
        w.write_record(CSV_COLUMNS).map_err(csv_io)?;
        w.flush()?;
        drop(w);
        out.write_all(&head)?;
    }
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(512 * 1024);
    loop {
        let want = match limit {
            Some(l) => (l - written).min(EXPORT_BATCH),
            None => EXPORT_BATCH,
        };
        if want == 0 {
            break;
        }
        buf.clear();
        let (rows, last) = reader.batch(sel, before, want, format, &mut buf)?;
        out.write_all(&buf)?;
        written += rows;
        progress(written);
        match last {
            Some(seq) if rows == want => before = Some(seq),
            _ => break,
        }
    }
    out.flush()?;
    Ok(written)
}

fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(w)
}

fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Formats one batch as CSV rows into `buf`; returns the row count and the
/// last `seq`.
fn csv_batch(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let (text, values) = Sql::new(sel, before).newest_first(
        "c.seq, c.source, c.id, c.published_at, c.author_name, c.author_id, c.text, c.likes, \
         c.reply_to, c.edited, c.deleted",
        limit,
    );
    let mut stmt = conn.prepare_cached(&text)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut w = csv_writer(buf);
    let mut n = 0;
    let mut last = None;
    let mut seq_buf = itoa_buf();
    let mut likes_buf = itoa_buf();
    while let Some(r) = rows.next()? {
        let text_at = |i: usize| -> rusqlite::Result<&str> {
            match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Ok(""),
                v => v.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        i,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                }),
            }
        };
        let seq: i64 = r.get(0)?;
        let likes: i64 = r.get(7)?;
        let flag = |v: bool| if v { "true" } else { "false" };
        let [source, id, author, author_id, text, reply_to] =
            [1, 2, 4, 5, 6, 8].map(|i| text_at(i).map(neutralise));
        let (source, id, author, author_id, text, reply_to) =
            (source?, id?, author?, author_id?, text?, reply_to?);
        let record: [&[u8]; 11] = [
            fmt_int(&mut seq_buf, seq),
            source.as_bytes(),
            id.as_bytes(),
            text_at(3)?.as_bytes(),
            author.as_bytes(),
            author_id.as_bytes(),
            text.as_bytes(),
            fmt_int(&mut likes_buf, likes),
            reply_to.as_bytes(),
            flag(r.get(9)?).as_bytes(),
            flag(r.get(10)?).as_bytes(),
        ];
        w.write_record(record)
            .map_err(|e| LogError::Task(e.to_string()))?;
        n += 1;
        last = Some(seq);
    }
    w.flush().map_err(|e| LogError::Task(e.to_string()))?;
    Ok((n, last))
}

fn itoa_buf() -> String {
    String::with_capacity(24)
}

fn fmt_int(buf: &mut String, n: i64) -> &[u8] {
    use std::fmt::Write as _;
    buf.clear();
    let _ = write!(buf, "{n}");
    buf.as_bytes()
}

/// A cell a spreadsheet would read as a formula gets a leading `'`, the
/// OWASP remedy. That is a cell whose first visible character is `=`, `+`,
/// `-` or `@` (or their full-width forms, which some spreadsheets fold),
/// looking past the whitespace, control and invisible characters that some
/// spreadsheets skip, and any cell that starts with a tab, CR or LF. YouTube
/// handles (`@name`) are neutralised too: `@` starts a formula in Excel.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let first = cell.chars().find(|c| {
        !(c.is_whitespace()
            || c.is_control()
            || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}'))
    });
    let risky = matches!(
        first,
        Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠')
    ) || cell.starts_with(['\t', '\r', '\n']);
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Formats a page's comments as CSV rows or JSON lines into `buf`; returns
/// the row count and the last `seq`.
fn format_page(
    page: &Page,
    format: Format,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let fail = |e: &dyn std::fmt::Display| LogError::Task(e.to_string());
    match format {
        Format::Csv { .. } => {
            let mut w = csv_writer(&mut *buf);
            for (seq, c) in &page.comments {
                let flag = |v: bool| if v { "true" } else { "false" };
                let (seq, likes) = (seq.to_string(), c.likes.to_string());
                let published = rfc3339::format(&c.published_at);
                let record: [&str; 11] = [
                    &seq,
                    &neutralise(&c.source),
                    &neutralise(&c.id),
                    &published,
                    &neutralise(&c.author.name),
                    &neutralise(&c.author.id),
                    &neutralise(&c.text),
                    &likes,
                    &neutralise(c.reply_to.as_deref().unwrap_or("")),
                    flag(c.edited),
                    flag(c.deleted),
                ];
                w.write_record(record).map_err(|e| fail(&e))?;
            }
            w.flush().map_err(|e| fail(&e))?;
        }
        Format::Jsonl => {
            for (seq, comment) in &page.comments {
                serde_json::to_writer(&mut *buf, &Row { seq: *seq, comment })
                    .map_err(|e| fail(&e))?;
                buf.push(b'\n');
            }
        }
    }
    Ok((
        page.comments.len() as u64,
        page.comments.last().map(|(s, _)| *s),
    ))
}

/// Formats one batch as JSON lines into `buf`.
fn jsonl_batch(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let (text, values) = Sql::new(sel, before).newest_first("c.*", limit);
    let mut stmt = conn.prepare_cached(&text)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut n = 0;
    let mut last = None;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let comment = comment_from_row(r, 0)?;
        serde_json::to_writer(
            &mut *buf,
            &Row {
                seq,
                comment: &comment,
            },
        )
        .map_err(|e| LogError::Task(e.to_string()))?;
        buf.push(b'\n');
        n += 1;
        last = Some(seq);
    }
    Ok((n, last))
}

/// Splits `text` into pieces around every case-insensitive occurrence of
/// `needle`, `(piece, is_match)`, for highlighting. The pieces are plain
/// text for the template to escape; joined they give back `text` exactly.
pub fn split_matches<'a>(text: &'a str, needle: &str) -> Vec<(&'a str, bool)> {
    let needle: Vec<char> = fold(needle).chars().collect();
    if needle.is_empty() {
        return vec![(text, false)];
    }
    // Each folded char with the byte span of the original char it came
    // from: lowercasing may change lengths (İ becomes two chars).
    let mut folded: Vec<(char, usize, usize)> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        for l in c.to_lowercase() {
            folded.push((l, i, end));
        }
    }
    let mut out = Vec::new();
    let mut done = 0; // bytes of `text` already emitted
    let mut k = 0;
    while k + needle.len() <= folded.len() {
        let hit = folded[k..k + needle.len()]
            .iter()
            .zip(&needle)
            .all(|((c, _, _), n)| c == n);
        if !hit {
            k += 1;
            continue;
        }
        let start = folded[k].1;
        let end = folded[k + needle.len() - 1].2;
        if start < done {
            k += 1;
            continue;
        }
        if start > done {
            out.push((&text[done..start], false));
        }
        out.push((&text[start..end], true));
        done = end;
        k += needle.len();
    }
    if done < text.len() {
        out.push((&text[done..], false));
    }
    if out.is_empty() {
        out.push((text, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Params, ParamError> {
        let pairs: Vec<(String, String)> = q
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Params::parse(pairs, Utc::now())
    }

    #[test]
    fn grams_cover_every_character_and_pair_once_without_whitespace() {
        let g = grams("Ab a", "主播", "");
        let tokens: Vec<&str> = g.split(' ').collect();
        let hex = |s: &str| {
            let mut out = String::new();
            push_hex(&mut out, s.as_bytes());
            out
        };
        for expected in ["a", "b", "ab", "主", "播", "主播"] {
            assert!(
                tokens.contains(&hex(expected).as_str()),
                "{expected} in {g}"
            );
        }
        assert!(!tokens.contains(&hex("b ").as_str()));
        assert!(
            !tokens.contains(&hex("b主").as_str()),
            "never across fields"
        );
        assert_eq!(tokens.iter().filter(|t| **t == hex("a")).count(), 1);
    }

    #[test]
    fn highlighting_splits_around_every_match_whatever_the_case() {
        assert_eq!(
            split_matches("Hello hello HELLO", "hello"),
            vec![
                ("Hello", true),
                (" ", false),
                ("hello", true),
                (" ", false),
                ("HELLO", true)
            ]
        );
        assert_eq!(
            split_matches("今天主播好帅", "主播"),
            vec![("今天", false), ("主播", true), ("好帅", false)]
        );
        assert_eq!(split_matches("nothing", "x"), vec![("nothing", false)]);
        assert_eq!(split_matches("İstanbul", "i̇s").concat_text(), "İstanbul");
    }

    trait Concat {
        fn concat_text(&self) -> String;
    }
    impl Concat for Vec<(&str, bool)> {
        fn concat_text(&self) -> String {
            self.iter().map(|(s, _)| *s).collect()
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, param) in [
            ("limit=1001", "limit"),
            ("limit=0", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("since=yesterday", "since"),
            ("until=2024-13-45", "until"),
            ("since=2024-05-02&until=2024-05-01", "until"),
            ("deleted=maybe", "deleted"),
            ("source=myspace:1", "source"),
            ("before_seq=abc", "before_seq"),
            ("featured=perhaps", "featured"),
            ("sorce=demo", "sorce"),
            ("q=a&q=b", "q"),
            ("q=%E2%80%8B", "q"),
        ] {
            let query = query.replace("%E2%80%8B", "\u{200b}");
            let err = parse(&query)
                .and_then(|p| p.page_limit().map(|_| p))
                .unwrap_err();
            assert_eq!(err.param, param, "{query}: {err}");
        }
    }

    #[test]
    fn times_are_read_in_every_documented_form() {
        let now = Utc::now();
        let t = |v: &str| parse_time("since", v, now).unwrap();
        assert_eq!(
            rfc3339::format(&t("2024-05-01T20:40:00Z")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(
            rfc3339::format(&t("2024-05-01T22:40:00+02:00")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(
            rfc3339::format(&t("2024-05-01T20:40")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(rfc3339::format(&t("2024-05-01")), "2024-05-01T00:00:00Z");
        assert_eq!(t("2h"), now - Duration::hours(2));
    }

    #[test]
    fn formula_cells_get_a_quote_and_harmless_ones_do_not() {
        for risky in [
            "=1+1",
            "+1",
            "-2+3",
            "@SUM(1)",
            "@handle",
            " =1",
            "\t=1",
            "\u{3000}=1",
            "＝1",
            "\u{feff}=1",
        ] {
            assert!(neutralise(risky).starts_with('\''), "{risky:?}");
        }
        for safe in ["hello", "'=1+1", "a=1", "1+1", ""] {
            assert_eq!(neutralise(safe), safe);
        }
    }

    #[test]
    fn bucket_widths_keep_the_series_short() {
        assert_eq!(bucket_width(1), 1);
        assert_eq!(bucket_width(240), 1);
        assert_eq!(bucket_width(241), 2);
        assert_eq!(bucket_width(4 * 60 * 24), 30);
        assert!(365 * 1440 / bucket_width(365 * 1440) <= MAX_BUCKETS);
    }
}
