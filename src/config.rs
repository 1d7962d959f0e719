//! Every setting, read once at start from command-line flags, the process
//! environment and a `.env` file, and validated before anything else runs.
//!
//! A bad value stops the program with one line that names the variable, the
//! value and what would be accepted. This module touches neither the network
//! nor the disk (besides reading `.env`): whether `CW_DB` can be opened or
//! `CW_LISTEN` bound is found out by `app`, which reports it the same way.
//!
//! Parsing takes an injected lookup (`Config::from_lookup`) so tests never
//! touch the process environment (`set_var` is `unsafe` in edition 2024).

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

mod access;
pub use access::{AccessSettings, HostName};

use crate::domain::SourceSpec;
pub use crate::domain::{ConfigError, Schedule, Secret};
use crate::source::bilibili::BilibiliSettings;
use crate::source::demo::DemoSettings;
use crate::source::generic::GenericSettings;
use crate::source::http::HttpSettings;
use crate::source::youtube::YouTubeSettings;

/// The command line. Each flag also reads the env var named in `env`; the
/// precedence is flag, then process environment, then `.env`, then default.
#[derive(Parser, Debug)]
#[command(
    name = "commentwatch",
    version,
    about = "Live comment monitor: polls video comments, makes them safe to show, logs them, and pushes them to a dashboard.",
    args_override_self = true
)]
struct Cli {
    /// Comma-separated sources: youtube:VIDEO_ID, youtube-live:VIDEO_ID,
    /// bilibili:BVID_OR_AID, generic:NAME, demo.
    #[arg(long, env = "CW_SOURCES", default_value = "demo")]
    sources: String,

    /// How often to poll: a duration (5s, 1m) or a six-field cron expression
    /// (seconds first, UTC). The demo source polls every 2s unless this is set.
    #[arg(long, env = "CW_POLL")]
    poll: Option<String>,

    /// Address to serve the dashboard on.
    #[arg(long, env = "CW_LISTEN", default_value = "127.0.0.1:3000")]
    listen: String,

    /// Path of the SQLite comment log.
    #[arg(long, env = "CW_DB", default_value = "commentwatch.db", global = true)]
    db: String,

    /// How long to keep comments, counted from when they were fetched (90d,
    /// 12h); older ones are pruned daily. Unset or "forever": keep all.
    #[arg(long, env = "CW_RETENTION")]
    retention: Option<String>,

    /// `export`, `search`, `stats`: read the log instead of serving.
    #[command(subcommand)]
    command: Option<crate::cli::Command>,

    /// If set, the dashboard, API and WebSocket require this token.
    #[arg(long, env = "CW_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// Pages fetched on the first poll of a source (backfill).
    #[arg(long, env = "CW_BACKFILL_PAGES", default_value = "5")]
    backfill_pages: String,

    /// Longest a single poll may take before it is abandoned.
    #[arg(long, env = "CW_POLL_TIMEOUT", default_value = "30s")]
    poll_timeout: String,

    /// Log line format: text (for people) or json (one object per line, for
    /// log collectors). Verbosity follows RUST_LOG.
    #[arg(long, env = "CW_LOG_FORMAT", default_value = "text")]
    log_format: String,

    /// Most WebSocket connections (dashboards and overlays) at once; more are
    /// refused with 503.
    #[arg(long, env = "CW_MAX_CLIENTS", default_value = "10000")]
    max_clients: String,

    /// YouTube Data API v3 key (required for youtube: and youtube-live: sources).
    #[arg(long, env = "YOUTUBE_API_KEY", hide_env_values = true)]
    youtube_api_key: Option<String>,

