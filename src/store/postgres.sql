-- The comment log on PostgreSQL: the same tables as the SQLite file, for
-- several commentwatch instances at once. Run at every start inside one
-- transaction that holds the migration lock, so it must stay safe to rerun.
--
-- Times are RFC 3339 text in UTC, as in SQLite; `COLLATE "C"` makes them
-- (and source names) compare byte by byte whatever the database's locale.

CREATE TABLE IF NOT EXISTS comments (
    seq             BIGINT  PRIMARY KEY,
    source          TEXT    COLLATE "C" NOT NULL,
    id              TEXT    COLLATE "C" NOT NULL,
    author_name     TEXT    NOT NULL,
    author_id       TEXT    COLLATE "C" NOT NULL,
    author_avatar   TEXT,
    text            TEXT    NOT NULL,
    html            TEXT    NOT NULL,
    published_at    TEXT    COLLATE "C" NOT NULL,
    fetched_at      TEXT    COLLATE "C" NOT NULL,
    likes           BIGINT  NOT NULL DEFAULT 0,
    reply_to        TEXT,
    amount_display  TEXT,
    amount_micros   BIGINT,
    amount_currency TEXT,
    edited          BOOLEAN NOT NULL DEFAULT false,
    deleted         BOOLEAN NOT NULL DEFAULT false,
    -- JSON object of emote token -> image URL, or NULL.
    emotes          TEXT,
    -- When the streamer first put it on stream (the overlay), or NULL.
    featured_at     TEXT    COLLATE "C",
    -- Who is speaking and what kind of message it is (version 4): the
    -- author's roles comma-separated (`owner,member`), their membership
    -- level's name, the kind (`superchat`, `membership`, …; NULL for an
    -- ordinary text) and the event's details as JSON; each NULL when empty.
    roles           TEXT,
    member_level    TEXT,
    kind            TEXT COLLATE "C",
    event           TEXT,
    -- Who wrote it beyond roles (version 5), as JSON, NULL when empty: the
    -- author's `badges` and name `color`, `pinned` and `liked_by_owner`, and
    -- the `location` line.
    who             TEXT,
    -- The text and the author's name lowercased by commentwatch
    -- (`store::fold`), which search matches substrings of: the same folding
    -- as the SQLite indexes, whatever the server's locale.
    text_folded     TEXT    COLLATE "C" NOT NULL,
    author_folded   TEXT    COLLATE "C" NOT NULL,
    UNIQUE (source, id)
);

-- The change feed that `/ws?since=` replays. Writers take the feed lock
-- (a transaction-level advisory lock) before numbering, so `seq` order is
-- commit order: a reader that has seen `seq` N never misses a smaller one
-- committed later.
CREATE TABLE IF NOT EXISTS changes (
    seq     BIGINT PRIMARY KEY,
    kind    TEXT   NOT NULL CHECK (kind IN ('new', 'update', 'delete')),
    comment BIGINT NOT NULL REFERENCES comments (seq) ON DELETE CASCADE
);

-- The last `seq` handed out. Kept apart from `changes` so that pruning old
-- changes never lets a number be handed out twice.
CREATE TABLE IF NOT EXISTS feed_head (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    seq BIGINT  NOT NULL
);
INSERT INTO feed_head (one, seq) VALUES (true, 0) ON CONFLICT (one) DO NOTHING;

