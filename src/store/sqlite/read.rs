//! Reading the SQLite log: a [`Selection`] turned into SQL (constant
//! fragments plus bound values, the search indexes driving when it
//! searches), pages, statistics, counts and the export batches, all
//! blocking on a connection the caller holds. It never writes.

use std::sync::{Arc, Mutex};

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::search::{author_tokens, gram_token, phrase};
use crate::domain::Kind;
use crate::domain::rfc3339;
use crate::store::export::{
    BlockingReader, Format, Row, amount_cell, csv_writer, neutralise, who_cells,
};
use crate::store::row::{
    COMMENT_COLUMNS, Col, Columns, read_comment, roles_from_stored, who_from_stored,
};
use crate::store::selection::{fold, stored_kinds, where_clause};
use crate::store::stats::{STATS_COLUMNS, StatsBuilder};
use crate::store::{Flag, LogError, Page, Selection, SourceFilter, Stats};

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, col: Col) -> rusqlite::Result<String> {
        self.get(col.index())
    }

    fn opt_text(&self, col: Col) -> rusqlite::Result<Option<String>> {
        self.get(col.index())
    }

    fn int(&self, col: Col) -> rusqlite::Result<i64> {
        self.get(col.index())
    }

    fn opt_int(&self, col: Col) -> rusqlite::Result<Option<i64>> {
        self.get(col.index())
    }

    fn flag(&self, col: Col) -> rusqlite::Result<bool> {
        self.get(col.index())
    }

    fn unreadable(col: Col, e: chrono::ParseError) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(
            col.index(),
            rusqlite::types::Type::Text,
            Box::new(e),
        )
    }
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
        if !sel.roles.is_empty() {
            // Roles are stored comma-separated (`owner,member`); any of
            // the wanted ones, whole names only. `IS NOT NULL` lets the
            // partial index `comments_roles` skip ordinary viewers.
            sql.clauses.push(
                "c.roles IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(?) AS r \
                 WHERE instr(',' || c.roles || ',', ',' || r.value || ',') > 0)",
            );
            let names: Vec<&str> = sel.roles.iter().map(|r| r.as_str()).collect();
            sql.values.push(Value::Text(
                serde_json::to_string(&names).expect("strings serialize"),
            ));
        }
        if !sel.kinds.is_empty() {
            sql.kinds(&sel.kinds);
        }
        sql
    }

    /// Keeps the given kinds; ordinary text is stored as NULL. One kind is
    /// an equality, which `comments_kind` answers newest first.
    fn kinds(&mut self, kinds: &[crate::domain::Kind]) {
        let (names, with_text) = stored_kinds(kinds);
        let list = serde_json::to_string(&names).expect("strings serialize");
        match (names.as_slice(), with_text) {
            ([], _) => self.clauses.push("c.kind IS NULL"),
            ([one], false) => {
                self.clauses.push("c.kind = ?");
                self.values.push(Value::Text((*one).to_owned()));
            }
            (_, false) => {
                self.clauses
                    .push("c.kind IN (SELECT value FROM json_each(?))");
                self.values.push(Value::Text(list));
            }
            (_, true) => {
                self.clauses
                    .push("(c.kind IS NULL OR c.kind IN (SELECT value FROM json_each(?)))");
                self.values.push(Value::Text(list));
            }
        }
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

pub(super) fn page_blocking(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
) -> Result<Page, LogError> {
    // One row more than asked tells whether another page follows.
    let (text, values) = Sql::new(sel, before).newest_first(COMMENT_COLUMNS, limit + 1);
    let mut stmt = conn.prepare_cached(&text)?;
    let rows = stmt.query_map(params_from_iter(values), |r| read_comment(r))?;
    Ok(Page::from_one_more(
        rows.collect::<Result<Vec<_>, _>>()?,
        limit,
    ))
}

pub(super) fn stats_blocking(conn: &Connection, sel: &Selection) -> Result<Stats, LogError> {
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

/// How many comments `sel` covers.
pub(super) fn count_blocking(conn: &Connection, sel: &Selection) -> Result<u64, LogError> {
    let (text, values) = Sql::new(sel, None).unordered("count(*)");
    Ok(conn.query_row(&text, params_from_iter(values), |r| r.get::<_, i64>(0))? as u64)
}

/// Formats one batch as CSV rows into `buf`; returns the row count and the
/// last `seq`.
pub(super) fn csv_batch(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let (text, values) = Sql::new(sel, before).newest_first(
        "c.seq, c.source, c.id, c.published_at, c.author_name, c.author_id, c.text, c.likes, \
         c.reply_to, c.edited, c.deleted, c.amount_display, c.amount_micros, c.amount_currency, \
         c.roles, c.kind, c.who",
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
        // Paid is `amount_display` present, as everywhere else in the log.
        let paid = !matches!(r.get_ref(11)?, rusqlite::types::ValueRef::Null);
        let (amount, currency) = if paid {
            let micros: Option<i64> = r.get(12)?;
            (
                amount_cell(Some(micros.unwrap_or(0))),
                neutralise(text_at(13)?),
            )
        } else {
            (String::new(), "".into())
        };
        // Read back as a comment's would be (unknown names dropped, the
        // `who` cleaned again), so both backends write the same cells.
        let who = who_from_stored(r.get(16)?);
        let who = who_cells(
            &roles_from_stored(r.get::<_, Option<String>>(14)?.as_deref()),
            r.get::<_, Option<String>>(15)?
                .as_deref()
                .and_then(Kind::parse)
                .unwrap_or_default(),
            &who.badges,
            who.pinned,
            who.liked_by_owner,
            who.location.as_deref(),
        );
        let record: [&[u8]; 19] = [
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
            amount.as_bytes(),
            currency.as_bytes(),
            who[0].as_bytes(),
            who[1].as_bytes(),
            who[2].as_bytes(),
            who[3].as_bytes(),
            who[4].as_bytes(),
            who[5].as_bytes(),
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

/// Formats one batch as JSON lines into `buf`.
pub(super) fn jsonl_batch(
    conn: &Connection,
    sel: &Selection,
    before: Option<i64>,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let (text, values) = Sql::new(sel, before).newest_first(COMMENT_COLUMNS, limit);
    let mut stmt = conn.prepare_cached(&text)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut n = 0;
    let mut last = None;
    while let Some(r) = rows.next()? {
        let (seq, comment) = read_comment(r)?;
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

/// A connection an export reads through: its own read-only one on a log
/// file (WAL lets it read beside the writer), or, for a log in memory,
/// where a second connection would see another database, the shared one,
/// locked one batch at a time.
pub(super) enum SqliteReader {
    Own(Connection),
    Shared(Arc<Mutex<Connection>>),
}

impl SqliteReader {
    fn run<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        match self {
            SqliteReader::Own(conn) => f(conn),
            SqliteReader::Shared(shared) => {
                let guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                f(&guard)
            }
        }
    }
}

impl BlockingReader for SqliteReader {
    fn count(&mut self, sel: &Selection) -> Result<u64, LogError> {
        self.run(|conn| count_blocking(conn, sel))
    }

    /// Formats straight from the rows, without making comments for CSV.
    fn batch(
        &mut self,
        sel: &Selection,
        before: Option<i64>,
        limit: u64,
        format: Format,
        buf: &mut Vec<u8>,
    ) -> Result<(u64, Option<i64>), LogError> {
        self.run(|conn| match format {
            Format::Csv { .. } => csv_batch(conn, sel, before, limit, buf),
            Format::Jsonl => jsonl_batch(conn, sel, before, limit, buf),
        })
    }
}
