//! Writing to the PostgreSQL log: a poll's batch in one transaction, in a
//! few round trips whatever its size, numbered under the feed lock so that
//! commit order is `seq` order, and announced with `NOTIFY`.

use std::collections::HashMap;

use chrono::Utc;
use tokio_postgres::types::ToSql;

use super::{CHANNEL, FEED_LOCK, PgLog};
use crate::domain::{Comment, rfc3339};
use crate::store::row::{COMMENT_COLUMNS, StoredExtras, read_comment};
use crate::store::{Batch, Change, ChangeKind, LogError, fold};

impl PgLog {
    /// Records a batch in a few round trips whatever its size: one query
    /// finds which comments are known, one statement inserts every new
    /// comment, one every change; only edits and deletions, which are rare,
    /// go one by one.
    pub(super) async fn write_batch(&self, batch: Batch) -> Result<Vec<Change>, LogError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])
            .await?;
        let mut next: i64 = tx
            .query_one("SELECT seq FROM feed_head", &[])
            .await?
            .try_get(0)?;
        let Batch {
            source,
            comments,
            deleted,
            banned_authors,
            cursor,
            quota,
        } = batch;
        // What the log holds of these comments: `(source, id)` → `(seq,
        // text, html)`; comments new in this batch join it as they are
        // numbered, so a repeat within the batch is handled like a repeat
        // from an earlier poll.
        let mut known: HashMap<(String, String), Known> = HashMap::new();
        if !comments.is_empty() {
            let (sources, ids): (Vec<&str>, Vec<&str>) = comments
                .iter()
                .map(|c| (c.source.as_str(), c.id.as_str()))
                .unzip();
            let find = tx
                .prepare_cached(
                    "SELECT c.source, c.id, c.seq, c.text, c.html, c.deleted, c.event, c.who \
                     FROM comments c \
                     JOIN unnest($1::text[], $2::text[]) AS k(source, id) \
                     ON c.source = k.source AND c.id = k.id",
                )
                .await?;
            for row in tx.query(&find, &[&sources, &ids]).await? {
                known.insert(
                    (row.try_get(0)?, row.try_get(1)?),
                    Known {
                        seq: row.try_get(2)?,
                        text: row.try_get(3)?,
                        html: row.try_get(4)?,
                        deleted: row.try_get(5)?,
                        event: row.try_get(6)?,
                        who: row.try_get(7)?,
                    },
                );
            }
        }
        let edit = tx
            .prepare_cached(
                "UPDATE comments SET text = $2, html = $3, edited = true, likes = $4, \
                 text_folded = $5 WHERE seq = $1",
            )
            .await?;
        let renew = tx
            .prepare_cached(
                "UPDATE comments SET text = $2, html = $3, event = $4, text_folded = $5 \
                 WHERE seq = $1",
            )
            .await?;
        let set_who = tx
            .prepare_cached("UPDATE comments SET who = $2 WHERE seq = $1")
            .await?;
        let mut fresh = NewRows::default();
        // Where each comment new in this batch sits in `fresh`.
        let mut fresh_at: HashMap<(String, String), usize> = HashMap::new();
        let mut changes = Vec::new();
        for c in comments {
            let key = (c.source.clone(), c.id.clone());
            match known.get_mut(&key) {
                None => {
                    next += 1;
                    fresh_at.insert(key.clone(), fresh.seq.len());
                    fresh.push(next, &c);
                    known.insert(
                        key,
                        Known {
                            seq: next,
                            text: c.text.clone(),
                            html: c.html.as_str().to_owned(),
                            deleted: c.deleted,
                            event: StoredExtras::of(&c).event,
                            who: StoredExtras::of(&c).who,
                        },
                    );
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::New,
                        comment: c,
                    });
                }
                // Known already: an edit on the platform is a change, and so
                // is an event that changed under the same id (a gift's combo
                // count, a poll's votes) and a change in who wrote it (pinned
                // or liked by the owner since, a new level); anything else (a
                // repeat on an overlapping page) is not.
                Some(k) => {
                    let extras = StoredExtras::of(&c);
                    let (event, who) = (extras.event, extras.who);
                    let renewed = !k.deleted && event.is_some() && event != k.event;
                    let edited = c.edited && (k.text != c.text || k.html != c.html.as_str());
                    let marked = !k.deleted && who != k.who;
                    if !renewed && !edited && !marked {
                        continue;
                    }
                    match fresh_at.get(&key) {
                        // New in this very batch: not in the table yet.
                        Some(&i) => {
                            if renewed {
                                fresh.renew(i, &c, event.clone());
                            } else if edited {
                                fresh.edit(i, &c);
                            }
                            if marked {
                                fresh.who[i] = who.clone();
                            }
                        }
                        None => {
                            let folded = fold(&c.text);
                            if renewed {
                                let params: [&(dyn ToSql + Sync); 5] =
                                    [&k.seq, &c.text, &c.html.as_str(), &event, &folded];
                                tx.execute(&renew, &params).await?;
                            } else if edited {
                                let params: [&(dyn ToSql + Sync); 5] =
                                    [&k.seq, &c.text, &c.html.as_str(), &c.likes, &folded];
                                tx.execute(&edit, &params).await?;
                            }
                            if marked {
                                tx.execute(&set_who, &[&k.seq, &who]).await?;
                            }
                        }
                    }
                    if renewed || edited {
                        k.text = c.text.clone();
                        k.html = c.html.as_str().to_owned();
                    }
                    if renewed {
                        k.event = event;
                    }
                    if marked {
                        k.who = who;
                    }
                    next += 1;
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::Update,
                        comment: c,
                    });
                }
            }
        }
        fresh.insert(&tx).await?;
        // The comment each change is about: its own seq, or the edited one's.
        let mut about: Vec<i64> = changes
            .iter()
            .map(|ch| {
                known
                    .get(&(ch.comment.source.clone(), ch.comment.id.clone()))
                    .map_or(ch.seq, |k| k.seq)
            })
            .collect();
        if !deleted.is_empty() {
            let retract = tx
                .prepare_cached(&format!(
                    "UPDATE comments AS c SET deleted = true \
                     WHERE c.source = $1 AND c.id = $2 AND NOT c.deleted RETURNING {COMMENT_COLUMNS}"
                ))
                .await?;
            for id in deleted {
                if let Some(row) = tx.query_opt(&retract, &[&source, &id]).await? {
                    next += 1;
                    let (comment_seq, comment) = read_comment(&row)?;
                    about.push(comment_seq);
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::Delete,
                        comment,
                    });
                }
            }
        }
        if !banned_authors.is_empty() {
            let ban = tx
                .prepare_cached(&format!(
                    "UPDATE comments AS c SET deleted = true \
                     WHERE c.source = $1 AND c.author_id = $2 AND NOT c.deleted \
                     RETURNING {COMMENT_COLUMNS}"
                ))
                .await?;
            for author in banned_authors.iter().filter(|a| !a.is_empty()) {
                let mut rows = Vec::new();
                for row in tx.query(&ban, &[&source, author]).await? {
                    rows.push(read_comment(&row)?);
                }
                // In the order they were posted, as a client would expect.
                rows.sort_by_key(|(seq, _)| *seq);
                for (comment_seq, comment) in rows {
                    next += 1;
                    about.push(comment_seq);
                    changes.push(Change {
                        seq: next,
                        kind: ChangeKind::Delete,
                        comment,
                    });
                }
            }
        }
        if !changes.is_empty() {
            let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
            let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
            tx.execute(
                "INSERT INTO changes (seq, kind, comment) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
                &[&seqs, &kinds, &about],
            )
            .await?;
        }
        if let Some(cursor) = cursor {
            tx.execute(
                "INSERT INTO cursors (source, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
                &[&source, &cursor, &rfc3339::format(&Utc::now())],
            )
            .await?;
        }
        if let Some((day, units)) = quota.filter(|(_, u)| *u > 0) {
            tx.execute(
                "INSERT INTO quota (day, units) VALUES ($1, $2) \
                 ON CONFLICT (day) DO UPDATE SET units = quota.units + excluded.units",
                &[&day, &units],
            )
            .await?;
        }
        if !changes.is_empty() {
            tx.execute("UPDATE feed_head SET seq = $1", &[&next])
                .await?;
            // Delivered when (and only if) the transaction commits.
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &next.to_string()])
                .await?;
        }
        tx.commit().await?;
        Ok(changes)
    }
}

