//! Sign-in sessions in the PostgreSQL log, shared by every instance: the
//! statements behind the session calls of `LogBackend`. The log holds a
//! hash of each session id, never the id itself; what a session means is
//! the web layer's business. It touches the `sessions` table only.

use super::PgLog;
use crate::store::LogError;

pub(super) async fn create(
    log: &PgLog,
    id_hash: String,
    token_tag: String,
    expires_at: i64,
) -> Result<(), LogError> {
    log.client()
        .await?
        .execute(
            "INSERT INTO sessions (id_hash, token_tag, expires_at) VALUES ($1, $2, $3)",
            &[&id_hash, &token_tag, &expires_at],
        )
        .await?;
    Ok(())
}

pub(super) async fn expiry(
    log: &PgLog,
    id_hash: String,
    token_tag: String,
    now: i64,
) -> Result<Option<i64>, LogError> {
    let row = log
        .client()
        .await?
        .query_opt(
            "SELECT expires_at FROM sessions \
             WHERE id_hash = $1 AND token_tag = $2 AND expires_at > $3",
            &[&id_hash, &token_tag, &now],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) async fn extend(log: &PgLog, id_hash: String, expires_at: i64) -> Result<(), LogError> {
    log.client()
        .await?
        .execute(
            "UPDATE sessions SET expires_at = $2 WHERE id_hash = $1",
            &[&id_hash, &expires_at],
        )
        .await?;
    Ok(())
}

pub(super) async fn end(log: &PgLog, id_hash: String) -> Result<(), LogError> {
    log.client()
        .await?
        .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
        .await?;
    Ok(())
}

pub(super) async fn prune(log: &PgLog, token_tag: String, now: i64) -> Result<u64, LogError> {
    Ok(log
        .client()
        .await?
        .execute(
            "DELETE FROM sessions WHERE token_tag <> $1 OR expires_at <= $2",
            &[&token_tag, &now],
        )
        .await?)
}
