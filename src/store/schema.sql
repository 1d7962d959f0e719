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
