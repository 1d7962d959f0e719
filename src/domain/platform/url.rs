//! Video, room and channel addresses pasted into `CW_SOURCES` instead of
//! `platform:argument`: what each names, or why it names nothing commentwatch
//! reads and what to write instead. Parsing only; it touches nothing else.

use super::super::video::{bilibili, youtube};
use super::{Platform, SourceSpec, TWITCH_CHANNEL_HINT, is_room_id, twitch_channel, usages};

/// `None` when `item` does not look like an address (it is then read as
/// `platform:argument`); otherwise what it names, or why it names
/// nothing commentwatch can read, with what to write instead.
/// `youtube-live:` before an address keeps the live chat.
pub(super) fn read(item: &str) -> Option<Result<SourceSpec, String>> {
    let (live, address) = match item.split_once(':') {
        Some((kind, rest)) if kind.trim() == Platform::YouTubeLive.name() => (true, rest.trim()),
        Some((kind, rest)) if Platform::from_name(kind.trim()).is_some() => (false, rest.trim()),
        _ => (false, item),
    };
    if !address.contains('/') {
        return None;
    }
    let full = if address.contains("://") {
        address.to_owned()
    } else {
        format!("https://{address}")
    };
    let Ok(url) = ::url::Url::parse(&full) else {
        return Some(Err(refusal(item, "it is not a web address")));
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host
        .strip_prefix("www.")
        .or_else(|| host.strip_prefix("m."))
        .or_else(|| host.strip_prefix("music."))
        .unwrap_or(&host);
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    Some(match host {
        "youtube.com" | "youtu.be" => {
            let id = match (host, segments.as_slice()) {
                ("youtu.be", [id, ..]) => Some((*id).to_owned()),
                (_, ["watch"]) => query("v"),
                (_, ["live" | "shorts" | "embed" | "v", id, ..]) => Some((*id).to_owned()),
                _ => None,
            };
            match id.filter(|id| youtube::is_video_id(id)) {
                Some(id) if live => Ok(SourceSpec::YouTubeLive(id)),
                Some(id) => Ok(SourceSpec::YouTube(id)),
                None => Err(refusal(
                    item,
                    "this YouTube address names no video; open the video and copy its \
                     address, or write youtube:VIDEO_ID with the 11 characters after \
                     watch?v=",
                )),
            }
        }
        "bilibili.com" => match segments.as_slice() {
            ["video", id, ..] if bilibili::parse_video_id(id).is_some() && !live => {
                Ok(SourceSpec::Bilibili((*id).to_owned()))
            }
            _ => Err(refusal(
                item,
                "this Bilibili address names no video; write bilibili:BVID with the BV id \
                 after /video/ (bilibili:BV1xx411c7mD)",
            )),
        },
        "live.bilibili.com" => match segments.as_slice() {
            // `live.bilibili.com/h5/ROOM` is the mobile page of the same room.
            [room] | ["h5", room] if is_room_id(room) && !live => {
                Ok(SourceSpec::BilibiliLive((*room).to_owned()))
            }
            _ => Err(refusal(
                item,
                "this Bilibili live address names no room; write bilibili-live:ROOM_ID with \
                 the number after live.bilibili.com/ (bilibili-live:21452505)",
            )),
        },
        "twitch.tv" => match segments.as_slice() {
            [name] if !live => twitch_channel(name)
                .map(SourceSpec::Twitch)
                .ok_or_else(|| refusal(item, TWITCH_CHANNEL_HINT)),
            _ => Err(refusal(
                item,
                &format!("this Twitch address names no channel; {TWITCH_CHANNEL_HINT}"),
            )),
        },
        "b23.tv" => Err(refusal(
            item,
            "a b23.tv short link must be opened first; write bilibili:BVID with the BV id \
             after /video/ in the address it opens",
        )),
        _ => Err(refusal(
            item,
            &format!(
                "commentwatch reads addresses of YouTube and Bilibili videos, Bilibili live rooms and Twitch \
                 channels only; write {}",
                usages()
            ),
        )),
    })
}

fn refusal(item: &str, why: &str) -> String {
    format!("cannot read the address {item:?}: {why}")
}

#[cfg(test)]
mod tests {
    use super::super::SourceSpec;

    fn read(item: &str) -> Result<String, String> {
        let (specs, read) = SourceSpec::read_list(item)?;
        assert_eq!(read.len(), 1, "{item} is noted as read from an address");
        assert_eq!(read[0].0, item);
        Ok(specs[0].to_string())
    }

    #[test]
    fn pasted_video_addresses_are_read_as_sources() {
        for (address, source) in [
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "youtube:dQw4w9WgXcQ",
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
                "youtube:dQw4w9WgXcQ",
            ),
            (
                "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
                "youtube:dQw4w9WgXcQ",
            ),
            ("youtube.com/watch?v=dQw4w9WgXcQ", "youtube:dQw4w9WgXcQ"),
            ("https://youtu.be/dQw4w9WgXcQ?si=abc", "youtube:dQw4w9WgXcQ"),
            ("youtu.be/dQw4w9WgXcQ", "youtube:dQw4w9WgXcQ"),
            (
                "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
                "youtube:dQw4w9WgXcQ",
            ),
            (
                "https://youtube.com/shorts/dQw4w9WgXcQ",
                "youtube:dQw4w9WgXcQ",
            ),
            (
                "youtube-live:https://www.youtube.com/live/dQw4w9WgXcQ",
                "youtube-live:dQw4w9WgXcQ",
            ),
            (
                "youtube:https://youtu.be/dQw4w9WgXcQ",
                "youtube:dQw4w9WgXcQ",
            ),
            (
                "https://www.bilibili.com/video/BV1xx411c7mD",
                "bilibili:BV1xx411c7mD",
            ),
            (
                "https://www.bilibili.com/video/BV1xx411c7mD/?p=2&spm_id_from=x",
                "bilibili:BV1xx411c7mD",
            ),
            ("https://m.bilibili.com/video/av170001", "bilibili:av170001"),
            (
                "https://live.bilibili.com/21452505?spm_id_from=333.1007",
                "bilibili-live:21452505",
            ),
            ("live.bilibili.com/h5/1017", "bilibili-live:1017"),
            (
                "bilibili-live:https://live.bilibili.com/22603245",
                "bilibili-live:22603245",
            ),
        ] {
            assert_eq!(read(address).as_deref(), Ok(source), "{address}");
        }
        let (specs, read) = SourceSpec::read_list("demo, https://youtu.be/dQw4w9WgXcQ").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(read.len(), 1, "only the address is noted");
    }

    #[test]
    fn an_address_that_names_no_video_says_what_to_write() {
        for (address, hint) in [
            ("https://www.youtube.com/channel/UCabc", "youtube:VIDEO_ID"),
            ("https://www.youtube.com/watch?v=short", "youtube:VIDEO_ID"),
            ("https://www.bilibili.com/read/cv123", "bilibili:BVID"),
            ("https://b23.tv/abc123", "bilibili:BVID"),
            ("https://www.twitch.tv/videos/123", "twitch:somestreamer"),
            ("https://vimeo.com/somebody", "youtube:VIDEO_ID"),
            (
                "https://live.bilibili.com/p/eden/area-tags",
                "bilibili-live:ROOM_ID",
            ),
            ("https://", "cannot read"),
        ] {
            let e = SourceSpec::parse_list(address).unwrap_err();
            assert!(e.contains(hint), "{address}: {e}");
            assert!(e.contains(address), "{address} named: {e}");
        }
    }
}
