//! The comment log in a PostgreSQL database that several instances share:
//! the [`LogBackend`] that also offers [`SharedLog`].
//!
//! The semantics are the SQLite file's (`sqlite`), with three things only a
//! shared log needs:
//!
//! - **Commit order is `seq` order.** Sequence values are handed out before
//!   commit, so two writers could commit 11 before 10, and a reader that
//!   saw 11 would skip 10 for ever. Every write to the feed therefore takes
//!   one transaction-level advisory lock first (`FEED_LOCK`) and numbers
//!   from `feed_head` under it: writers commit one after another, in the
//!   order of their numbers.
//! - **Notifications.** A transaction that adds changes sends `NOTIFY`
//!   (delivered at commit); [`SharedLog::listen`] wakes every instance, which
//!   then reads what is new from the log (`crate::feed`).
//! - **Source locks.** [`SharedLog::claim`] takes a session-level advisory lock
//!   per source on a connection of its own: the instance that holds it
//!   polls the source; when that instance dies, its connection closes, the
//!   server lets the lock go, and the next instance to ask takes it.
//!
//! Search folds case in Rust (`fold`) into `text_folded` and
//! `author_folded`, so it finds the same substrings of any length, CJK
//! included, as the SQLite indexes, whatever the server's locale. When the
//! `pg_trgm` extension is available its trigram indexes speed up queries of
//! three characters or more; without it search still works, by scanning.
//!
//! Rooms: `connect` (the pool and the dedicated connections), `shared` (the
//! cluster's coordination: locks, notifications and statuses), `streamer`
//! (the "on stream" queue and the hidden list, which notify every instance
//! of a change), `write`, `read`, `migrate` and `tls`. Nothing of HTTP or the
//! platforms.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Mutex;
use tokio_postgres::Socket;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

#[cfg(doc)]
use super::{LogBackend, SharedLog};
pub use crate::domain::redact;

/// Connected accounts.
mod accounts;
/// The pool, and the connections of their own.
mod connect;
/// Creating and updating the schema.
mod migrate;
/// Every read, and the `LogBackend` calls.
mod read;
/// Sign-in sessions.
mod sessions;
/// Locks, notifications and statuses.
mod shared;
/// The "on stream" queue and the hidden words and authors.
mod streamer;
/// TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert`.
mod tls;
/// A batch in one transaction.
mod write;

const SCHEMA: &str = include_str!("../postgres.sql");
/// Bumped whenever `postgres.sql` changes in a way old databases need
/// migrating for.
const SCHEMA_VERSION: i64 = 6;
/// The advisory lock every write to the feed holds until it commits.
const FEED_LOCK: i64 = 0x636f_6d6d_656e_7401;
/// The advisory lock that lets one instance at a time migrate the schema.
const MIGRATE_LOCK: i64 = 0x636f_6d6d_656e_7402;
/// The first key of the per-source locks (the second is the source's hash);
/// two-key advisory locks never collide with one-key ones.
const SOURCE_LOCK_CLASS: i32 = 0x6377_0001;
/// The channel `NOTIFY` announces new changes on.
const CHANNEL: &str = "commentwatch_changes";
/// The channel `NOTIFY` announces a changed "on stream" queue on.
const FEATURED_CHANNEL: &str = "commentwatch_featured";
/// The channel `NOTIFY` announces a changed hidden list on.
const HIDDEN_CHANNEL: &str = "commentwatch_hidden";
/// The channel `NOTIFY` announces a source's new status on.
const STATUS_CHANNEL: &str = "commentwatch_status";
/// Connections in the pool of one instance.
const POOL_SIZE: usize = 8;
/// How long connecting, or waiting for a pooled connection, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalive of the lock and LISTEN connections, both ends: seconds
/// idle before the first probe, seconds between probes, probes lost before
/// the connection counts as dead.
const KEEPALIVE_IDLE: u64 = 10;
const KEEPALIVE_INTERVAL: u64 = 5;
const KEEPALIVE_COUNT: u64 = 3;
/// Rows deleted per transaction when pruning.
const PRUNE_BATCH: i64 = 2_000;

/// Whether `url` is a PostgreSQL URL the driver can use.
pub fn check_url(url: &str) -> Result<(), String> {
    tls::Settings::parse(url).map(|_| ())
}

/// The stream of a connection, TLS or not (`sslmode`).
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
/// A connection of its own, to be driven by a task.
type Connection = tokio_postgres::Connection<Socket, Stream>;

/// An error with what the server said, which the driver's own message
/// ("db error") leaves out.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// A cheap, cloneable handle on a PostgreSQL log.
#[derive(Clone)]
pub struct PgLog {
    pool: Pool,
    config: Arc<tokio_postgres::Config>,
    tls: MakeRustlsConnect,
    log_id: Arc<str>,
    locks: Arc<Mutex<SourceLocks>>,
}

/// The connection that holds this instance's source locks, and which it
/// holds. Session-level advisory locks live as long as their connection.
#[derive(Default)]
struct SourceLocks {
    client: Option<tokio_postgres::Client>,
    held: HashSet<String>,
    /// Shut down: no lock is asked for again.
    closed: bool,
}
