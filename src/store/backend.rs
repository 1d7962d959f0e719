//! The two interfaces of the comment log, documented here once.
//!
//! [`LogBackend`] is the log itself: what every backend keeps with the same
//! semantics (SQLite embedded, PostgreSQL shared), the streamer's "on
//! stream" queue and hidden words and authors included, so both survive a
//! restart. [`SharedLog`] is what only a log several instances write to
//! offers: source locks, notifications of each other's commits and changes
//! (of the queue and the hidden list too), and the sources' shared
//! statuses. A backend that is not shared does not
//! implement it, so nothing in the program calls a method that does
//! nothing. `CommentLog` holds one of each (the second optional).
//!
//! Nothing of HTTP or the platforms: the values here are the log's own.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::{ActionRecord, Batch, Change, LinkedAccount, LogError, Page, Reader, Selection, Stats};
use crate::domain::Comment;
use crate::status::SourceStatus;

/// The comment log, whichever backend keeps it.
#[async_trait]
pub trait LogBackend: Send + Sync {
    /// `"sqlite"` or `"postgres"`, for `/healthz` and the logs.
    fn name(&self) -> &'static str;

    /// A random id made when the log was created: seqs from one log mean
    /// nothing in another.
    fn log_id(&self) -> &str;

    /// The SQLite file the log lives in (`None` in memory or on a server).
    fn path(&self) -> Option<&Path> {
        None
    }

    /// Bytes on disk: a SQLite file and its write-ahead log (0 in memory or
    /// on PostgreSQL, whose server reports its own size).
    fn file_bytes(&self) -> u64 {
        0
    }

    /// At shutdown: makes what is on disk complete on its own (a SQLite
    /// checkpoint), or lets go of the source locks and closes the
    /// connections (PostgreSQL).
    async fn shut_down(&self) -> Result<(), LogError>;

    /// Records a batch in one transaction and returns the changes it made, in
    /// `seq` order: a `New` change for each comment not seen before, an
    /// `Update` for each one whose content was edited since it was stored, a
    /// `Delete` for each stored comment the platform retracted. Anything else
    /// (already known, unchanged; a deletion of something never stored) is
    /// skipped.
    async fn record(&self, batch: Batch) -> Result<Vec<Change>, LogError>;

    /// The resume cursor stored for `source`.
    async fn cursor(&self, source: String) -> Result<Option<String>, LogError>;

    /// Quota units recorded for `day`.
    async fn quota_used(&self, day: String) -> Result<i64, LogError>;

    /// Adds `units` to `day`'s spending if that keeps it within `budget`,
    /// in one step, so instances sharing a key cannot both take the last
    /// units. Returns the new total, or `None` when it would not fit.
    async fn reserve_quota(
        &self,
        day: String,
        units: i64,
        budget: i64,
    ) -> Result<Option<i64>, LogError>;

    /// The highest `seq` handed out so far (0 for an empty log).
    async fn latest_seq(&self) -> Result<i64, LogError>;

    /// Up to `limit` changes with `seq > after`, oldest first.
    async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, LogError>;

    /// The `seq` to replay from so that the newest `n` comments (and every
    /// change after the oldest of them) are sent: a new dashboard's backlog.
    async fn recent_start(&self, n: usize) -> Result<i64, LogError>;

    /// The newest `n` comments, newest first.
    async fn recent(&self, n: usize) -> Result<Vec<(i64, Comment)>, LogError>;

    /// How many comments the log holds.
    async fn count(&self) -> Result<i64, LogError>;

    /// One comment as it is now, by `(source, id)`: what the featured queue
    /// puts on stream (never a copy a client sent).
    async fn comment(&self, source: String, id: String) -> Result<Option<Comment>, LogError>;

    /// How many comments arrived (were fetched) at or after `since`, and the
    /// latest `seq` at that moment, read together: the dashboard's "today"
    /// counter adds every later `seq` it receives.
    async fn count_fetched_since(&self, since: DateTime<Utc>) -> Result<(i64, i64), LogError>;

    /// Remembers that a comment was put on stream (the first time counts).
    async fn mark_featured(&self, source: String, id: String) -> Result<(), LogError>;

    /// Whether the log holds any comment from `source`.
    async fn has_source(&self, source: String) -> Result<bool, LogError>;

