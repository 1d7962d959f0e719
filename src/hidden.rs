//! Hidden words and authors: what the streamer never wants to see again, on
//! the dashboard, the overlay or read aloud.
//!
//! An entry is a word (hides every comment whose text contains it) or
//! `author:NAME` (hides every comment by an author with that name or that
//! platform id), both ignoring case: the dashboard's own matching
//! (`assets/settings.js`), which the overlay shares. The list is server
//! state: in memory here, loaded from the log at start, each change written
//! to the log first and then published once to every socket as a `hidden`
//! frame (`{"type":"hidden","words":[…],"authors":[…]}`), which sockets
//! that connect later get too. On a log several instances share, a change
//! made through any of them reaches the others (`reload`, driven by
//! `crate::feed`).
//!
//! `CW_BLOCK` seeds the list: at start, each of its entries the log has
//! never known is hidden. One the streamer unhid stays unhidden (the log
//! keeps it, marked removed), so a restart never brings it back.
//!
//! It never writes comments and never talks to a client but through the
//! hub; what an entry means is decided here, the log only keeps them.

use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use crate::domain::Comment;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::store::{CommentLog, LogError};

/// Most entries the list holds: a list is read by hand, and every comment
/// is checked against it in every browser.
pub const MAX_ENTRIES: usize = 500;
/// Longest entry, in characters: room for `author:` and the longest name a
/// comment can carry.
pub const MAX_ENTRY_CHARS: usize = 200;
/// The prefix that makes an entry an author's.
const AUTHOR: &str = "author:";

/// One entry, checked: as the streamer typed it (trimmed), and folded (the
/// key two spellings of one entry share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    text: String,
    key: String,
}

/// Why an entry cannot be hidden; each says what would be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    Empty,
    TooLong,
    Control,
    /// The list holds [`MAX_ENTRIES`] already.
    Full,
}

impl EntryError {
    /// The message, as the API's `error` says it.
    pub fn message(self) -> &'static str {
        match self {
            EntryError::Empty => "entry: empty; expected a word, or author:NAME",
            EntryError::TooLong => "entry: at most 200 characters",
            EntryError::Control => "entry: one line, without control characters",
            EntryError::Full => "the hidden list is full (500 entries): unhide some first",
        }
    }
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for EntryError {}

