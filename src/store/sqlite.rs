//! The comment log in one SQLite file (WAL): the embedded default.
//!
//! `rusqlite::Connection` is `Send` but not `Sync`, so one connection sits
//! behind a `std::sync::Mutex` and every call runs in `spawn_blocking`,
//! locking there and never across an `.await`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Batch, Change, ChangeKind, LogError, query};
use crate::comment::{Amount, Author, Comment, rfc3339};

const SCHEMA: &str = include_str!("schema.sql");
/// Bumped whenever `schema.sql` changes in a way old files need migrating for.
pub const SCHEMA_VERSION: i64 = 5;

/// A cheap, cloneable handle on the log.
#[derive(Clone)]
pub struct SqliteLog {
    pub(super) conn: Arc<Mutex<Connection>>,
    log_id: Arc<str>,
    /// The file, for its size and for read-only connections (`None` in memory).
    pub(super) file: Option<Arc<Path>>,
}

impl SqliteLog {
    /// Opens (creating if needed) the log at `path` and migrates its schema.
    pub fn open(path: &Path) -> Result<SqliteLog, LogError> {
        let open_err = |source| LogError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        let mut log = Self::init(conn, path).map_err(|e| match e {
            LogError::Sql(source) => open_err(source),
            other => other,
        })?;
        log.file = Some(path.into());
        Ok(log)
    }

    /// Bytes on disk: the file and its write-ahead log (0 in memory).
    pub fn file_bytes(&self) -> u64 {
        let Some(path) = &self.file else { return 0 };
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        size(path) + size(Path::new(&wal))
    }