    /// Which of `ids` from `source` the log already holds.
    async fn known_ids(
        &self,
        source: String,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, LogError>;

    /// Up to `limit` comments of `sel` with `seq < before` (all when `None`),
    /// newest first, and where the next page starts.
    async fn page(&self, sel: Selection, before: Option<i64>, limit: u64)
    -> Result<Page, LogError>;

    /// Brings the search indexes up to date with every comment stored so
    /// far. SQLite indexes in the background, so `app` calls this every
    /// second and every search first; a backend that indexes as it writes
    /// has nothing to catch up on.
    async fn index_pending(&self) -> Result<(), LogError> {
        Ok(())
    }

    /// Totals, activity over time and the most active authors of `sel`.
    /// Reads every matching row once: a few hundred milliseconds for a
    /// million, so pages fetch it separately.
    async fn stats(&self, sel: Selection) -> Result<Stats, LogError>;

    /// How many comments `sel` covers.
    async fn count_matching(&self, sel: Selection) -> Result<u64, LogError>;

    /// Every source the log holds comments from, sorted: one index seek
    /// per source, not a pass over the log.
    async fn sources(&self) -> Result<Vec<String>, LogError>;

    /// Deletes every comment fetched before `older_than` (and its changes
    /// and search entries) and returns how many. Retention counts from
    /// `fetched_at`, not `published_at`: backfilling a years-old video must
    /// not delete what it just fetched. Deletes run in batches, each its own
    /// transaction, so polls keep writing meanwhile; `seq` never goes back.
    async fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, LogError>;

    /// Stores a new sign-in session: the hash of its id (the cookie holds
    /// the id; the log never does), a tag of the token it was opened with,
    /// and when it expires (unix seconds). What a session means, how long it
    /// lasts and who gets one is the web layer's business; every instance
    /// sharing a log knows the same sessions, and a restart keeps them.
    async fn create_session(
        &self,
        id_hash: String,
        token_tag: String,
        expires_at: i64,
    ) -> Result<(), LogError>;

    /// When the session expires, if it exists, belongs to `token_tag` and
    /// has not expired by `now`.
    async fn session_expiry(
        &self,
        id_hash: String,
        token_tag: String,
        now: i64,
    ) -> Result<Option<i64>, LogError>;

    /// The "on stream" queue as the log keeps it, `(source, id)`, oldest
    /// first: what the overlay shows again after a restart, and, on a shared
    /// log, what every instance shows.
    async fn featured(&self) -> Result<Vec<(String, String)>, LogError>;

    /// Applies a change of the "on stream" queue to the log's copy (on a
    /// shared log, and tells every instance).
    async fn change_featured(&self, op: FeaturedOp) -> Result<(), LogError>;

    /// The hidden words and `author:` entries, as the streamer typed them,
    /// in the order they were (last) hidden.
    async fn hidden(&self) -> Result<Vec<String>, LogError>;

    /// Hides `entry` (`hide`), or unhides it, known by `key` (its folded
    /// form: `Bot` and `bot` are one entry); whether the list changed. An
    /// unhidden entry is kept as removed, so [`LogBackend::seed_hidden`]
    /// never brings it back. On a shared log, tells every instance.
    async fn set_hidden(&self, key: String, entry: String, hide: bool) -> Result<bool, LogError>;

    /// Hides each `(key, entry)` the log has never known, hidden or
    /// unhidden (`CW_BLOCK` at start); returns how many it added.
    async fn seed_hidden(&self, entries: Vec<(String, String)>) -> Result<usize, LogError>;

    /// Moves a session's expiry (a sliding expiry).
    async fn extend_session(&self, id_hash: String, expires_at: i64) -> Result<(), LogError>;

    /// Deletes a session (signing out).
    async fn end_session(&self, id_hash: String) -> Result<(), LogError>;

    /// Deletes the sessions that expired by `now` and those of any other
    /// token than `token_tag` (the token changed); returns how many.
    async fn prune_sessions(&self, token_tag: String, now: i64) -> Result<u64, LogError>;

    /// The account connected for `platform`, if any (with its refresh
    /// token: the caller keeps it out of every log line and frame).
    async fn linked_account(&self, platform: String) -> Result<Option<LinkedAccount>, LogError>;

    /// Stores the account of `account.platform`, replacing any earlier one.
    async fn link_account(&self, account: LinkedAccount) -> Result<(), LogError>;

    /// Forgets the account of `platform`; whether there was one.
    async fn unlink_account(&self, platform: String) -> Result<bool, LogError>;

    /// Records an action taken on a platform, whatever its outcome; its id.
    async fn record_action(&self, action: ActionRecord) -> Result<i64, LogError>;

    /// The ban id of the newest successful ban or timeout of `author_id` in
    /// `source` (what unbanning them needs).
    async fn last_ban(&self, source: String, author_id: String)
    -> Result<Option<String>, LogError>;

    /// The newest `limit` actions, newest first.
    async fn recent_actions(&self, limit: i64) -> Result<Vec<ActionRecord>, LogError>;

    /// A reader for a long, blocking read (an export), to be used off the
    /// async runtime (made on it); call [`LogBackend::index_pending`] first
    /// when the selection searches. It never holds up the writer for more
    /// than one batch.
    fn reader(&self) -> Result<Reader, LogError>;
}

/// What only a log that several instances share offers.
#[async_trait]
pub trait SharedLog: Send + Sync {
    /// Wakes whenever any instance commits a change, changes the "on
    /// stream" queue or the hidden list, or reports a source's status.
    async fn listen(&self) -> Result<Listener, LogError>;

