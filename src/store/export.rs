//! Exporting a selection of the log as CSV (RFC 4180, with spreadsheet
//! formulas neutralised) or JSON lines, streamed in keyset batches so memory
//! stays flat whatever the row count; and the [`Reader`] an export reads
//! through, off the async runtime.
//!
//! The format and the batching live here, once; each backend supplies a
//! [`BlockingReader`] that reads one batch. Nothing of HTTP or the terminal:
//! the caller hands in where to write and hears the progress.

use std::io::{self, Write};

use serde::Serialize;

use super::{LogError, Page, Selection};
use crate::domain::{Comment, Kind, Role, rfc3339};

/// Rows read per round trip while exporting: big enough to amortise the
/// query, small enough that memory stays flat and the writer is never held
/// up for long when the export shares its connection.
pub const EXPORT_BATCH: u64 = 2_000;

/// The CSV columns, in order (docs/PROTOCOL.md, "The log API"). New columns
/// are only ever appended, so a spreadsheet that reads columns by position
/// keeps working.
pub const CSV_COLUMNS: [&str; 19] = [
    "seq",
    "source",
    "id",
    "published_at",
    "author",
    "author_id",
    "text",
    "likes",
    "reply_to",
    "edited",
    "deleted",
    "amount",
    "currency",
    "roles",
    "kind",
    "badges",
    "pinned",
    "liked_by_owner",
    "location",
];

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with the [`CSV_COLUMNS`]; `bom` starts it with U+FEFF so
    /// spreadsheets read it as UTF-8.
    Csv { bom: bool },
    /// One JSON object per line, shaped like the rows of `/api/comments`.
    Jsonl,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing failed: the disk is full, or the client went away.
    #[error("writing the export failed: {0}")]
    Write(#[from] io::Error),
}

/// A comment with its `seq` beside its own fields: the rows of
/// `/api/comments` and of the JSONL export.
#[derive(Serialize)]
pub struct Row<'a> {
    pub seq: i64,
    #[serde(flatten)]
    pub comment: &'a Comment,
}

/// A connection for a long, blocking read (an export), to be used off the
/// async runtime; see [`super::LogBackend::reader`].
pub struct Reader(Box<dyn BlockingReader + Send>);

/// What a backend reads for an export, blocking the thread it runs on.
pub(super) trait BlockingReader {
    /// How many comments `sel` covers.
    fn count(&mut self, sel: &Selection) -> Result<u64, LogError>;

    /// Formats up to `limit` rows of `sel` below `before` (newest first)
    /// into `buf`; returns the row count and the last `seq`.
    fn batch(
        &mut self,
        sel: &Selection,
        before: Option<i64>,
        limit: u64,
        format: Format,
        buf: &mut Vec<u8>,
    ) -> Result<(u64, Option<i64>), LogError>;
}

impl Reader {
    pub(super) fn new(reader: impl BlockingReader + Send + 'static) -> Reader {
        Reader(Box::new(reader))
    }

    /// How many comments `sel` covers (blocking).
    pub fn count(&mut self, sel: &Selection) -> Result<u64, LogError> {
        self.0.count(sel)
    }
}

/// Writes every comment of `sel` (with `seq < before`, at most `limit`),
/// newest first, to `out`, and returns how many. Reads in keyset batches of
/// [`EXPORT_BATCH`] and formats each batch before writing it, so memory does
/// not grow with the row count and a slow `out` never holds a lock on the
/// log. `progress` hears the running total after each batch.
pub fn export(
    reader: &mut Reader,
    sel: &Selection,
    mut before: Option<i64>,
    limit: Option<u64>,
    format: Format,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    if let Format::Csv { bom } = format {
        let mut head = Vec::new();
        if bom {
            head.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut w = csv_writer(&mut head);
        w.write_record(CSV_COLUMNS).map_err(csv_io)?;
        w.flush()?;
        drop(w);
        out.write_all(&head)?;
    }
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(512 * 1024);
    loop {
        let want = match limit {
            Some(l) => (l - written).min(EXPORT_BATCH),
            None => EXPORT_BATCH,
        };
        if want == 0 {
            break;
        }
        buf.clear();
        let (rows, last) = reader.0.batch(sel, before, want, format, &mut buf)?;
        out.write_all(&buf)?;
        written += rows;
        progress(written);
        match last {
            Some(seq) if rows == want => before = Some(seq),
            _ => break,
        }
    }
    out.flush()?;
    Ok(written)
}

pub(super) fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(w)
}

fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A cell a spreadsheet would read as a formula gets a leading `'`, the
/// OWASP remedy. That is a cell whose first visible character is `=`, `+`,
/// `-` or `@` (or their full-width forms, which some spreadsheets fold),
/// looking past the whitespace, control and invisible characters that some
/// spreadsheets skip, and any cell that starts with a tab, CR or LF. YouTube
/// handles (`@name`) are neutralised too: `@` starts a formula in Excel.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let first = cell
        .chars()
        .find(|c| !(c.is_whitespace() || c.is_control() || crate::sanitize::is_hidden(*c)));
    let risky = matches!(
        first,
        Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠')
    ) || cell.starts_with(['\t', '\r', '\n']);
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A paid message's amount as a plain decimal number in the currency's
/// units (`4.99`, `1000`): what a spreadsheet can sum, exact because it is
/// printed from the integer micros rather than through a float. Comments
/// that are not paid get an empty cell.
pub fn amount_cell(micros: Option<i64>) -> String {
    let Some(micros) = micros else {
        return String::new();
    };
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let (units, fraction) = (abs / 1_000_000, abs % 1_000_000);
    if fraction == 0 {
        return format!("{sign}{units}");
    }
    let digits = format!("{fraction:06}");
    format!("{sign}{units}.{}", digits.trim_end_matches('0'))
}

/// The last six CSV cells, who wrote it and what it is: `roles`
/// (comma-separated), `kind` (empty for ordinary text), `badges` (joined by
/// ` · `), `pinned`, `liked_by_owner`, `location`; text cells neutralised.
/// Shared by every CSV writer so the backends write the same bytes.
pub(super) fn who_cells(
    roles: &[Role],
    kind: Kind,
    badges: &[String],
    pinned: bool,
    liked_by_owner: bool,
    location: Option<&str>,
) -> [String; 6] {
    let flag = |v: bool| if v { "true" } else { "false" }.to_owned();
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    [
        roles.join(","),
        if kind.is_text() { "" } else { kind.as_str() }.to_owned(),
        neutralise(&badges.join(" · ")).into_owned(),
        flag(pinned),
        flag(liked_by_owner),
        neutralise(location.unwrap_or("")).into_owned(),
    ]
}

/// Formats a page's comments as CSV rows or JSON lines into `buf`; returns
/// the row count and the last `seq`.
pub(super) fn format_page(
    page: &Page,
    format: Format,
    buf: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), LogError> {
    let fail = |e: &dyn std::fmt::Display| LogError::Task(e.to_string());
    match format {
        Format::Csv { .. } => {
            let mut w = csv_writer(&mut *buf);
            for (seq, c) in &page.comments {
                let flag = |v: bool| if v { "true" } else { "false" };
                let (seq, likes) = (seq.to_string(), c.likes.to_string());
                let published = rfc3339::format(&c.published_at);
                let amount = amount_cell(c.amount.as_ref().map(|a| a.micros));
                let currency = c.amount.as_ref().map_or("", |a| a.currency.as_str());
                let who = who_cells(
                    &c.author.roles,
                    c.kind,
                    &c.author.badges,
                    c.pinned,
                    c.liked_by_owner,
                    c.location.as_deref(),
                );
                let record: [&str; 19] = [
                    &seq,
                    &neutralise(&c.source),
                    &neutralise(&c.id),
                    &published,
                    &neutralise(&c.author.name),
                    &neutralise(&c.author.id),
                    &neutralise(&c.text),
                    &likes,
                    &neutralise(c.reply_to.as_deref().unwrap_or("")),
                    flag(c.edited),
                    flag(c.deleted),
                    &amount,
                    &neutralise(currency),
                    &who[0],
                    &who[1],
                    &who[2],
                    &who[3],
                    &who[4],
                    &who[5],
                ];
                w.write_record(record).map_err(|e| fail(&e))?;
            }
            w.flush().map_err(|e| fail(&e))?;
        }
        Format::Jsonl => {
            for (seq, comment) in &page.comments {
                serde_json::to_writer(&mut *buf, &Row { seq: *seq, comment })
                    .map_err(|e| fail(&e))?;
                buf.push(b'\n');
            }
        }
    }
    Ok((
        page.comments.len() as u64,
        page.comments.last().map(|(s, _)| *s),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_decimals_and_unpaid_cells_are_empty() {
        assert_eq!(amount_cell(None), "");
        assert_eq!(amount_cell(Some(5_000_000)), "5");
        assert_eq!(amount_cell(Some(4_990_000)), "4.99");
        assert_eq!(amount_cell(Some(1_000_000_000)), "1000");
        assert_eq!(amount_cell(Some(1)), "0.000001");
        assert_eq!(amount_cell(Some(-1_500_000)), "-1.5");
    }

    #[test]
    fn formula_cells_get_a_quote_and_harmless_ones_do_not() {
        for risky in [
            "=1+1",
            "+1",
            "-2+3",
            "@SUM(1)",
            "@handle",
            " =1",
            "\t=1",
            "\u{3000}=1",
            "＝1",
            "\u{feff}=1",
        ] {
            assert!(neutralise(risky).starts_with('\''), "{risky:?}");
        }
        for safe in ["hello", "'=1+1", "a=1", "1+1", ""] {
            assert_eq!(neutralise(safe), safe);
        }
    }
}
