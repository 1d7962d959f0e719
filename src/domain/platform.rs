//! The platforms commentwatch reads and the sources configured on them.
//!
//! [`Platform::ALL`] is the one list of platforms: each knows the prefix of
//! its sources in `CW_SOURCES` (`youtube:VIDEO_ID`), the image hosts its
//! avatars and emotes come from (the sanitizer's allowlist, and what the
//! page's `img-src` must name) and the format of a comment's permalink.
//! [`SourceSpec`] is one configured source; its `Display` is the name that
//! comments carry in their `source` field.
//!
//! No I/O; imports nothing else of the crate but its sibling `video`.
//! A video's address pasted into `CW_SOURCES` is read here too (`url`).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::video::{bilibili, youtube};

/// A platform comments come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// The built-in simulator.
    Demo,
    /// A YouTube video's comment threads.
    YouTube,
    /// A YouTube live stream's chat.
    YouTubeLive,
    /// A Bilibili video's replies.
    Bilibili,
    /// A Bilibili live room's danmaku.
    BilibiliLive,
    /// A Twitch channel's chat.
    Twitch,
    /// A JSON API of any shape, described by `CW_GENERIC_<NAME>_*`.
    Generic,
}

/// Image hosts of YouTube's avatars (video comments and live chat alike).
const YOUTUBE_IMAGE_HOSTS: &[&str] = &["ggpht.com", "googleusercontent.com", "ytimg.com"];
/// Image hosts of Bilibili's avatars and emotes.
const BILIBILI_IMAGE_HOSTS: &[&str] = &["hdslb.com"];
/// Image host of Twitch's emotes (`static-cdn.jtvnw.net`), the default of
/// `TWITCH_EMOTE_BASE`; another base's host is added by
/// [`allow_image_host`].
const TWITCH_IMAGE_HOSTS: &[&str] = &["jtvnw.net"];

/// Image hosts the settings name (`TWITCH_EMOTE_BASE`), allowed as they are
/// (no subdomains), for the life of the process.
static EXTRA_IMAGE_HOSTS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Allows images from exactly `host` (lower-case) too: the sanitizer keeps
/// them and the page's `img-src` names it. Set once at start from the
/// settings; never removed.
pub fn allow_image_host(host: &str) {
    let host = host.to_ascii_lowercase();
    if image_host_allowed(&host) {
        return;
    }
    let mut extra = EXTRA_IMAGE_HOSTS.write().unwrap_or_else(|p| p.into_inner());
    if !extra.contains(&host) {
        extra.push(host);
    }
}