    /// Shares a source's status (as of `at`) with the other instances,
    /// unless a newer one is stored, and tells every instance.
    async fn share_status(&self, status: &SourceStatus, at: DateTime<Utc>) -> Result<(), LogError>;

    /// The latest shared status of each of `sources` (every source when
    /// `None`), by source. A stored status this build cannot read is
    /// skipped, with a warning.
    async fn statuses(&self, sources: Option<Vec<String>>) -> Result<Vec<SourceStatus>, LogError>;

    /// Whether this instance may poll `source` now: only while it holds the
    /// source's lock, which it takes here when no live instance holds it. An
    /// error when the shared log cannot be reached: then nobody can know,
    /// and nobody polls.
    async fn claim(&self, source: &str) -> Result<bool, LogError>;

    /// Lets go of `source` so another instance sharing the log can poll it.
    async fn release(&self, source: &str) -> Result<(), LogError>;

    /// How many sources this instance polls, and how many instances share
    /// the log.
    async fn share(&self) -> Result<(usize, usize), LogError>;
}

/// One change to the log's copy of the "on stream" queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeaturedOp {
    /// Put on stream (kept in place if it is already on); the oldest
    /// beyond `max` leave.
    Add {
        source: String,
        id: String,
        max: usize,
    },
    Remove {
        source: String,
        id: String,
    },
    Clear,
}

/// What a [`Listener`] heard, with any notifications that queued up behind
/// it folded in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// New changes were committed to the feed.
    pub changes: bool,
    /// The "on stream" queue changed.
    pub featured: bool,
    /// The hidden words and authors changed.
    pub hidden: bool,
    /// The sources whose status changed.
    pub statuses: BTreeSet<String>,
}

/// Wakes when any instance commits changes, changes the "on stream" queue
/// or the hidden list, or reports a status; see [`SharedLog::listen`].
pub struct Listener {
    rx: mpsc::UnboundedReceiver<Notice>,
    /// Whatever keeps the notifications coming (the listening connection).
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Listener {
    /// A listener on `rx`, which stays open while `keep` lives.
    pub(super) fn new(
        rx: mpsc::UnboundedReceiver<Notice>,
        keep: impl std::any::Any + Send + Sync,
    ) -> Listener {
        Listener {
            rx,
            _keep: Box::new(keep),
        }
    }

    /// Waits for the next notification. `None` when the connection is lost
    /// (and with it, notifications): listen again and read what was missed
    /// from the log.
    pub async fn changed(&mut self) -> Option<Notice> {
        let mut notice = self.rx.recv().await?;
        while let Ok(more) = self.rx.try_recv() {
            notice.changes |= more.changes;
            notice.featured |= more.featured;
            notice.hidden |= more.hidden;
            notice.statuses.extend(more.statuses);
        }
        Some(notice)
    }
}
