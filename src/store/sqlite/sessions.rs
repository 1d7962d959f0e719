//! Sign-in sessions in the SQLite log: the blocking statements behind the
//! session calls of `LogBackend`. The log holds a hash of each session id,
//! never the id itself; what a session means is the web layer's business.
//! It touches the `sessions` table only.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::LogError;

pub(super) fn create(
    conn: &Connection,
    id_hash: &str,
    token_tag: &str,
    expires_at: i64,
) -> Result<(), LogError> {
    conn.execute(
        "INSERT INTO sessions (id_hash, token_tag, expires_at) VALUES (?1, ?2, ?3)",
        params![id_hash, token_tag, expires_at],
    )?;
    Ok(())
}

pub(super) fn expiry(
    conn: &Connection,
    id_hash: &str,
    token_tag: &str,
    now: i64,
) -> Result<Option<i64>, LogError> {
    Ok(conn
        .query_row(
            "SELECT expires_at FROM sessions \
             WHERE id_hash = ?1 AND token_tag = ?2 AND expires_at > ?3",
            params![id_hash, token_tag, now],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn extend(conn: &Connection, id_hash: &str, expires_at: i64) -> Result<(), LogError> {
    conn.execute(
        "UPDATE sessions SET expires_at = ?2 WHERE id_hash = ?1",
        params![id_hash, expires_at],
    )?;
    Ok(())
}

pub(super) fn end(conn: &Connection, id_hash: &str) -> Result<(), LogError> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

pub(super) fn prune(conn: &Connection, token_tag: &str, now: i64) -> Result<u64, LogError> {
    let n = conn.execute(
        "DELETE FROM sessions WHERE token_tag <> ?1 OR expires_at <= ?2",
        params![token_tag, now],
    )?;
    Ok(n as u64)
}
