//! The real binary, started with bad settings, must stop before anything
//! starts and say which variable is wrong, with what value, in one line.

use std::path::Path;
use std::process::{Command, Output};

fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commentwatch"));
    cmd.env_clear()
        .current_dir(dir)
        .env("CW_LISTEN", "127.0.0.1:0")
        .env("CW_DB", dir.join("c.db"))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Every case here fails before binding, so the process exits at once;
    // a hang would mean a bad setting was accepted.
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    wait_with_deadline(child)
}

fn wait_with_deadline(mut child: std::process::Child) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary kept running: a bad setting was accepted");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Asserts a non-zero exit with exactly one stderr line naming `var`.
fn assert_refused(out: &Output, var: &str, value: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "exit status {:?}; stderr: {stderr}",
        out.status
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(lines[0].contains(var), "{var} not named in: {stderr}");
    assert!(
        lines[0].contains(value),
        "value {value:?} not shown in: {stderr}"
    );
}

fn refuse(env: &[(&str, &str)], var: &str, value: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), env, &[]);
    assert_refused(&out, var, value);
    assert!(
        !dir.path().join("c.db").exists(),
        "nothing may start, not even the log"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_duration_with_a_space_is_refused() {
    let e = refuse(&[("CW_POLL", "5 min")], "CW_POLL", "5 min");
    assert!(
        e.contains("5s") && e.contains("six fields"),
        "says what is accepted: {e}"
    );
}

#[test]
fn a_five_field_cron_is_refused_with_a_hint_about_seconds() {
    let e = refuse(&[("CW_POLL", "*/5 * * * *")], "CW_POLL", "*/5 * * * *");
    assert!(e.contains("six are needed, seconds first"), "{e}");
}

#[test]
fn a_listen_address_that_is_not_an_address_is_refused() {
    refuse(&[("CW_LISTEN", "nonsense")], "CW_LISTEN", "nonsense");
}

#[test]
fn an_unknown_source_is_refused() {
    refuse(
        &[("CW_SOURCES", "demo,myspace:42")],
        "CW_SOURCES",
        "myspace:42",
    );
}

#[test]
fn a_pasted_address_that_names_no_video_is_refused_with_what_to_write() {
    let address = "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv";
    let e = refuse(&[("CW_SOURCES", address)], "CW_SOURCES", address);
    assert!(e.contains("youtube:VIDEO_ID"), "{e}");
    let e = refuse(
        &[("CW_SOURCES", "demo,myspace:foo")],
        "CW_SOURCES",
        "myspace:foo",
    );
    assert!(
        e.contains("bilibili:BVID_OR_AID"),
        "lists the platforms: {e}"
    );
}

#[test]
fn bad_twitch_addresses_stop_the_start_naming_their_variable() {
    for (var, value) in [
        ("TWITCH_IRC_URL", "http://irc.example"),
        ("TWITCH_EMOTE_BASE", "http://static-cdn.jtvnw.net"),
    ] {
        refuse(&[(var, value)], var, value);
    }
}

#[test]
fn a_pasted_video_address_is_read_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let address = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s";
    let app = crate::helpers::Binary::start(
        dir.path(),
        &[
            ("CW_LISTEN", "127.0.0.1:0"),
            ("CW_DB", db),
            ("CW_SOURCES", address),
            ("YOUTUBE_API_KEY", "test-key-123"),
            // Nothing listens there: the poll fails, which is not the point.
            ("YOUTUBE_API_BASE", "http://127.0.0.1:9"),
        ],
        "",
    );
    assert!(!app.addr.is_empty(), "it serves");
    app.signal("KILL");
    let (_, stderr) = app.wait(std::time::Duration::from_secs(20));
    assert!(
        stderr.contains(&format!("read {address} as youtube:dQw4w9WgXcQ")),
        "{stderr}"
    );
}

