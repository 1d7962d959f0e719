//! The cluster's coordination, what only a shared log offers
//! ([`SharedLog`]): per-source advisory locks on a connection of their own,
//! `LISTEN`/`NOTIFY` between instances (of new changes, of a changed "on
//! stream" queue or hidden list, of a source's status) and the sources'
//! shared statuses. It never touches the comments.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_postgres::types::ToSql;
use tracing::{debug, warn};

use super::{
    CHANNEL, CONNECT_TIMEOUT, FEATURED_CHANNEL, HIDDEN_CHANNEL, PgLog, SOURCE_LOCK_CLASS,
    STATUS_CHANNEL,
};
use crate::status::SourceStatus;
use crate::store::{Listener, LogError, Notice, SharedLog};

#[async_trait]
impl SharedLog for PgLog {
    /// On a connection of its own, which the listener keeps open.
    async fn listen(&self) -> Result<Listener, LogError> {
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
                            hidden: n.channel() == HIDDEN_CHANNEL,
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
                "LISTEN {CHANNEL}; LISTEN {FEATURED_CHANNEL}; LISTEN {HIDDEN_CHANNEL}; \
                 LISTEN {STATUS_CHANNEL};"
            ))
            .await?;
        Ok(Listener::new(rx, client))
    }

    /// Whether this instance holds (or now takes) `source`'s lock; an error
    /// when the database cannot be asked. A lock connection that broke took
    /// every lock with it: they are asked for again on a new one.
    async fn claim(&self, source: &str) -> Result<bool, LogError> {
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

    /// Lets go of `source`'s lock, so another instance can take it.
    async fn release(&self, source: &str) -> Result<(), LogError> {
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
    async fn share(&self) -> Result<(usize, usize), LogError> {
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

    /// Stored as JSON text, unless a newer one is stored; the notification
    /// names the source.
    async fn share_status(&self, status: &SourceStatus, at: DateTime<Utc>) -> Result<(), LogError> {
        let source = &status.source;
        let json = serde_json::to_string(status).expect("a status serializes");
        let client = self.client().await?;
        client
            .execute(
                "WITH s AS (INSERT INTO source_status (source, status, reported_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE \
                 SET status = excluded.status, reported_at = excluded.reported_at \
                 WHERE source_status.reported_at < excluded.reported_at RETURNING 1) \
                 SELECT pg_notify($4, $1) FROM s",
                &[source, &json, &at, &STATUS_CHANNEL],
            )
            .await?;
        Ok(())
    }

    async fn statuses(&self, sources: Option<Vec<String>>) -> Result<Vec<SourceStatus>, LogError> {
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
        let mut statuses = Vec::with_capacity(rows.len());
        for row in rows {
            let json: &str = row.try_get(0)?;
            match serde_json::from_str::<SourceStatus>(json) {
                Ok(status) => statuses.push(status),
                Err(e) => warn!(error = %e, "a shared source status is unreadable"),
            }
        }
        Ok(statuses)
    }
}
