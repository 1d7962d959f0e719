//! The flags of the `export`, `search` and `stats` subcommands (clap). Only
//! their shape: what they do is `crate::cli`'s. Kept with the rest of the
//! command line so that `config` need not import `cli`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// A subcommand; without one, the binary runs the server.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write the log, or a selection of it, as CSV or JSON Lines, newest
    /// first (the same bytes as /api/comments.csv and .jsonl).
    Export(ExportArgs),
    /// Print the comments whose text or author name contains QUERY, newest
    /// first, as a table.
    Search(SearchArgs),
    /// Print totals per source, comments per minute over time, the busiest
    /// moments and the most active authors.
    Stats(StatsArgs),
}

/// The filters every subcommand takes (those of `/log`).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only this source (youtube:VIDEO_ID, bilibili:BVID, generic:NAME,
    /// demo) or platform (youtube, youtube-live, bilibili, bilibili-live,
    /// generic).
    #[arg(long)]
    pub source: Option<String>,
    /// Only this author: their channel id, or their name (any case).
    #[arg(long)]
    pub author: Option<String>,
    /// Posted at or after: RFC 3339 (2024-05-01T20:40:00Z), a UTC date and
    /// time (2024-05-01T20:40), a date, or a duration ago (90m, 2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Posted before; the same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    /// 1: only comments deleted on the platform; 0: none of them.
    #[arg(long, value_name = "1|0")]
    pub deleted: Option<String>,
    /// 1: only edited comments; 0: none of them.
    #[arg(long, value_name = "1|0")]
    pub edited: Option<String>,
    /// 1: only replies; 0: no replies.
    #[arg(long, value_name = "1|0")]
    pub replies: Option<String>,
    /// 1: only paid messages (Super Chats); 0: none of them.
    #[arg(long, value_name = "1|0")]
    pub paid: Option<String>,
    /// 1: only comments that were put on stream; 0: none of them.
    #[arg(long, value_name = "1|0")]
    pub featured: Option<String>,
    /// 1: only comments containing a CW_HIGHLIGHT word; 0: none of them.
    #[arg(long, value_name = "1|0")]
    pub highlighted: Option<String>,
    /// Only authors with this role: owner, moderator, member, verified,
    /// vip (repeat the flag, or separate with commas, for any of several).
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,
    /// Only messages of this kind: text, superchat, sticker, membership,
    /// gift, event (repeat the flag, or separate with commas).
    #[arg(long, value_name = "KIND")]
    pub kind: Vec<String>,
    /// CW_HIGHLIGHT's words (`--highlight` before the subcommand), filled in
    /// after parsing for `--highlighted`; not a flag of its own.
    #[arg(skip)]
    pub highlight_words: Vec<String>,
}

impl Command {
    /// The filters of whichever subcommand this is.
    pub fn filters_mut(&mut self) -> &mut Filters {
        match self {
            Command::Export(a) => &mut a.filters,
            Command::Search(a) => &mut a.filters,
            Command::Stats(a) => &mut a.filters,
        }
    }
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ExportArgs {
    /// What to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only comments whose text or author name contains this (any script,
    /// any case).
    #[arg(long)]
    pub q: Option<String>,
    #[command(flatten)]
    pub filters: Filters,
    /// Start a CSV file with a UTF-8 byte order mark, so spreadsheets read
    /// it as UTF-8.
    #[arg(long)]
    pub bom: bool,
    /// Write at most this many comments (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Export formats.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV: seq,source,id,published_at,author,author_id,text,likes,reply_to,edited,deleted,amount,currency
    Csv,
    /// One JSON object per line, as in /api/comments.
    Jsonl,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct SearchArgs {
    /// What to look for in text and author names (any script, any case, one
    /// character or more).
    #[arg(value_name = "QUERY")]
    pub query: String,
    #[command(flatten)]
    pub filters: Filters,
    /// How many comments to print (at most 1000).
    #[arg(long, default_value = "20")]
    pub limit: String,
    /// Continue from an earlier page: only comments older than this seq.
    #[arg(long)]
    pub before_seq: Option<String>,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct StatsArgs {
    /// Only comments whose text or author name contains this.
    #[arg(long)]
    pub q: Option<String>,
    #[command(flatten)]
    pub filters: Filters,
}