/// The hosts [`allow_image_host`] added, each once.
pub fn extra_image_hosts() -> Vec<String> {
    EXTRA_IMAGE_HOSTS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

impl Platform {
    /// Every platform, in the order `CW_SOURCES`' help lists them.
    pub const ALL: [Platform; 7] = [
        Platform::Demo,
        Platform::YouTube,
        Platform::YouTubeLive,
        Platform::Bilibili,
        Platform::BilibiliLive,
        Platform::Twitch,
        Platform::Generic,
    ];

    /// The prefix of its sources' names: `youtube` in `youtube:VIDEO_ID`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Demo => "demo",
            Platform::YouTube => "youtube",
            Platform::YouTubeLive => "youtube-live",
            Platform::Bilibili => "bilibili",
            Platform::BilibiliLive => "bilibili-live",
            Platform::Twitch => "twitch",
            Platform::Generic => "generic",
        }
    }

    /// How a source on it is written in `CW_SOURCES`.
    pub fn usage(self) -> &'static str {
        match self {
            Platform::Demo => "demo",
            Platform::YouTube => "youtube:VIDEO_ID",
            Platform::YouTubeLive => "youtube-live:VIDEO_ID",
            Platform::Bilibili => "bilibili:BVID_OR_AID",
            Platform::BilibiliLive => "bilibili-live:ROOM_ID",
            Platform::Twitch => "twitch:CHANNEL",
            Platform::Generic => "generic:NAME",
        }
    }

    /// Whether its sources take an argument after the `:` (all but the demo).
    pub fn takes_argument(self) -> bool {
        self != Platform::Demo
    }

    /// Host suffixes its images (avatars, emotes) may come from: the
    /// platform's own CDNs. Anything else would let a commenter track the
    /// streamer's IP, and would break the page's `img-src` policy anyway.
    pub fn image_hosts(self) -> &'static [&'static str] {
        match self {
            Platform::YouTube | Platform::YouTubeLive => YOUTUBE_IMAGE_HOSTS,
            Platform::Bilibili | Platform::BilibiliLive => BILIBILI_IMAGE_HOSTS,
            Platform::Twitch => TWITCH_IMAGE_HOSTS,
            Platform::Demo | Platform::Generic => &[],
        }
    }

    /// The platform named `name` (`youtube`, `bilibili`, …).
    pub fn from_name(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The address of comment `id` on the page of `arg` (a video id) on this
    /// platform: YouTube's `watch?v=VIDEO&lc=COMMENT`, Bilibili's video page
    /// with `#reply<rpid>`; none for the demo and generic APIs.
    pub fn permalink(self, arg: &str, id: &str) -> Option<String> {
        match self {
            Platform::YouTube | Platform::YouTubeLive => Some(format!(
                "https://www.youtube.com/watch?v={}&lc={}",
                enc(arg),
                enc(id)
            )),
            Platform::Bilibili => {
                let video = match bilibili::parse_video_id(arg)? {
                    bilibili::VideoId::Bv(bv) => bv,
                    bilibili::VideoId::Av(n) => format!("av{n}"),
                };
                let mut url = format!("https://www.bilibili.com/video/{}", enc(&video));
                if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                    url.push_str("#reply");
                    url.push_str(id);
                }
                Some(url)
            }
            // Danmaku have no address of their own: the room's page.
            Platform::BilibiliLive => Some(format!("https://live.bilibili.com/{}", enc(arg))),
            // Twitch chat messages have no address of their own.
            Platform::Twitch | Platform::Demo | Platform::Generic => None,
        }
    }
}

/// The names of the platforms whose sources take an argument, for filters
/// such as `/api/comments?source=youtube` that pick a whole platform.
pub const PLATFORM_NAMES: &[&str] = &[
    "youtube",
    "youtube-live",
    "bilibili",
    "bilibili-live",
    "twitch",
    "generic",
];

/// Every image host of every platform, each once.
pub fn image_hosts() -> Vec<&'static str> {
    let mut hosts: Vec<&'static str> = Vec::new();
    for host in Platform::ALL.into_iter().flat_map(|p| p.image_hosts()) {
        if !hosts.contains(host) {
            hosts.push(host);
        }
    }
    hosts
}

/// Whether `host` (lower-case) is one of the platforms' image hosts or a
/// subdomain of one, or a host the settings added ([`allow_image_host`]).
pub fn image_host_allowed(host: &str) -> bool {
    let extra = EXTRA_IMAGE_HOSTS.read().unwrap_or_else(|p| p.into_inner());
    if extra.iter().any(|h| h == host) {
        return true;
    }
    drop(extra);
    Platform::ALL
        .into_iter()
        .flat_map(|p| p.image_hosts())
        .any(|s| {
            host == *s
                || (host.len() > s.len() + 1
                    && host.ends_with(s)
                    && host.as_bytes()[host.len() - s.len() - 1] == b'.')
        })
}

/// The page address of comment `id` from the source named `source`
/// (`youtube:VIDEO_ID`), if its platform has one.
pub fn permalink(source: &str, id: &str) -> Option<String> {
    let (kind, arg) = source.split_once(':')?;
    Platform::from_name(kind)?.permalink(arg, id)
}

/// Characters kept as they are in URLs we build (RFC 3986 unreserved).
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, URL_SAFE).to_string()
}

