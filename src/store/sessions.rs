//! Sign-in sessions, kept in the log so that a restart keeps the streamer
//! signed in and every instance sharing a log knows the same sessions.
//!
//! The log holds a hash of each session id, never the id the cookie
//! carries, a tag of the token the session was opened with, and its expiry
//! in unix seconds. What a session id is, how long it lasts and who gets one
//! is `web::auth`'s business; this file only stores them, for both backends.

use rusqlite::OptionalExtension;

use super::{Backend, CommentLog, LogError, PgLog, SqliteLog};

impl CommentLog {
    /// Stores a new session.
    pub async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError> {
        each!(self, l => l.create_session(id_hash, token_tag, expires_at).await)
    }

    /// When the session expires, if it exists, belongs to `token_tag` and
    /// has not expired by `now`.
    pub async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError> {
        each!(self, l => l.session_expiry(id_hash, token_tag, now).await)
    }

    /// Moves a session's expiry (a sliding expiry).
    pub async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError> {
        each!(self, l => l.extend_session(id_hash, expires_at).await)
    }

    /// Deletes a session (signing out).
    pub async fn end_session(&self, id_hash: String) -> Result<(), LogError> {
        each!(self, l => l.end_session(id_hash).await)
    }

    /// Deletes the sessions that expired by `now` and those of any other
    /// token than `token_tag` (the token changed); returns how many.
    pub async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError> {
        each!(self, l => l.prune_sessions(token_tag, now).await)
    }
}

impl SqliteLog {
    async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id_hash, token_tag, expires_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![id_hash, token_tag, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError> {
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT expires_at FROM sessions \
                     WHERE id_hash = ?1 AND token_tag = ?2 AND expires_at > ?3",
                    rusqlite::params![id_hash, token_tag, now],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError> {
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id_hash = ?1",
                rusqlite::params![id_hash, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn end_session(&self, id_hash: String) -> Result<(), LogError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
            Ok(())
        })
        .await
    }

    async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError> {
        self.with(move |conn| {
            let n = conn.execute(
                "DELETE FROM sessions WHERE token_tag <> ?1 OR expires_at <= ?2",
                rusqlite::params![token_tag, now],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

impl PgLog {
    async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sessions (id_hash, token_tag, expires_at) VALUES ($1, $2, $3)",
                &[&id_hash, &token_tag, &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError> {
        let row = self
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

    async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError> {
        self.client()
            .await?
            .execute(
                "UPDATE sessions SET expires_at = $2 WHERE id_hash = $1",
                &[&id_hash, &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn end_session(&self, id_hash: String) -> Result<(), LogError> {
        self.client()
            .await?
            .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .await?;
        Ok(())
    }

    async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError> {
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM sessions WHERE token_tag <> $1 OR expires_at <= $2",
                &[&token_tag, &now],
            )
            .await?)
    }
}
