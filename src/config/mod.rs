//! Every setting, read once at start from command-line flags, the process
//! environment and a `.env` file, and validated before anything else runs
//! into typed settings, one part each (the server's, each platform's…).
//!
//! A bad value stops the program with one line that names the variable, the
//! value and what would be accepted. This module touches neither the network
//! nor the disk (besides reading `.env`), nor the other modules' internals:
//! whether `CW_DB` can be opened or `CW_LISTEN` bound is found out by `app`,
//! which reports it the same way.
//!
//! - `access`: `CW_ALLOWED_HOSTS` and `CW_TRUSTED_PROXIES`;
//! - `args`: the command line (clap), env values passed in as flags;
//! - `commands`: the flags of the `export`, `search` and `stats` subcommands;
//! - `env`: reading `.env` and the process environment;
//! - `parse`: parsing helpers, one range check;
//! - `validate`: strings to typed settings, part by part.
//!
//! Parsing takes an injected lookup (`Config::from_lookup`) so tests never
//! touch the process environment (`set_var` is `unsafe` in edition 2024).

mod access;
mod args;
pub mod commands;
mod env;
/// `YOUTUBE_OAUTH_CLIENT_*` and `GOOGLE_OAUTH_*_URL`.
mod oauth;
mod parse;
mod validate;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

pub use access::{AccessSettings, HostName};
pub use parse::parse_schedule;

use crate::domain::SourceSpec;
pub use crate::domain::{ConfigError, Schedule, Secret};
use crate::source::bilibili::BilibiliSettings;
use crate::source::demo::DemoSettings;
use crate::source::generic::GenericSettings;
use crate::source::http::HttpSettings;
use crate::source::twitch::TwitchSettings;
use crate::source::youtube::YouTubeSettings;
use commands::Command;

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Vec<SourceSpec>,
    /// `None` when `CW_POLL` was not given: each source then uses its default.
    pub poll: Option<Schedule>,
    pub listen: SocketAddr,
    /// The SQLite file, or the PostgreSQL database several instances share.
    pub db: crate::store::Target,
    pub token: Option<Secret>,
    pub backfill_pages: u32,
    pub poll_timeout: Duration,
    /// `CW_DEMO_RATE`, `CW_DEMO_SEED`.
    pub demo: DemoSettings,
    /// `CW_RETENTION`: comments fetched longer ago are pruned; `None` keeps
    /// them forever.
    pub retention: Option<Duration>,
    pub youtube: YouTubeSettings,
    /// `YOUTUBE_OAUTH_CLIENT_*` and `GOOGLE_OAUTH_*_URL`: `None` when no
    /// client is configured (no account can be connected).
    pub youtube_oauth: Option<crate::oauth::OAuthSettings>,
    /// `CW_YOUTUBE_LIVE`: streamList (default) or polling.
    pub youtube_live: crate::source::youtube::LiveMode,
    pub bilibili: BilibiliSettings,
    /// `TWITCH_IRC_URL`, `TWITCH_EMOTE_BASE`.
    pub twitch: TwitchSettings,
    /// `BILIBILI_LIVE_API_BASE`, `BILIBILI_LIVE_WS`.
    pub bilibili_live: crate::source::bilibili::live::LiveSettings,
    /// Settings of each `generic:NAME` source, by name.
    pub generic: Vec<(String, GenericSettings)>,
    /// `CW_HTTP_TIMEOUT`, `CW_MAX_BODY`.
    pub http: HttpSettings,
    pub max_clients: usize,
    /// `CW_LOG_FORMAT=json`: log lines as JSON objects instead of text.
    pub log_json: bool,
    /// `CW_HIGHLIGHT`: words the dashboard highlights from the start.
    pub highlight: Vec<String>,
    /// `CW_BLOCK`: words (and `author:NAME`s) the dashboard hides.
    pub block: Vec<String>,
    /// `CW_FEATURED_MAX`: the length of the "on stream" queue.
    pub featured_max: usize,
    /// `CW_OVERLAY_KEY`: the overlay's own read-only key, if given.
    pub overlay_key: Option<Secret>,
    /// `CW_ALLOWED_HOSTS` and `CW_TRUSTED_PROXIES`.
    pub access: AccessSettings,
    /// What reading the settings found worth telling (a pasted video address
    /// read as `youtube:ID`), logged at INFO once logging runs.
    pub notes: Vec<String>,
}

