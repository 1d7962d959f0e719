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
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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
        Command::Export(a) => params(&a.filters, a.q.as_deref(), &[("bom", flag(a.bom))])?,
        Command::Search(a) => {
            let mut extra = vec![("limit", a.limit.clone())];
            if let Some(b) = &a.before_seq {
                extra.push(("before_seq", b.clone()));
            }
            params(&a.filters, Some(&a.query), &extra)?
        }
        Command::Stats(a) => params(&a.filters, a.q.as_deref(), &[])?,
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
fn params(f: &Filters, q: Option<&str>, extra: &[(&str, String)]) -> Result<Params, CliError> {
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
    pairs.extend(extra.iter().cloned());
    let is_search = extra.iter().any(|(k, _)| *k == "limit");
    Params::parse(pairs, Utc::now()).map_err(|e| param_error(e, is_search))
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
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} comments  {per_sec}  {eta} left",
            )
            .expect("a valid template"),
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
    let result = store::export(
        &mut reader,
        &params.selection,
        None,
        None,
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
                eprintln!("commentwatch: exported {rows} comments to {path}");
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

fn short_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The `search` table. With a terminal width, each row fits one line;
/// otherwise the text is whole (still on one line, still made safe).
pub fn print_table(
    out: &mut dyn Write,
    rows: &[(i64, crate::domain::Comment)],
    width: Option<usize>,
) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no comments match");
    }
    let seq_w = rows
        .iter()
        .map(|(s, _)| s.to_string().len())
        .max()
        .unwrap_or(3)
        .max(3);
    let (source_w, author_w) = (22, 18);
    writeln!(
        out,
        "{:>seq_w$}  {:<19}  {}  {}  TEXT",
        "SEQ",
        "PUBLISHED (UTC)",
        fit("SOURCE", source_w, true),
        fit("AUTHOR", author_w, true)
    )?;
    let fixed = seq_w + 2 + 19 + 2 + source_w + 2 + author_w + 2;
    for (seq, c) in rows {
        let mut text = terminal_safe(&c.text);
        if c.deleted {
            text = format!("[deleted] {text}");
        } else if c.edited {
            text = format!("[edited] {text}");
        }
        let text = match width {
            Some(w) => fit(&text, w.saturating_sub(fixed).max(20), false),
            None => text,
        };
        writeln!(
            out,
            "{seq:>seq_w$}  {}  {}  {}  {text}",
            short_time(&c.published_at),
            fit(&terminal_safe(&c.source), source_w, true),
            fit(&terminal_safe(&c.author.name), author_w, true),
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
