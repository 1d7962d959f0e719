//! From the command line's strings to typed settings, one part at a time:
//! the server's, the poller's, each platform's, the dashboard's. Every check
//! names its variable; ranges go through the one `parse::in_range`. No I/O.

use std::ops::Bound;

use super::Config;
use super::args::Cli;
use super::parse::{
    in_range, parse_base_url, parse_db, parse_duration, parse_listen, parse_retention,
    parse_schedule, parse_word_list,
};
use crate::domain::{ConfigError, Secret, SourceSpec};
use crate::source::bilibili::BilibiliSettings;
use crate::source::bilibili::live::LiveSettings;
use crate::source::demo::DemoSettings;
use crate::source::generic::GenericSettings;
use crate::source::http::HttpSettings;
use crate::source::twitch::TwitchSettings;
use crate::source::youtube::YouTubeSettings;

/// Checks every value of `cli`; `lookup` gives the `CW_GENERIC_<NAME>_*`
/// variables of the generic sources.
pub(super) fn validate(
    cli: Cli,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (sources, read) = SourceSpec::read_list(&cli.sources)
        .map_err(|why| ConfigError::invalid("CW_SOURCES", &cli.sources, why))?;
    let notes = read
        .iter()
        .map(|(address, spec)| read_note(address, spec))
        .collect();
    let poll = cli.poll.as_deref().map(parse_schedule).transpose()?;
    let listen = parse_listen(&cli.listen)?;
    let db = parse_db(&cli.db)?;
    let token = token(cli.token.clone())?;
    let backfill_pages = in_range(
        "CW_BACKFILL_PAGES",
        &cli.backfill_pages,
        1..=100,
        "expected a whole number from 1 to 100",
    )?;
    let poll_timeout = parse_duration("CW_POLL_TIMEOUT", &cli.poll_timeout)?;
    let retention = parse_retention(cli.retention.as_deref())?;
    let demo = demo(&cli)?;
    let youtube = youtube(&cli, &sources)?;
    let bilibili = bilibili(&cli)?;
    let bilibili_live = bilibili_live(&cli)?;
    let http = http(&cli)?;
    let twitch = twitch(&cli, &http)?;
    let youtube_oauth = super::oauth::parse(&cli, &youtube)?;
    let highlight = parse_word_list("CW_HIGHLIGHT", cli.highlight.as_deref())?;
    let block = parse_word_list("CW_BLOCK", cli.block.as_deref())?;
    let featured_max = in_range(
        "CW_FEATURED_MAX",
        &cli.featured_max,
        1..=50,
        "expected a whole number from 1 to 50",
    )?;
    let overlay_key = overlay_key(cli.overlay_key.clone())?;
    let max_clients = in_range(
        "CW_MAX_CLIENTS",
        &cli.max_clients,
        1..=1_000_000,
        "expected a whole number from 1 to 1000000",
    )?;
    let youtube_live = match cli.youtube_live.trim() {
        "stream" => crate::source::youtube::LiveMode::Stream,
        "poll" => crate::source::youtube::LiveMode::Poll,
        _ => {
            return Err(ConfigError::invalid(
                "CW_YOUTUBE_LIVE",
                &cli.youtube_live,
                "expected stream or poll",
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
    let access =
        super::access::parse(cli.allowed_hosts.as_deref(), cli.trusted_proxies.as_deref())?;
    let mut generic = Vec::new();
    for spec in &sources {
        if let SourceSpec::Generic(name) = spec {
            generic.push((name.clone(), GenericSettings::from_lookup(name, lookup)?));
        }
    }
    Ok(Config {
        notes,
        youtube_oauth,
        youtube,
        youtube_live,
        bilibili,
        twitch,
        bilibili_live,
        generic,
        http,
        max_clients,
        log_json,
        sources,
        poll,
        listen,
        db,
        token,
        backfill_pages,
        poll_timeout,
        demo,
        retention,
        highlight,
        block,
        featured_max,
        overlay_key,
        access,
    })
}

/// The line that says how a pasted video address was read. A live stream's
/// address read as its comments gets a hint about its chat.
fn read_note(address: &str, spec: &SourceSpec) -> String {
    let mut note = format!("CW_SOURCES: read {address} as {spec}");
    if let SourceSpec::YouTube(id) = spec
        && address.contains("/live/")
    {
        note.push_str(&format!(" (for the live chat, write youtube-live:{id})"));
    }
    note
}

/// `CW_TOKEN`: unset or empty for none, else 8+ printable ASCII characters.
fn token(value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    match value {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) if t.len() < 8 || !t.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(ConfigError::invalid(
                "CW_TOKEN",
                "(hidden)",
                "expected at least 8 printable ASCII characters without spaces",
            ))
        }
        Some(t) => Ok(Some(Secret::new(t))),
    }
}

/// `CW_OVERLAY_KEY`: 16 to 128 URL-safe characters, or unset.
fn overlay_key(value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    match value.map(|k| k.trim().to_owned()) {
        None => Ok(None),
        Some(k) if k.is_empty() => Ok(None),
        Some(k)
            if k.len() < 16
                || k.len() > 128
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(ConfigError::invalid(
                "CW_OVERLAY_KEY",
                "(hidden)",
                "expected 16 to 128 letters, digits, - or _ (it goes into a URL)",
            ))
        }
        Some(k) => Ok(Some(Secret::new(k))),
    }
}

/// `CW_DEMO_RATE`, `CW_DEMO_SEED`.
fn demo(cli: &Cli) -> Result<DemoSettings, ConfigError> {
    let rate_per_min = in_range(
        "CW_DEMO_RATE",
        &cli.demo_rate,
        0.0..=60_000.0,
        "expected comments per minute, a number from 0 to 60000",
    )?;
    let seed = match cli.demo_seed.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ConfigError::invalid("CW_DEMO_SEED", s, "expected a whole number"))?,
        ),
    };
    Ok(DemoSettings { rate_per_min, seed })
}

