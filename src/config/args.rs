//! The command line (clap): every flag with the env var it also reads, and
//! how env values from an injected lookup reach clap without clap reading
//! the process environment itself. Only parsing into strings: checking the
//! values is `validate`'s job.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser};

use super::commands::Command;
use crate::domain::ConfigError;

/// The command line. Each flag also reads the env var named in `env`; the
/// precedence is flag, then process environment, then `.env`, then default.
#[derive(Parser, Debug)]
#[command(
    name = "commentwatch",
    version,
    about = "Live comment monitor: polls video comments, makes them safe to show, logs them, and pushes them to a dashboard.",
    args_override_self = true
)]
pub(super) struct Cli {
    /// Comma-separated sources: youtube:VIDEO_ID, youtube-live:VIDEO_ID,
    /// bilibili:BVID_OR_AID, bilibili-live:ROOM_ID, generic:NAME, demo; or a
    /// video's address (https://www.youtube.com/watch?v=…, https://youtu.be/…,
    /// https://www.bilibili.com/video/BV…, https://live.bilibili.com/ROOM).
    #[arg(long, env = "CW_SOURCES", default_value = "demo")]
    pub(super) sources: String,

    /// How often to poll: a duration (5s, 1m) or a six-field cron expression
    /// (seconds first, UTC). The demo source polls every 2s unless this is set.
    #[arg(long, env = "CW_POLL")]
    pub(super) poll: Option<String>,

    /// Address to serve the dashboard on: IP:PORT, or NAME:PORT (localhost:3000).
    #[arg(long, env = "CW_LISTEN", default_value = "127.0.0.1:3000")]
    pub(super) listen: String,

    /// Path of the SQLite comment log.
    #[arg(long, env = "CW_DB", default_value = "commentwatch.db", global = true)]
    pub(super) db: String,

    /// How long to keep comments, counted from when they were fetched (90d,
    /// 12h); older ones are pruned daily. Unset or "forever": keep all.
    #[arg(long, env = "CW_RETENTION")]
    pub(super) retention: Option<String>,

    /// `export`, `search`, `stats`: read the log instead of serving.
    #[command(subcommand)]
    pub(super) command: Option<Command>,

    /// If set, the dashboard, API and WebSocket require this token.
    #[arg(long, env = "CW_TOKEN", hide_env_values = true)]
    pub(super) token: Option<String>,

    /// Pages fetched on the first poll of a source (backfill).
    #[arg(long, env = "CW_BACKFILL_PAGES", default_value = "5")]
    pub(super) backfill_pages: String,

    /// Longest a single poll may take before it is abandoned.
    #[arg(long, env = "CW_POLL_TIMEOUT", default_value = "30s")]
    pub(super) poll_timeout: String,

    /// Log line format: text (for people) or json (one object per line, for
    /// log collectors). Verbosity follows RUST_LOG.
    #[arg(long, env = "CW_LOG_FORMAT", default_value = "text")]
    pub(super) log_format: String,

    /// Most WebSocket connections (dashboards and overlays) at once; more are
    /// refused with 503.
    #[arg(long, env = "CW_MAX_CLIENTS", default_value = "10000")]
    pub(super) max_clients: String,

    /// YouTube Data API v3 key (required for youtube: and youtube-live: sources).
    #[arg(long, env = "YOUTUBE_API_KEY", hide_env_values = true)]
    pub(super) youtube_api_key: Option<String>,