#[test]
fn a_bad_allowed_host_or_proxy_is_refused() {
    refuse(
        &[("CW_ALLOWED_HOSTS", "ok.example,http://bad")],
        "CW_ALLOWED_HOSTS",
        "http://bad",
    );
    refuse(
        &[("CW_TRUSTED_PROXIES", "127.0.0.1,proxy")],
        "CW_TRUSTED_PROXIES",
        "proxy",
    );
}

#[test]
fn a_negative_demo_rate_is_refused() {
    refuse(&[("CW_DEMO_RATE", "-5")], "CW_DEMO_RATE", "-5");
}

#[test]
fn an_unwritable_log_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A path below a regular file can never be created, even by root.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let db = file.join("comments.db");
    let db = db.to_str().unwrap();
    let out = run_in(dir.path(), &[("CW_DB", db)], &[]);
    assert_refused(&out, "CW_DB", db);
}

#[test]
fn a_port_already_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &[("CW_LISTEN", &addr)], &[]);
    assert_refused(&out, "CW_LISTEN", &addr);
}

#[test]
fn settings_in_a_dot_env_file_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "CW_POLL=\"every now and then\"\n").unwrap();
    let out = run_in(dir.path(), &[], &[]);
    assert_refused(&out, "CW_POLL", "every now and then");
}

#[test]
fn a_flag_wins_over_the_env_var() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &[("CW_POLL", "10s")], &["--poll", "bad value"]);
    assert_refused(&out, "CW_POLL", "bad value");
}

#[test]
fn help_lists_every_setting_with_its_env_var_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &[], &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "CW_SOURCES",
        "CW_POLL",
        "CW_LISTEN",
        "CW_DB",
        "CW_TOKEN",
        "CW_BACKFILL_PAGES",
        "CW_DEMO_RATE",
    ] {
        assert!(
            help.contains(&format!("[env: {var}]")),
            "{var} missing from --help:\n{help}"
        );
    }
    assert!(help.contains("[default: 127.0.0.1:3000]"), "{help}");
}

#[test]
fn a_token_that_is_not_utf8_stops_the_start_instead_of_turning_auth_off() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commentwatch"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("CW_LISTEN", "127.0.0.1:0")
        .env("CW_DB", dir.path().join("c.db"))
        .env(
            "CW_TOKEN",
            std::ffi::OsStr::from_bytes(b"\xff\xfesecretsecret"),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = wait_with_deadline(cmd.spawn().expect("the binary starts"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("commentwatch: CW_TOKEN="), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
    assert!(!err.contains("secret"), "the value is not shown: {err}");
}

#[tokio::test]
async fn the_log_in_a_pipe_is_plain_and_quiet_polls_are_not_logged_at_info() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let app = crate::helpers::Binary::start(
        dir.path(),
        &[
            ("CW_LISTEN", "127.0.0.1:0"),
            ("CW_DB", db.to_str().unwrap()),
            ("CW_DEMO_RATE", "0"),
            ("CW_DEMO_SEED", "7"),
            ("CW_POLL", "1s"),
        ],
        "",
    );
    // The backlog's poll, then quiet ones: wait for a few polls.
    let metrics = format!("http://{}/metrics", app.addr);
    crate::helpers::eventually("three polls", crate::helpers::PATIENCE, || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        let polls: f64 = text
            .lines()
            .filter(|l| l.starts_with("commentwatch_polls_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        polls >= 3.0
    })
    .await;
    app.signal("TERM");
    let (_, stderr) = app.wait(std::time::Duration::from_secs(20));
    assert!(
        !stderr.contains('\x1b'),
        "no colour codes in a pipe: {stderr}"
    );
    let poll_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("poll of demo"))
        .collect();
    assert_eq!(
        poll_lines.len(),
        1,
        "only the poll that stored something: {stderr}"
    );
    assert!(poll_lines[0].contains("stored 20 new comments"), "{stderr}");
    assert!(poll_lines[0].contains("INFO"), "{stderr}");
}
