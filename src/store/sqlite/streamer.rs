//! What the streamer set from the dashboard, in the SQLite log: the "on
//! stream" queue (`featured`) and the hidden words and authors (`hidden`),
//! the blocking statements behind those calls of `LogBackend`. It touches
//! those two tables only; what an entry matches is `crate::hidden`'s
//! business, the log only keeps them.

use rusqlite::{Connection, params};

use crate::store::{FeaturedOp, LogError};

pub(super) fn featured(conn: &Connection) -> Result<Vec<(String, String)>, LogError> {
    let mut stmt = conn.prepare_cached("SELECT source, id FROM featured ORDER BY position")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One transaction: an added comment and the trimming to `max` go together.
pub(super) fn change_featured(conn: &mut Connection, op: FeaturedOp) -> Result<(), LogError> {
    let tx = conn.transaction()?;
    match op {
        FeaturedOp::Add { source, id, max } => {
            tx.execute(
                "INSERT INTO featured (source, id) VALUES (?1, ?2) \
                 ON CONFLICT (source, id) DO NOTHING",
                params![source, id],
            )?;
            tx.execute(
                "DELETE FROM featured WHERE position NOT IN \
                 (SELECT position FROM featured ORDER BY position DESC LIMIT ?1)",
                [max as i64],
            )?;
        }
        FeaturedOp::Remove { source, id } => {
            tx.execute(
                "DELETE FROM featured WHERE source = ?1 AND id = ?2",
                params![source, id],
            )?;
        }
        FeaturedOp::Clear => {
            tx.execute("DELETE FROM featured", [])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn hidden(conn: &Connection) -> Result<Vec<String>, LogError> {
    let mut stmt =
        conn.prepare_cached("SELECT entry FROM hidden WHERE removed = 0 ORDER BY position")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Hiding inserts the entry, or brings a removed one back at the end of the
/// list; unhiding marks it removed. Either way, `true` when the list changed.
pub(super) fn set_hidden(
    conn: &Connection,
    key: &str,
    entry: &str,
    hide: bool,
) -> Result<bool, LogError> {
    let n = if hide {
        conn.execute(
            "INSERT INTO hidden (key, entry, position, removed) \
             VALUES (?1, ?2, (SELECT COALESCE(MAX(position), 0) + 1 FROM hidden), 0) \
             ON CONFLICT (key) DO UPDATE SET entry = excluded.entry, \
             position = excluded.position, removed = 0 WHERE hidden.removed = 1",
            params![key, entry],
        )?
    } else {
        conn.execute(
            "UPDATE hidden SET removed = 1 WHERE key = ?1 AND removed = 0",
            [key],
        )?
    };
    Ok(n > 0)
}

pub(super) fn seed_hidden(
    conn: &mut Connection,
    entries: &[(String, String)],
) -> Result<usize, LogError> {
    let tx = conn.transaction()?;
    let mut added = 0;
    for (key, entry) in entries {
        added += tx.execute(
            "INSERT INTO hidden (key, entry, position, removed) \
             VALUES (?1, ?2, (SELECT COALESCE(MAX(position), 0) + 1 FROM hidden), 0) \
             ON CONFLICT (key) DO NOTHING",
            params![key, entry],
        )?;
    }
    tx.commit()?;
    Ok(added)
}
