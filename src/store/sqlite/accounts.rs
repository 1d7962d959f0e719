//! Connected accounts in the SQLite log: the blocking statements behind the
//! account calls of `LogBackend`. It touches the `linked_accounts` table
//! only; what an account may do is `crate::oauth`'s business.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Secret;
use crate::store::{ActionRecord, LinkedAccount, LogError};

pub(super) fn get(conn: &Connection, platform: &str) -> Result<Option<LinkedAccount>, LogError> {
    Ok(conn
        .query_row(
            "SELECT platform, refresh_token, channel_id, channel_title, connected_at, \
             connected_by FROM linked_accounts WHERE platform = ?1",
            [platform],
            |r| {
                Ok(LinkedAccount {
                    platform: r.get(0)?,
                    refresh_token: Secret::new(r.get::<_, String>(1)?),
                    channel_id: r.get(2)?,
                    channel_title: r.get(3)?,
                    connected_at: r.get(4)?,
                    connected_by: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn set(conn: &Connection, a: &LinkedAccount) -> Result<(), LogError> {
    conn.execute(
        "INSERT INTO linked_accounts \
         (platform, refresh_token, channel_id, channel_title, connected_at, connected_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (platform) DO UPDATE SET refresh_token = excluded.refresh_token, \
         channel_id = excluded.channel_id, channel_title = excluded.channel_title, \
         connected_at = excluded.connected_at, connected_by = excluded.connected_by",
        params![
            a.platform,
            a.refresh_token.expose(),
            a.channel_id,
            a.channel_title,
            a.connected_at,
            a.connected_by
        ],
    )?;
    Ok(())
}

pub(super) fn forget(conn: &Connection, platform: &str) -> Result<bool, LogError> {
    let n = conn.execute(
        "DELETE FROM linked_accounts WHERE platform = ?1",
        [platform],
    )?;
    Ok(n > 0)
}

pub(super) fn record_action(conn: &Connection, a: &ActionRecord) -> Result<i64, LogError> {
    conn.execute(
        "INSERT INTO actions (at, session, action, source, comment_id, author_id, duration, \
         ok, answer, ban_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            a.at,
            a.session,
            a.action,
            a.source,
            a.comment_id,
            a.author_id,
            a.duration,
            a.ok,
            a.answer,
            a.ban_id
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn last_ban(
    conn: &Connection,
    source: &str,
    author_id: &str,
) -> Result<Option<String>, LogError> {
    Ok(conn
        .query_row(
            "SELECT ban_id FROM actions WHERE source = ?1 AND author_id = ?2 AND ok = 1 \
             AND ban_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            params![source, author_id],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn recent_actions(conn: &Connection, limit: i64) -> Result<Vec<ActionRecord>, LogError> {
    let mut stmt = conn.prepare(
        "SELECT at, session, action, source, comment_id, author_id, duration, ok, answer, \
         ban_id FROM actions ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(ActionRecord {
            at: r.get(0)?,
            session: r.get(1)?,
            action: r.get(2)?,
            source: r.get(3)?,
            comment_id: r.get(4)?,
            author_id: r.get(5)?,
            duration: r.get(6)?,
            ok: r.get(7)?,
            answer: r.get(8)?,
            ban_id: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Makes the log file and its `-wal` and `-shm` companions readable and
/// writable by their owner only (Unix); a failure is logged, not fatal.
pub(super) fn owner_only(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if !p.exists() {
                continue;
            }
            if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(error = %e, "could not make the comment log readable by its owner only");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