/// A video address pasted into `CW_SOURCES` and the source it was read as.
pub type ReadAddress = (String, SourceSpec);

/// A source as configured in `CW_SOURCES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The built-in simulator.
    Demo,
    /// `youtube:VIDEO_ID`: a video's comment threads.
    YouTube(String),
    /// `youtube-live:VIDEO_ID`: a live stream's chat.
    YouTubeLive(String),
    /// `bilibili:BVID_OR_AID`: a Bilibili video's replies.
    Bilibili(String),
    /// `bilibili-live:ROOM_ID`: a Bilibili live room's danmaku (short or
    /// real room number).
    BilibiliLive(String),
    /// `twitch:CHANNEL`: a Twitch channel's chat (the login, lower-case).
    Twitch(String),
    /// `generic:NAME`: a JSON API described by `CW_GENERIC_<NAME>_*`.
    Generic(String),
}

impl fmt::Display for SourceSpec {
    /// The name that comments carry in their `source` field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.argument() {
            None => f.write_str(self.platform().name()),
            Some(arg) => write!(f, "{}:{arg}", self.platform().name()),
        }
    }
}

impl SourceSpec {
    /// The platform it is on.
    pub fn platform(&self) -> Platform {
        match self {
            SourceSpec::Demo => Platform::Demo,
            SourceSpec::YouTube(_) => Platform::YouTube,
            SourceSpec::YouTubeLive(_) => Platform::YouTubeLive,
            SourceSpec::Bilibili(_) => Platform::Bilibili,
            SourceSpec::BilibiliLive(_) => Platform::BilibiliLive,
            SourceSpec::Twitch(_) => Platform::Twitch,
            SourceSpec::Generic(_) => Platform::Generic,
        }
    }

    /// What follows the `:`: a video id or a generic source's name.
    pub fn argument(&self) -> Option<&str> {
        match self {
            SourceSpec::Demo => None,
            SourceSpec::YouTube(a)
            | SourceSpec::YouTubeLive(a)
            | SourceSpec::Bilibili(a)
            | SourceSpec::BilibiliLive(a)
            | SourceSpec::Twitch(a)
            | SourceSpec::Generic(a) => Some(a),
        }
    }

    /// Parses `CW_SOURCES`. The error says what is accepted.
    pub fn parse_list(list: &str) -> Result<Vec<SourceSpec>, String> {
        SourceSpec::read_list(list).map(|(specs, _)| specs)
    }