    /// Scheme and host of the YouTube API; requests go to $YOUTUBE_API_BASE/youtube/v3/…
    #[arg(
        long,
        env = "YOUTUBE_API_BASE",
        default_value = "https://www.googleapis.com"
    )]
    youtube_api_base: String,

    /// The YouTube API key's daily quota in units (resets at midnight Pacific time).
    #[arg(long, env = "YOUTUBE_DAILY_QUOTA", default_value = "10000")]
    youtube_daily_quota: String,

    /// How long a session lasts, in hours: YouTube polling is paced so the
    /// day's quota lasts this long.
    #[arg(long, env = "CW_SESSION_HOURS", default_value = "4")]
    session_hours: String,

    /// Scheme and host of the Bilibili API; requests go to $BILIBILI_API_BASE/x/…
    #[arg(
        long,
        env = "BILIBILI_API_BASE",
        default_value = "https://api.bilibili.com"
    )]
    bilibili_api_base: String,

    /// Cookie sent with Bilibili requests (SESSDATA=…; buvid3=…): without a
    /// login only the newest page of comments is served.
    #[arg(long, env = "BILIBILI_COOKIE", hide_env_values = true)]
    bilibili_cookie: Option<String>,

    /// Never poll a Bilibili video faster than this.
    #[arg(long, env = "BILIBILI_MIN_INTERVAL", default_value = "10s")]
    bilibili_min_interval: String,

    /// Timeout of every outbound request.
    #[arg(long, env = "CW_HTTP_TIMEOUT", default_value = "15s")]
    http_timeout: String,

    /// Largest response body accepted from a source API.
    #[arg(long, env = "CW_MAX_BODY", default_value = "8MiB")]
    max_body: String,

    /// Demo source: new comments per minute (0 for only the starting backlog).
    #[arg(long, env = "CW_DEMO_RATE", default_value = "30")]
    demo_rate: String,

    /// Demo source: a fixed seed makes it post the same comments every run.
    #[arg(long, env = "CW_DEMO_SEED")]
    demo_seed: Option<String>,

    /// Dashboard: comma-separated words to highlight (more can be added in
    /// the page).
    #[arg(long, env = "CW_HIGHLIGHT")]
    highlight: Option<String>,

    /// Dashboard: comma-separated words to hide; `author:NAME` hides an author.
    #[arg(long, env = "CW_BLOCK")]
    block: Option<String>,

    /// How many comments the "on stream" queue holds for the overlay.
    #[arg(long, env = "CW_FEATURED_MAX", default_value = "5")]
    featured_max: String,

    /// With CW_TOKEN: the read-only key of the OBS overlay URL (16+ letters,
    /// digits, - or _). Unset: a key derived from CW_TOKEN.
    #[arg(long, env = "CW_OVERLAY_KEY", hide_env_values = true)]
    overlay_key: Option<String>,

    /// Extra Host names the server answers to, comma-separated (a reverse
    /// proxy's public name, a LAN name; NAME or NAME:PORT). The listen
    /// address, 127.0.0.1, localhost and [::1] on its port always work.
    #[arg(long, env = "CW_ALLOWED_HOSTS")]
    allowed_hosts: Option<String>,

    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For
    /// and X-Forwarded-Proto headers are believed.
    #[arg(long, env = "CW_TRUSTED_PROXIES")]
    trusted_proxies: Option<String>,
}

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
    pub bilibili: BilibiliSettings,
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
        let cli = Config::parse_cli(args, &lookup)?;
        Config::validate(cli, &lookup)
    }

    /// The command line with env values from `lookup`, not yet validated.
    fn parse_cli<I, T>(args: I, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Cli, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut args = args.into_iter().map(Into::into);
        let program = args.next().unwrap_or_else(|| "commentwatch".into());
        // clap would read the process environment on its own; instead the
        // env values from `lookup` become flags placed *before* the real
        // ones, and `args_override_self` lets a later (real) flag win.
        let mut env_names = Vec::new();
        let command = Cli::command().mut_args(|arg| {
            if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                env_names.push((env.to_string_lossy().into_owned(), long.to_owned()));
            }
            arg
        });
        let mut full: Vec<OsString> = vec![program];
        for (env, long) in &env_names {
            if let Some(value) = lookup(env) {
                full.push(format!("--{long}={value}").into());
            }
        }
        full.extend(args);
        let command = command.mut_args(|arg| {
            // Keep `[env: …]` in --help but stop clap reading the environment.
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            match env {
                Some(env) => {
                    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                    arg.env(None::<&str>).help(format!("{help} [env: {env}]"))
                }
                None => arg,
            }
        });
        let matches = command.try_get_matches_from(full)?;
        Ok(Cli::from_arg_matches(&matches)?)
    }

    fn validate(cli: Cli, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let sources = SourceSpec::parse_list(&cli.sources)
            .map_err(|why| ConfigError::invalid("CW_SOURCES", &cli.sources, why))?;
        let poll = cli.poll.as_deref().map(parse_schedule).transpose()?;
        let listen = cli.listen.parse::<SocketAddr>().map_err(|_| {
            ConfigError::invalid(
                "CW_LISTEN",
                &cli.listen,
                "expected an IP address and port, e.g. 127.0.0.1:3000 or [::1]:8080",
            )
        })?;
        let db = parse_db(&cli.db)?;
        let token = match cli.token {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) if t.len() < 8 || !t.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ConfigError::invalid(
                    "CW_TOKEN",
                    "(hidden)",
                    "expected at least 8 printable ASCII characters without spaces",
                ));
            }
            Some(t) => Some(Secret::new(t)),
        };
        let backfill_pages = match cli.backfill_pages.parse::<u32>() {
            Ok(n @ 1..=100) => n,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_BACKFILL_PAGES",
                    &cli.backfill_pages,
                    "expected a whole number from 1 to 100",
                ));
            }
        };
        let poll_timeout = parse_duration("CW_POLL_TIMEOUT", &cli.poll_timeout)?;
        let retention = parse_retention(cli.retention.as_deref())?;
        let demo_rate_per_min = match cli.demo_rate.parse::<f64>() {
            Ok(r) if (0.0..=60_000.0).contains(&r) => r,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_DEMO_RATE",
                    &cli.demo_rate,
                    "expected comments per minute, a number from 0 to 60000",
                ));
            }
        };
        let demo_seed =
            match cli.demo_seed.as_deref() {
                None | Some("") => None,
                Some(s) => Some(s.parse::<u64>().map_err(|_| {
                    ConfigError::invalid("CW_DEMO_SEED", s, "expected a whole number")
                })?),
            };
        let youtube_api_base = parse_base_url("YOUTUBE_API_BASE", &cli.youtube_api_base)?;
        let bilibili_api_base = parse_base_url("BILIBILI_API_BASE", &cli.bilibili_api_base)?;
        let needs_youtube = sources
            .iter()
            .any(|s| matches!(s, SourceSpec::YouTube(_) | SourceSpec::YouTubeLive(_)));
        let youtube_api_key = cli.youtube_api_key.unwrap_or_default().trim().to_owned();
        if needs_youtube && youtube_api_key.is_empty() {
            return Err(ConfigError::Missing {
                var: "YOUTUBE_API_KEY".into(),
                why: "youtube: and youtube-live: sources need a YouTube Data API v3 key".into(),
            });
        }
        if !youtube_api_key.is_empty()
            && !youtube_api_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError::invalid(
                "YOUTUBE_API_KEY",
                "(hidden)",
                "expected an API key: letters, digits, - and _",
            ));
        }
        let daily_quota = match cli.youtube_daily_quota.trim().parse::<i64>() {
            Ok(q) if q > 0 => q,
            _ => {
                return Err(ConfigError::invalid(
                    "YOUTUBE_DAILY_QUOTA",
                    &cli.youtube_daily_quota,
                    "expected a positive whole number of quota units, e.g. 10000",
                ));
            }
        };
        let session_hours = match cli.session_hours.trim().parse::<f64>() {
            Ok(h) if h > 0.0 && h <= 24.0 => h,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_SESSION_HOURS",
                    &cli.session_hours,
                    "expected hours from 0 to 24, e.g. 4 or 2.5",
                ));
            }
        };
        let bilibili_cookie = cli
            .bilibili_cookie
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if let Some(c) = &bilibili_cookie
            && (c.contains('\n') || c.contains('\r') || !c.is_ascii())
        {
            return Err(ConfigError::invalid(
                "BILIBILI_COOKIE",
                "(hidden)",
                "expected one line of ASCII name=value pairs, e.g. SESSDATA=…; buvid3=…",
            ));
        }
        let bilibili_min_interval =
            parse_duration("BILIBILI_MIN_INTERVAL", &cli.bilibili_min_interval)?;
        let http_timeout = parse_duration("CW_HTTP_TIMEOUT", &cli.http_timeout)?;
        let max_body = match cli.max_body.trim().parse::<bytesize::ByteSize>() {
            Ok(b) if b.as_u64() >= 1024 && b.as_u64() <= 1 << 30 => b.as_u64() as usize,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_MAX_BODY",
                    &cli.max_body,
                    "expected a size from 1KiB to 1GiB, e.g. 8MiB",
                ));
            }
        };
        let highlight = parse_word_list("CW_HIGHLIGHT", cli.highlight.as_deref())?;
        let block = parse_word_list("CW_BLOCK", cli.block.as_deref())?;
        let featured_max = match cli.featured_max.trim().parse::<usize>() {
            Ok(n @ 1..=50) => n,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_FEATURED_MAX",
                    &cli.featured_max,
                    "expected a whole number from 1 to 50",
                ));
            }
        };
        let overlay_key = match cli.overlay_key.map(|k| k.trim().to_owned()) {
            None => None,
            Some(k) if k.is_empty() => None,
            Some(k)
                if k.len() < 16
                    || k.len() > 128
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                return Err(ConfigError::invalid(
                    "CW_OVERLAY_KEY",
                    "(hidden)",
                    "expected 16 to 128 letters, digits, - or _ (it goes into a URL)",
                ));
            }
            Some(k) => Some(Secret::new(k)),
        };
        let max_clients = match cli.max_clients.trim().parse::<usize>() {
            Ok(n @ 1..=1_000_000) => n,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_MAX_CLIENTS",
                    &cli.max_clients,
                    "expected a whole number from 1 to 1000000",
                ));
            }
        };
        let log_json = match cli.log_format.trim() {
            "text" => false,
            "json" => true,
            _ => {
                return Err(ConfigError::invalid(
                    "CW_LOG_FORMAT",
                    &cli.log_format,
                    "expected text or json",
                ));
            }
        };
        let access = access::parse(cli.allowed_hosts.as_deref(), cli.trusted_proxies.as_deref())?;
        let mut generic = Vec::new();
        for spec in &sources {
            if let SourceSpec::Generic(name) = spec {
                generic.push((name.clone(), GenericSettings::from_lookup(name, lookup)?));
            }
        }
        Ok(Config {
            youtube: YouTubeSettings {
                api_key: youtube_api_key,
                api_base: youtube_api_base,
                daily_quota,
                session_hours,
            },
            bilibili: BilibiliSettings {
                api_base: bilibili_api_base,
                cookie: bilibili_cookie,
                min_interval: bilibili_min_interval,
            },
            generic,
            http: HttpSettings {
                timeout: http_timeout,
                max_body,
            },
            max_clients,
            log_json,
            sources,
            poll,
            listen,
            db,
            token,
            backfill_pages,
            poll_timeout,
            demo: DemoSettings {
                rate_per_min: demo_rate_per_min,
                seed: demo_seed,
            },
            retention,
            highlight,
            block,
            featured_max,
            overlay_key,
            access,
        })
    }

    /// What the sources are built from: each platform's own settings.
    pub fn source_settings(&self) -> crate::source::Settings<'_> {
        crate::source::Settings {
            http: &self.http,
            demo: &self.demo,
            youtube: &self.youtube,
            bilibili: &self.bilibili,
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
        command: Box<crate::cli::Command>,
    },
}

