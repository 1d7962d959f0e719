//! The `export`, `search` and `stats` subcommands of the real binary, on the
//! log file of a running app: the same bytes as the API, terminal escapes
//! neutralised, one-line errors that name the flag, and `CW_RETENTION`.

use std::process::{Command, Output, Stdio};

use commentwatch::config::{Config, Invocation};
use commentwatch::store::Target;
use reqwest::StatusCode;

use crate::export::{hostile_comments, ingest};
use crate::helpers::spawn_app;
use crate::log_page::{BILI, YT, comment, settle};

/// Runs the binary with only `CW_DB` set (and `args`), stdin closed,
/// stdout and stderr captured: not a terminal, so no progress bar.
fn run(db: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commentwatch"))
        .env_clear()
        .env("CW_DB", db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn cli_export_writes_the_same_bytes_as_the_api_export() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    export_matches_the_api(&app).await;
}

#[tokio::test]
async fn cli_export_reads_a_postgres_log_as_the_api_does() {
    let Some(url) = crate::helpers::postgres_db().await else {
        return;
    };
    let app = crate::helpers::spawn_app_with_db(&url, &[("CW_DEMO_RATE", "0")]).await;
    export_matches_the_api(&app).await;
    let out = run(&url, &["stats"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bilibili:"));
}

/// Every export the API makes, made by `commentwatch export` on the same
/// log (`app.db`: a file or a URL), byte for byte.
async fn export_matches_the_api(app: &crate::helpers::TestApp) {
    settle(app).await;
    ingest(app, hostile_comments()).await;
    ingest(
        app,
        vec![
            comment(BILI, "1", "小明", "主播好帅", 1),
            comment(BILI, "2", "viewer", "主播加油 =1+1", 2),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    for (query, args) in [
        ("", vec!["--format", "csv"]),
        ("?bom=1", vec!["--format", "csv", "--bom"]),
        ("", vec!["--format", "jsonl"]),
        (
            "?q=%E4%B8%BB%E6%92%AD&source=bilibili",
            vec!["--format", "csv", "--q", "主播", "--source", "bilibili"],
        ),
        (
            "?since=2026-04-01T20:00:30Z&until=2026-04-01T20:01:10Z",
            vec![
                "--format",
                "jsonl",
                "--since",
                "2026-04-01T20:00:30Z",
                "--until",
                "2026-04-01T20:01:10",
            ],
        ),
    ] {
        let format = args[1];
        let resp = reqwest::get(app.url(&format!("/api/comments.{format}{query}")))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let api = resp.bytes().await.unwrap();
        // To a file with -o ...
        let file = dir.path().join("out");
        let mut with_file = vec!["export"];
        with_file.extend(&args);
        with_file.extend(["-o", file.to_str().unwrap()]);
        let out = run(&app.db, &with_file);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "no progress bar in a pipe");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            api.to_vec(),
            "export {args:?}"
        );
        // ... and to standard output.
        let mut to_stdout = vec!["export"];
        to_stdout.extend(&args);
        let out = run(&app.db, &to_stdout);
        assert!(out.status.success());
        assert_eq!(out.stdout, api.to_vec(), "export {args:?} to stdout");
    }
}

#[tokio::test]
async fn cli_search_prints_a_readable_table_with_escape_sequences_neutralised() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    ingest(
        &app,
        vec![
            comment(YT, "s1", "小明", "主播 is live", 1),
            comment(YT, "s2", "viewer", "unrelated chatter", 2),
        ],
    )
    .await;
    let db = app.db.clone();
    // A log file edited by hand (or by an older build) may hold what the
    // sanitizer would have removed: escape sequences, bidi overrides.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    for (i, attack) in crate::export::attack_strings("terminal_escapes.jsonl")
        .iter()
        .enumerate()
    {
        conn.execute(
            "INSERT INTO comments (seq, source, id, author_name, author_id, text, html, published_at, fetched_at) \
             VALUES (?1, 'demo', ?2, ?3, 'x', ?4, 'x', '2026-04-01T21:00:00Z', '2026-04-01T21:00:00Z')",
            rusqlite::params![
                1_000_000 + i as i64,
                format!("t{i}"),
                format!("evil\u{202e}{i}"),
                format!("主播 {attack}")
            ],
        )
        .unwrap();
    }
    drop(conn);
    let out = run(&db, &["search", "主播", "--limit", "1000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with("SEQ") || table.trim_start().starts_with("SEQ"),
        "{table}"
    );
    assert!(table.contains("主播 is live") && table.contains("小明"));
    assert!(!table.contains("unrelated chatter"), "only matches");
    for c in table.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "a control character {c:?} reached the terminal"
        );
    }
    assert!(!table.contains('\u{202e}'), "no bidi override");
    assert!(table.contains('␛'), "escapes are shown, not run");
    let rows = table.lines().filter(|l| l.contains("主播")).count();
    assert!(rows > 2, "{table}");
    // Stats of the same log.
    let out = run(&db, &["stats"]);
    assert!(out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains("comments") && report.contains(YT) && report.contains("Busiest moments")
    );
    assert!(
        !report.chars().any(|c| c != '\n' && c.is_control()),
        "{report}"
    );
}

#[tokio::test]
async fn cli_errors_are_one_line_naming_the_flag_and_exit_non_zero() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let db = app.db.clone();
    for (args, flag) in [
        (
            vec!["export", "--format", "csv", "--since", "yesterday"],
            "--since",
        ),
        (
            vec!["export", "--format", "jsonl", "--source", "myspace:1"],
            "--source",
        ),
        (vec!["search", "x", "--limit", "5000"], "--limit"),
        (vec!["search", "x", "--before-seq", "abc"], "--before-seq"),
        (vec!["search", "\u{200b}"], "QUERY"),
        (vec!["stats", "--deleted", "maybe"], "--deleted"),
    ] {
        let out = run(&db, &args);
        assert!(!out.status.success(), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].contains(flag), "{args:?}: {lines:?}");
        assert!(out.stdout.is_empty());
    }
    let out = run(&db, &["export", "--format", "xml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    // A log that is not there is named, and not created.
    let missing = db.with_file_name("nothing-here.db");
    let out = run(&missing, &["stats"]);
    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("CW_DB"), "{lines:?}");
    assert!(!missing.exists());
}

