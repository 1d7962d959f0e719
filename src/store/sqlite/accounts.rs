//! Connected accounts in the SQLite log: the blocking statements behind the
//! account calls of `LogBackend`. It touches the `linked_accounts` table
//! only; what an account may do is `crate::oauth`'s business.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Secret;
use crate::store::{LinkedAccount, LogError};

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