-- Where each source's paging left off: whichever instance polls next
-- resumes there.
CREATE TABLE IF NOT EXISTS cursors (
    source     TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- YouTube quota units spent per Pacific-time day, by every instance.
CREATE TABLE IF NOT EXISTS quota (
    day   TEXT   COLLATE "C" PRIMARY KEY,
    units BIGINT NOT NULL
);

-- `log_id` and `schema_version`.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS comments_source_seq ON comments (source, seq);
CREATE INDEX IF NOT EXISTS comments_published ON comments (published_at);
CREATE INDEX IF NOT EXISTS comments_fetched ON comments (fetched_at);
CREATE INDEX IF NOT EXISTS comments_author_id ON comments (author_id);
CREATE INDEX IF NOT EXISTS comments_author_folded ON comments (author_folded);
CREATE INDEX IF NOT EXISTS changes_comment ON changes (comment);
CREATE INDEX IF NOT EXISTS comments_deleted ON comments (seq) WHERE deleted;
CREATE INDEX IF NOT EXISTS comments_edited ON comments (seq) WHERE edited;
CREATE INDEX IF NOT EXISTS comments_paid ON comments (seq) WHERE amount_display IS NOT NULL;
CREATE INDEX IF NOT EXISTS comments_featured ON comments (seq) WHERE featured_at IS NOT NULL;

-- Version 4 added who is speaking and what kind of message it is; an older
-- database gains the columns here (its rows keep NULL: ordinary texts).
ALTER TABLE comments ADD COLUMN IF NOT EXISTS roles TEXT;
ALTER TABLE comments ADD COLUMN IF NOT EXISTS member_level TEXT;
ALTER TABLE comments ADD COLUMN IF NOT EXISTS kind TEXT COLLATE "C";
ALTER TABLE comments ADD COLUMN IF NOT EXISTS event TEXT;
-- Version 5 added who wrote it beyond roles.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS who TEXT;
-- Paid messages, memberships and other events, newest first by kind.
CREATE INDEX IF NOT EXISTS comments_kind ON comments (kind, seq) WHERE kind IS NOT NULL;
-- Authors with a role, newest first, for the log's `role` filter.
CREATE INDEX IF NOT EXISTS comments_roles ON comments (seq) WHERE roles IS NOT NULL;

-- The "on stream" queue the overlay shows, kept so that a restart keeps it
-- and shared so that a comment featured through one instance shows on an
-- overlay connected to any other. Oldest first by `position`; the comments
-- themselves are read from `comments`.
CREATE TABLE IF NOT EXISTS featured (
    position BIGINT GENERATED ALWAYS AS IDENTITY,
    source   TEXT COLLATE "C" NOT NULL,
    id       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (source, id)
);

-- The latest status of each source, as the instance polling it reported it
-- (JSON, the SOURCE_STATUS frame's shape), for the dashboards of the other
-- instances. `reported_at` keeps a late write from replacing a newer one.
CREATE TABLE IF NOT EXISTS source_status (
    source      TEXT COLLATE "C" PRIMARY KEY,
    status      TEXT NOT NULL,
    reported_at TIMESTAMPTZ NOT NULL
);

-- Sign-in sessions (version 2), shared by every instance: the SHA-256 of
-- each session id (the cookie holds the id; the log never does), a tag of
-- the token it was opened with, and when it expires (unix seconds).
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT COLLATE "C" PRIMARY KEY,
    token_tag  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Hidden words and `author:NAME` entries (version 3), shared by every
-- instance: as the streamer typed them (`entry`), one row per folded form
-- (`key`, lowercased), in the order they were hidden (`position`).
-- Unhiding keeps the row with `removed`, so `CW_BLOCK`, which seeds the list
-- at every start with what the log has never known, does not bring it back.
CREATE TABLE IF NOT EXISTS hidden (
    key      TEXT    COLLATE "C" PRIMARY KEY,
    entry    TEXT    NOT NULL,
    position BIGINT  NOT NULL,
    removed  BOOLEAN NOT NULL DEFAULT false
);

-- Accounts the streamer connected (version 6), one per platform, shared by
-- every instance: the OAuth refresh token (never in a log line, a frame or
-- an export), the channel it is, when and by which dashboard session (its
-- SHA-256) it was connected.
CREATE TABLE IF NOT EXISTS linked_accounts (
    platform      TEXT COLLATE "C" PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    channel_title TEXT NOT NULL,
    connected_at  BIGINT NOT NULL,
    connected_by  TEXT
);

-- Every action taken on a platform from the dashboard (version 6), whatever
-- its outcome: when, which session (a SHA-256), what, on which comment and
-- author, and the platform's answer; `ban_id` is what unbanning needs.
CREATE TABLE IF NOT EXISTS actions (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    session    TEXT NOT NULL,
    action     TEXT NOT NULL,
    source     TEXT COLLATE "C" NOT NULL,
    comment_id TEXT NOT NULL,
    author_id  TEXT COLLATE "C" NOT NULL,
    duration   BIGINT,
    ok         BOOLEAN NOT NULL,
    answer     TEXT NOT NULL,
    ban_id     TEXT
);
CREATE INDEX IF NOT EXISTS actions_author ON actions (source, author_id, id);