#[test]
fn subcommands_share_the_log_flag_and_the_server_runs_without_one() {
    let env = |k: &str| (k == "CW_DB").then(|| "from-env.db".to_owned());
    match Invocation::from_lookup(["commentwatch", "export", "--format", "csv"], env).unwrap() {
        Invocation::Log { db, .. } => assert_eq!(db, Target::File("from-env.db".into())),
        other => panic!("{other:?}"),
    }
    // The flag wins over the env var, before or after the subcommand.
    for args in [
        ["commentwatch", "--db", "flag.db", "stats"],
        ["commentwatch", "stats", "--db", "flag.db"],
    ] {
        match Invocation::from_lookup(args, env).unwrap() {
            Invocation::Log { db, .. } => {
                assert_eq!(db, Target::File("flag.db".into()), "{args:?}")
            }
            other => panic!("{other:?}"),
        }
    }
    // A server setting that is wrong does not stop a log subcommand...
    let bad_poll = |k: &str| (k == "CW_POLL").then(|| "*/5 * * * *".to_owned());
    assert!(Invocation::from_lookup(["commentwatch", "stats"], bad_poll).is_ok());
    // ... and no subcommand still means the server, as before.
    assert!(matches!(
        Invocation::from_lookup(["commentwatch"], |_| None).unwrap(),
        Invocation::Serve(_)
    ));
    assert!(Invocation::from_lookup(["commentwatch"], bad_poll).is_err());
}

