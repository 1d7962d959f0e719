//! The comment log: every comment ever fetched. The single source of truth.
//!
//! It decides what is new (insert if `(source, id)` is unseen, in one
//! transaction) and hands out `seq`, the number of the change feed that
//! dashboards resume from. A comment is committed here before anyone can see
//! it. This module knows nothing of HTTP or of the platforms.
//!
//! Two backends keep the same log with the same semantics: one SQLite file
//! (`sqlite`, the embedded default) and a PostgreSQL database that several
//! instances share (`postgres`). [`CommentLog`] is the one handle the rest of
//! the program holds; it hands each call to the backend `CW_DB` chose.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::comment::Comment;

/// The PostgreSQL backend, for several instances sharing one log.
pub mod postgres;
/// Search, filters, pages, statistics, export and retention.
pub mod query;
/// The SQLite backend.
pub mod sqlite;
/// TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert`.
mod tls;

pub use postgres::{FeaturedOp, Listener, Notice, PgLog};
pub use sqlite::SqliteLog;

/// Why the log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file could not be opened or is not a usable comment log.
    #[error("cannot open the comment log at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The log was written by a newer commentwatch.
    #[error(
        "the comment log at {path} has schema version {found}, newer than this build's {supported}"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A read or write failed (disk full, file locked, corruption).
    #[error("comment log: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The blocking task running the query panicked or was cancelled.
    #[error("comment log task failed: {0}")]
    Task(String),
    /// The PostgreSQL server refused or failed a query, or the connection
    /// to it broke.
    #[error("comment log (PostgreSQL): {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to the PostgreSQL server could be had.
    #[error("comment log (PostgreSQL): {0}")]
    Connect(String),
}

/// What kind of change a `seq` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Update,
    Delete,
}

impl ChangeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }

    pub(crate) fn parse(s: &str) -> ChangeKind {
        match s {
            "update" => ChangeKind::Update,
            "delete" => ChangeKind::Delete,
            _ => ChangeKind::New,
        }
    }
}

/// One entry of the change feed: the comment as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub comment: Comment,
}

/// Everything one poll wants written, applied in one transaction so that a
/// crash can never keep the comments but lose the cursor, or the reverse.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The source every comment and deletion belongs to.
    pub source: String,
    /// Fetched comments, in the order they should be numbered.
    pub comments: Vec<Comment>,
    /// Ids of comments the platform retracted.
    pub deleted: Vec<String>,
    /// Where the source's stream should resume next time.
    pub cursor: Option<String>,
    /// Quota units spent, and the quota day they count against.
    pub quota: Option<(String, i64)>,
}

/// Where the log lives, as `CW_DB` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database: a `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Target {
    /// Reads `CW_DB`: a PostgreSQL URL, or else the path of a SQLite file.
    pub fn parse(value: &str) -> Result<Target, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("must name a file or a postgres:// URL".into());
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            postgres::check_url(value)?;
            return Ok(Target::Postgres(value.to_owned()));
        }
        Ok(Target::File(PathBuf::from(value)))
    }

    /// The target as it may be printed: a URL without its password.
    pub fn display(&self) -> String {
        match self {
            Target::File(p) => p.display().to_string(),
            Target::Postgres(url) => postgres::redact(url),
        }
    }
}

/// A cheap, cloneable handle on the log, whichever backend holds it.
#[derive(Clone)]
pub struct CommentLog(Backend);

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteLog),
    Postgres(PgLog),
}

/// Runs the same call on whichever backend this log is.
macro_rules! each {
    ($self:expr, $log:ident => $call:expr) => {
        match &$self.0 {
            Backend::Sqlite($log) => $call,
            Backend::Postgres($log) => $call,
        }
    };
}

/// Sign-in sessions (`web::auth` decides what they mean).
mod sessions;

impl CommentLog {
    /// Opens the log `target` names: the SQLite file (created if needed), or
    /// the PostgreSQL database (migrated to this build's schema).
    pub async fn connect(target: &Target) -> Result<CommentLog, LogError> {
        match target {
            Target::File(path) => CommentLog::open(path),
            Target::Postgres(url) => Ok(CommentLog(Backend::Postgres(PgLog::connect(url).await?))),
        }
    }

    /// Opens (creating if needed) the SQLite log at `path`.
    pub fn open(path: &Path) -> Result<CommentLog, LogError> {
        Ok(CommentLog(Backend::Sqlite(SqliteLog::open(path)?)))
    }

