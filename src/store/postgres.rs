//! The comment log in a PostgreSQL database that several instances share.
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
//!   (delivered at commit); [`PgLog::listen`] wakes every instance, which
//!   then reads what is new from the log (`crate::feed`).
//! - **Source locks.** [`PgLog::claim`] takes a session-level advisory lock
//!   per source on a connection of its own: the instance that holds it
//!   polls the source; when that instance dies, its connection closes, the
//!   server lets the lock go, and the next instance to ask takes it.
//!
//! Search folds case in Rust (`query::fold`) into `text_folded` and
//! `author_folded`, so it finds the same substrings of any length, CJK
//! included, as the SQLite indexes, whatever the server's locale. When the
//! `pg_trgm` extension is available its trigram indexes speed up queries of
//! three characters or more; without it search still works, by scanning.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::{Mutex, mpsc};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Row, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls;
use tracing::{debug, warn};

use super::query::{self, Flag, Page, STATS_COLUMNS, Selection, SourceFilter, Stats, StatsBuilder};
use super::{Batch, Change, ChangeKind, LogError};
use crate::comment::{Amount, Author, Comment, rfc3339};

const SCHEMA: &str = include_str!("postgres.sql");
/// Bumped whenever `postgres.sql` changes in a way old databases need
/// migrating for.
const SCHEMA_VERSION: i64 = 2;
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

