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
    /// A JSON API of any shape, described by `CW_GENERIC_<NAME>_*`.
    Generic,
}

/// Image hosts of YouTube's avatars (video comments and live chat alike).
const YOUTUBE_IMAGE_HOSTS: &[&str] = &["ggpht.com", "googleusercontent.com", "ytimg.com"];
/// Image hosts of Bilibili's avatars and emotes.
const BILIBILI_IMAGE_HOSTS: &[&str] = &["hdslb.com"];

impl Platform {
    /// Every platform, in the order `CW_SOURCES`' help lists them.
    pub const ALL: [Platform; 5] = [
        Platform::Demo,
        Platform::YouTube,
        Platform::YouTubeLive,
        Platform::Bilibili,
        Platform::Generic,
    ];

    /// The prefix of its sources' names: `youtube` in `youtube:VIDEO_ID`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Demo => "demo",
            Platform::YouTube => "youtube",
            Platform::YouTubeLive => "youtube-live",
            Platform::Bilibili => "bilibili",
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
            Platform::Bilibili => BILIBILI_IMAGE_HOSTS,
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
            Platform::Demo | Platform::Generic => None,
        }
    }
}

/// The names of the platforms whose sources take an argument, for filters
/// such as `/api/comments?source=youtube` that pick a whole platform.
pub const PLATFORM_NAMES: &[&str] = &["youtube", "youtube-live", "bilibili", "generic"];

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
/// subdomain of one.
pub fn image_host_allowed(host: &str) -> bool {
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
            | SourceSpec::Generic(a) => Some(a),
        }
    }

    /// Parses `CW_SOURCES`. The error says what is accepted.
    pub fn parse_list(list: &str) -> Result<Vec<SourceSpec>, String> {
        let mut specs = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let spec = SourceSpec::parse(item)?;
            if specs.contains(&spec) {
                return Err(format!("{spec} is listed twice"));
            }
            specs.push(spec);
        }
        if specs.is_empty() {
            return Err("expected at least one source, e.g. demo or youtube:VIDEO_ID".into());
        }
        Ok(specs)
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
            Some(Platform::Generic) if is_id(arg) => Ok(SourceSpec::Generic(arg.to_owned())),
            _ => {
                let usages: Vec<&str> = Platform::ALL.iter().map(|p| p.usage()).collect();
                let (last, rest) = usages.split_last().expect("there are platforms");
                Err(format!(
                    "cannot read source {item:?}; expected {} or {last}, comma-separated",
                    rest.join(", ")
                ))
            }
        }
    }

    /// The page address of comment `id` on the platform, if it has one.
    pub fn permalink(&self, id: &str) -> Option<String> {
        self.platform().permalink(self.argument().unwrap_or(""), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = SourceSpec::parse_list("myspace:1").unwrap_err();
        assert_eq!(
            e,
            "cannot read source \"myspace:1\"; expected demo, youtube:VIDEO_ID, \
             youtube-live:VIDEO_ID, bilibili:BVID_OR_AID or generic:NAME, comma-separated"
        );
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
                "hdslb.com"
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
        assert_eq!(permalink("demo", "1"), None);
        assert_eq!(permalink("generic:x", "1"), None);
    }
}
