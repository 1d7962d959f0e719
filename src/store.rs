//! The comment log: every comment ever fetched. The single source of truth.
//!
//! It decides what is new (insert if `(source, id)` is unseen, in one
//! transaction) and hands out `seq`, the number of the change feed that
//! dashboards resume from. A comment is committed here before anyone can see
//! it. This module and everything under it know nothing of HTTP or of the
//! platforms: they never import `crate::web` or `crate::source`, and take a
//! typed [`Selection`], never a query string (`crate::params` makes one).
//!
//! Two backends keep the same log with the same semantics, behind
//! [`LogBackend`]: one SQLite file (`sqlite`, the embedded default) and a
//! PostgreSQL database that several instances share (`postgres`), which
//! alone also offers [`SharedLog`]. [`CommentLog`] is the one handle the
//! rest of the program holds: it dereferences to the backend `CW_DB` chose,
//! and [`CommentLog::shared`] offers the shared log's calls when there are
//! several instances.
//!
//! Rooms: `backend` (the two interfaces), `selection` (what a reader
//! wants), `row` (a stored comment), `stats`, `export`, and one folder per
//! backend.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::Comment;

/// A connected platform account (OAuth), as the log keeps it.
mod account;
/// The interfaces every backend implements, documented once.
mod backend;
/// CSV and JSONL export, and the blocking reader it reads through.
mod export;
/// The PostgreSQL backend, for several instances sharing one log.
pub mod postgres;
/// A stored comment and its one mapping to a `Comment`.
mod row;
/// Which comments a reader wants, and a page of them.
mod selection;
/// The SQLite backend.
pub mod sqlite;
/// Statistics of a selection.
mod stats;

pub use account::{ActionRecord, LinkedAccount};
pub use backend::{FeaturedOp, Listener, LogBackend, Notice, SharedLog};
pub use export::{CSV_COLUMNS, EXPORT_BATCH, ExportError, Format, Reader, Row, export, neutralise};
pub use postgres::PgLog;
pub use selection::{Flag, Page, Selection, SourceFilter, fold};
pub use sqlite::SqliteLog;
pub use stats::{AuthorCount, Bucket, Moment, SourceCount, Stats};

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
    /// Author ids the platform banned from this source's chat: every
    /// comment of theirs in the source is retracted, after `deleted`.
    pub banned_authors: Vec<String>,
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

/// A cheap, cloneable handle on the log, whichever backend holds it. It
/// dereferences to the [`LogBackend`], so `log.record(batch)` and the rest
/// are the backend's calls, documented there.
#[derive(Clone)]
pub struct CommentLog {
    backend: Arc<dyn LogBackend>,
    /// The same backend as a shared log, when it is one.
    shared: Option<Arc<dyn SharedLog>>,
}

impl Deref for CommentLog {
    type Target = dyn LogBackend;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl CommentLog {
    /// Opens the log `target` names: the SQLite file (created if needed), or
    /// the PostgreSQL database (migrated to this build's schema).
    pub async fn connect(target: &Target) -> Result<CommentLog, LogError> {
        match target {
            Target::File(path) => CommentLog::open(path),
            Target::Postgres(url) => {
                let pg = PgLog::connect(url).await?;
                Ok(CommentLog {
                    backend: Arc::new(pg.clone()),
                    shared: Some(Arc::new(pg)),
                })
            }
        }
    }

    /// Opens (creating if needed) the SQLite log at `path`.
    pub fn open(path: &Path) -> Result<CommentLog, LogError> {
        Ok(CommentLog::alone(SqliteLog::open(path)?))
    }

    /// A private SQLite log in memory, for tests.
    pub fn open_in_memory() -> Result<CommentLog, LogError> {
        Ok(CommentLog::alone(SqliteLog::open_in_memory()?))
    }

    /// A log only this process writes.
    fn alone(backend: impl LogBackend + 'static) -> CommentLog {
        CommentLog {
            backend: Arc::new(backend),
            shared: None,
        }
    }

    /// `"sqlite"` or `"postgres"`, for `/healthz` and the logs.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// The calls only a log several instances share offers (`None` when
    /// this process alone writes the log).
    pub fn shared(&self) -> Option<&dyn SharedLog> {
        self.shared.as_deref()
    }

    /// Whether other instances may write to this log too. Then what this
    /// instance records reaches its dashboards the way everyone else's
    /// does, through [`SharedLog::listen`] and `crate::feed`, never
    /// straight from the writer.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The modules of the crate the store may use: values, the sanitizer
    /// (for what it reads back) and itself. Never the platforms (`source`),
    /// the web, the poller or request parameters.
    const ALLOWED: &[&str] = &["domain", "sanitize", "status", "store"];

    #[test]
    fn the_store_uses_nothing_of_the_crate_but_values_and_the_sanitizer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.join("store.rs")];
        crate::boundaries::files(&src.join("store"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Tests (this one included) may use what they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (at, _) in line.match_indices("crate::") {
                    let module: String = line[at + 7..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        ALLOWED.contains(&module.as_str()),
                        "{}:{}: the store uses crate::{module}",
                        file.display(),
                        n + 1
                    );
                }
            }
        }
    }
}
