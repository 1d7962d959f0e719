//! Writing to the SQLite log: a poll's batch in one transaction (new
//! comments numbered in order, edits and deletions as changes, the cursor
//! and the quota spent), and the feed's head. Reads live in `read`.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::rfc3339;
use crate::store::row::{StoredExtras, read_comment, unqualified_columns};
use crate::store::{Batch, Change, ChangeKind, LogError};

pub(super) fn latest_seq(conn: &Connection) -> Result<i64, LogError> {
    Ok(conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// What the log holds of a comment a batch repeats: `seq`, text, HTML,
/// deleted, event and who, as stored.
type Known = (i64, String, String, bool, Option<String>, Option<String>);

pub(super) fn record(conn: &mut Connection, batch: Batch) -> Result<Vec<Change>, LogError> {
    let Batch {
        source,
        comments,
        deleted,
        banned_authors,
        cursor,
        quota,
    } = batch;
    let tx = conn.transaction()?;
    let mut changes = Vec::new();
    {
        let mut next = latest_seq(&tx)?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO comments (seq, source, id, author_name, author_id, author_avatar, text, html, \
             published_at, fetched_at, likes, reply_to, amount_display, amount_micros, amount_currency, \
             edited, deleted, emotes, roles, member_level, kind, event, who) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
             ?19, ?20, ?21, ?22, ?23) \
             ON CONFLICT (source, id) DO NOTHING",
        )?;
        let mut add_change =
            tx.prepare_cached("INSERT INTO changes (seq, kind, comment) VALUES (?1, ?2, ?3)")?;
        let mut find = tx.prepare_cached(
            "SELECT seq, text, html, deleted, event, who FROM comments WHERE source = ?1 AND id = ?2",
        )?;
        let mut edit = tx.prepare_cached(
            "UPDATE comments SET text = ?2, html = ?3, edited = 1, likes = ?4 WHERE seq = ?1",
        )?;
        let mut renew = tx.prepare_cached(
            "UPDATE comments SET text = ?2, html = ?3, event = ?4 WHERE seq = ?1",
        )?;
        let mut set_who = tx.prepare_cached("UPDATE comments SET who = ?2 WHERE seq = ?1")?;
        for c in comments {
            let candidate = next + 1;
            let extras = StoredExtras::of(&c);
            let inserted = insert.execute(params![
                candidate,
                c.source,
                c.id,
                c.author.name,
                c.author.id,
                c.author.avatar,
                c.text,
                c.html.as_str(),
                rfc3339::format(&c.published_at),
                rfc3339::format(&c.fetched_at),
                c.likes,
                c.reply_to,
                c.amount.as_ref().map(|a| &a.display),
                c.amount.as_ref().map(|a| a.micros),
                c.amount.as_ref().map(|a| &a.currency),
                c.edited,
                c.deleted,
                (!c.emotes.is_empty())
                    .then(|| serde_json::to_string(&c.emotes).expect("a map of strings")),
                extras.roles,
                c.author.member_level,
                extras.kind,
                extras.event,
                extras.who,
            ])?;
            if inserted == 1 {
                next = candidate;
                add_change.execute(params![next, ChangeKind::New.as_str(), next])?;
                changes.push(Change {
                    seq: next,
                    kind: ChangeKind::New,
                    comment: c,
                });
                continue;
            }
            // Known already: an edit on the platform is a change, and so is
            // an event that changed under the same id (a gift's combo count,
            // a poll's votes) and a change in who wrote it (pinned or liked
            // by the owner since, a new level); anything else (a repeat on
            // an overlapping page) is not.
            let (seq, text, html, deleted, event, who): Known =
                find.query_row(params![c.source, c.id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?;
            let marked = !deleted && extras.who != who;
            if marked {
                set_who.execute(params![seq, extras.who])?;
            }
            let changed = if !deleted && extras.event.is_some() && extras.event != event {
                renew.execute(params![seq, c.text, c.html.as_str(), extras.event])?;
                true
            } else if c.edited && (text != c.text || html != c.html.as_str()) {
                edit.execute(params![seq, c.text, c.html.as_str(), c.likes])?;
                true
            } else {
                false
            };
            if changed || marked {
                next += 1;
                add_change.execute(params![next, ChangeKind::Update.as_str(), seq])?;
                changes.push(Change {
                    seq: next,
                    kind: ChangeKind::Update,
                    comment: c,
                });
            }
        }
        let mut retract = tx.prepare_cached(&format!(
            "UPDATE comments SET deleted = 1 WHERE source = ?1 AND id = ?2 AND deleted = 0 \
             RETURNING {}",
            unqualified_columns()
        ))?;
        for id in deleted {
            let row = retract
                .query_row(params![source, id], |r| read_comment(r))
                .optional()?;
            if let Some((comment_seq, comment)) = row {
                next += 1;
                let kind = ChangeKind::Delete;
                add_change.execute(params![next, kind.as_str(), comment_seq])?;
                changes.push(Change {
                    seq: next,
                    kind,
                    comment,
                });
            }
        }
        let mut ban = tx.prepare_cached(&format!(
            "UPDATE comments SET deleted = 1 WHERE source = ?1 AND author_id = ?2 AND deleted = 0 \
             RETURNING {}",
            unqualified_columns()
        ))?;
        for author in banned_authors.iter().filter(|a| !a.is_empty()) {
            let mut rows = ban
                .query_map(params![source, author], |r| read_comment(r))?
                .collect::<Result<Vec<_>, _>>()?;
            // In the order they were posted, as a client would expect.
            rows.sort_by_key(|(seq, _)| *seq);
            for (comment_seq, comment) in rows {
                next += 1;
                let kind = ChangeKind::Delete;
                add_change.execute(params![next, kind.as_str(), comment_seq])?;
                changes.push(Change {
                    seq: next,
                    kind,
                    comment,
                });
            }
        }
        if let Some(cursor) = cursor {
            tx.execute(
                "INSERT INTO cursors (source, value, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![source, cursor, rfc3339::format(&Utc::now())],
            )?;
        }
        if let Some((day, units)) = quota.filter(|(_, u)| *u > 0) {
            tx.execute(
                "INSERT INTO quota (day, units) VALUES (?1, ?2) \
                 ON CONFLICT (day) DO UPDATE SET units = units + excluded.units",
                params![day, units],
            )?;
        }
    }
    tx.commit()?;
    Ok(changes)
}