/// What the log holds of a comment a batch repeats.
struct Known {
    seq: i64,
    text: String,
    html: String,
    deleted: bool,
    /// The event's details as stored (JSON), if any.
    event: Option<String>,
    /// Who wrote it beyond roles, as stored (JSON), if any.
    who: Option<String>,
}

/// New comments as columns, for one `INSERT … SELECT * FROM unnest(…)`.
#[derive(Default)]
struct NewRows {
    seq: Vec<i64>,
    source: Vec<String>,
    id: Vec<String>,
    author_name: Vec<String>,
    author_id: Vec<String>,
    author_avatar: Vec<Option<String>>,
    text: Vec<String>,
    html: Vec<String>,
    published_at: Vec<String>,
    fetched_at: Vec<String>,
    likes: Vec<i64>,
    reply_to: Vec<Option<String>>,
    amount_display: Vec<Option<String>>,
    amount_micros: Vec<Option<i64>>,
    amount_currency: Vec<Option<String>>,
    edited: Vec<bool>,
    deleted: Vec<bool>,
    emotes: Vec<Option<String>>,
    roles: Vec<Option<String>>,
    member_level: Vec<Option<String>>,
    kind: Vec<Option<String>>,
    event: Vec<Option<String>>,
    who: Vec<Option<String>>,
    text_folded: Vec<String>,
    author_folded: Vec<String>,
}

