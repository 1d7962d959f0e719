//! The comment log in one SQLite file (WAL): the embedded default, the
//! [`LogBackend`] of one process.
//!
//! `rusqlite::Connection` is `Send` but not `Sync`, so one connection sits
//! behind a `std::sync::Mutex` and every call runs in `spawn_blocking`,
//! locking there and never across an `.await`. Rooms: `write` (a batch in
//! one transaction), `read` (selections, pages, statistics, export batches),
//! `search` (the search indexes' upkeep); this file opens and migrates the
//! file and answers the short calls. Nothing of HTTP or the platforms.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::row::{COMMENT_COLUMN_COUNT, COMMENT_COLUMNS, read_comment};
use super::{
    ActionRecord, Batch, Change, ChangeKind, FeaturedOp, LinkedAccount, LogBackend, LogError, Page,
    Reader, Selection, Stats,
};
use crate::domain::{Comment, rfc3339};

/// Connected accounts.
mod accounts;
/// Selections, pages, statistics and export batches.
mod read;
/// The search indexes' upkeep.
mod search;
/// Sign-in sessions.
mod sessions;
/// The "on stream" queue and the hidden words and authors.
mod streamer;
/// A batch in one transaction.
mod write;

const SCHEMA: &str = include_str!("../schema.sql");
/// Bumped whenever `schema.sql` changes in a way old files need migrating for.
pub const SCHEMA_VERSION: i64 = 9;
/// Rows deleted per transaction when pruning: big enough to amortise the
/// statement, small enough that polls are never held up for long.
const PRUNE_BATCH: i64 = 2_000;

/// A cheap, cloneable handle on the log.
#[derive(Clone)]
pub struct SqliteLog {
    conn: Arc<Mutex<Connection>>,
    log_id: Arc<str>,
    /// The file, for its size and for read-only connections (`None` in memory).
    file: Option<Arc<Path>>,
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

    /// A private log in memory, for tests.
    pub fn open_in_memory() -> Result<SqliteLog, LogError> {
        Self::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(conn: Connection, path: &Path) -> Result<SqliteLog, LogError> {
        // The search triggers call it, so it must exist before any write.
        search::register_functions(&conn)?;
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
            // stream, version 7 who is speaking and what kind of message it
            // is, version 8 who wrote it beyond roles (`who`: badges, name
            // colour, the owner's marks, location). Adding only what is
            // missing makes this safe to rerun.
            for column in [
                "emotes",
                "featured_at",
                "roles",
                "member_level",
                "kind",
                "event",
                "who",
            ] {
                add_column(&conn, column)?;
            }
        }
        // Version 3 added search; its indexes fill in the background
        // (`search`), for old files as for new comments. Versions 5 and 6
        // added tables only (sessions; the "on stream" queue and the hidden
        // list), as did version 9 (connected accounts), which `CREATE TABLE IF NOT EXISTS` adds to older files.
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

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T, LogError>
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

#[async_trait]
impl LogBackend for SqliteLog {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn log_id(&self) -> &str {
        &self.log_id
    }

    fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn file_bytes(&self) -> u64 {
        let Some(path) = &self.file else { return 0 };
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        size(path) + size(Path::new(&wal))
    }

    /// Moves everything in the write-ahead log into the file and truncates
    /// it: the file alone is then complete, as at a clean shutdown.
    async fn shut_down(&self) -> Result<(), LogError> {
        self.with(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        self.with(move |conn| write::record(conn, batch)).await
    }

    async fn cursor(&self, source: String) -> Result<Option<String>, LogError> {
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

    async fn quota_used(&self, day: String) -> Result<i64, LogError> {
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

    async fn reserve_quota(
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

    async fn latest_seq(&self) -> Result<i64, LogError> {
        self.with(|conn| write::latest_seq(conn)).await
    }

    async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COMMENT_COLUMNS}, ch.seq, ch.kind FROM changes ch \
                 JOIN comments c ON c.seq = ch.comment \
                 WHERE ch.seq > ?1 ORDER BY ch.seq LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit as i64], |r| {
                Ok(Change {
                    seq: r.get(COMMENT_COLUMN_COUNT)?,
                    kind: ChangeKind::parse(&r.get::<_, String>(COMMENT_COLUMN_COUNT + 1)?),
                    comment: read_comment(r)?.1,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn recent_start(&self, n: usize) -> Result<i64, LogError> {
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

    async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COMMENT_COLUMNS} FROM comments c ORDER BY c.seq DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([n as i64], |r| read_comment(r))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn count(&self) -> Result<i64, LogError> {
        self.with(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM comments", [], |r| r.get(0))?))
            .await
    }

    async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {COMMENT_COLUMNS} FROM comments c \
                         WHERE c.source = ?1 AND c.id = ?2"
                    ),
                    [source, id],
                    |r| read_comment(r).map(|(_, c)| c),
                )
                .optional()?)
        })
        .await
    }

    async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError> {
        let since = rfc3339::format(&since);
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let count = tx.query_row(
                "SELECT COUNT(*) FROM comments WHERE fetched_at >= ?1",
                [since],
                |r| r.get(0),
            )?;
            let latest = write::latest_seq(&tx)?;
            tx.commit()?;
            Ok((count, latest))
        })
        .await
    }