    /// Parses `CW_SOURCES` like [`SourceSpec::parse_list`], and also says how
    /// each pasted video address was read: `(address, what it became)`.
    pub fn read_list(list: &str) -> Result<(Vec<SourceSpec>, Vec<ReadAddress>), String> {
        let mut specs = Vec::new();
        let mut read = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let spec = match url::read(item) {
                Some(from_url) => {
                    let spec = from_url?;
                    read.push((item.to_owned(), spec.clone()));
                    spec
                }
                None => SourceSpec::parse(item)?,
            };
            if specs.contains(&spec) {
                return Err(format!("{spec} is listed twice"));
            }
            specs.push(spec);
        }
        if specs.is_empty() {
            return Err("expected at least one source, e.g. demo or youtube:VIDEO_ID".into());
        }
        Ok((specs, read))
    }

    fn parse(item: &str) -> Result<SourceSpec, String> {
        let (kind, arg) = item.split_once(':').unwrap_or((item, ""));
        let arg = arg.trim();
        let is_id = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let platform = Platform::from_name(kind.trim());
        match platform {
            Some(Platform::Demo) if arg.is_empty() => Ok(SourceSpec::Demo),
            Some(Platform::YouTube) if youtube::is_video_id(arg) => {
                Ok(SourceSpec::YouTube(arg.to_owned()))
            }
            Some(Platform::YouTubeLive) if youtube::is_video_id(arg) => {
                Ok(SourceSpec::YouTubeLive(arg.to_owned()))
            }
            Some(Platform::YouTube | Platform::YouTubeLive) => Err(format!(
                "{item:?}: a YouTube video id is 11 letters, digits, - or _ (the v= part of the URL)"
            )),
            Some(Platform::Bilibili) if bilibili::parse_video_id(arg).is_some() => {
                Ok(SourceSpec::Bilibili(arg.to_owned()))
            }
            Some(Platform::Bilibili) => Err(format!(
                "{item:?}: expected a BV id (BV1xx411c7mD) or an av number (av170001 or 170001)"
            )),
            Some(Platform::BilibiliLive) if is_room_id(arg) => {
                Ok(SourceSpec::BilibiliLive(arg.to_owned()))
            }
            Some(Platform::BilibiliLive) => Err(format!(
                "{item:?}: expected a live room number, the digits after live.bilibili.com/ \
                 (bilibili-live:21452505)"
            )),
            Some(Platform::Twitch) => twitch_channel(arg)
                .map(SourceSpec::Twitch)
                .ok_or_else(|| format!("{item:?}: {TWITCH_CHANNEL_HINT}")),
            Some(Platform::Generic) if is_id(arg) => Ok(SourceSpec::Generic(arg.to_owned())),
            None if !kind.trim().is_empty() && item.contains(':') => Err(format!(
                "{item:?}: {:?} is not a platform commentwatch reads; the platforms are {}",
                kind.trim(),
                usages()
            )),
            _ => Err(format!(
                "cannot read source {item:?}; expected {}",
                usages()
            )),
        }
    }

    /// The page address of comment `id` on the platform, if it has one.
    pub fn permalink(&self, id: &str) -> Option<String> {
        self.platform().permalink(self.argument().unwrap_or(""), id)
    }
}

/// A live room number: digits, not 0 (short ids like 1 are real rooms).
fn is_room_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 16
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b != b'0')
}

/// What a `twitch:` source names, for refusals.
const TWITCH_CHANNEL_HINT: &str = "a Twitch channel is its login name, 1 to 25 letters, digits or _ \
     (the NAME of twitch.tv/NAME), e.g. twitch:somestreamer";

/// A Twitch channel's login from `twitch:CHANNEL` (any case, an optional
/// `#`), lower-cased; `None` when it cannot be one.
fn twitch_channel(arg: &str) -> Option<String> {
    let name = arg.strip_prefix('#').unwrap_or(arg).to_ascii_lowercase();
    let ok = (1..=25).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(name)
}

/// Every platform's usage: `demo, youtube:VIDEO_ID, … or generic:NAME,
/// comma-separated`.
fn usages() -> String {
    let usages: Vec<&str> = Platform::ALL.iter().map(|p| p.usage()).collect();
    let (last, rest) = usages.split_last().expect("there are platforms");
    format!("{} or {last}, comma-separated", rest.join(", "))
}

