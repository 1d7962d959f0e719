-- The comment log. `seq` numbers every change (a new comment, an edit, a
-- deletion); it only grows, and a comment's own `seq` is the change that
-- created it. Times are RFC 3339 text in UTC, which sorts correctly.
CREATE TABLE IF NOT EXISTS comments (
    seq             INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    author_name     TEXT    NOT NULL,
    author_id       TEXT    NOT NULL,
    author_avatar   TEXT,
    text            TEXT    NOT NULL,
    html            TEXT    NOT NULL,
    published_at    TEXT    NOT NULL,
    fetched_at      TEXT    NOT NULL,
    likes           INTEGER NOT NULL DEFAULT 0,
    reply_to        TEXT,
    amount_display  TEXT,
    amount_micros   INTEGER,
    amount_currency TEXT,
    edited          INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    -- JSON object of emote token -> image URL, or NULL.
    emotes          TEXT,
    -- When the streamer first put it on stream (the overlay), or NULL.
    featured_at     TEXT,
    -- Who is speaking and what kind of message it is (version 7): the
    -- author's roles comma-separated (`owner,member`), their membership
    -- level's name, the kind (`superchat`, `membership`, …; NULL for an
    -- ordinary text) and the event's details as JSON; each NULL when empty.
    roles           TEXT,
    member_level    TEXT,
    kind            TEXT,
    event           TEXT,
    -- Who wrote it beyond roles (version 8), as JSON, NULL when empty: the
    -- author's `badges` (the platform's own markers) and name `color`,
    -- `pinned` and `liked_by_owner` (the channel owner's marks) and the
    -- `location` line.
    who             TEXT,
    UNIQUE (source, id)
);

-- The change feed that `/ws?since=` replays. AUTOINCREMENT keeps a `seq`
-- from ever being handed out twice, even after old rows are pruned.
CREATE TABLE IF NOT EXISTS changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL CHECK (kind IN ('new', 'update', 'delete')),
    comment INTEGER NOT NULL REFERENCES comments (seq) ON DELETE CASCADE
);

