//! Reading the PostgreSQL log, and its [`LogBackend`] calls: a
//! [`Selection`] turned into SQL (constant fragments plus bound values; every
//! value a user typed is a bound parameter), pages, statistics, the short
//! reads, retention, and the blocking reader an export reads through.
//!
//! Search folds case in Rust (`fold`) into `text_folded` and
//! `author_folded`, so it finds the same substrings as the SQLite indexes,
//! whatever the server's locale.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PRUNE_BATCH, PgLog, sessions, streamer};
use crate::domain::{Comment, rfc3339};
use crate::store::export::{BlockingReader, Format, format_page};
use crate::store::row::{COMMENT_COLUMN_COUNT, COMMENT_COLUMNS, Col, Columns, read_comment};
use crate::store::selection::{stored_kinds, where_clause};
use crate::store::stats::{STATS_COLUMNS, StatsBuilder};
use crate::store::{
    ActionRecord, Batch, Change, ChangeKind, FeaturedOp, Flag, LinkedAccount, LogBackend, LogError,
    Page, Reader, Selection, SourceFilter, Stats, fold,
};

#[async_trait]
impl LogBackend for PgLog {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Lets go of the source locks at once (another instance takes them at
    /// its next tick) and closes the pooled connections.
    async fn shut_down(&self) -> Result<(), LogError> {
        self.close().await;
        Ok(())
    }

    /// A few round trips whatever the batch's size; see `write`.
    async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        self.write_batch(batch).await
    }