    /// Scheme and host of the YouTube API; requests go to $YOUTUBE_API_BASE/youtube/v3/…
    #[arg(
        long,
        env = "YOUTUBE_API_BASE",
        default_value = "https://www.googleapis.com"
    )]
    pub(super) youtube_api_base: String,

    /// The YouTube API key's daily quota in units (resets at midnight Pacific time).
    #[arg(long, env = "YOUTUBE_DAILY_QUOTA", default_value = "10000")]
    pub(super) youtube_daily_quota: String,

    /// The OAuth client id of the streamer's Google Cloud project (desktop
    /// app): with its secret, the dashboard can connect a YouTube account.
    #[arg(long, env = "YOUTUBE_OAUTH_CLIENT_ID")]
    pub(super) youtube_oauth_client_id: Option<String>,

    /// The OAuth client secret that goes with YOUTUBE_OAUTH_CLIENT_ID.
    #[arg(long, env = "YOUTUBE_OAUTH_CLIENT_SECRET", hide_env_values = true)]
    pub(super) youtube_oauth_client_secret: Option<String>,

    /// Quota units polling leaves for actions on YouTube (delete, time out,
    /// ban) when an account can be connected.
    #[arg(long, env = "CW_ACTION_QUOTA_RESERVE", default_value = "300")]
    pub(super) action_quota_reserve: String,

    /// Google's authorization page.
    #[arg(
        long,
        env = "GOOGLE_OAUTH_AUTH_URL",
        default_value = "https://accounts.google.com/o/oauth2/v2/auth"
    )]
    pub(super) google_oauth_auth_url: String,

    /// Google's token endpoint (code exchange and refresh).
    #[arg(
        long,
        env = "GOOGLE_OAUTH_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token"
    )]
    pub(super) google_oauth_token_url: String,

    /// Google's token revocation endpoint (Disconnect).
    #[arg(
        long,
        env = "GOOGLE_OAUTH_REVOKE_URL",
        default_value = "https://oauth2.googleapis.com/revoke"
    )]
    pub(super) google_oauth_revoke_url: String,

    /// How youtube-live: sources read the chat: stream (streamList, pushed;
    /// polling when refused) or poll (liveChatMessages.list).
    #[arg(long, env = "CW_YOUTUBE_LIVE", default_value = "stream")]
    pub(super) youtube_live: String,

    /// How long a session lasts, in hours: YouTube polling is paced so the
    /// day's quota lasts this long.
    #[arg(long, env = "CW_SESSION_HOURS", default_value = "4")]
    pub(super) session_hours: String,

    /// Scheme and host of the Bilibili API; requests go to $BILIBILI_API_BASE/x/…
    #[arg(
        long,
        env = "BILIBILI_API_BASE",
        default_value = "https://api.bilibili.com"
    )]
    pub(super) bilibili_api_base: String,

    /// Cookie sent with Bilibili requests (SESSDATA=…; buvid3=…): without a
    /// login only the newest page of comments is served.
    #[arg(long, env = "BILIBILI_COOKIE", hide_env_values = true)]
    pub(super) bilibili_cookie: Option<String>,

    /// Scheme and host of Bilibili's live API (bilibili-live: room lookup and
    /// getDanmuInfo go to $BILIBILI_LIVE_API_BASE/…).
    #[arg(
        long,
        env = "BILIBILI_LIVE_API_BASE",
        default_value = "https://api.live.bilibili.com"
    )]
    pub(super) bilibili_live_api_base: String,

    /// A danmaku WebSocket (ws:// or wss://) to use instead of the servers
    /// getDanmuInfo lists.
    #[arg(long, env = "BILIBILI_LIVE_WS")]
    pub(super) bilibili_live_ws: Option<String>,

    /// Never poll a Bilibili video faster than this.
    #[arg(long, env = "BILIBILI_MIN_INTERVAL", default_value = "10s")]
    pub(super) bilibili_min_interval: String,

    /// Twitch chat's IRC-over-WebSocket address (ws:// or wss://).
    #[arg(
        long,
        env = "TWITCH_IRC_URL",
        default_value = crate::source::twitch::DEFAULT_IRC_URL
    )]
    pub(super) twitch_irc_url: String,

    /// Scheme and host of Twitch's emote images (https, no port); the page's
    /// image policy allows its host.
    #[arg(
        long,
        env = "TWITCH_EMOTE_BASE",
        default_value = crate::source::twitch::DEFAULT_EMOTE_BASE
    )]
    pub(super) twitch_emote_base: String,

    /// Timeout of every outbound request.
    #[arg(long, env = "CW_HTTP_TIMEOUT", default_value = "15s")]
    pub(super) http_timeout: String,

    /// Largest response body accepted from a source API.
    #[arg(long, env = "CW_MAX_BODY", default_value = "8MiB")]
    pub(super) max_body: String,

    /// Demo source: new comments per minute (0 for only the starting backlog).
    #[arg(long, env = "CW_DEMO_RATE", default_value = "30")]
    pub(super) demo_rate: String,

    /// Demo source: a fixed seed makes it post the same comments every run.
    #[arg(long, env = "CW_DEMO_SEED")]
    pub(super) demo_seed: Option<String>,

    /// Dashboard: comma-separated words to highlight (more can be added in
    /// the page).
    #[arg(long, env = "CW_HIGHLIGHT")]
    pub(super) highlight: Option<String>,

    /// Dashboard: comma-separated words to hide; `author:NAME` hides an author.
    #[arg(long, env = "CW_BLOCK")]
    pub(super) block: Option<String>,

    /// How many comments the "on stream" queue holds for the overlay.
    #[arg(long, env = "CW_FEATURED_MAX", default_value = "5")]
    pub(super) featured_max: String,

    /// With CW_TOKEN: the read-only key of the OBS overlay URL (16+ letters,
    /// digits, - or _). Unset: a key derived from CW_TOKEN.
    #[arg(long, env = "CW_OVERLAY_KEY", hide_env_values = true)]
    pub(super) overlay_key: Option<String>,

    /// Extra Host names the server answers to, comma-separated (a reverse
    /// proxy's public name, a LAN name; NAME or NAME:PORT). The listen
    /// address, 127.0.0.1, localhost and [::1] on its port always work.
    #[arg(long, env = "CW_ALLOWED_HOSTS")]
    pub(super) allowed_hosts: Option<String>,

    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For
    /// and X-Forwarded-Proto headers are believed.
    #[arg(long, env = "CW_TRUSTED_PROXIES")]
    pub(super) trusted_proxies: Option<String>,
}

/// The command line with env values from `lookup`, not yet validated.
pub(super) fn parse_cli<I, T>(
    args: I,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Cli, ConfigError>
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