impl Invocation {
    /// Reads the real command line, environment and `./.env`.
    pub fn from_env() -> Result<Invocation, ConfigError> {
        let dotenv = read_dotenv(".env")?;
        refuse_non_utf8_env()?;
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
        let mut cli = Config::parse_cli(args, &lookup)?;
        match cli.command.take() {
            None => Ok(Invocation::Serve(Box::new(Config::validate(cli, &lookup)?))),
            Some(command) => Ok(Invocation::Log {
                db: parse_db(&cli.db)?,
                command: Box::new(command),
            }),
        }
    }
}

/// Parses `CW_DB`; a password in a URL that does not parse is not echoed.
fn parse_db(value: &str) -> Result<crate::store::Target, ConfigError> {
    crate::store::Target::parse(value)
        .map_err(|why| ConfigError::invalid("CW_DB", &crate::domain::redact(value), why))
}

/// Parses `CW_RETENTION`: a duration of at least an hour, or unset, empty
/// or `forever` to keep everything.
fn parse_retention(value: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    let Some(v) = value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "forever")
    else {
        return Ok(None);
    };
    match humantime::parse_duration(v) {
        Ok(d) if d >= Duration::from_secs(3600) && !v.contains(' ') => Ok(Some(d)),
        _ => Err(ConfigError::invalid(
            "CW_RETENTION",
            v,
            "expected how long to keep comments, at least 1h, without spaces (90d, 12h), or forever",
        )),
    }
}