impl NewRows {
    fn push(&mut self, seq: i64, c: &Comment) {
        self.seq.push(seq);
        self.source.push(c.source.clone());
        self.id.push(c.id.clone());
        self.author_name.push(c.author.name.clone());
        self.author_id.push(c.author.id.clone());
        self.author_avatar.push(c.author.avatar.clone());
        self.text.push(c.text.clone());
        self.html.push(c.html.as_str().to_owned());
        self.published_at.push(rfc3339::format(&c.published_at));
        self.fetched_at.push(rfc3339::format(&c.fetched_at));
        self.likes.push(c.likes);
        self.reply_to.push(c.reply_to.clone());
        self.amount_display
            .push(c.amount.as_ref().map(|a| a.display.clone()));
        self.amount_micros.push(c.amount.as_ref().map(|a| a.micros));
        self.amount_currency
            .push(c.amount.as_ref().map(|a| a.currency.clone()));
        self.edited.push(c.edited);
        self.deleted.push(c.deleted);
        self.emotes.push(
            (!c.emotes.is_empty())
                .then(|| serde_json::to_string(&c.emotes).expect("a map of strings")),
        );
        let extras = StoredExtras::of(c);
        self.roles.push(extras.roles);
        self.member_level.push(c.author.member_level.clone());
        self.kind.push(extras.kind.map(str::to_owned));
        self.event.push(extras.event);
        self.who.push(extras.who);
        self.text_folded.push(fold(&c.text));
        self.author_folded.push(fold(&c.author.name));
    }

    /// Applies a changed event to the row at `i`, as an UPDATE would.
    fn renew(&mut self, i: usize, c: &Comment, event: Option<String>) {
        self.text[i] = c.text.clone();
        self.html[i] = c.html.as_str().to_owned();
        self.event[i] = event;
        self.text_folded[i] = fold(&c.text);
    }

    /// Applies an edit to the row at `i`, as an UPDATE would.
    fn edit(&mut self, i: usize, c: &Comment) {
        self.text[i] = c.text.clone();
        self.html[i] = c.html.as_str().to_owned();
        self.edited[i] = true;
        self.likes[i] = c.likes;
        self.text_folded[i] = fold(&c.text);
    }

    async fn insert(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), LogError> {
        if self.seq.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO comments (seq, source, id, author_name, author_id, author_avatar, \
                 text, html, published_at, fetched_at, likes, reply_to, amount_display, \
                 amount_micros, amount_currency, edited, deleted, emotes, text_folded, \
                 author_folded, roles, member_level, kind, event, who) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
                 $11::bigint[], $12::text[], $13::text[], $14::bigint[], $15::text[], \
                 $16::boolean[], $17::boolean[], $18::text[], $19::text[], $20::text[], \
                 $21::text[], $22::text[], $23::text[], $24::text[], $25::text[])",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &self.seq,
                &self.source,
                &self.id,
                &self.author_name,
                &self.author_id,
                &self.author_avatar,
                &self.text,
                &self.html,
                &self.published_at,
                &self.fetched_at,
                &self.likes,
                &self.reply_to,
                &self.amount_display,
                &self.amount_micros,
                &self.amount_currency,
                &self.edited,
                &self.deleted,
                &self.emotes,
                &self.text_folded,
                &self.author_folded,
                &self.roles,
                &self.member_level,
                &self.kind,
                &self.event,
                &self.who,
            ],
        )
        .await?;
        Ok(())
    }
}