/// The columns `comment_from_row` reads, in order, after any before them.
const COMMENT_COLUMNS: &str = "c.seq, c.source, c.id, c.author_name, c.author_id, \
    c.author_avatar, c.text, c.html, c.published_at, c.fetched_at, c.likes, c.reply_to, \
    c.amount_display, c.amount_micros, c.amount_currency, c.edited, c.deleted, c.emotes";

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

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            // libpq also takes `?password=`.
            if u.query_pairs().any(|(k, _)| k == "password") {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Unparseable: hide whatever follows a `:` in the user part.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let user = &url[scheme + 3..at];
                match user.split_once(':') {
                    Some((name, _)) => format!("{}{name}:***{}", &url[..scheme + 3], &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
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

/// Wakes when any instance commits changes or changes the "on stream"
/// queue; see [`PgLog::listen`].
pub struct Listener {
    rx: mpsc::UnboundedReceiver<Notice>,
    _client: tokio_postgres::Client,
}

/// What a [`Listener`] heard, with any notifications that queued up behind
/// it folded in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// New changes were committed to the feed.
    pub changes: bool,
    /// The "on stream" queue changed.
    pub featured: bool,
    /// The sources whose status changed.
    pub statuses: BTreeSet<String>,
}

impl Listener {
    /// Waits for the next notification. `None` when the connection is lost
    /// (and with it, notifications): listen again and read what was missed
    /// from the log.
    pub async fn changed(&mut self) -> Option<Notice> {
        let mut notice = self.rx.recv().await?;
        while let Ok(more) = self.rx.try_recv() {
            notice.changes |= more.changes;
            notice.featured |= more.featured;
            notice.statuses.extend(more.statuses);
        }
        Some(notice)
    }
}

/// One change to the shared "on stream" queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeaturedOp {
    /// Put on stream (kept in place if it is already on); the oldest
    /// beyond `max` leave.
    Add {
        source: String,
        id: String,
        max: usize,
    },
    Remove {
        source: String,
        id: String,
    },
    Clear,
}

impl PgLog {
    /// Connects, and migrates the schema (one instance at a time).
    pub async fn connect(url: &str) -> Result<PgLog, LogError> {
        let settings = tls::Settings::parse(url).map_err(LogError::Connect)?;
        let tls = settings.connector().map_err(LogError::Connect)?;
        let mut config = settings.config;
        if config.get_application_name().is_none() {
            config.application_name("commentwatch");
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT * 2))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| LogError::Connect(e.to_string()))?;
        let log_id = migrate(&pool, url).await?;
        Ok(PgLog {
            pool,
            config: Arc::new(config),
            tls,
            log_id: log_id.into(),
            locks: Arc::default(),
        })
    }

    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, LogError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => LogError::Postgres(e),
            other => LogError::Connect(other.to_string()),
        })
    }

    /// A connection of its own, outside the pool, named after its
    /// `purpose` in `pg_stat_activity` (`commentwatch-listen`, `-locks`).
    async fn dedicated(
        &self,
        purpose: &str,
    ) -> Result<(tokio_postgres::Client, Connection), LogError> {
        let mut config = (*self.config).clone();
        let name = format!(
            "{}-{purpose}",
            config.get_application_name().unwrap_or("commentwatch")
        );
        config.application_name(&name);
        // A session's advisory locks last as long as the server believes it
        // alive. An instance that dies with its machine (or behind a broken
        // network) sends no FIN, so both ends probe: the server lets the
        // locks go, and this end gives them up, within about 25 s instead of
        // the system's two hours.
        let options = format!(
            "{} -c tcp_keepalives_idle={KEEPALIVE_IDLE} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL} \
             -c tcp_keepalives_count={KEEPALIVE_COUNT}",
            config.get_options().unwrap_or("")
        );
        config
            .options(options.trim())
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(KEEPALIVE_IDLE))
            .keepalives_interval(Duration::from_secs(KEEPALIVE_INTERVAL))
            .keepalives_retries(KEEPALIVE_COUNT as u32);
        Ok(config.connect(self.tls.clone()).await?)
    }

    /// A connection that listens for new changes from every instance.
    pub async fn listen(&self) -> Result<Listener, LogError> {
        let (client, mut connection) = self.dedicated("listen").await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let notice = Notice {
                            changes: n.channel() == CHANNEL,
                            featured: n.channel() == FEATURED_CHANNEL,
                            statuses: if n.channel() == STATUS_CHANNEL {
                                BTreeSet::from([n.payload().to_owned()])
                            } else {
                                BTreeSet::new()
                            },
                        };
                        if tx.send(notice).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        debug!(error = %e, "the LISTEN connection failed");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!(
                "LISTEN {CHANNEL}; LISTEN {FEATURED_CHANNEL}; LISTEN {STATUS_CHANNEL};"
            ))
            .await?;
        Ok(Listener {
            rx,
            _client: client,
        })
    }

    /// Whether this instance holds (or now takes) `source`'s lock; an error
    /// when the database cannot be asked. A lock connection that broke took
    /// every lock with it: they are asked for again on a new one.
    pub async fn claim(&self, source: &str) -> Result<bool, LogError> {
        let mut locks = self.locks.lock().await;
        if locks.closed {
            return Ok(false);
        }
        if let Some(client) = &locks.client {
            // A broken connection closes itself (keepalive, above), taking
            // the locks with it.
            if client.is_closed() {
                if !locks.held.is_empty() {
                    warn!("lost the connection that held the source locks; asking again");
                }
                locks.client = None;
                locks.held.clear();
            }
        }
        if locks.client.is_none() {
            let (client, connection) = self.dedicated("locks").await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    debug!(error = %e, "the source-lock connection closed");
                }
            });
            locks.client = Some(client);
        }
        if locks.held.contains(source) {
            return Ok(true);
        }
        let client = locks.client.as_ref().expect("connected above");
        let params: [&(dyn ToSql + Sync); 2] = [&SOURCE_LOCK_CLASS, &source];
        let ask = client.query_one("SELECT pg_try_advisory_lock($1, hashtext($2))", &params);
        // A connection that hangs (before keepalive gives up on it) must not
        // hold every source's tick behind this one.
        let Ok(row) = tokio::time::timeout(CONNECT_TIMEOUT, ask).await else {
            locks.client = None;
            locks.held.clear();
            return Err(LogError::Connect(
                "asking for a source lock timed out; asking again on a new connection".into(),
            ));
        };
        let taken: bool = row?.try_get(0)?;
        if taken {
            locks.held.insert(source.to_owned());
        }
        Ok(taken)
    }

    /// Closes every connection: the source locks go at once (another
    /// instance takes them at its next tick) and pooled connections close.
    pub async fn close(&self) {
        let mut locks = self.locks.lock().await;
        locks.closed = true;
        locks.client = None;
        locks.held.clear();
        self.pool.close();
    }

    /// Lets go of `source`'s lock, so another instance can take it.
    pub async fn release(&self, source: &str) -> Result<(), LogError> {
        let mut locks = self.locks.lock().await;
        if !locks.held.remove(source) {
            return Ok(());
        }
        if let Some(client) = &locks.client {
            client
                .execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))",
                    &[&SOURCE_LOCK_CLASS, &source],
                )
                .await?;
        }
        Ok(())
    }

    /// How many source locks this instance holds, and how many instances
    /// (connections holding or asking for source locks) share the log.
    pub async fn share(&self) -> Result<(usize, usize), LogError> {
        let held = self.locks.lock().await.held.len();
        let client = self.client().await?;
        let name = format!(
            "{}-locks",
            self.config.get_application_name().unwrap_or("commentwatch")
        );
        let instances: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = $1",
                &[&name],
            )
            .await?
            .try_get(0)?;
        Ok((held, instances.max(1) as usize))
    }

    /// Records a batch in a few round trips whatever its size: one query
    /// finds which comments are known, one statement inserts every new
    /// comment, one every change; only edits and deletions, which are rare,
    /// go one by one.
    pub async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])
            .await?;
        let mut next: i64 = tx
            .query_one("SELECT seq FROM feed_head", &[])
            .await?
            .try_get(0)?;
        let Batch {
            source,
            comments,
            deleted,
            cursor,
            quota,
        } = batch;
        // What the log holds of these comments: `(source, id)` → `(seq,
        // text, html)`; comments new in this batch join it as they are
        // numbered, so a repeat within the batch is handled like a repeat
        // from an earlier poll.
        let mut known: HashMap<(String, String), (i64, String, String)> = HashMap::new();
        if !comments.is_empty() {
            let (sources, ids): (Vec<&str>, Vec<&str>) = comments
                .iter()
                .map(|c| (c.source.as_str(), c.id.as_str()))
                .unzip();
            let find = tx
                .prepare_cached(
                    "SELECT c.source, c.id, c.seq, c.text, c.html FROM comments c \
                     JOIN unnest($1::text[], $2::text[]) AS k(source, id) \
                     ON c.source = k.source AND c.id = k.id",
                )
                .await?;
            for row in tx.query(&find, &[&sources, &ids]).await? {
                known.insert(
                    (row.try_get(0)?, row.try_get(1)?),
                    (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?),
                );
            }
        }
        let edit = tx
            .prepare_cached(
                "UPDATE comments SET text = $2, html = $3, edited = true, likes = $4, \
                 text_folded = $5 WHERE seq = $1",
            )
            .await?;
        let mut fresh = NewRows::default();
        // Where each comment new in this batch sits in `fresh`.
        let mut fresh_at: HashMap<(String, String), usize> = HashMap::new();
        let mut changes = Vec::new();
        for c in comments {
            let key = (c.source.clone(), c.id.clone());
            match known.get_mut(&key) {
                None => {
                    next += 1;
                    fresh_at.insert(key.clone(), fresh.seq.len());
                    fresh.push(next, &c);
                    known.insert(key, (next, c.text.clone(), c.html.as_str().to_owned()));
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::New,
                        comment: c,
                    });
                }
                // Known already: an edit on the platform is a change,
                // anything else (a repeat on an overlapping page) is not.
                Some((seq, text, html)) => {
                    if c.edited && (*text != c.text || html != c.html.as_str()) {
                        match fresh_at.get(&key) {
                            // New in this very batch: not in the table yet.
                            Some(&i) => fresh.edit(i, &c),
                            None => {
                                let folded = query::fold(&c.text);
                                let params: [&(dyn ToSql + Sync); 5] =
                                    [seq, &c.text, &c.html.as_str(), &c.likes, &folded];
                                tx.execute(&edit, &params).await?;
                            }
                        }
                        *text = c.text.clone();
                        *html = c.html.as_str().to_owned();
                        next += 1;
                        changes.push(Change {
                            seq: next,
                            kind: ChangeKind::Update,
                            comment: c,
                        });
                    }
                }
            }
        }
        fresh.insert(&tx).await?;
        // The comment each change is about: its own seq, or the edited one's.
        let mut about: Vec<i64> = changes
            .iter()
            .map(|ch| {
                known
                    .get(&(ch.comment.source.clone(), ch.comment.id.clone()))
                    .map_or(ch.seq, |(seq, _, _)| *seq)
            })
            .collect();
        if !deleted.is_empty() {
            let retract = tx
                .prepare_cached(&format!(
                    "UPDATE comments AS c SET deleted = true \
                     WHERE c.source = $1 AND c.id = $2 AND NOT c.deleted RETURNING {COMMENT_COLUMNS}"
                ))
                .await?;
            for id in deleted {
                if let Some(row) = tx.query_opt(&retract, &[&source, &id]).await? {
                    next += 1;
                    about.push(row.try_get(0)?);
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::Delete,
                        comment: comment_from_row(&row, 0)?,
                    });
                }
            }
        }
        if !changes.is_empty() {
            let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
            let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
            tx.execute(
                "INSERT INTO changes (seq, kind, comment) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
                &[&seqs, &kinds, &about],
            )
            .await?;
        }
        if let Some(cursor) = cursor {
            tx.execute(
                "INSERT INTO cursors (source, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
                &[&source, &cursor, &rfc3339::format(&Utc::now())],
            )
            .await?;
        }
        if let Some((day, units)) = quota.filter(|(_, u)| *u > 0) {
            tx.execute(
                "INSERT INTO quota (day, units) VALUES ($1, $2) \
                 ON CONFLICT (day) DO UPDATE SET units = quota.units + excluded.units",
                &[&day, &units],
            )
            .await?;
        }
        if !changes.is_empty() {
            tx.execute("UPDATE feed_head SET seq = $1", &[&next])
                .await?;
            // Delivered when (and only if) the transaction commits.
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &next.to_string()])
                .await?;
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Stores `source`'s status (JSON) as of `at`, unless a newer one is
    /// stored, and tells every instance.
    pub async fn share_status(
        &self,
        source: String,
        json: String,
        at: DateTime<Utc>,
    ) -> Result<(), LogError> {
        let client = self.client().await?;
        client
            .execute(
                "WITH s AS (INSERT INTO source_status (source, status, reported_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE \
                 SET status = excluded.status, reported_at = excluded.reported_at \
                 WHERE source_status.reported_at < excluded.reported_at RETURNING 1) \
                 SELECT pg_notify($4, $1) FROM s",
                &[&source, &json, &at, &STATUS_CHANNEL],
            )
            .await?;
        Ok(())
    }

    /// The latest shared status (JSON) of each of `sources`, or of every
    /// source when `None`.
    pub async fn statuses(&self, sources: Option<Vec<String>>) -> Result<Vec<String>, LogError> {
        let client = self.client().await?;
        let rows =
            match sources {
                None => {
                    client
                        .query("SELECT status FROM source_status ORDER BY source", &[])
                        .await?
                }
                Some(sources) => client
                    .query(
                        "SELECT status FROM source_status WHERE source = ANY($1) ORDER BY source",
                        &[&sources],
                    )
                    .await?,
            };
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The shared "on stream" queue, oldest first.
    pub async fn featured(&self) -> Result<Vec<(String, String)>, LogError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT source, id FROM featured ORDER BY position", &[])
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Applies `op` to the shared queue and tells every instance.
    pub async fn change_featured(&self, op: FeaturedOp) -> Result<(), LogError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        match op {
            FeaturedOp::Add { source, id, max } => {
                tx.execute(
                    "INSERT INTO featured (source, id) VALUES ($1, $2) \
                     ON CONFLICT (source, id) DO NOTHING",
                    &[&source, &id],
                )
                .await?;
                tx.execute(
                    "DELETE FROM featured WHERE position NOT IN \
                     (SELECT position FROM featured ORDER BY position DESC LIMIT $1)",
                    &[&(max as i64)],
                )
                .await?;
            }
            FeaturedOp::Remove { source, id } => {
                tx.execute(
                    "DELETE FROM featured WHERE source = $1 AND id = $2",
                    &[&source, &id],
                )
                .await?;
            }
            FeaturedOp::Clear => {
                tx.execute("DELETE FROM featured", &[]).await?;
            }
        }
        tx.execute("SELECT pg_notify($1, '')", &[&FEATURED_CHANNEL])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn cursor(&self, source: String) -> Result<Option<String>, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT value FROM cursors WHERE source = $1", &[&source])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn quota_used(&self, day: String) -> Result<i64, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT units FROM quota WHERE day = $1", &[&day])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    pub async fn reserve_quota(
        &self,
        day: String,
        units: i64,
        budget: i64,
    ) -> Result<Option<i64>, LogError> {
        let client = self.client().await?;
        // The row lock of the upsert makes the check and the addition one
        // step for every instance.
        let row = client
            .query_opt(
                "INSERT INTO quota (day, units) SELECT $1::text, $2::bigint WHERE $2::bigint <= $3::bigint \
                 ON CONFLICT (day) DO UPDATE SET units = quota.units + excluded.units \
                 WHERE quota.units + excluded.units <= $3::bigint RETURNING units",
                &[&day, &units, &budget],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn latest_seq(&self) -> Result<i64, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT seq FROM feed_head", &[])
            .await?
            .try_get(0)?)
    }

    pub async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT ch.seq, ch.kind, {COMMENT_COLUMNS} FROM changes ch \
                 JOIN comments c ON c.seq = ch.comment \
                 WHERE ch.seq > $1 ORDER BY ch.seq LIMIT $2"
            ))
            .await?;
        let rows = client.query(&stmt, &[&after, &(limit as i64)]).await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    seq: r.try_get(0)?,
                    kind: ChangeKind::parse(r.try_get(1)?),
                    comment: comment_from_row(r, 2)?,
                })
            })
            .collect()
    }

    pub async fn recent_start(&self, n: usize) -> Result<i64, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT seq FROM comments ORDER BY seq DESC LIMIT 1 OFFSET $1",
                &[&(n.saturating_sub(1) as i64)],
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()?
            .map_or(0, |s| s - 1))
    }

    pub async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError> {
        self.page(Selection::default(), None, n as u64)
            .await
            .map(|p| p.comments)
    }

    pub async fn count(&self) -> Result<i64, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT count(*) FROM comments", &[])
            .await?
            .try_get(0)?)
    }

    pub async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COMMENT_COLUMNS} FROM comments c WHERE source = $1 AND id = $2"),
                &[&source, &id],
            )
            .await?;
        row.map(|r| comment_from_row(&r, 0)).transpose()
    }

    pub async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError> {
        let mut client = self.client().await?;
        // One snapshot for both numbers.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let count: i64 = tx
            .query_one(
                "SELECT count(*) FROM comments WHERE fetched_at >= $1",
                &[&rfc3339::format(&since)],
            )
            .await?
            .try_get(0)?;
        let latest: i64 = tx
            .query_one("SELECT seq FROM feed_head", &[])
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok((count, latest))
    }

    pub async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE comments SET featured_at = $3 \
                 WHERE source = $1 AND id = $2 AND featured_at IS NULL",
                &[&source, &id, &rfc3339::format(&Utc::now())],
            )
            .await?;
        Ok(())
    }

    pub async fn has_source(&self, source: String) -> Result<bool, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                "SELECT 1 FROM comments WHERE source = $1 LIMIT 1",
                &[&source],
            )
            .await?
            .is_some())
    }

    pub async fn known_ids(
        &self,
        source: String,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, LogError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM comments WHERE source = $1 AND id = ANY($2)",
                &[&source, &ids],
            )
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<_, String>(0)?))
            .collect()
    }

    pub async fn page(
        &self,
        sel: Selection,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Page, LogError> {
        // One row more than asked tells whether another page follows.
        let (text, values) = Sql::new(&sel, before).newest_first(COMMENT_COLUMNS, limit + 1);
        let client = self.client().await?;
        let rows = client.query(&text, &params(&values)).await?;
        let comments = rows
            .iter()
            .map(|r| Ok((r.try_get::<_, i64>(0)?, comment_from_row(r, 0)?)))
            .collect::<Result<Vec<_>, LogError>>()?;
        Ok(Page::from_one_more(comments, limit))
    }

    pub async fn stats(&self, sel: Selection) -> Result<Stats, LogError> {
        let (text, values) = Sql::new(&sel, None).unordered(STATS_COLUMNS);
        let client = self.client().await?;
        let rows = client.query_raw(&text, params(&values)).await?;
        futures_util::pin_mut!(rows);
        let mut stats = StatsBuilder::default();
        while let Some(row) = rows.next().await {
            let row = row?;
            stats.add(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }
        Ok(stats.finish())
    }

    pub async fn count_matching(&self, sel: Selection) -> Result<u64, LogError> {
        let (text, values) = Sql::new(&sel, None).unordered("count(*)");
        let client = self.client().await?;
        let n: i64 = client
            .query_one(&text, &params(&values))
            .await?
            .try_get(0)?;
        Ok(n as u64)
    }

    pub async fn sources(&self) -> Result<Vec<String>, LogError> {
        let client = self.client().await?;
        // One index seek per source, not a pass over the log.
        let rows = client
            .query(
                "WITH RECURSIVE s(name) AS ( \
                   SELECT min(source) FROM comments \
                   UNION ALL \
                   SELECT (SELECT min(source) FROM comments WHERE source > s.name) FROM s \
                   WHERE s.name IS NOT NULL) \
                 SELECT name FROM s WHERE name IS NOT NULL",
                &[],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError> {
        let cutoff = rfc3339::format(&older_than);
        let mut total = 0usize;
        loop {
            let client = self.client().await?;
            let n = client
                .execute(
                    "DELETE FROM comments WHERE seq IN \
                     (SELECT seq FROM comments WHERE fetched_at < $1 ORDER BY seq LIMIT $2)",
                    &[&cutoff, &PRUNE_BATCH],
                )
                .await? as usize;
            total += n;
            if (n as i64) < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// New comments as columns, for one `INSERT … SELECT * FROM unnest(…)`.
#[derive(Default)]
struct NewRows {
    seq: Vec<i64>,
    source: Vec<String>,
    id: Vec<String>,
    author_name: Vec<String>,
    author_id: Vec<String>,
    author_avatar: Vec<Option<String>>,
    text: Vec<String>,
    html: Vec<String>,
    published_at: Vec<String>,
    fetched_at: Vec<String>,
    likes: Vec<i64>,
    reply_to: Vec<Option<String>>,
    amount_display: Vec<Option<String>>,
    amount_micros: Vec<Option<i64>>,
    amount_currency: Vec<Option<String>>,
    edited: Vec<bool>,
    deleted: Vec<bool>,
    emotes: Vec<Option<String>>,
    text_folded: Vec<String>,
    author_folded: Vec<String>,
}

impl NewRows {
    fn push(&mut self, seq: i64, c: &Comment) {
        self.seq.push(seq);
        self.source.push(c.source.clone());
        self.id.push(c.id.clone());
        self.author_name.push(c.author.name.clone());
        self.author_id.push(c.author.id.clone());
        self.author_avatar.push(c.author.avatar.clone());
        self.text.push(c.text.clone());
        self.html.push(c.html.as_str().to_owned());
        self.published_at.push(rfc3339::format(&c.published_at));
        self.fetched_at.push(rfc3339::format(&c.fetched_at));
        self.likes.push(c.likes);
        self.reply_to.push(c.reply_to.clone());
        self.amount_display
            .push(c.amount.as_ref().map(|a| a.display.clone()));
        self.amount_micros.push(c.amount.as_ref().map(|a| a.micros));
        self.amount_currency
            .push(c.amount.as_ref().map(|a| a.currency.clone()));
        self.edited.push(c.edited);
        self.deleted.push(c.deleted);
        self.emotes.push(
            (!c.emotes.is_empty())
                .then(|| serde_json::to_string(&c.emotes).expect("a map of strings")),
        );
        self.text_folded.push(query::fold(&c.text));
        self.author_folded.push(query::fold(&c.author.name));
    }

    /// Applies an edit to the row at `i`, as an UPDATE would.
    fn edit(&mut self, i: usize, c: &Comment) {
        self.text[i] = c.text.clone();
        self.html[i] = c.html.as_str().to_owned();
        self.edited[i] = true;
        self.likes[i] = c.likes;
        self.text_folded[i] = query::fold(&c.text);
    }

    async fn insert(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), LogError> {
        if self.seq.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO comments (seq, source, id, author_name, author_id, author_avatar, \
                 text, html, published_at, fetched_at, likes, reply_to, amount_display, \
                 amount_micros, amount_currency, edited, deleted, emotes, text_folded, \
                 author_folded) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
                 $11::bigint[], $12::text[], $13::text[], $14::bigint[], $15::text[], \
                 $16::boolean[], $17::boolean[], $18::text[], $19::text[], $20::text[])",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &self.seq,
                &self.source,
                &self.id,
                &self.author_name,
                &self.author_id,
                &self.author_avatar,
                &self.text,
                &self.html,
                &self.published_at,
                &self.fetched_at,
                &self.likes,
                &self.reply_to,
                &self.amount_display,
                &self.amount_micros,
                &self.amount_currency,
                &self.edited,
                &self.deleted,
                &self.emotes,
                &self.text_folded,
                &self.author_folded,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Creates or updates the schema under the migration lock, and returns the
/// log's id.
async fn migrate(pool: &Pool, url: &str) -> Result<String, LogError> {
    let mut client = pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => LogError::Postgres(e),
        other => LogError::Connect(other.to_string()),
    })?;
    let mut tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    let found: Option<i64> = match exists {
        false => None,
        true => tx
            .query_opt(
                "SELECT value::bigint FROM meta WHERE key = 'schema_version'",
                &[],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    };
    if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
        return Err(LogError::TooNew {
            path: redact(url).into(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    tx.batch_execute(SCHEMA).await?;
    // Trigram indexes make searches of three or more characters fast; they
    // need the `pg_trgm` extension, which some servers do not allow.
    let trigram = tx.savepoint("trigram").await?;
    let indexed = trigram
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
             CREATE INDEX IF NOT EXISTS comments_text_trgm ON comments \
               USING gin (text_folded gin_trgm_ops); \
             CREATE INDEX IF NOT EXISTS comments_author_trgm ON comments \
               USING gin (author_folded gin_trgm_ops);",
        )
        .await;
    match indexed {
        Ok(()) => trigram.commit().await?,
        Err(e) => {
            warn!(error = %e, "pg_trgm is not available: search works, by scanning the log");
            trigram.rollback().await?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&SCHEMA_VERSION.to_string()],
    )
    .await?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('log_id', $1) ON CONFLICT (key) DO NOTHING",
        &[&format!("{:016x}", rand::random::<u64>())],
    )
    .await?;
    let log_id: String = tx
        .query_one("SELECT value FROM meta WHERE key = 'log_id'", &[])
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(log_id)
}

/// Reads the [`COMMENT_COLUMNS`] starting at index `at`.
fn comment_from_row(r: &Row, at: usize) -> Result<Comment, LogError> {
    let time = |i: usize| -> Result<DateTime<Utc>, LogError> {
        let s: &str = r.try_get(at + i)?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| LogError::Task(format!("a stored time is unreadable: {e}")))
    };
    let amount = match r.try_get::<_, Option<String>>(at + 12)? {
        Some(display) => Some(Amount {
            display,
            micros: r.try_get::<_, Option<i64>>(at + 13)?.unwrap_or(0),
            currency: r.try_get::<_, Option<String>>(at + 14)?.unwrap_or_default(),
        }),
        None => None,
    };
    let text: String = r.try_get(at + 6)?;
    let html: &str = r.try_get(at + 7)?;
    Ok(Comment {
        source: r.try_get(at + 1)?,
        id: r.try_get(at + 2)?,
        author: Author {
            name: r.try_get(at + 3)?,
            id: r.try_get(at + 4)?,
            avatar: r.try_get(at + 5)?,
        },
        html: query::html_from_stored(&text, html),
        text,
        published_at: time(8)?,
        fetched_at: time(9)?,
        likes: r.try_get(at + 10)?,
        reply_to: r.try_get(at + 11)?,
        amount,
        edited: r.try_get(at + 15)?,
        deleted: r.try_get(at + 16)?,
        emotes: query::emotes_from_stored(r.try_get(at + 17)?),
    })
}

/// A bound value of a query built by [`Sql`].
type Value = Box<dyn ToSql + Sync + Send>;

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// `s` as a `LIKE` pattern that matches it anywhere, its `%`, `_` and `\`
/// only text.
fn contains_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A selection turned into SQL: constant fragments plus bound values, the
/// PostgreSQL twin of the SQLite builder in `query`. Every value a user
/// typed is a bound parameter.
struct Sql {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Sql {
    /// Binds `v` and returns its placeholder.
    fn bind(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    fn new(sel: &Selection, before: Option<i64>) -> Sql {
        let mut sql = Sql {
            clauses: Vec::new(),
            values: Vec::new(),
        };
        if let Some(q) = sel.q.as_deref() {
            let p = sql.bind(contains_pattern(&query::fold(q)));
            sql.clauses.push(format!(
                "(c.text_folded LIKE {p} OR c.author_folded LIKE {p})"
            ));
        }
        if let Some(a) = sel.author.as_deref() {
            let id = sql.bind(a.to_owned());
            let name = sql.bind(query::fold(a));
            sql.clauses
                .push(format!("(c.author_id = {id} OR c.author_folded = {name})"));
        }
        if let Some(before) = before {
            let p = sql.bind(before);
            sql.clauses.push(format!("c.seq < {p}"));
        }
        match &sel.source {
            Some(SourceFilter::Exact(s)) => {
                let p = sql.bind(s.clone());
                sql.clauses.push(format!("c.source = {p}"));
            }
            Some(SourceFilter::Platform(p)) => {
                // Every `youtube:ID` and nothing else.
                let p = sql.bind(contains_pattern(&format!("{p}:"))[1..].to_owned());
                sql.clauses.push(format!("c.source LIKE {p}"));
            }
            None => {}
        }
        if let Some(t) = &sel.since {
            let p = sql.bind(rfc3339::format(t));
            sql.clauses.push(format!("c.published_at >= {p}"));
        }
        if let Some(t) = &sel.until {
            let p = sql.bind(rfc3339::format(t));
            sql.clauses.push(format!("c.published_at < {p}"));
        }
        for (flag, only) in [
            (sel.deleted, "c.deleted"),
            (sel.edited, "c.edited"),
            (sel.replies, "c.reply_to IS NOT NULL"),
            (sel.paid, "c.amount_display IS NOT NULL"),
            (sel.featured, "c.featured_at IS NOT NULL"),
        ] {
            match flag {
                Flag::Any => {}
                Flag::Only => sql.clauses.push(only.to_owned()),
                Flag::Without => sql.clauses.push(format!("NOT ({only})")),
            }
        }
        if sel.highlighted != Flag::Any {
            let patterns: Vec<String> = sel
                .highlight_words
                .iter()
                .filter(|w| !w.is_empty())
                .map(|w| contains_pattern(&query::fold(w)))
                .collect();
            let p = sql.bind(patterns);
            let any = format!("c.text_folded LIKE ANY({p})");
            sql.clauses.push(if sel.highlighted == Flag::Only {
                any
            } else {
                format!("NOT ({any})")
            });
        }
        sql
    }

    fn where_clause(&self) -> String {
        query::where_clause(&self.clauses)
    }

    /// `SELECT columns … ORDER BY seq DESC LIMIT n`.
    fn newest_first(mut self, columns: &str, limit: u64) -> (String, Vec<Value>) {
        let limit = self.bind(limit.min(i64::MAX as u64) as i64);
        let text = format!(
            "SELECT {columns} FROM comments c{} ORDER BY c.seq DESC LIMIT {limit}",
            self.where_clause()
        );
        (text, self.values)
    }

    fn unordered(self, columns: &str) -> (String, Vec<Value>) {
        let text = format!("SELECT {columns} FROM comments c{}", self.where_clause());
        (text, self.values)
    }
}
