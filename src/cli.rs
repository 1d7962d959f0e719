//! The log subcommands of the same binary: `commentwatch export`, `search`
//! and `stats`. They read the comment log at `CW_DB` / `--db` — the file the
//! server writes, safely alongside it (SQLite WAL lets readers and the writer
//! run together) — and print to the terminal or a file.
//!
//! They take the filters of `/log` and `/api/comments` and parse them with
//! the same code (`params::Params`), so `commentwatch export` writes
//! byte for byte what `/api/comments.csv` serves. Errors are one line naming
//! the flag, with a non-zero exit. Comment text printed to a terminal has its
//! control and bidi characters made visible or removed first: the log is
//! hostile input even on the way out. This module never polls, serves or
//! stores comments.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use unicode_width::UnicodeWidthChar;

pub use crate::config::commands::{
    Command, ExportArgs, ExportFormat, Filters, SearchArgs, StatsArgs,
};
use crate::params::{ParamError, Params};
use crate::store::{self, CommentLog, ExportError, Format, LogError, Stats, Target};

/// Why a subcommand failed; each says what to fix, in one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A filter that does not parse: names the flag.
    #[error("{flag}: {message}")]
    Param { flag: String, message: String },
    /// `CW_DB` points at nothing.
    #[error(
        "CW_DB={0:?}: there is no comment log there; set CW_DB or --db to the file the server writes"
    )]
    NoLog(PathBuf),
    #[error("CW_DB={path:?} cannot be read: {source}")]
    Log { path: String, source: LogError },
    #[error("{path}: {source}")]
    Output { path: String, source: io::Error },
}

/// Runs `command` on the log at `db` and returns the exit code; errors are
/// printed as one line on stderr.
pub fn run(command: Command, db: &Target) -> ExitCode {
    match execute(command, db) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that has seen enough (`| head`) closed the pipe: that is
        // the end of the output, not an error.
        Err(CliError::Output { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("commentwatch: {e}");
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command, db: &Target) -> Result<(), CliError> {
    // One worker thread drives the connections while an export reads from
    // this thread (a current-thread runtime could not do both).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let log_err = |source| CliError::Log {
        path: db.display(),
        source,
    };
    // Params are checked before the log is touched, so a typo costs nothing.
    let params = match &command {
        Command::Export(a) => {
            let mut extra = vec![("bom", flag(a.bom))];
            if let Some(l) = &a.limit {
                extra.push(("limit", l.clone()));
            }
            params(&a.filters, a.q.as_deref(), &extra, Kind::Other)?
        }
        Command::Search(a) => {
            let mut extra = vec![("limit", a.limit.clone())];
            if let Some(b) = &a.before_seq {
                extra.push(("before_seq", b.clone()));
            }
            params(&a.filters, Some(&a.query), &extra, Kind::Search)?
        }
        Command::Stats(a) => params(&a.filters, a.q.as_deref(), &[], Kind::Other)?,
    };
    if let Target::File(path) = db
        && !path.is_file()
    {
        return Err(CliError::NoLog(path.clone()));
    }
    let log = runtime.block_on(CommentLog::connect(db)).map_err(log_err)?;
    if params.selection.uses_index() {
        runtime.block_on(log.index_pending()).map_err(log_err)?;
    }
    match command {
        Command::Export(a) => {
            // A PostgreSQL reader drives its queries on this runtime.
            let _runtime = runtime.enter();
            export(&log, &params, &a, db)
        }
        Command::Search(_) => {
            let limit = params.page_limit().map_err(|e| param_error(e, true))?;
            let page = runtime
                .block_on(log.page(params.selection.clone(), params.before_seq, limit))
                .map_err(log_err)?;
            let stdout = io::stdout();
            let width = terminal_width(&stdout);
            let mut out = stdout.lock();
            print_table(&mut out, &page.comments, width).map_err(output_err("stdout"))?;
            if let Some(next) = page.next_before_seq {
                writeln!(out, "… more: add --before-seq {next}").map_err(output_err("stdout"))?;
            }
            Ok(())
        }
        Command::Stats(_) => {
            let stats = runtime
                .block_on(log.stats(params.selection))
                .map_err(log_err)?;
            let stdout = io::stdout();
            let width = terminal_width(&stdout).unwrap_or(80);
            print_stats(&mut stdout.lock(), &stats, width).map_err(output_err("stdout"))
        }
    }
}

fn flag(on: bool) -> String {
    if on { "1".into() } else { String::new() }
}

/// The filters as the `name=value` pairs `/api/comments` takes.
/// Which subcommand the parameters are for: in `search` the query is an
/// argument, not `--q`.
#[derive(Clone, Copy)]
enum Kind {
    Search,
    Other,
}

fn params(
    f: &Filters,
    q: Option<&str>,
    extra: &[(&str, String)],
    kind: Kind,
) -> Result<Params, CliError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut push = |k, v: &Option<String>| {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    };
    push("q", &q.map(str::to_owned));
    push("source", &f.source);
    push("author", &f.author);
    push("since", &f.since);
    push("until", &f.until);
    push("deleted", &f.deleted);
    push("edited", &f.edited);
    push("replies", &f.replies);
    push("paid", &f.paid);
    push("featured", &f.featured);
    push("highlighted", &f.highlighted);
    pairs.extend(f.role.iter().map(|v| ("role", v.clone())));
    pairs.extend(f.kind.iter().map(|v| ("kind", v.clone())));
    pairs.extend(extra.iter().cloned());
    let is_search = matches!(kind, Kind::Search);
    let mut params = Params::parse(pairs, Utc::now()).map_err(|e| param_error(e, is_search))?;
    // As on the page: `highlighted` selects by the server's highlight words,
    // and without any it could only ever answer nothing, so it is refused.
    let sel = &mut params.selection;
    if sel.highlighted != store::Flag::Any {
        sel.highlight_words = f
            .highlight_words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if sel.highlight_words.is_empty() {
            return Err(CliError::Param {
                flag: "--highlighted".into(),
                message: "no highlight words are set; set CW_HIGHLIGHT=word,word (or pass \
                          --highlight word,word before the subcommand)"
                    .into(),
            });
        }
    }
    Ok(params)
}

