//! What the streamer set from the dashboard, in the PostgreSQL log every
//! instance shares: the "on stream" queue (`featured`) and the hidden words
//! and authors (`hidden`). Each change is one transaction that also sends
//! `NOTIFY` (delivered at commit), so every instance shows it (`crate::feed`
//! reloads). It touches those two tables only; what an entry matches is
//! `crate::hidden`'s business, the log only keeps them.

use super::{FEATURED_CHANNEL, HIDDEN_CHANNEL, PgLog};
use crate::store::{FeaturedOp, LogError};

pub(super) async fn featured(log: &PgLog) -> Result<Vec<(String, String)>, LogError> {
    let rows = log
        .client()
        .await?
        .query("SELECT source, id FROM featured ORDER BY position", &[])
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Applies `op` to the shared queue and tells every instance.
pub(super) async fn change_featured(log: &PgLog, op: FeaturedOp) -> Result<(), LogError> {
    let mut client = log.client().await?;
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

pub(super) async fn hidden(log: &PgLog) -> Result<Vec<String>, LogError> {
    let rows = log
        .client()
        .await?
        .query(
            "SELECT entry FROM hidden WHERE NOT removed ORDER BY position",
            &[],
        )
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The statement that hides one entry: inserts it, or (with `revive`) brings
/// a removed one back at the end of the list.
fn hide_statement(revive: bool) -> String {
    let conflict = if revive {
        "DO UPDATE SET entry = excluded.entry, position = excluded.position, \
         removed = false WHERE hidden.removed"
    } else {
        "DO NOTHING"
    };
    format!(
        "INSERT INTO hidden (key, entry, position, removed) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM hidden), false) \
         ON CONFLICT (key) {conflict}"
    )
}

/// Hides or unhides one entry; when that changed the list, tells every
/// instance.
pub(super) async fn set_hidden(
    log: &PgLog,
    key: String,
    entry: String,
    hide: bool,
) -> Result<bool, LogError> {
    let mut client = log.client().await?;
    let tx = client.transaction().await?;
    let n = if hide {
        tx.execute(&hide_statement(true), &[&key, &entry]).await?
    } else {
        tx.execute(
            "UPDATE hidden SET removed = true WHERE key = $1 AND NOT removed",
            &[&key],
        )
        .await?
    };
    if n > 0 {
        tx.execute("SELECT pg_notify($1, '')", &[&HIDDEN_CHANNEL])
            .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// Adds what the log never knew, in one transaction (instances starting
/// together seed the same entries once).
pub(super) async fn seed_hidden(
    log: &PgLog,
    entries: Vec<(String, String)>,
) -> Result<usize, LogError> {
    let mut client = log.client().await?;
    let tx = client.transaction().await?;
    let statement = hide_statement(false);
    let mut added = 0;
    for (key, entry) in &entries {
        added += tx.execute(&statement, &[key, entry]).await?;
    }
    if added > 0 {
        tx.execute("SELECT pg_notify($1, '')", &[&HIDDEN_CHANNEL])
            .await?;
    }
    tx.commit().await?;
    Ok(added as usize)
}