    /// Moves everything in the write-ahead log into the file and truncates
    /// it: the file alone is then complete, as at a clean shutdown.
    pub async fn checkpoint(&self) -> Result<(), LogError> {
        self.with(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    /// A private log in memory, for tests.
    pub fn open_in_memory() -> Result<SqliteLog, LogError> {
        Self::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(conn: Connection, path: &Path) -> Result<SqliteLog, LogError> {
        // The search triggers call it, so it must exist before any write.
        query::register_functions(&conn)?;
        // Lets retention hand freed pages back to the disk (`PRAGMA
        // incremental_vacuum`). It takes only in a new, empty file, before
        // anything (even the switch to WAL) writes to it; in an older file
        // it changes nothing.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        // WAL lets readers (the dashboard, exports) run while the poller
        // writes; NORMAL sync is durable across process crashes in WAL mode.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(LogError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version >= 1 {
            // Version 2 added emote images, version 4 what was put on
            // stream. Adding only what is missing makes this safe to rerun.
            add_column(&conn, "emotes")?;
            add_column(&conn, "featured_at")?;
        }
        // Version 3 added search; its indexes fill in the background
        // (`query`), for old files as for new comments.
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let fresh_id = format!("{:016x}", rand::random::<u64>());
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('log_id', ?1) ON CONFLICT (key) DO NOTHING",
            [fresh_id],
        )?;
        let log_id: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'log_id'", [], |r| {
                r.get(0)
            })?;
        Ok(SqliteLog {
            conn: Arc::new(Mutex::new(conn)),
            log_id: log_id.into(),
            file: None,
        })
    }

    /// A random id made when the log file was created: seqs from one log
    /// mean nothing in another.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(super) async fn with<T, F>(&self, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LogError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction half
            // applied (SQLite rolls it back), so a poisoned lock is usable.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| LogError::Task(e.to_string()))?
    }

    /// Records a batch in one transaction and returns the changes it made, in
    /// `seq` order: a `New` change for each comment not seen before, an
    /// `Update` for each one whose content was edited since it was stored, a
    /// `Delete` for each stored comment the platform retracted. Anything else
    /// (already known, unchanged; a deletion of something never stored) is
    /// skipped.
    pub async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        self.with(move |conn| record(conn, batch)).await
    }

    /// The resume cursor stored for `source`.
    pub async fn cursor(&self, source: String) -> Result<Option<String>, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM cursors WHERE source = ?1",
                    [source],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// Quota units recorded for `day`.
    pub async fn quota_used(&self, day: String) -> Result<i64, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row("SELECT units FROM quota WHERE day = ?1", [day], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0))
        })
        .await
    }

    /// Adds `units` to `day`'s spending if that keeps it within `budget`;
    /// the new total, or `None` when it would not fit.
    pub async fn reserve_quota(
        &self,
        day: String,
        units: i64,
        budget: i64,
    ) -> Result<Option<i64>, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "INSERT INTO quota (day, units) SELECT ?1, ?2 WHERE ?2 <= ?3 \
                     ON CONFLICT (day) DO UPDATE SET units = units + excluded.units \
                     WHERE units + excluded.units <= ?3 RETURNING units",
                    params![day, units, budget],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// The highest `seq` handed out so far (0 for an empty log).
    pub async fn latest_seq(&self) -> Result<i64, LogError> {
        self.with(|conn| latest_seq(conn)).await
    }

    /// Up to `limit` changes with `seq > after`, oldest first.
    pub async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT ch.seq, ch.kind, c.* FROM changes ch JOIN comments c ON c.seq = ch.comment \
                 WHERE ch.seq > ?1 ORDER BY ch.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as i64], |r| {
                Ok(Change {
                    seq: r.get(0)?,
                    kind: ChangeKind::parse(&r.get::<_, String>(1)?),
                    comment: comment_from_row(r, 2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The `seq` to replay from so that the newest `n` comments (and every
    /// change after the oldest of them) are sent: a new dashboard's backlog.
    pub async fn recent_start(&self, n: usize) -> Result<i64, LogError> {
        self.with(move |conn| {
            let oldest: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM comments ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                    [n.saturating_sub(1) as i64],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(oldest.map_or(0, |s| s - 1))
        })
        .await
    }

    /// The newest `n` comments, newest first.
    pub async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError> {
        self.with(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT * FROM comments ORDER BY seq DESC LIMIT ?1")?;
            let rows = stmt.query_map([n as i64], |r| Ok((r.get(0)?, comment_from_row(r, 0)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// How many comments the log holds.
    pub async fn count(&self) -> Result<i64, LogError> {
        self.with(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM comments", [], |r| r.get(0))?))
            .await
    }

    /// One comment as it is now, by `(source, id)`: what the featured queue
    /// puts on stream (never a copy a client sent).
    pub async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT * FROM comments WHERE source = ?1 AND id = ?2",
                    [source, id],
                    |r| comment_from_row(r, 0),
                )
                .optional()?)
        })
        .await
    }

    /// How many comments arrived (were fetched) at or after `since`, and the
    /// latest `seq` at that moment, read together: the dashboard's "today"
    /// counter adds every later `seq` it receives.
    pub async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError> {
        let since = rfc3339::format(&since);
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let count = tx.query_row(
                "SELECT COUNT(*) FROM comments WHERE fetched_at >= ?1",
                [since],
                |r| r.get(0),
            )?;
            let latest = latest_seq(&tx)?;
            tx.commit()?;
            Ok((count, latest))
        })
        .await
    }

    /// Remembers that a comment was put on stream (the first time counts).
    pub async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError> {
        let now = rfc3339::format(&Utc::now());
        self.with(move |conn| {
            conn.execute(
                "UPDATE comments SET featured_at = ?3 \
                 WHERE source = ?1 AND id = ?2 AND featured_at IS NULL",
                params![source, id, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether the log holds any comment from `source`.
    pub async fn has_source(&self, source: String) -> Result<bool, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM comments WHERE source = ?1 LIMIT 1",
                    [source],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }
}

/// Adds a nullable text column to `comments` unless it is there already.
fn add_column(conn: &Connection, column: &str) -> Result<(), LogError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('comments') WHERE name = ?1)",
        [column],
        |r| r.get(0),
    )?;
    if !exists {
        // The name is one of ours, never input: safe to put in the statement.
        conn.execute_batch(&format!("ALTER TABLE comments ADD COLUMN {column} TEXT"))?;
    }
    Ok(())
}

fn latest_seq(conn: &Connection) -> Result<i64, LogError> {
    Ok(conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

fn record(conn: &mut Connection, batch: Batch) -> Result<Vec<Change>, LogError> {
    let Batch {
        source,
        comments,
        deleted,
        cursor,
        quota,
    } = batch;
    let tx = conn.transaction()?;
    let mut changes = Vec::new();
    {
        let mut next = latest_seq(&tx)?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO comments (seq, source, id, author_name, author_id, author_avatar, text, html, \
             published_at, fetched_at, likes, reply_to, amount_display, amount_micros, amount_currency, \
             edited, deleted, emotes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
             ON CONFLICT (source, id) DO NOTHING",
        )?;
        let mut add_change =
            tx.prepare_cached("INSERT INTO changes (seq, kind, comment) VALUES (?1, ?2, ?3)")?;
        let mut find = tx.prepare_cached(
            "SELECT seq, text, html, edited FROM comments WHERE source = ?1 AND id = ?2",
        )?;
        let mut edit = tx.prepare_cached(
            "UPDATE comments SET text = ?2, html = ?3, edited = 1, likes = ?4 WHERE seq = ?1",
        )?;
        for c in comments {
            let candidate = next + 1;
            let inserted = insert.execute(params![
                candidate,
                c.source,
                c.id,
                c.author.name,
                c.author.id,
                c.author.avatar,
                c.text,
                c.html.as_str(),
                rfc3339::format(&c.published_at),
                rfc3339::format(&c.fetched_at),
                c.likes,
                c.reply_to,
                c.amount.as_ref().map(|a| &a.display),
                c.amount.as_ref().map(|a| a.micros),
                c.amount.as_ref().map(|a| &a.currency),
                c.edited,
                c.deleted,
                (!c.emotes.is_empty())
                    .then(|| serde_json::to_string(&c.emotes).expect("a map of strings")),
            ])?;
            if inserted == 1 {
                next = candidate;
                add_change.execute(params![next, ChangeKind::New.as_str(), next])?;
                changes.push(Change {
                    seq: next,
                    kind: ChangeKind::New,
                    comment: c,
                });
                continue;
            }
            // Known already: an edit on the platform is a change, anything
            // else (a repeat on an overlapping page) is not.
            let (seq, text, html, _): (i64, String, String, bool) = find
                .query_row(params![c.source, c.id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
            if c.edited && (text != c.text || html != c.html.as_str()) {
                edit.execute(params![seq, c.text, c.html.as_str(), c.likes])?;
                next += 1;
                add_change.execute(params![next, ChangeKind::Update.as_str(), seq])?;
                changes.push(Change {
                    seq: next,
                    kind: ChangeKind::Update,
                    comment: c,
                });
            }
        }
        let mut retract = tx.prepare_cached(
            "UPDATE comments SET deleted = 1 WHERE source = ?1 AND id = ?2 AND deleted = 0 \
             RETURNING *",
        )?;
        for id in deleted {
            let row = retract
                .query_row(params![source, id], |r| {
                    Ok((r.get(0)?, comment_from_row(r, 0)?))
                })
                .optional()?;
            if let Some((comment_seq, comment)) = row {
                let comment_seq: i64 = comment_seq;
                next += 1;
                let kind = ChangeKind::Delete;
                add_change.execute(params![next, kind.as_str(), comment_seq])?;
                changes.push(Change {
                    seq: next,
                    kind,
                    comment,
                });
            }
        }
        if let Some(cursor) = cursor {
            tx.execute(
                "INSERT INTO cursors (source, value, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![source, cursor, rfc3339::format(&Utc::now())],
            )?;
        }
        if let Some((day, units)) = quota.filter(|(_, u)| *u > 0) {
            tx.execute(
                "INSERT INTO quota (day, units) VALUES (?1, ?2) \
                 ON CONFLICT (day) DO UPDATE SET units = units + excluded.units",
                params![day, units],
            )?;
        }
    }
    tx.commit()?;
    Ok(changes)
}

/// Reads a `comments` row whose columns start at index `at`.
pub(super) fn comment_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<Comment> {
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let s: String = r.get(at + i)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    at + i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    };
    let amount = match r.get::<_, Option<String>>(at + 12)? {
        Some(display) => Some(Amount {
            display,
            micros: r.get::<_, Option<i64>>(at + 13)?.unwrap_or(0),
            currency: r.get::<_, Option<String>>(at + 14)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Comment {
        source: r.get(at + 1)?,
        id: r.get(at + 2)?,
        author: Author {
            name: r.get(at + 3)?,
            id: r.get(at + 4)?,
            avatar: r.get(at + 5)?,
        },
        html: query::html_from_stored(
            r.get_ref(at + 6)?.as_str().unwrap_or(""),
            &r.get::<_, String>(at + 7)?,
        ),
        text: r.get(at + 6)?,
        published_at: time(8)?,
        fetched_at: time(9)?,
        likes: r.get(at + 10)?,
        reply_to: r.get(at + 11)?,
        amount,
        edited: r.get(at + 15)?,
        deleted: r.get(at + 16)?,
        emotes: query::emotes_from_stored(r.get(at + 17)?),
    })
}

impl SqliteLog {
    /// Which of `ids` from `source` the log already holds.
    pub async fn known_ids(
        &self,
        source: String,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, LogError> {
        self.with(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT 1 FROM comments WHERE source = ?1 AND id = ?2")?;
            let mut known = HashSet::new();
            for id in ids {
                if stmt.exists(params![source, id])? {
                    known.insert(id);
                }
            }
            Ok(known)
        })
        .await
    }
}