/// `YOUTUBE_*` and `CW_SESSION_HOURS`; the key is required when a YouTube
/// source is configured.
fn youtube(cli: &Cli, sources: &[SourceSpec]) -> Result<YouTubeSettings, ConfigError> {
    let api_base = parse_base_url("YOUTUBE_API_BASE", &cli.youtube_api_base)?;
    let needs_youtube = sources
        .iter()
        .any(|s| matches!(s, SourceSpec::YouTube(_) | SourceSpec::YouTubeLive(_)));
    let api_key = cli
        .youtube_api_key
        .clone()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if needs_youtube && api_key.is_empty() {
        return Err(ConfigError::Missing {
            var: "YOUTUBE_API_KEY".into(),
            why: "youtube: and youtube-live: sources need a YouTube Data API v3 key".into(),
        });
    }
    if !api_key.is_empty()
        && !api_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::invalid(
            "YOUTUBE_API_KEY",
            "(hidden)",
            "expected an API key: letters, digits, - and _",
        ));
    }
    let daily_quota = in_range(
        "YOUTUBE_DAILY_QUOTA",
        &cli.youtube_daily_quota,
        1..,
        "expected a positive whole number of quota units, e.g. 10000",
    )?;
    let session_hours = in_range(
        "CW_SESSION_HOURS",
        &cli.session_hours,
        (Bound::Excluded(0.0), Bound::Included(24.0)),
        "expected hours from 0 to 24, e.g. 4 or 2.5",
    )?;
    Ok(YouTubeSettings {
        api_key,
        api_base,
        daily_quota,
        session_hours,
    })
}

/// `BILIBILI_*`.
fn bilibili(cli: &Cli) -> Result<BilibiliSettings, ConfigError> {
    let api_base = parse_base_url("BILIBILI_API_BASE", &cli.bilibili_api_base)?;
    let cookie = cli
        .bilibili_cookie
        .as_ref()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if let Some(c) = &cookie
        && (c.contains('\n') || c.contains('\r') || !c.is_ascii())
    {
        return Err(ConfigError::invalid(
            "BILIBILI_COOKIE",
            "(hidden)",
            "expected one line of ASCII name=value pairs, e.g. SESSDATA=…; buvid3=…",
        ));
    }
    let min_interval = parse_duration("BILIBILI_MIN_INTERVAL", &cli.bilibili_min_interval)?;
    Ok(BilibiliSettings {
        api_base,
        cookie,
        min_interval,
    })
}

/// `TWITCH_IRC_URL` (a `ws://` or `wss://` address) and `TWITCH_EMOTE_BASE`
/// (`https://host`, no port, path or credentials: the sanitizer keeps only
/// such image addresses, and the page's image policy names the host).
fn twitch(cli: &Cli, http: &HttpSettings) -> Result<TwitchSettings, ConfigError> {
    let irc = cli.twitch_irc_url.trim();
    match reqwest::Url::parse(irc) {
        Ok(u) if matches!(u.scheme(), "ws" | "wss") && u.host_str().is_some() => {}
        _ => {
            return Err(ConfigError::invalid(
                "TWITCH_IRC_URL",
                irc,
                "expected a ws:// or wss:// address such as wss://irc-ws.chat.twitch.tv:443",
            ));
        }
    }
    let base = cli.twitch_emote_base.trim().trim_end_matches('/');
    match reqwest::Url::parse(base) {
        Ok(u)
            if u.scheme() == "https"
                && u.host_str().is_some()
                && u.port().is_none()
                && u.username().is_empty()
                && u.password().is_none()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none() => {}
        _ => {
            return Err(ConfigError::invalid(
                "TWITCH_EMOTE_BASE",
                base,
                "expected https:// and a host, with no port or path, such as \
                 https://static-cdn.jtvnw.net",
            ));
        }
    }
    Ok(TwitchSettings {
        irc_url: irc.to_owned(),
        emote_base: base.to_owned(),
        connect_timeout: http.timeout,
        ..TwitchSettings::default()
    })
}

/// `BILIBILI_LIVE_API_BASE`, `BILIBILI_LIVE_WS`.
fn bilibili_live(cli: &Cli) -> Result<LiveSettings, ConfigError> {
    let api_base = parse_base_url("BILIBILI_LIVE_API_BASE", &cli.bilibili_live_api_base)?;
    let ws = match cli.bilibili_live_ws.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => match reqwest::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "ws" | "wss") && u.host_str().is_some() => {
                Some(value.to_owned())
            }
            _ => {
                return Err(ConfigError::invalid(
                    "BILIBILI_LIVE_WS",
                    value,
                    "expected a ws:// or wss:// URL such as ws://127.0.0.1:9000/sub",
                ));
            }
        },
    };
    Ok(LiveSettings { api_base, ws })
}

/// `CW_HTTP_TIMEOUT`, `CW_MAX_BODY`.
fn http(cli: &Cli) -> Result<HttpSettings, ConfigError> {
    let timeout = parse_duration("CW_HTTP_TIMEOUT", &cli.http_timeout)?;
    let max_body = in_range(
        "CW_MAX_BODY",
        &cli.max_body,
        bytesize::ByteSize::b(1024)..=bytesize::ByteSize::b(1 << 30),
        "expected a size from 1KiB to 1GiB, e.g. 8MiB",
    )?
    .as_u64() as usize;
    Ok(HttpSettings { timeout, max_body })
}
