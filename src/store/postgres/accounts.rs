//! Connected accounts in the PostgreSQL log, shared by every instance: the
//! statements behind the account calls of `LogBackend`. It touches the
//! `linked_accounts` table only; what an account may do is `crate::oauth`'s
//! business.

use super::PgLog;
use crate::domain::Secret;
use crate::store::{ActionRecord, LinkedAccount, LogError};

pub(super) async fn get(log: &PgLog, platform: String) -> Result<Option<LinkedAccount>, LogError> {
    let row = log
        .client()
        .await?
        .query_opt(
            "SELECT platform, refresh_token, channel_id, channel_title, connected_at, \
             connected_by FROM linked_accounts WHERE platform = $1",
            &[&platform],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(LinkedAccount {
        platform: r.try_get(0)?,
        refresh_token: Secret::new(r.try_get::<_, String>(1)?),
        channel_id: r.try_get(2)?,
        channel_title: r.try_get(3)?,
        connected_at: r.try_get(4)?,
        connected_by: r.try_get(5)?,
    }))
}

pub(super) async fn set(log: &PgLog, a: LinkedAccount) -> Result<(), LogError> {
    log.client()
        .await?
        .execute(
            "INSERT INTO linked_accounts \
             (platform, refresh_token, channel_id, channel_title, connected_at, connected_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (platform) DO UPDATE SET refresh_token = excluded.refresh_token, \
             channel_id = excluded.channel_id, channel_title = excluded.channel_title, \
             connected_at = excluded.connected_at, connected_by = excluded.connected_by",
            &[
                &a.platform,
                &a.refresh_token.expose(),
                &a.channel_id,
                &a.channel_title,
                &a.connected_at,
                &a.connected_by,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn forget(log: &PgLog, platform: String) -> Result<bool, LogError> {
    let n = log
        .client()
        .await?
        .execute(
            "DELETE FROM linked_accounts WHERE platform = $1",
            &[&platform],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn record_action(log: &PgLog, a: ActionRecord) -> Result<i64, LogError> {
    let row = log
        .client()
        .await?
        .query_one(
            "INSERT INTO actions (at, session, action, source, comment_id, author_id, duration, \
             ok, answer, ban_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &a.at,
                &a.session,
                &a.action,
                &a.source,
                &a.comment_id,
                &a.author_id,
                &a.duration,
                &a.ok,
                &a.answer,
                &a.ban_id,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn last_ban(
    log: &PgLog,
    source: String,
    author_id: String,
) -> Result<Option<String>, LogError> {
    let row = log
        .client()
        .await?
        .query_opt(
            "SELECT ban_id FROM actions WHERE source = $1 AND author_id = $2 AND ok \
             AND ban_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            &[&source, &author_id],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) async fn recent_actions(log: &PgLog, limit: i64) -> Result<Vec<ActionRecord>, LogError> {
    let rows = log
        .client()
        .await?
        .query(
            "SELECT at, session, action, source, comment_id, author_id, duration, ok, answer, \
             ban_id FROM actions ORDER BY id DESC LIMIT $1",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ActionRecord {
                at: r.try_get(0)?,
                session: r.try_get(1)?,
                action: r.try_get(2)?,
                source: r.try_get(3)?,
                comment_id: r.try_get(4)?,
                author_id: r.try_get(5)?,
                duration: r.try_get(6)?,
                ok: r.try_get(7)?,
                answer: r.try_get(8)?,
                ban_id: r.try_get(9)?,
            })
        })
        .collect()
}