impl Entry {
    /// Checks `text`: trimmed, not empty (nor an empty `author:`), at most
    /// [`MAX_ENTRY_CHARS`], one line.
    pub fn parse(text: &str) -> Result<Entry, EntryError> {
        let text = text.trim();
        if text.chars().count() > MAX_ENTRY_CHARS {
            return Err(EntryError::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(EntryError::Control);
        }
        let key = fold(text);
        let key = match key.strip_prefix(AUTHOR) {
            Some(name) if name.trim().is_empty() => return Err(EntryError::Empty),
            Some(name) => format!("{AUTHOR}{}", name.trim()),
            None => key,
        };
        if key.is_empty() {
            return Err(EntryError::Empty);
        }
        Ok(Entry {
            text: text.to_owned(),
            key,
        })
    }

    /// As the streamer typed it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The folded form: equal for `Bot` and `bot`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Lowercased and trimmed, as the dashboard's `norm` does.
fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The list, split the way it is matched.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Lists {
    /// Every entry as typed, in the order hidden.
    entries: Vec<String>,
    /// Words as typed, and folded.
    words: Vec<String>,
    folded_words: Vec<String>,
    /// Authors' names (or ids) as typed, without `author:`, and folded.
    authors: Vec<String>,
    folded_authors: Vec<String>,
}

impl Lists {
    fn of(entries: Vec<String>) -> Lists {
        let mut lists = Lists::default();
        for text in &entries {
            let Ok(entry) = Entry::parse(text) else {
                continue;
            };
            match entry.key.strip_prefix(AUTHOR) {
                Some(name) => {
                    let typed = &entry.text[AUTHOR.len()..];
                    lists.authors.push(typed.trim().to_owned());
                    lists.folded_authors.push(name.to_owned());
                }
                None => {
                    lists.words.push(entry.text.clone());
                    lists.folded_words.push(entry.key.clone());
                }
            }
        }
        lists.entries = entries;
        lists
    }

    fn matches(&self, c: &Comment) -> bool {
        if !self.folded_authors.is_empty() {
            let name = fold(&c.author.name);
            let id = fold(&c.author.id);
            if self
                .folded_authors
                .iter()
                .any(|a| *a == name || (!id.is_empty() && *a == id))
            {
                return true;
            }
        }
        if !self.folded_words.is_empty() {
            let text = c.text.to_lowercase();
            return self.folded_words.iter().any(|w| text.contains(w.as_str()));
        }
        false
    }

    fn frame(&self) -> Frame {
        Frame::hidden(&self.words, &self.authors)
    }
}

/// A cheap, cloneable handle on the hidden list.
#[derive(Clone)]
pub struct Hidden {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    state: Mutex<State>,
}

struct State {
    lists: Lists,
    /// `lists` serialized, ready for a socket that connects.
    frame: Frame,
}

impl Hidden {
    /// An empty list that publishes on `hub`.
    pub fn new(hub: Hub) -> Hidden {
        let lists = Lists::default();
        let frame = lists.frame();
        Hidden {
            inner: Arc::new(Inner {
                hub,
                state: Mutex::new(State { lists, frame }),
            }),
        }
    }

    /// Seeds the log with `CW_BLOCK`'s entries it has never known, then
    /// shows what the log holds. A log that does not answer leaves the list
    /// as it was (logged); on a shared log, `crate::feed` reads it again
    /// once it answers.
    pub async fn start(&self, log: &CommentLog, seed: &[String]) {
        let entries: Vec<(String, String)> = seed
            .iter()
            .filter_map(|w| match Entry::parse(w) {
                Ok(e) => Some((e.key, e.text)),
                Err(why) => {
                    warn!("CW_BLOCK: an entry is skipped: {why}");
                    None
                }
            })
            .collect();
        if !entries.is_empty() {
            match log.seed_hidden(entries).await {
                Ok(0) => {}
                Ok(n) => info!(hidden.seeded = n, "CW_BLOCK: hid {n} new entries"),
                Err(e) => warn!(error = %e, "CW_BLOCK: could not add its entries to the log"),
            }
        }
        self.reload(log).await;
    }

    /// The current list as a frame, for a socket that just connected.
    pub fn frame(&self) -> Frame {
        self.lock().frame.clone()
    }

    /// Every entry as typed, in the order hidden.
    pub fn entries(&self) -> Vec<String> {
        self.lock().lists.entries.clone()
    }

    /// `(words, authors)`, as the `hidden` frame carries them.
    pub fn lists(&self) -> (Vec<String>, Vec<String>) {
        let state = self.lock();
        (state.lists.words.clone(), state.lists.authors.clone())
    }

    /// Whether `c` is hidden: its text contains a hidden word, or its
    /// author's name or id is a hidden author (ignoring case).
    pub fn matches(&self, c: &Comment) -> bool {
        self.lock().lists.matches(c)
    }

    /// A matcher on the list as it is now, to test many comments without
    /// taking the lock for each.
    pub fn matcher(&self) -> impl Fn(&Comment) -> bool + use<> {
        let lists = self.lock().lists.clone();
        move |c| lists.matches(c)
    }

    /// Hides `entry`: written to the log first, then shown. `Ok(false)` if
    /// it was hidden already; [`EntryError::Full`] when the list is full.
    pub async fn hide(&self, log: &CommentLog, entry: &Entry) -> Result<bool, HideError> {
        {
            let state = self.lock();
            let known = state
                .lists
                .entries
                .iter()
                .any(|e| Entry::parse(e).is_ok_and(|e| e.key == entry.key));
            if known {
                return Ok(false);
            }
            if state.lists.entries.len() >= MAX_ENTRIES {
                return Err(HideError::Entry(EntryError::Full));
            }
        }
        let changed = log
            .set_hidden(entry.key.clone(), entry.text.clone(), true)
            .await?;
        self.reload(log).await;
        Ok(changed)
    }

    /// Unhides `entry` (however it was spelled when hidden): written to the
    /// log first, then shown. `Ok(false)` if it was not hidden.
    pub async fn unhide(&self, log: &CommentLog, entry: &Entry) -> Result<bool, HideError> {
        let changed = log
            .set_hidden(entry.key.clone(), entry.text.clone(), false)
            .await?;
        self.reload(log).await;
        Ok(changed)
    }

    /// Reads the list from the log and shows it, publishing a frame if it
    /// changed: after a change here, and, on a shared log, whenever any
    /// instance changed it.
    pub async fn reload(&self, log: &CommentLog) {
        match log.hidden().await {
            Ok(entries) => self.replace(entries),
            Err(e) => warn!(error = %e, "reading the hidden words and authors from the log failed"),
        }
    }

    /// Makes the list `entries`; publishes once if that changed it.
    fn replace(&self, entries: Vec<String>) {
        let mut state = self.lock();
        if state.lists.entries == entries {
            return;
        }
        state.lists = Lists::of(entries);
        state.frame = state.lists.frame();
        // Publishing under the lock keeps frames in the order of the
        // changes (the hub's `publish` never blocks).
        self.inner.hub.publish(state.frame.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change replaces the whole list: a poisoned lock still
        // holds a consistent one.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why hiding or unhiding failed.
#[derive(Debug, thiserror::Error)]
pub enum HideError {
    /// The entry, or the list, does not allow it.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The log does not answer: nothing changed.
    #[error(transparent)]
    Log(#[from] LogError),
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::RawComment;

    fn comment(author: &str, id: &str, text: &str) -> Comment {
        let at = Utc::now();
        let raw = RawComment {
            id: "c1".into(),
            author_name: author.into(),
            author_id: id.into(),
            text: text.into(),
            published_at: Some(at),
            ..RawComment::default()
        };
        crate::sanitize::sanitize("demo", raw, at).expect("a valid comment")
    }

    #[test]
    fn entries_are_checked_and_fold_case_and_the_space_after_author() {
        let e = Entry::parse("  Author:  Bot Account ").unwrap();
        assert_eq!(e.text(), "Author:  Bot Account");
        assert_eq!(e.key(), "author:bot account");
        assert_eq!(Entry::parse("SPAM").unwrap().key(), "spam");
        assert_eq!(Entry::parse("  "), Err(EntryError::Empty));
        assert_eq!(Entry::parse("author: "), Err(EntryError::Empty));
        assert_eq!(Entry::parse("a\nb"), Err(EntryError::Control));
        assert_eq!(Entry::parse(&"x".repeat(201)), Err(EntryError::TooLong));
        assert!(Entry::parse(&"字".repeat(200)).is_ok());
    }

    #[test]
    fn words_match_text_and_authors_match_a_name_or_an_id_ignoring_case() {
        let lists = Lists::of(vec![
            "Spam".into(),
            "author:Bot Account".into(),
            "author:UC-7".into(),
        ]);
        assert_eq!(lists.words, ["Spam"]);
        assert_eq!(lists.authors, ["Bot Account", "UC-7"]);
        assert!(lists.matches(&comment("x", "1", "buy SPAMMY things")));
        assert!(lists.matches(&comment("bot account", "2", "hello")));
        assert!(lists.matches(&comment("Someone", "uc-7", "hello")));
        assert!(
            !lists.matches(&comment("Bot", "3", "hello")),
            "a name is matched whole"
        );
        assert!(!lists.matches(&comment("Viewer", "4", "author:Bot Account")));
    }

    #[tokio::test]
    async fn a_change_is_kept_in_the_log_and_published_once() {
        let log = CommentLog::open_in_memory().unwrap();
        let hub = Hub::new();
        let mut rx = hub.subscribe();
        let hidden = Hidden::new(hub);
        hidden
            .start(&log, &["spam".into(), "author:Bot".into()])
            .await;
        assert_eq!(hidden.entries(), ["spam", "author:Bot"]);
        let troll = Entry::parse("author:Troll").unwrap();
        assert!(hidden.hide(&log, &troll).await.unwrap());
        assert!(
            !hidden
                .hide(&log, &Entry::parse("AUTHOR:troll").unwrap())
                .await
                .unwrap()
        );
        assert!(
            hidden
                .unhide(&log, &Entry::parse("Spam").unwrap())
                .await
                .unwrap()
        );
        assert_eq!(log.hidden().await.unwrap(), ["author:Bot", "author:Troll"]);
        let mut frames = Vec::new();
        while let Ok(f) = rx.try_recv() {
            frames.push(f.json.to_string());
        }
        assert_eq!(frames.len(), 3, "seeded, hidden, unhidden: {frames:?}");
        assert_eq!(
            frames[2],
            r#"{"type":"hidden","words":[],"authors":["Bot","Troll"]}"#
        );
        // A restart seeds CW_BLOCK again: what was unhidden stays unhidden.
        let again = Hidden::new(Hub::new());
        again.start(&log, &["spam".into(), "new".into()]).await;
        assert_eq!(again.entries(), ["author:Bot", "author:Troll", "new"]);
    }
}