    async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError> {
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

    async fn has_source(&self, source: String) -> Result<bool, LogError> {
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

    async fn known_ids(
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

    async fn page(
        &self,
        sel: Selection,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Page, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| read::page_blocking(conn, &sel, before, limit))
            .await
    }

    /// Storing a comment does not index it: that would put the most
    /// expensive write on the path from the poller to the dashboards. This
    /// indexes a chunk per transaction, so a poll waiting for the lock is
    /// never held up for long. A file from before search existed is indexed
    /// this way too.
    async fn index_pending(&self) -> Result<(), LogError> {
        while self.with(search::index_chunk).await? {}
        Ok(())
    }

    async fn stats(&self, sel: Selection) -> Result<Stats, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| read::stats_blocking(conn, &sel))
            .await
    }

    async fn count_matching(&self, sel: Selection) -> Result<u64, LogError> {
        if sel.uses_index() {
            self.index_pending().await?;
        }
        self.with(move |conn| read::count_blocking(conn, &sel))
            .await
    }

    /// A skip scan: one index seek per source.
    async fn sources(&self) -> Result<Vec<String>, LogError> {
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

    /// `changes` is AUTOINCREMENT, so `seq` never goes back. Afterwards the
    /// search indexes merge away their deleted entries and, in files created
    /// with incremental auto-vacuum, the freed pages go back to the disk.
    async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError> {
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

    async fn featured(&self) -> Result<Vec<(String, String)>, LogError> {
        self.with(|conn| streamer::featured(conn)).await
    }

    async fn change_featured(&self, op: FeaturedOp) -> Result<(), LogError> {
        self.with(move |conn| streamer::change_featured(conn, op))
            .await
    }

    async fn hidden(&self) -> Result<Vec<String>, LogError> {
        self.with(|conn| streamer::hidden(conn)).await
    }

    async fn set_hidden(&self, key: String, entry: String, hide: bool) -> Result<bool, LogError> {
        self.with(move |conn| streamer::set_hidden(conn, &key, &entry, hide))
            .await
    }

    async fn seed_hidden(&self, entries: Vec<(String, String)>) -> Result<usize, LogError> {
        self.with(move |conn| streamer::seed_hidden(conn, &entries))
            .await
    }

    async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError> {
        self.with(move |conn| sessions::create(conn, &id_hash, &token_tag, expires_at))
            .await
    }

    async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError> {
        self.with(move |conn| sessions::expiry(conn, &id_hash, &token_tag, now))
            .await
    }

    async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError> {
        self.with(move |conn| sessions::extend(conn, &id_hash, expires_at))
            .await
    }

    async fn end_session(&self, id_hash: String) -> Result<(), LogError> {
        self.with(move |conn| sessions::end(conn, &id_hash)).await
    }

    async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError> {
        self.with(move |conn| sessions::prune(conn, &token_tag, now))
            .await
    }

    async fn linked_account(&self, platform: String) -> Result<Option<LinkedAccount>, LogError> {
        self.with(move |conn| accounts::get(conn, &platform)).await
    }

    /// Also makes the file (and its WAL) readable by its owner only: it now
    /// holds a credential.
    async fn link_account(&self, account: LinkedAccount) -> Result<(), LogError> {
        self.with(move |conn| accounts::set(conn, &account)).await?;
        if let Some(path) = &self.file {
            accounts::owner_only(path);
        }
        Ok(())
    }

    async fn unlink_account(&self, platform: String) -> Result<bool, LogError> {
        self.with(move |conn| accounts::forget(conn, &platform))
            .await
    }

    async fn record_action(&self, action: ActionRecord) -> Result<i64, LogError> {
        self.with(move |conn| accounts::record_action(conn, &action))
            .await
    }

    async fn last_ban(
        &self,
        source: String,
        author_id: String,
    ) -> Result<Option<String>, LogError> {
        self.with(move |conn| accounts::last_ban(conn, &source, &author_id))
            .await
    }

    async fn recent_actions(&self, limit: i64) -> Result<Vec<ActionRecord>, LogError> {
        self.with(move |conn| accounts::recent_actions(conn, limit))
            .await
    }

    /// For a log file, a new read-only connection, so the export never
    /// holds the writer's lock; in memory, the shared one, a batch at a time.
    fn reader(&self) -> Result<Reader, LogError> {
        match &self.file {
            Some(path) => {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                search::register_functions(&conn)?;
                Ok(Reader::new(read::SqliteReader::Own(conn)))
            }
            None => Ok(Reader::new(read::SqliteReader::Shared(self.conn.clone()))),
        }
    }
}