/// Video addresses pasted into `CW_SOURCES` instead of `youtube:ID`.
mod url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_platform_lists_the_supported_ones() {
        let e = SourceSpec::parse_list("myspace:foo").unwrap_err();
        assert_eq!(
            e,
            "\"myspace:foo\": \"myspace\" is not a platform commentwatch reads; the platforms are \
             demo, youtube:VIDEO_ID, youtube-live:VIDEO_ID, bilibili:BVID_OR_AID, \
             bilibili-live:ROOM_ID, twitch:CHANNEL or generic:NAME, comma-separated"
        );
    }

    #[test]
    fn every_platform_with_an_argument_is_a_platform_name_and_round_trips() {
        let with_arg: Vec<&str> = Platform::ALL
            .into_iter()
            .filter(|p| p.takes_argument())
            .map(Platform::name)
            .collect();
        assert_eq!(with_arg, PLATFORM_NAMES);
        for p in Platform::ALL {
            assert_eq!(Platform::from_name(p.name()), Some(p));
            assert!(p.usage().starts_with(p.name()));
        }
    }

    #[test]
    fn an_unknown_source_lists_every_usage() {
        let e = SourceSpec::parse_list("myspace").unwrap_err();
        assert_eq!(
            e,
            "cannot read source \"myspace\"; expected demo, youtube:VIDEO_ID, \
             youtube-live:VIDEO_ID, bilibili:BVID_OR_AID, bilibili-live:ROOM_ID, twitch:CHANNEL or generic:NAME, \
             comma-separated"
        );
    }

    #[test]
    fn twitch_channels_are_lower_cased_logins_from_a_name_or_an_address() {
        for (item, source) in [
            ("twitch:SomeStreamer", "twitch:somestreamer"),
            ("twitch:#pajlada", "twitch:pajlada"),
            ("twitch: x_9 ", "twitch:x_9"),
            ("https://www.twitch.tv/SomeStreamer", "twitch:somestreamer"),
            ("twitch.tv/pajlada/", "twitch:pajlada"),
        ] {
            let specs = SourceSpec::parse_list(item).unwrap();
            assert_eq!(specs[0].to_string(), source, "{item}");
            assert_eq!(specs[0].platform().image_hosts(), ["jtvnw.net"]);
            assert_eq!(specs[0].permalink("id"), None);
        }
        for bad in [
            "twitch:",
            "twitch:a-b",
            "twitch:ünï",
            "twitch:abcdefghijklmnopqrstuvwxyz",
        ] {
            let e = SourceSpec::parse_list(bad).unwrap_err();
            assert!(e.contains("login name"), "{bad}: {e}");
        }
        assert!(
            SourceSpec::parse_list("twitch:a, twitch:A").is_err(),
            "listed twice"
        );
    }

    #[test]
    fn an_allowed_extra_image_host_is_allowed_exactly() {
        assert!(!image_host_allowed("emotes.example.test"));
        allow_image_host("Emotes.Example.test");
        assert!(image_host_allowed("emotes.example.test"));
        assert!(!image_host_allowed("x.emotes.example.test"));
        assert!(extra_image_hosts().contains(&"emotes.example.test".to_owned()));
        allow_image_host("static-cdn.jtvnw.net");
        assert!(!extra_image_hosts().iter().any(|h| h.ends_with("jtvnw.net")));
    }

    #[test]
    fn names_display_as_configured() {
        let specs =
            SourceSpec::parse_list("demo, youtube:dQw4w9WgXcQ, bilibili:av170001, generic:x")
                .unwrap();
        let names: Vec<String> = specs.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "demo",
                "youtube:dQw4w9WgXcQ",
                "bilibili:av170001",
                "generic:x"
            ]
        );
    }

    #[test]
    fn image_hosts_match_whole_labels_only() {
        assert!(image_host_allowed("yt3.ggpht.com"));
        assert!(image_host_allowed("hdslb.com"));
        assert!(image_host_allowed("i0.hdslb.com"));
        assert!(!image_host_allowed("evilhdslb.com"));
        assert!(!image_host_allowed("hdslb.com.evil.net"));
        assert_eq!(
            image_hosts(),
            [
                "ggpht.com",
                "googleusercontent.com",
                "ytimg.com",
                "hdslb.com",
                "jtvnw.net"
            ]
        );
    }

    #[test]
    fn permalinks_follow_each_platforms_format() {
        assert_eq!(
            permalink("youtube:dQw4w9WgXcQ", "a&b=c#d").as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=a%26b%3Dc%23d")
        );
        assert_eq!(
            SourceSpec::Bilibili("170001".into())
                .permalink("12")
                .as_deref(),
            Some("https://www.bilibili.com/video/av170001#reply12")
        );
        assert_eq!(
            permalink("bilibili-live:1017", "h0a1b").as_deref(),
            Some("https://live.bilibili.com/1017")
        );
        assert_eq!(permalink("demo", "1"), None);
        assert_eq!(permalink("generic:x", "1"), None);
    }
}