impl Config {
    /// Parses `args` (the first is the program name) with env vars taken from
    /// `lookup`. Flags win over env vars. A subcommand is ignored here: see
    /// [`Invocation`].
    pub fn from_lookup<I, T>(
        args: I,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = args::parse_cli(args, &lookup)?;
        validate::validate(cli, &lookup)
    }

    /// What the sources are built from: each platform's own settings.
    pub fn source_settings(&self) -> crate::source::Settings<'_> {
        crate::source::Settings {
            http: &self.http,
            backfill_pages: self.backfill_pages,
            demo: &self.demo,
            youtube: &self.youtube,
            youtube_live: self.youtube_live,
            bilibili: &self.bilibili,
            twitch: &self.twitch,
            bilibili_live: &self.bilibili_live,
            generic: &self.generic,
        }
    }

    /// The defaults, as `cargo run` with nothing configured would use.
    pub fn defaults() -> Config {
        Config::from_lookup(["commentwatch"], |_| None).expect("the defaults are valid")
    }
}

/// What the binary was asked to do.
#[derive(Debug)]
pub enum Invocation {
    /// No subcommand: run the server.
    Serve(Box<Config>),
    /// `export`, `search` or `stats` on the log at `db` (see `crate::cli`);
    /// only `CW_DB` matters, so a server setting cannot stop them.
    Log {
        db: crate::store::Target,
        command: Box<Command>,
    },
}

impl Invocation {
    /// Reads the real command line, environment and `./.env`.
    pub fn from_env() -> Result<Invocation, ConfigError> {
        let dotenv = env::read_dotenv(".env")?;
        env::refuse_non_utf8_env()?;
        Invocation::from_lookup(std::env::args_os(), |k| {
            std::env::var(k).ok().or_else(|| dotenv.get(k).cloned())
        })
    }