-- Where each source's paging left off, so a restart resumes.
CREATE TABLE IF NOT EXISTS cursors (
    source     TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- YouTube quota units spent per Pacific-time day (the quota's own day), so a
-- restart knows what is left.
CREATE TABLE IF NOT EXISTS quota (
    day   TEXT PRIMARY KEY,
    units INTEGER NOT NULL
);

-- Facts about this log file: `log_id` tells dashboards whether the seqs they
-- hold belong to this log or to one it replaced.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Search (version 3). `comments_fts` finds substrings of three characters or
-- more in text and author names (trigram tokenizer, case-insensitive); it
-- reads the text from `comments` itself (external content), so it stores
-- only its index. `comments_grams` answers one- and two-character queries,
-- which trigrams cannot (each comment's distinct lowercased characters and
-- character pairs), and the author filter (one token for the author's id,
-- one for their lowercased name); `cw_grams()` makes its tokens and is
-- registered by commentwatch on every connection it opens.
--
-- New comments are indexed after they are stored, in bulk (one INSERT …
-- SELECT per index is several times cheaper than a trigger per row), up to
-- `meta.search_upto`: see `CommentLog::index_pending`. Edits and deletions
-- go through the triggers below, but only for rows already indexed; a
-- comment not indexed yet is indexed later with its text at that time.
CREATE VIRTUAL TABLE IF NOT EXISTS comments_fts USING fts5 (
    text, author_name,
    content = 'comments', content_rowid = 'seq', tokenize = 'trigram'
);
CREATE VIRTUAL TABLE IF NOT EXISTS comments_grams USING fts5 (
    grams,
    content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);
CREATE TRIGGER IF NOT EXISTS comments_search_delete AFTER DELETE ON comments
WHEN EXISTS (SELECT 1 FROM comments_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, text, author_name)
        VALUES ('delete', old.seq, old.text, old.author_name);
    DELETE FROM comments_grams WHERE rowid = old.seq;
END;
CREATE TRIGGER IF NOT EXISTS comments_search_update
AFTER UPDATE OF text, author_name, author_id ON comments
WHEN EXISTS (SELECT 1 FROM comments_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, text, author_name)
        VALUES ('delete', old.seq, old.text, old.author_name);
    INSERT INTO comments_fts (rowid, text, author_name)
        VALUES (new.seq, new.text, new.author_name);
    DELETE FROM comments_grams WHERE rowid = old.seq;
    INSERT INTO comments_grams (rowid, grams)
        VALUES (new.seq, cw_grams(new.text, new.author_name, new.author_id));
END;

-- Filters, newest first: by source and by time (authors go through
-- `comments_grams`: B-tree indexes on author ids and names, written in
-- random order, cost more per insert than all the rest). `changes (comment)` lets
-- deleting a comment find its changes (ON DELETE CASCADE) without a pass
-- over the whole feed; `fetched_at` is what retention prunes by.
CREATE INDEX IF NOT EXISTS comments_source_seq ON comments (source, seq);
CREATE INDEX IF NOT EXISTS comments_published ON comments (published_at);
CREATE INDEX IF NOT EXISTS comments_fetched ON comments (fetched_at);
CREATE INDEX IF NOT EXISTS changes_comment ON changes (comment);
-- The rare kinds, newest first, without a pass over the log; partial, so
-- ordinary comments cost them nothing.
CREATE INDEX IF NOT EXISTS comments_deleted ON comments (seq) WHERE deleted = 1;
CREATE INDEX IF NOT EXISTS comments_edited ON comments (seq) WHERE edited = 1;
CREATE INDEX IF NOT EXISTS comments_paid ON comments (seq) WHERE amount_display IS NOT NULL;

-- The comments that were put on stream, for the log's `featured` filter.
CREATE INDEX IF NOT EXISTS comments_featured ON comments (seq) WHERE featured_at IS NOT NULL;

-- Paid messages, memberships and other events (version 7), by kind.
CREATE INDEX IF NOT EXISTS comments_kind ON comments (kind, seq) WHERE kind IS NOT NULL;
-- Authors with a role (owner, moderator…), newest first, for the log's
-- `role` filter; partial, so ordinary viewers cost it nothing.
CREATE INDEX IF NOT EXISTS comments_roles ON comments (seq) WHERE roles IS NOT NULL;

-- Sign-in sessions (version 5): the SHA-256 of each session id (the cookie
-- holds the id; the log never does), a tag of the token it was opened with
-- (sessions of another token are void), and when it expires (unix seconds).
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    token_tag  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- What the streamer set from the dashboard (version 6), kept so a restart
-- keeps it. The "on stream" queue the overlay shows, oldest first by
-- `position`; the comments themselves are read from `comments`.
CREATE TABLE IF NOT EXISTS featured (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    source   TEXT NOT NULL,
    id       TEXT NOT NULL,
    UNIQUE (source, id)
);

-- Hidden words and `author:NAME` entries, as the streamer typed them
-- (`entry`), one row per folded form (`key`: lowercased, so `Bot` and `bot`
-- are one entry), in the order they were hidden (`position`). Unhiding keeps
-- the row with `removed = 1`, so `CW_BLOCK`, which seeds the list at every
-- start with what the log has never known, does not bring it back.
CREATE TABLE IF NOT EXISTS hidden (
    key      TEXT PRIMARY KEY,
    entry    TEXT NOT NULL,
    position INTEGER NOT NULL,
    removed  INTEGER NOT NULL DEFAULT 0
);

-- Accounts the streamer connected (version 9), one per platform: the OAuth
-- refresh token (never in a log line, a frame or an export), the channel it
-- is, when and by which dashboard session (its SHA-256) it was connected.
CREATE TABLE IF NOT EXISTS linked_accounts (
    platform      TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    channel_title TEXT NOT NULL,
    connected_at  INTEGER NOT NULL,
    connected_by  TEXT
);

-- Every action taken on a platform from the dashboard (version 9), whatever
-- its outcome: when, which session (a SHA-256), what, on which comment and
-- author, and the platform's answer; `ban_id` is what unbanning needs.
CREATE TABLE IF NOT EXISTS actions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    session    TEXT NOT NULL,
    action     TEXT NOT NULL,
    source     TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    author_id  TEXT NOT NULL,
    duration   INTEGER,
    ok         INTEGER NOT NULL,
    answer     TEXT NOT NULL,
    ban_id     TEXT
);
CREATE INDEX IF NOT EXISTS actions_author ON actions (source, author_id, id);
