//! The SQLite search indexes' upkeep: the SQL functions the triggers and
//! filters call, the documents of the `comments_grams` index, and catching
//! the indexes up with what was stored.
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
//! index entries as it shows, however common the query is. This module
//! touches only the index tables and `meta.search_upto`.

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::LogError;
use crate::store::selection::fold;

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

pub(super) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// Registers `cw_grams(text, author)`, which the triggers in `schema.sql`
/// call. Every connection that writes comments needs it; opening the log
/// registers it before anything else runs.
pub(in crate::store) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
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
pub(super) fn index_chunk(conn: &mut Connection) -> Result<bool, LogError> {
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

/// The grams-index token of one or two characters, quoted.
pub(super) fn gram_token(s: &str) -> String {
    let mut token = String::from("\"");
    push_hex(&mut token, fold(s).as_bytes());
    token.push('"');
    token
}

/// `s` as one FTS5 phrase: whatever FTS5 syntax it holds is only text.
pub(super) fn phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