    /// A private SQLite log in memory, for tests.
    pub fn open_in_memory() -> Result<CommentLog, LogError> {
        Ok(CommentLog(Backend::Sqlite(SqliteLog::open_in_memory()?)))
    }

    /// `"sqlite"` or `"postgres"`, for `/healthz` and the logs.
    pub fn backend(&self) -> &'static str {
        match &self.0 {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Whether other instances may write to this log too. Then what this
    /// instance records reaches its dashboards the way everyone else's
    /// does, through [`CommentLog::listen`] and `crate::feed`, never
    /// straight from the writer.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Backend::Postgres(_))
    }

    /// Wakes whenever any instance commits a change (a shared log only).
    pub async fn listen(&self) -> Result<Option<Listener>, LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pg) => pg.listen().await.map(Some),
        }
    }

    /// Shares a source's status (JSON, as of `at`) with the other instances
    /// (nothing to do when the log is not shared).
    pub async fn share_status(
        &self,
        source: String,
        json: String,
        at: DateTime<Utc>,
    ) -> Result<(), LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => pg.share_status(source, json, at).await,
        }
    }

    /// The statuses instances shared (JSON) for `sources` (every source
    /// when `None`), or `None` when the log is not shared.
    pub async fn shared_statuses(
        &self,
        sources: Option<Vec<String>>,
    ) -> Result<Option<Vec<String>>, LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pg) => pg.statuses(sources).await.map(Some),
        }
    }

    /// The "on stream" queue shared by every instance, oldest first
    /// (`None`: this log is not shared, and the queue lives in memory).
    pub async fn shared_featured(&self) -> Result<Option<Vec<(String, String)>>, LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pg) => pg.featured().await.map(Some),
        }
    }

    /// Applies a change of the "on stream" queue to the shared copy and
    /// tells every instance (nothing to do when the log is not shared).
    pub async fn change_featured(&self, op: FeaturedOp) -> Result<(), LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => pg.change_featured(op).await,
        }
    }

    /// Whether this instance may poll `source` now: always with one
    /// process; with a shared log, only while it holds the source's lock,
    /// which it takes here when no live instance holds it. An error when the
    /// shared log cannot be reached: then nobody can know, and nobody polls.
    pub async fn claim(&self, source: &str) -> Result<bool, LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(true),
            Backend::Postgres(pg) => pg.claim(source).await,
        }
    }

    /// Lets go of `source` so another instance sharing the log can poll it.
    pub async fn release(&self, source: &str) -> Result<(), LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => pg.release(source).await,
        }
    }

    /// With a shared log: how many sources this instance polls, and how
    /// many instances share the log (`None` with one process).
    pub async fn share(&self) -> Result<Option<(usize, usize)>, LogError> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pg) => pg.share().await.map(Some),
        }
    }

    /// Bytes on disk: a SQLite file and its write-ahead log (0 in memory or
    /// on PostgreSQL, whose server reports its own size).
    pub fn file_bytes(&self) -> u64 {
        match &self.0 {
            Backend::Sqlite(s) => s.file_bytes(),
            Backend::Postgres(_) => 0,
        }
    }

    /// At shutdown: makes what is on disk complete on its own (a SQLite
    /// checkpoint), or lets go of the source locks and closes the
    /// connections (PostgreSQL).
    pub async fn shut_down(&self) -> Result<(), LogError> {
        match &self.0 {
            Backend::Sqlite(s) => s.checkpoint().await,
            Backend::Postgres(pg) => {
                pg.close().await;
                Ok(())
            }
        }
    }

    /// The SQLite file the log lives in (`None` in memory or on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Backend::Sqlite(s) => s.path(),
            Backend::Postgres(_) => None,
        }
    }

    /// A random id made when the log was created: seqs from one log mean
    /// nothing in another.
    pub fn log_id(&self) -> &str {
        each!(self, l => l.log_id())
    }

    /// Records a batch in one transaction and returns the changes it made, in
    /// `seq` order: a `New` change for each comment not seen before, an
    /// `Update` for each one whose content was edited since it was stored, a
    /// `Delete` for each stored comment the platform retracted. Anything else
    /// (already known, unchanged; a deletion of something never stored) is
    /// skipped.
    pub async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        each!(self, l => l.record(batch).await)
    }

    /// The resume cursor stored for `source`.
    pub async fn cursor(&self, source: String) -> Result<Option<String>, LogError> {
        each!(self, l => l.cursor(source).await)
    }

    /// Quota units recorded for `day`.
    pub async fn quota_used(&self, day: String) -> Result<i64, LogError> {
        each!(self, l => l.quota_used(day).await)
    }

    /// Adds `units` to `day`'s spending if that keeps it within `budget`,
    /// in one step, so instances sharing a key cannot both take the last
    /// units. Returns the new total, or `None` when it would not fit.
    pub async fn reserve_quota(
        &self,
        day: String,
        units: i64,
        budget: i64,
    ) -> Result<Option<i64>, LogError> {
        each!(self, l => l.reserve_quota(day, units, budget).await)
    }

    /// The highest `seq` handed out so far (0 for an empty log).
    pub async fn latest_seq(&self) -> Result<i64, LogError> {
        each!(self, l => l.latest_seq().await)
    }

    /// Up to `limit` changes with `seq > after`, oldest first.
    pub async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError> {
        each!(self, l => l.changes_since(after, limit).await)
    }

    /// The `seq` to replay from so that the newest `n` comments (and every
    /// change after the oldest of them) are sent: a new dashboard's backlog.
    pub async fn recent_start(&self, n: usize) -> Result<i64, LogError> {
        each!(self, l => l.recent_start(n).await)
    }

    /// The newest `n` comments, newest first.
    pub async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError> {
        each!(self, l => l.recent(n).await)
    }

    /// How many comments the log holds.
    pub async fn count(&self) -> Result<i64, LogError> {
        each!(self, l => l.count().await)
    }

    /// One comment as it is now, by `(source, id)`: what the featured queue
    /// puts on stream (never a copy a client sent).
    pub async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError> {
        each!(self, l => l.comment(source, id).await)
    }

    /// How many comments arrived (were fetched) at or after `since`, and the
    /// latest `seq` at that moment, read together: the dashboard's "today"
    /// counter adds every later `seq` it receives.
    pub async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError> {
        each!(self, l => l.count_fetched_since(since).await)
    }

    /// Remembers that a comment was put on stream (the first time counts).
    pub async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError> {
        each!(self, l => l.mark_featured(source, id).await)
    }

    /// Whether the log holds any comment from `source`.
    pub async fn has_source(&self, source: String) -> Result<bool, LogError> {
        each!(self, l => l.has_source(source).await)
    }

    /// Which of `ids` from `source` the log already holds.
    pub async fn known_ids(
        &self,
        source: String,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, LogError> {
        each!(self, l => l.known_ids(source, ids).await)
    }

    /// Up to `limit` comments of `sel` with `seq < before` (all when `None`),
    /// newest first, and where the next page starts.
    pub async fn page(
        &self,
        sel: query::Selection,
        before: Option<i64>,
        limit: u64,
    ) -> Result<query::Page, LogError> {
        each!(self, l => l.page(sel, before, limit).await)
    }

    /// Brings the search indexes up to date with every comment stored so far
    /// (SQLite indexes in the background; PostgreSQL as it writes).
    pub async fn index_pending(&self) -> Result<(), LogError> {
        match &self.0 {
            Backend::Sqlite(s) => s.index_pending().await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Totals, activity over time and the most active authors of `sel`.
    pub async fn stats(&self, sel: query::Selection) -> Result<query::Stats, LogError> {
        each!(self, l => l.stats(sel).await)
    }

    /// How many comments `sel` covers.
    pub async fn count_matching(&self, sel: query::Selection) -> Result<u64, LogError> {
        each!(self, l => l.count_matching(sel).await)
    }

    /// Every source the log holds comments from, sorted.
    pub async fn sources(&self) -> Result<Vec<String>, LogError> {
        each!(self, l => l.sources().await)
    }

    /// Deletes every comment fetched before `older_than` (and its changes)
    /// and returns how many. `seq` never goes back.
    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError> {
        each!(self, l => l.prune(older_than).await)
    }

    /// A reader for a long, blocking read (an export), to be used off the
    /// async runtime; call [`CommentLog::index_pending`] first when the
    /// selection searches.
    pub fn reader(&self) -> Result<query::Reader, LogError> {
        match &self.0 {
            Backend::Sqlite(s) => s.reader(),
            Backend::Postgres(pg) => Ok(query::Reader::postgres(pg.clone())),
        }
    }
}
