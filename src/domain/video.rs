//! Video ids as the platforms spell them: YouTube's 11-character ids and
//! Bilibili's BV ids and av numbers (with the local BV↔AV conversion). Used
//! to check `CW_SOURCES`, by the Bilibili source for its requests and by
//! permalinks. No I/O; imports nothing else of the crate.

/// YouTube video ids.
pub mod youtube {
    /// True for an 11-character video id.
    pub fn is_video_id(s: &str) -> bool {
        s.len() == 11
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// Bilibili video ids: `BV1xx411c7mD`, `av170001` or `170001`.
pub mod bilibili {
    /// BV↔AV conversion constants (docs/SOURCES.md, "Bilibili: what the code relies on").
    const BV_XOR: u64 = 23_442_827_791_579;
    const BV_MASK: u64 = (1 << 51) - 1;
    const BV_MAX_AID: u64 = 1 << 51;
    const BV_TABLE: &[u8; 58] = b"FcwAPNKTMug3GV5Lj7EJnHpWsx4tb8haYeviqBz6rkCy12mUSDQX9RdoZf";

    /// A video id as given in `CW_SOURCES`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum VideoId {
        Bv(String),
        Av(u64),
    }

    /// Parses `BV1xx411c7mD`, `av170001` or `170001`.
    ///
    /// A BV id is accepted only if it converts to an av number, so a mistyped id
    /// (a `0`, `O`, `I` or `l`, which base 58 lacks) fails at start-up rather than
    /// at the first poll.
    pub fn parse_video_id(s: &str) -> Option<VideoId> {
        if s.len() == 12 && s.starts_with("BV") {
            return bv_to_av(s).map(|_| VideoId::Bv(s.to_owned()));
        }
        let digits = s
            .strip_prefix("av")
            .or_else(|| s.strip_prefix("AV"))
            .unwrap_or(s);
        digits
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0 && *n < BV_MAX_AID)
            .map(VideoId::Av)
    }

    /// The av number (`aid`, the replies' `oid`) of a BV id, computed locally.
    pub fn bv_to_av(bvid: &str) -> Option<u64> {
        let mut b: [u8; 12] = bvid.as_bytes().try_into().ok()?;
        if &b[..3] != b"BV1" {
            return None;
        }
        b.swap(3, 9);
        b.swap(4, 7);
        let mut n: u64 = 0;
        for c in &b[3..] {
            let digit = BV_TABLE.iter().position(|t| t == c)? as u64;
            n = n * 58 + digit;
        }
        let aid = (n & BV_MASK) ^ BV_XOR;
        (aid > 0 && aid < BV_MAX_AID).then_some(aid)
    }

    /// The BV id of an av number; `None` past the 2^51 that BV ids can hold.
    pub fn av_to_bv(aid: u64) -> Option<String> {
        if aid == 0 || aid >= BV_MAX_AID {
            return None;
        }
        let mut b = *b"BV1000000000";
        let mut n = (BV_MAX_AID | aid) ^ BV_XOR;
        let mut i = b.len() - 1;
        while n > 0 && i >= 3 {
            b[i] = BV_TABLE[(n % 58) as usize];
            n /= 58;
            i -= 1;
        }
        b.swap(3, 9);
        b.swap(4, 7);
        String::from_utf8(b.to_vec()).ok()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn bv_and_av_numbers_convert_both_ways() {
            let pairs = [
                (170001, "BV17x411w7KC"),
                (111298867365120, "BV1L9Uoa9EUx"),
                (2, "BV1xx411c7mD"),
                (113998765432109, "BV1FyKFeyECg"),
            ];
            for (aid, bvid) in pairs {
                assert_eq!(bv_to_av(bvid), Some(aid), "{bvid} → av");
                assert_eq!(av_to_bv(aid).as_deref(), Some(bvid), "av{aid} → BV");
            }
        }

        #[test]
        fn ids_outside_base_58_or_the_bv1_prefix_are_not_video_ids() {
            // 0, O, I and l are not in the table.
            assert_eq!(parse_video_id("BV1xx411c70D"), None);
            assert_eq!(parse_video_id("BV1xx4l1c7mD"), None);
            assert_eq!(parse_video_id("BV2xx411c7mD"), None);
            assert_eq!(parse_video_id("BV1xx411c7m"), None);
            assert_eq!(parse_video_id("av0"), None);
            assert_eq!(parse_video_id("av2251799813685248"), None);
            assert_eq!(
                parse_video_id("BV1xx411c7mD"),
                Some(VideoId::Bv("BV1xx411c7mD".into()))
            );
            assert_eq!(parse_video_id("av170001"), Some(VideoId::Av(170001)));
            assert_eq!(parse_video_id("170001"), Some(VideoId::Av(170001)));
        }
    }
}