/// Parses `CW_POLL`: a duration, or a six-field cron expression.
pub fn parse_schedule(value: &str) -> Result<Schedule, ConfigError> {
    Schedule::parse(value, chrono::Utc::now())
        .map_err(|expected| ConfigError::invalid("CW_POLL", value, expected))
}

/// A base URL such as `https://api.example.com`: http(s), no trailing slash.
fn parse_base_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::invalid(
            var,
            value,
            "expected an http(s) URL such as https://api.example.com",
        )),
    }
}

/// A comma-separated list of words (`CW_HIGHLIGHT`, `CW_BLOCK`): trimmed,
/// empty entries dropped, at most 200 entries of at most 100 characters.
fn parse_word_list(var: &'static str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if words.len() > 200 || words.iter().any(|w| w.chars().count() > 100) {
        return Err(ConfigError::invalid(
            var,
            value,
            "expected at most 200 comma-separated words of at most 100 characters each",
        ));
    }
    Ok(words)
}

/// The longest duration any setting takes: a year. Longer ones are typos,
/// and would overflow the clock arithmetic they feed.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

fn parse_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if !d.is_zero() && d <= MAX_DURATION && !value.trim().contains(' ') => Ok(d),
        _ => Err(ConfigError::invalid(
            var,
            value,
            "expected a duration without spaces of at most a year, e.g. 15s or 1m",
        )),
    }
}