    async fn cursor(&self, source: String) -> Result<Option<String>, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT value FROM cursors WHERE source = $1", &[&source])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn quota_used(&self, day: String) -> Result<i64, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT units FROM quota WHERE day = $1", &[&day])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    async fn reserve_quota(
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

    async fn latest_seq(&self) -> Result<i64, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT seq FROM feed_head", &[])
            .await?
            .try_get(0)?)
    }

    async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COMMENT_COLUMNS}, ch.seq, ch.kind FROM changes ch \
                 JOIN comments c ON c.seq = ch.comment \
                 WHERE ch.seq > $1 ORDER BY ch.seq LIMIT $2"
            ))
            .await?;
        let rows = client.query(&stmt, &[&after, &(limit as i64)]).await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    seq: r.try_get(COMMENT_COLUMN_COUNT)?,
                    kind: ChangeKind::parse(r.try_get(COMMENT_COLUMN_COUNT + 1)?),
                    comment: read_comment(r)?.1,
                })
            })
            .collect()
    }

    async fn recent_start(&self, n: usize) -> Result<i64, LogError> {
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

    async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError> {
        self.page(Selection::default(), None, n as u64)
            .await
            .map(|p| p.comments)
    }

    async fn count(&self) -> Result<i64, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT count(*) FROM comments", &[])
            .await?
            .try_get(0)?)
    }

    async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {COMMENT_COLUMNS} FROM comments c WHERE c.source = $1 AND c.id = $2"
                ),
                &[&source, &id],
            )
            .await?;
        Ok(row.map(|r| read_comment(&r)).transpose()?.map(|(_, c)| c))
    }

    async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError> {
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

    async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError> {
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

    async fn has_source(&self, source: String) -> Result<bool, LogError> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                "SELECT 1 FROM comments WHERE source = $1 LIMIT 1",
                &[&source],
            )
            .await?
            .is_some())
    }

    async fn known_ids(
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

    async fn page(
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
            .map(read_comment)
            .collect::<Result<Vec<_>, LogError>>()?;
        Ok(Page::from_one_more(comments, limit))
    }

    async fn stats(&self, sel: Selection) -> Result<Stats, LogError> {
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

    async fn count_matching(&self, sel: Selection) -> Result<u64, LogError> {
        let (text, values) = Sql::new(&sel, None).unordered("count(*)");
        let client = self.client().await?;
        let n: i64 = client
            .query_one(&text, &params(&values))
            .await?
            .try_get(0)?;
        Ok(n as u64)
    }

    async fn sources(&self) -> Result<Vec<String>, LogError> {
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

    async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError> {
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

    async fn featured(&self) -> Result<Vec<(String, String)>, LogError> {
        streamer::featured(self).await
    }

    async fn change_featured(&self, op: FeaturedOp) -> Result<(), LogError> {
        streamer::change_featured(self, op).await
    }

    async fn hidden(&self) -> Result<Vec<String>, LogError> {
        streamer::hidden(self).await
    }

    async fn set_hidden(&self, key: String, entry: String, hide: bool) -> Result<bool, LogError> {
        streamer::set_hidden(self, key, entry, hide).await
    }

    async fn seed_hidden(&self, entries: Vec<(String, String)>) -> Result<usize, LogError> {
        streamer::seed_hidden(self, entries).await
    }

    async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError> {
        sessions::create(self, id_hash, token_tag, expires_at).await
    }

    async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError> {
        sessions::expiry(self, id_hash, token_tag, now).await
    }

    async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError> {
        sessions::extend(self, id_hash, expires_at).await
    }

    async fn end_session(&self, id_hash: String) -> Result<(), LogError> {
        sessions::end(self, id_hash).await
    }

    async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError> {
        sessions::prune(self, token_tag, now).await
    }

    async fn linked_account(&self, platform: String) -> Result<Option<LinkedAccount>, LogError> {
        super::accounts::get(self, platform).await
    }

    async fn link_account(&self, account: LinkedAccount) -> Result<(), LogError> {
        super::accounts::set(self, account).await
    }

    async fn unlink_account(&self, platform: String) -> Result<bool, LogError> {
        super::accounts::forget(self, platform).await
    }

    async fn record_action(&self, action: ActionRecord) -> Result<i64, LogError> {
        super::accounts::record_action(self, action).await
    }

    async fn last_ban(
        &self,
        source: String,
        author_id: String,
    ) -> Result<Option<String>, LogError> {
        super::accounts::last_ban(self, source, author_id).await
    }

    async fn recent_actions(&self, limit: i64) -> Result<Vec<ActionRecord>, LogError> {
        super::accounts::recent_actions(self, limit).await
    }

    /// Reads through this log's pool, driven from the blocking thread the
    /// export runs on by the runtime that made the reader.
    fn reader(&self) -> Result<Reader, LogError> {
        Ok(Reader::new(PgReader {
            log: self.clone(),
            runtime: tokio::runtime::Handle::current(),
        }))
    }
}

/// An export's reader: pages read on the runtime that opened the log,
/// blocking the (non-runtime) thread the export runs on.
struct PgReader {
    log: PgLog,
    runtime: tokio::runtime::Handle,
}

impl BlockingReader for PgReader {
    fn count(&mut self, sel: &Selection) -> Result<u64, LogError> {
        self.runtime.block_on(self.log.count_matching(sel.clone()))
    }

    /// Reads a page and formats its comments.
    fn batch(
        &mut self,
        sel: &Selection,
        before: Option<i64>,
        limit: u64,
        format: Format,
        buf: &mut Vec<u8>,
    ) -> Result<(u64, Option<i64>), LogError> {
        let page = self
            .runtime
            .block_on(self.log.page(sel.clone(), before, limit))?;
        format_page(&page, format, buf)
    }
}

impl Columns for Row {
    type Error = LogError;

    fn text(&self, col: Col) -> Result<String, LogError> {
        Ok(self.try_get(col.index())?)
    }

    fn opt_text(&self, col: Col) -> Result<Option<String>, LogError> {
        Ok(self.try_get(col.index())?)
    }

    fn int(&self, col: Col) -> Result<i64, LogError> {
        Ok(self.try_get(col.index())?)
    }

    fn opt_int(&self, col: Col) -> Result<Option<i64>, LogError> {
        Ok(self.try_get(col.index())?)
    }

    fn flag(&self, col: Col) -> Result<bool, LogError> {
        Ok(self.try_get(col.index())?)
    }

    fn unreadable(_: Col, e: chrono::ParseError) -> LogError {
        LogError::Task(format!("a stored time is unreadable: {e}"))
    }
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
            let p = sql.bind(contains_pattern(&fold(q)));
            sql.clauses.push(format!(
                "(c.text_folded LIKE {p} OR c.author_folded LIKE {p})"
            ));
        }
        if let Some(a) = sel.author.as_deref() {
            let id = sql.bind(a.to_owned());
            let name = sql.bind(fold(a));
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
                .map(|w| contains_pattern(&fold(w)))
                .collect();
            let p = sql.bind(patterns);
            let any = format!("c.text_folded LIKE ANY({p})");
            sql.clauses.push(if sel.highlighted == Flag::Only {
                any
            } else {
                format!("NOT ({any})")
            });
        }
        if !sel.roles.is_empty() {
            // Roles are stored comma-separated (`owner,member`).
            let names: Vec<String> = sel.roles.iter().map(|r| r.as_str().to_owned()).collect();
            let p = sql.bind(names);
            sql.clauses.push(format!(
                "c.roles IS NOT NULL AND string_to_array(c.roles, ',') && {p}::text[]"
            ));
        }
        if !sel.kinds.is_empty() {
            // Ordinary text is stored as NULL.
            let (names, with_text) = stored_kinds(&sel.kinds);
            let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
            let clause = match (names.len(), with_text) {
                (0, _) => "c.kind IS NULL".to_owned(),
                (1, false) => format!("c.kind = {}", sql.bind(names[0].clone())),
                (_, false) => format!("c.kind = ANY({}::text[])", sql.bind(names)),
                (_, true) => format!(
                    "(c.kind IS NULL OR c.kind = ANY({}::text[]))",
                    sql.bind(names)
                ),
            };
            sql.clauses.push(clause);
        }
        sql
    }

    fn where_clause(&self) -> String {
        where_clause(&self.clauses)
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