#[test]
fn retention_is_a_duration_of_at_least_an_hour_or_forever() {
    let with = |v: &'static str| {
        Config::from_lookup(["commentwatch"], move |k| {
            (k == "CW_RETENTION").then(|| v.to_owned())
        })
    };
    assert_eq!(
        with("90d").unwrap().retention,
        Some(std::time::Duration::from_secs(90 * 86_400))
    );
    assert_eq!(
        with("12h").unwrap().retention,
        Some(std::time::Duration::from_secs(12 * 3600))
    );
    assert_eq!(with("forever").unwrap().retention, None);
    assert_eq!(
        Config::defaults().retention,
        None,
        "keep forever by default"
    );
    for bad in ["5", "30s", "90 d", "soon"] {
        let e = with(bad).unwrap_err().to_string();
        assert!(e.starts_with("CW_RETENTION="), "{e}");
        assert_eq!(e.lines().count(), 1);
    }
}

/// Like [`run`], with more environment variables.
fn run_with(db: impl AsRef<std::ffi::OsStr>, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commentwatch"))
        .env_clear()
        .env("CW_DB", db)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// A Super Chat of $4.99 by `author`.
pub fn super_chat(
    source: &str,
    id: &str,
    author: &str,
    minute: i64,
) -> commentwatch::domain::Comment {
    let mut c = comment(source, id, author, "thanks for the stream", minute);
    c.amount = Some(commentwatch::domain::Amount {
        display: "$4.99".into(),
        micros: 4_990_000,
        currency: "USD".into(),
    });
    c
}

// See: issue 15, "the CLI has --limit, --featured, --highlighted like the page".
#[tokio::test]
async fn cli_export_and_search_take_the_limit_featured_and_highlighted_filters_of_the_page() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_HIGHLIGHT", "Sponsor")]).await;
    settle(&app).await;
    ingest(
        &app,
        vec![
            comment(YT, "k1", "a", "thanks to our SPONSOR today", 1),
            comment(YT, "k2", "b", "nothing to see", 2),
            super_chat(YT, "k3", "c", 3),
        ],
    )
    .await;
    let resp = reqwest::Client::new()
        .post(app.url("/api/featured"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "source": YT, "id": "k2" }).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let highlight = [("CW_HIGHLIGHT", "Sponsor")];
    for (query, args) in [
        ("?featured=1", vec!["--format", "csv", "--featured", "1"]),
        ("?limit=3", vec!["--format", "jsonl", "--limit", "3"]),
        (
            "?highlighted=1&source=youtube",
            vec![
                "--format",
                "csv",
                "--highlighted",
                "1",
                "--source",
                "youtube",
            ],
        ),
        (
            "?paid=1&source=youtube&featured=0",
            vec![
                "--format",
                "csv",
                "--paid",
                "1",
                "--featured",
                "0",
                "--source",
                "youtube",
            ],
        ),
    ] {
        let format = args[1];
        let api = reqwest::get(app.url(&format!("/api/comments.{format}{query}")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut full = vec!["export"];
        full.extend(&args);
        let out = run_with(&app.db, &highlight, &full);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, api.to_vec(), "export {args:?}");
        let rows = String::from_utf8(out.stdout).unwrap();
        let ids: Vec<&str> = rows
            .lines()
            .skip(usize::from(format == "csv"))
            .map(|l| {
                if format == "csv" {
                    l.split(',').nth(2).unwrap()
                } else {
                    l.split("\"id\":\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                }
            })
            .collect();
        match query {
            "?featured=1" => assert_eq!(ids, ["k2"]),
            "?limit=3" => assert_eq!(ids, ["k3", "k2", "k1"], "the newest three"),
            "?paid=1&source=youtube&featured=0" => {
                assert_eq!(ids, ["k3"]);
                assert!(
                    rows.lines().nth(1).unwrap().contains(",4.99,USD,"),
                    "{rows}"
                );
            }
            _ => assert_eq!(ids, ["k1"]),
        }
    }
    let out = run_with(
        &app.db,
        &highlight,
        &["search", "t", "--highlighted", "1", "--limit", "5"],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("SPONSOR today"),
        "{table}"
    );
    assert!(!table.contains("nothing to see"), "{table}");
    let out = run_with(&app.db, &highlight, &["search", "t", "--featured", "1"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("nothing to see") && !table.contains("SPONSOR"),
        "{table}"
    );
    // Without highlight words, --highlighted could only find nothing: refused.
    let out = run(
        &app.db,
        &["export", "--format", "csv", "--highlighted", "1"],
    );
    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("--highlighted") && lines[0].contains("CW_HIGHLIGHT"));
    let out = run(&app.db, &["export", "--format", "csv", "--limit", "0"]);
    assert!(!out.status.success());
    assert!(stderr_lines(&out)[0].contains("--limit"));
}

// See: issue 15, "the search table gives the text the room on an 80-column terminal".
#[test]
fn the_search_table_fits_80_columns_and_cuts_source_and_author_before_the_text() {
    use unicode_width::UnicodeWidthStr;
    let long_text = "this is a long comment that a streamer wants to read whole, \
                     not three words and an ellipsis after a wide source column";
    let rows: Vec<(i64, commentwatch::domain::Comment)> = vec![
        (
            1234,
            comment(
                "generic:a-rather-long-source-name",
                "w1",
                "AVeryLongDisplayNameIndeed",
                long_text,
                1,
            ),
        ),
        (
            1235,
            comment(BILI, "w2", "小明同学的超长名字", "主播好帅", 2),
        ),
    ];
    let mut out = Vec::new();
    commentwatch::cli::print_table(&mut out, &rows, Some(80)).unwrap();
    let table = String::from_utf8(out).unwrap();
    for line in table.lines() {
        assert!(line.width() <= 80, "{} columns: {line}", line.width());
    }
    let first = table.lines().nth(1).unwrap();
    let text = &first[first.find("this is").expect("the text is there")..];
    assert!(text.width() >= 40, "the text has half the line: {text:?}");
    assert!(first.contains('…'), "source or author were cut: {first}");
    assert!(table.contains("主播好帅"), "{table}");
    // Wide terminals keep the full time; pipes get everything whole.
    let mut out = Vec::new();
    commentwatch::cli::print_table(&mut out, &rows, None).unwrap();
    let whole = String::from_utf8(out).unwrap();
    assert!(whole.contains(long_text) && whole.contains("2026-04-01 20:01:00"));
}

// See: issue 15, "the CLI export's `574,764.6771/s`".
#[test]
fn export_rates_read_as_whole_comments_per_second() {
    use commentwatch::cli::{rate_text, thousands};
    assert_eq!(rate_text(574_764.677_1), "574,765 comments/s");
    assert_eq!(rate_text(12.4), "12 comments/s");
    assert_eq!(rate_text(f64::NAN), "0 comments/s");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

/// On a terminal (a pseudo-terminal from `script`), an export to a file
/// ends with a line a person reads: the count and a whole-number rate.
/// (`script` is util-linux's, on every Linux this runs on.)
#[tokio::test]
async fn an_export_to_a_file_on_a_terminal_reports_a_readable_rate() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    settle(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    let cmd = format!(
        "{} export --format csv -o {}",
        env!("CARGO_BIN_EXE_commentwatch"),
        file.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("CW_DB", &app.db)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let line = said
        .lines()
        .find(|l| l.contains("exported"))
        .unwrap_or_else(|| panic!("no summary: {said:?}"));
    let rate = line.split('(').nth(1).expect("a rate in brackets");
    assert!(rate.ends_with("comments/s)"), "{line}");
    assert!(!rate.contains('.'), "a whole number: {line}");
    assert!(file.exists());
}

/// `commentwatch search … | head -1`: the reader closes the pipe after one
/// line; the command ends quietly instead of printing "Broken pipe".
#[tokio::test]
async fn search_into_a_pipe_closed_early_ends_quietly() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let many = (0..1000)
        .map(|i| {
            comment(
                YT,
                &format!("p{i}"),
                "viewer",
                &format!("piped line {i} {}", "x".repeat(200)),
                i,
            )
        })
        .collect();
    ingest(&app, many).await;
    // `true` reads nothing: every row past the pipe's buffer (the table is
    // far larger) meets a closed pipe.
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"set -o pipefail; "$0" search piped --limit 1000 | true"#)
        .arg(env!("CARGO_BIN_EXE_commentwatch"))
        .env("CW_DB", &app.db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("commentwatch:"),
        "stderr: {stderr}"
    );
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
}