/// Names the flag the user typed: `before_seq` is `--before-seq`, and in
/// `search` the query is the QUERY argument.
fn param_error(e: ParamError, search: bool) -> CliError {
    let flag = match e.param.as_str() {
        "q" if search => "QUERY".to_owned(),
        p => format!("--{}", p.replace('_', "-")),
    };
    CliError::Param {
        flag,
        message: e.message,
    }
}

fn output_err(path: &str) -> impl Fn(io::Error) -> CliError + '_ {
    move |source| CliError::Output {
        path: path.to_owned(),
        source,
    }
}

fn export(
    log: &CommentLog,
    params: &Params,
    args: &ExportArgs,
    db: &Target,
) -> Result<(), CliError> {
    let log_err = |source| CliError::Log {
        path: db.display(),
        source,
    };
    let format = match args.format {
        ExportFormat::Csv => Format::Csv { bom: args.bom },
        ExportFormat::Jsonl => Format::Jsonl,
    };
    let mut reader = log.reader().map_err(log_err)?;
    // A bar only where a person watches: stderr is a terminal, and the
    // export itself is not being printed on that terminal.
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let bar = if io::stderr().is_terminal() && !to_terminal {
        let total = reader.count(&params.selection).map_err(log_err)?;
        let total = params.limit.map_or(total, |l| total.min(l));
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {human_pos}/{human_len} comments  {rate}  {eta} left",
            )
            .expect("a valid template")
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_text(s.per_sec()));
            }),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let target = args.output.as_ref().map(|p| p.display().to_string());
    let name = target.clone().unwrap_or_else(|| "stdout".into());
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(File::create(path).map_err(output_err(&name))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(256 * 1024, sink);
    let started = std::time::Instant::now();
    let result = store::export(
        &mut reader,
        &params.selection,
        None,
        params.limit,
        format,
        &mut out,
        &mut |n| bar.set_position(n),
    );
    if let (Err(_), Some(path)) = (&result, &args.output) {
        // Half an export looks like a whole one: do not leave it.
        drop(out);
        let _ = std::fs::remove_file(path);
    }
    bar.finish_and_clear();
    match result {
        Ok(rows) => {
            if let Some(path) = target
                && io::stderr().is_terminal()
            {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "commentwatch: exported {} comments to {path} in {secs:.1} s ({})",
                    thousands(rows),
                    rate_text(rows as f64 / secs.max(1e-3))
                );
            }
            Ok(())
        }
        // `commentwatch export … | head` is not an error.
        Err(ExportError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(ExportError::Write(e)) => Err(CliError::Output {
            path: name,
            source: e,
        }),
        Err(ExportError::Log(e)) => Err(log_err(e)),
    }
}