/// Reads `KEY=value` lines from a `.env` file; a missing file is no error.
/// A line that does not parse is named by position only: its text may hold
/// a secret, and the error is one line.
fn read_dotenv(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let describe = |e: dotenvy::Error| match e {
        dotenvy::Error::LineParse(_, at) => ConfigError::DotEnv(format!(
            "cannot read the line at character {at}; check its quoting"
        )),
        dotenvy::Error::Io(e) => ConfigError::DotEnv(e.to_string()),
        other => ConfigError::DotEnv(
            crate::sanitize::clean_line(&other.to_string(), 200)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        ),
    };
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(HashMap::new()),
        Err(e) => return Err(describe(e)),
    };
    iter.map(|item| item.map_err(describe)).collect()
}

/// A setting whose value is not UTF-8 would read as unset (a `CW_TOKEN`
/// lost that way would leave the dashboard open): it stops the start.
fn refuse_non_utf8_env() -> Result<(), ConfigError> {
    for (key, value) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let ours = ["CW_", "YOUTUBE_", "BILIBILI_"]
            .iter()
            .any(|p| key.starts_with(p));
        if ours && value.to_str().is_none() {
            // The value is not shown: it may be a secret.
            return Err(ConfigError::invalid(
                key,
                "…",
                "the value is not valid UTF-8",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
        for e in [
            error_line(&[("CW_POLL", "0s")]),
            error_line(&[("CW_BACKFILL_PAGES", "0")]),
        ] {
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
