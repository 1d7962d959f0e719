//! The PostgreSQL schema: created or brought up to this build's version,
//! one instance at a time (an advisory lock), with trigram indexes when
//! the server allows `pg_trgm`. It reads and writes only `meta` besides
//! the DDL.

use deadpool_postgres::Pool;
use tracing::warn;

use super::{MIGRATE_LOCK, SCHEMA, SCHEMA_VERSION, redact};
use crate::store::LogError;

/// Creates or updates the schema under the migration lock, and returns the
/// log's id.
pub(super) async fn migrate(pool: &Pool, url: &str) -> Result<String, LogError> {
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
    // The schema's indexes take a share lock on `comments` and its ALTERs
    // then need an exclusive one: upgrading it while another instance
    // writes (read, then insert) is a deadlock. Taking the strongest lock
    // first makes a writer wait for the migration instead.
    let comments_exist: bool = tx
        .query_one("SELECT to_regclass('comments') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if comments_exist {
        tx.batch_execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
            .await?;
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