/// `n` with thousands separators: `574,765`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// An export's speed as a person reads it: whole comments per second with
/// thousands separators (`574,765 comments/s`), not `574764.6771/s`.
pub fn rate_text(per_sec: f64) -> String {
    let n = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    };
    format!("{} comments/s", thousands(n))
}

/// The terminal's width when `stdout` is one; `None` for pipes and files,
/// which get whole lines.
fn terminal_width(stdout: &io::Stdout) -> Option<usize> {
    if !stdout.is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| cols as usize)
        .or(from_env)
        .or(Some(100))
}

/// Text from the log made safe for a terminal, on one line: control
/// characters (escape sequences start with one) become visible symbols,
/// bidi controls and invisible characters are dropped, line breaks become ⏎.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push('⏎'),
            '\t' => out.push(' '),
            '\u{0}'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).expect("control pictures"))
            }
            '\u{7f}' => out.push('␡'),
            '\u{80}'..='\u{9f}' => out.push('\u{fffd}'),
            c if crate::sanitize::is_hidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `width` terminal columns (wide CJK characters count two),
/// padded with spaces when `pad`.
fn fit(s: &str, width: usize, pad: bool) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if total > width && used + w + 1 > width {
            out.push('…');
            used += 1;
            break;
        }
        out.push(c);
        used += w;
    }
    if pad {
        out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    }
    out
}

/// The columns of the `search` table other than the text, sized to what
/// they hold and, on a terminal, to leave the text at least half the line.
struct Layout {
    seq: usize,
    /// `true`: `MM-DD HH:MM` (11 columns) instead of the full date and time.
    short_time: bool,
    source: usize,
    author: usize,
}

impl Layout {
    const GAP: usize = 2;

    fn new(rows: &[(i64, crate::domain::Comment)], width: Option<usize>) -> Layout {
        let widest = |f: &dyn Fn(&crate::domain::Comment) -> String, header: &str| {
            rows.iter()
                .map(|(_, c)| text_width(&terminal_safe(&f(c))))
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        };
        let seq = rows
            .iter()
            .map(|(s, _)| s.to_string().len())
            .chain([3])
            .max()
            .unwrap_or(3);
        let (source, author) = (
            widest(&|c| c.source.clone(), "SOURCE"),
            widest(&|c| c.author.name.clone(), "AUTHOR"),
        );
        let Some(width) = width else {
            return Layout {
                seq,
                short_time: false,
                source: source.min(22),
                author: author.min(18),
            };
        };
        // Wide terminals keep the full time; narrow ones give its room to
        // the text. Source and author share what is left once the text has
        // half the line, the author a little more (names say more than ids).
        let short_time = width < 120;
        let time = if short_time { 11 } else { 19 };
        let fixed = seq + time + 4 * Self::GAP;
        let room = width.saturating_sub(fixed + width / 2).max(12);
        let author_cap = (room * 11 / 20).max(6);
        let author = author.min(author_cap);
        let source = source.min(room.saturating_sub(author).max(6));
        Layout {
            seq,
            short_time,
            source,
            author,
        }
    }

    fn time(&self, t: &DateTime<Utc>) -> String {
        let format = if self.short_time {
            "%m-%d %H:%M"
        } else {
            "%Y-%m-%d %H:%M:%S"
        };
        t.format(format).to_string()
    }

    fn time_header(&self) -> &'static str {
        if self.short_time {
            "TIME (UTC)"
        } else {
            "PUBLISHED (UTC)"
        }
    }

    /// Columns before the text.
    fn fixed(&self) -> usize {
        self.seq + self.time_width() + self.source + self.author + 4 * Self::GAP
    }

    fn time_width(&self) -> usize {
        if self.short_time { 11 } else { 19 }
    }
}

fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The `search` table. With a terminal width, each row fits one line and
/// the text gets at least half of it (source and author are cut first);
/// otherwise the text is whole (still on one line, still made safe).
pub fn print_table(
    out: &mut dyn Write,
    rows: &[(i64, crate::domain::Comment)],
    width: Option<usize>,
) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no comments match");
    }
    let l = Layout::new(rows, width);
    let (seq_w, time_w) = (l.seq, l.time_width());
    writeln!(
        out,
        "{:>seq_w$}  {:<time_w$}  {}  {}  TEXT",
        "SEQ",
        l.time_header(),
        fit("SOURCE", l.source, true),
        fit("AUTHOR", l.author, true)
    )?;
    for (seq, c) in rows {
        let mut text = terminal_safe(&c.text);
        if c.deleted {
            text = format!("[deleted] {text}");
        } else if c.edited {
            text = format!("[edited] {text}");
        }
        let text = match width {
            Some(w) => fit(&text, w.saturating_sub(l.fixed()).max(20), false),
            None => text,
        };
        writeln!(
            out,
            "{seq:>seq_w$}  {:<time_w$}  {}  {}  {text}",
            l.time(&c.published_at),
            fit(&terminal_safe(&c.source), l.source, true),
            fit(&terminal_safe(&c.author.name), l.author, true),
        )?;
    }
    Ok(())
}

/// The `stats` report.
pub fn print_stats(out: &mut dyn Write, s: &Stats, width: usize) -> io::Result<()> {
    let range = match (&s.first, &s.last) {
        (Some(f), Some(l)) => format!(" posted from {f} to {l}"),
        _ => String::new(),
    };
    writeln!(out, "{} comments{range}", s.total)?;
    if s.total == 0 {
        return Ok(());
    }
    writeln!(out, "\nBy source:")?;
    for c in &s.sources {
        writeln!(out, "  {:>9}  {}", c.count, terminal_safe(&c.source))?;
    }
    if !s.per_minute.is_empty() {
        // A sparkline of comments per minute, squeezed to the width.
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let cols = width.saturating_sub(4).clamp(10, 240);
        let per_col = s.per_minute.len().div_ceil(cols);
        let points: Vec<f64> = s
            .per_minute
            .chunks(per_col)
            .map(|c| c.iter().map(|b| b.per_minute).sum::<f64>() / c.len() as f64)
            .collect();
        let peak = points.iter().copied().fold(0.0, f64::max);
        let line: String = points
            .iter()
            .map(|p| {
                if peak <= 0.0 {
                    BARS[0]
                } else {
                    BARS[((p / peak) * 7.0).round() as usize]
                }
            })
            .collect();
        writeln!(
            out,
            "\nComments per minute ({} min per bar, peak {:.1}/min):\n  {line}",
            s.bucket_minutes as usize * per_col,
            peak
        )?;
    }
    writeln!(out, "\nBusiest moments:")?;
    for m in &s.busiest {
        writeln!(out, "  {:>9}  {}", m.count, m.minute)?;
    }
    writeln!(out, "\nMost active authors:")?;
    for a in &s.top_authors {
        writeln!(
            out,
            "  {:>9}  {}{}",
            a.count,
            terminal_safe(&a.name),
            if a.id.is_empty() {
                String::new()
            } else {
                format!("  ({})", terminal_safe(&a.id))
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_controls_never_reach_the_terminal() {
        let hostile = "\u{1b}[2J\u{1b}]0;pwned\u{7}red\u{202e}txt.exe\u{9b}31m\nnext";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(!safe.contains('\u{202e}'));
        assert!(safe.contains("␛[2J") && safe.contains("⏎next"), "{safe}");
    }

    #[test]
    fn wide_characters_are_cut_by_columns_not_chars() {
        assert_eq!(fit("主播好帅", 5, false), "主播…");
        assert_eq!(fit("abc", 5, true), "abc  ");
        assert_eq!(fit("abcdef", 4, false), "abc…");
    }
}