    /// Like [`Config::from_lookup`], subcommands included.
    pub fn from_lookup<I, T>(
        args: I,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Invocation, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cli = args::parse_cli(args, &lookup)?;
        match cli.command.take() {
            None => Ok(Invocation::Serve(Box::new(validate::validate(
                cli, &lookup,
            )?))),
            Some(mut command) => {
                // `--highlighted` selects by the words the server highlights;
                // without it CW_HIGHLIGHT is a server setting and not read.
                let filters = command.filters_mut();
                if filters.highlighted.is_some() {
                    filters.highlight_words =
                        parse::parse_word_list("CW_HIGHLIGHT", cli.highlight.as_deref())?;
                }
                Ok(Invocation::Log {
                    db: parse::parse_db(&cli.db)?,
                    command: Box::new(command),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::env::read_dotenv;
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn parse(env: &[(&str, &str)], args: &[&str]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let argv = std::iter::once("commentwatch").chain(args.iter().copied());
        Config::from_lookup(argv, |k| env.get(k).cloned())
    }

    fn error_line(env: &[(&str, &str)]) -> String {
        parse(env, &[]).unwrap_err().to_string()
    }

    #[test]
    fn a_cron_that_never_fires_is_refused() {
        let line = error_line(&[("CW_POLL", "0 0 0 30 2 *")]);
        assert!(
            line.starts_with("CW_POLL=") && line.contains("never fires"),
            "{line}"
        );
    }

    #[test]
    fn a_duration_past_a_year_is_refused_before_it_can_overflow_a_clock() {
        for var in [
            "CW_POLL_TIMEOUT",
            "CW_HTTP_TIMEOUT",
            "BILIBILI_MIN_INTERVAL",
        ] {
            let line = error_line(&[(var, "300000000000y")]);
            assert!(line.starts_with(&format!("{var}=")), "{line}");
        }
    }

    #[test]
    fn a_broken_env_file_is_one_line_that_does_not_show_its_contents() {
        let dir = std::env::temp_dir().join(format!("cw-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(".env");
        std::fs::write(
            &file,
            "CW_TOKEN=\"supersecret123\nCW_LISTEN=127.0.0.1:3000\n",
        )
        .unwrap();
        let e = read_dotenv(file.to_str().unwrap()).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.starts_with(".env: "), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(!e.contains("supersecret"), "{e}");
    }

    #[test]
    fn cw_db_takes_a_file_or_a_postgres_url_and_never_echoes_a_password() {
        let c = parse(
            &[("CW_DB", "postgres://cw:s3cret@db.internal:5432/comments")],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.db,
            crate::store::Target::Postgres("postgres://cw:s3cret@db.internal:5432/comments".into())
        );
        assert_eq!(
            c.db.display(),
            "postgres://cw:***@db.internal:5432/comments"
        );
        let c = parse(
            &[(
                "CW_DB",
                "postgres://cw@db/comments?password=s3cret&sslmode=require",
            )],
            &[],
        )
        .unwrap();
        assert!(!c.db.display().contains("s3cret"), "{}", c.db.display());
        let c = parse(&[("CW_DB", "/var/lib/cw/log.db")], &[]).unwrap();
        assert_eq!(
            c.db,
            crate::store::Target::File(PathBuf::from("/var/lib/cw/log.db"))
        );
        let line = error_line(&[("CW_DB", "postgresql://cw:s3cret@[nope/db")]);
        assert!(line.starts_with("CW_DB="), "{line}");
        assert!(!line.contains("s3cret"), "{line}");
        let line = error_line(&[("CW_DB", "postgres://cw@db/x?sslmode=bogus")]);
        assert!(
            line.contains("CW_DB") && line.contains("PostgreSQL URL"),
            "{line}"
        );
    }

    #[test]
    fn nothing_configured_means_the_demo_on_loopback() {
        let c = Config::defaults();
        assert_eq!(c.sources, vec![SourceSpec::Demo]);
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(
            c.db,
            crate::store::Target::File(PathBuf::from("commentwatch.db"))
        );
        assert_eq!(c.poll, None);
        assert_eq!(c.token, None);
        assert_eq!(c.backfill_pages, 5);
    }

    #[test]
    fn a_listen_host_name_is_resolved_to_a_loopback_address() {
        let c = parse(&[("CW_LISTEN", "localhost:3000")], &[]).unwrap();
        assert!(c.listen.ip().is_loopback(), "{}", c.listen);
        assert_eq!(c.listen.port(), 3000);
        let c = parse(&[("CW_LISTEN", "[::1]:8080")], &[]).unwrap();
        assert_eq!(c.listen.to_string(), "[::1]:8080");
        for bad in [
            "localhost",
            "localhost:http",
            ":3000",
            "no-such-host.invalid:3000",
        ] {
            let line = error_line(&[("CW_LISTEN", bad)]);
            assert!(line.starts_with("CW_LISTEN="), "{line}");
            assert!(line.contains("localhost:3000"), "says what works: {line}");
        }
    }

    #[test]
    fn a_pasted_address_is_read_and_noted() {
        let c = parse(
            &[
                (
                    "CW_SOURCES",
                    "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
                ),
                ("YOUTUBE_API_KEY", "k"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.sources, [SourceSpec::YouTube("dQw4w9WgXcQ".into())]);
        assert_eq!(
            c.notes,
            [
                "CW_SOURCES: read https://www.youtube.com/live/dQw4w9WgXcQ?si=x as \
              youtube:dQw4w9WgXcQ (for the live chat, write youtube-live:dQw4w9WgXcQ)"
            ]
        );
        assert!(Config::defaults().notes.is_empty());
        let line = error_line(&[("CW_SOURCES", "https://www.youtube.com/@someone")]);
        assert!(line.starts_with("CW_SOURCES="), "{line}");
        assert!(line.contains("youtube:VIDEO_ID"), "{line}");
    }

    #[test]
    fn youtube_live_streams_by_default_polls_on_request_and_names_a_bad_value() {
        use crate::source::youtube::LiveMode;
        assert_eq!(Config::defaults().youtube_live, LiveMode::Stream);
        let c = parse(&[("CW_YOUTUBE_LIVE", "poll")], &[]).unwrap();
        assert_eq!(c.youtube_live, LiveMode::Poll);
        let line = error_line(&[("CW_YOUTUBE_LIVE", "grpc")]);
        assert!(line.starts_with("CW_YOUTUBE_LIVE="), "{line}");
        assert!(line.contains("stream or poll"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn env_vars_are_read_and_flags_win_over_them() {
        let c = parse(&[("CW_POLL", "5s"), ("CW_LISTEN", "127.0.0.1:4000")], &[]).unwrap();
        assert_eq!(c.poll, Some(Schedule::Every(Duration::from_secs(5))));
        let c = parse(&[("CW_POLL", "5s")], &["--poll", "1m"]).unwrap();
        assert_eq!(c.poll, Some(Schedule::Every(Duration::from_secs(60))));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = parse(
            &[
                ("CW_TOKEN", "token-secret-1"),
                ("YOUTUBE_API_KEY", "keysecret2"),
                ("BILIBILI_COOKIE", "SESSDATA=cookiesecret3"),
                ("CW_SOURCES", "generic:x"),
                ("CW_GENERIC_X_URL", "https://api.example.com/c"),
                ("CW_GENERIC_X_ITEMS", "/items"),
                ("CW_GENERIC_X_ID", "/id"),
                ("CW_GENERIC_X_TEXT", "/text"),
                (
                    "CW_GENERIC_X_HEADERS",
                    "Authorization: Bearer headersecret4",
                ),
            ],
            &[],
        )
        .unwrap();
        let debug = format!("{c:?}");
        for secret in [
            "token-secret-1",
            "keysecret2",
            "cookiesecret3",
            "headersecret4",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn highlight_and_block_lists_are_split_on_commas_and_trimmed() {
        let c = parse(
            &[
                ("CW_HIGHLIGHT", " question , giveaway,,"),
                ("CW_BLOCK", "spam, author:Bot Account"),
                ("CW_FEATURED_MAX", "3"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.highlight, ["question", "giveaway"]);
        assert_eq!(c.block, ["spam", "author:Bot Account"]);
        assert_eq!(c.featured_max, 3);
        assert_eq!(Config::defaults().featured_max, 5);
        let e = error_line(&[("CW_FEATURED_MAX", "0")]);
        assert!(e.starts_with("CW_FEATURED_MAX=\"0\""), "{e}");
        let e = error_line(&[("CW_OVERLAY_KEY", "short key")]);
        assert!(
            e.starts_with("CW_OVERLAY_KEY=") && !e.contains("short"),
            "{e}"
        );
    }

    #[test]
    fn a_six_field_cron_is_accepted() {
        let c = parse(&[("CW_POLL", "*/10 * * * * *")], &[]).unwrap();
        assert_eq!(c.poll, Some(Schedule::cron("*/10 * * * * *")));
    }

    #[test]
    fn each_bad_value_names_its_variable_the_value_and_what_is_accepted() {
        let e = error_line(&[("CW_POLL", "5 min")]);
        assert!(
            e.starts_with("CW_POLL=\"5 min\" is not valid: expected"),
            "{e}"
        );
        let e = error_line(&[("CW_POLL", "*/5 * * * *")]);
        assert!(e.contains("CW_POLL") && e.contains("six"), "{e}");
        let e = error_line(&[("CW_LISTEN", "nonsense")]);
        assert!(e.starts_with("CW_LISTEN=\"nonsense\""), "{e}");
        let e = error_line(&[("CW_SOURCES", "myspace:123")]);
        assert!(e.starts_with("CW_SOURCES=\"myspace:123\""), "{e}");
        let e = error_line(&[("CW_DEMO_RATE", "lots")]);
        assert!(e.starts_with("CW_DEMO_RATE="), "{e}");
        let e = error_line(&[("CW_TOKEN", "short")]);
        assert!(e.starts_with("CW_TOKEN=") && !e.contains("short"), "{e}");
        let e = error_line(&[("BILIBILI_LIVE_WS", "http://127.0.0.1:9/sub")]);
        assert!(
            e.starts_with("BILIBILI_LIVE_WS=\"http://127.0.0.1:9/sub\"") && e.contains("ws://"),
            "{e}"
        );
        let e = error_line(&[("BILIBILI_LIVE_API_BASE", "api.live.bilibili.com")]);
        assert!(e.starts_with("BILIBILI_LIVE_API_BASE="), "{e}");
        let e = error_line(&[("CW_SOURCES", "bilibili-live:abc")]);
        assert!(e.contains("live room number"), "{e}");
        for e in [
            error_line(&[("CW_POLL", "0s")]),
            error_line(&[("CW_BACKFILL_PAGES", "0")]),
            error_line(&[("BILIBILI_LIVE_WS", "wss://")]),
        ] {
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
