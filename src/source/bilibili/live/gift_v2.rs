//! `SEND_GIFT_V2`: the gift command Bilibili is rolling out, whose `data.pb`
//! is a base64 protobuf `SendGiftBroadcast` (field numbers as the maintained
//! web client reads them, SOURCE-APIS §5.7). Each gift of its list is turned
//! into the JSON shape of a `SEND_GIFT`'s `data`, so that `commands` reads
//! both alike. Pure computation: a minimal base64 and protobuf reader, no
//! I/O; anything that does not parse is `None`.

use serde_json::{Map, Value, json};

/// One protobuf field: its number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of one message, in order; `None` if malformed.
fn fields(mut b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut b)?),
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                let (value, rest) = (b.get(..len)?, b.get(len..)?);
                b = rest;
                Field::Bytes(value)
            }
            1 => {
                b = b.get(8..)?;
                continue;
            }
            5 => {
                b = b.get(4..)?;
                continue;
            }
            _ => return None,
        };
        out.push((key >> 3, field));
    }
    Some(out)
}

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The message's fields as JSON under the names `names` gives by number;
/// nested messages by `nested`.
fn object(
    bytes: &[u8],
    names: &[(u64, &str)],
    nested: &dyn Fn(u64, &[u8]) -> Option<Value>,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (number, field) in fields(bytes)? {
        if let Some(v) = nested(
            number,
            match &field {
                Field::Bytes(b) => b,
                Field::Varint(_) => &[],
            },
        ) {
            out.insert(format!("#{number}"), v);
            continue;
        }
        let Some((_, name)) = names.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        let value = match field {
            Field::Varint(v) => json!(v),
            Field::Bytes(b) => json!(String::from_utf8_lossy(b)),
        };
        out.insert((*name).to_owned(), value);
    }
    Some(out)
}

/// Base64, standard or URL-safe alphabet, with or without padding.
fn base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    let s: String = s
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    STANDARD.decode(s).ok()
}

/// Each gift of a `SEND_GIFT_V2`'s `data` as a `SEND_GIFT` `data` object.
pub(super) fn gifts(data: &Value) -> Option<Vec<Value>> {
    let pb = base64(data.get("pb")?.as_str()?)?;
    let none = |_: u64, _: &[u8]| None;
    let medal = |n: u64, b: &[u8]| {
        (n == 8).then(|| {
            object(
                b,
                &[
                    (1, "target_id"),
                    (4, "anchor_roomid"),
                    (5, "medal_level"),
                    (6, "medal_name"),
                ],
                &none,
            )
            .map(Value::Object)
        })?
    };
    let top = object(
        &pb,
        &[(1, "uid"), (2, "uname"), (3, "face"), (5, "guard_level")],
        &medal,
    )?;
    let mut out = Vec::new();
    for (number, field) in fields(&pb)? {
        let (10, Field::Bytes(item)) = (number, field) else {
            continue;
        };
        let info = |n: u64, b: &[u8]| {
            (n == 35).then(|| object(b, &[(1, "img_basic")], &none).map(Value::Object))?
        };
        let mut gift = object(
            item,
            &[
                (1, "giftId"),
                (2, "giftName"),
                (3, "num"),
                (4, "giftType"),
                (5, "price"),
                (7, "total_coin"),
                (8, "coin_type"),
                (9, "tid"),
                (10, "timestamp"),
                (12, "rnd"),
                (18, "action"),
            ],
            &info,
        )?;
        if let Some(i) = gift.remove("#35") {
            gift.insert("gift_info".into(), i);
        }
        for (k, v) in &top {
            match k.as_str() {
                "#8" => gift.insert("medal_info".into(), v.clone()),
                _ => gift.insert(k.clone(), v.clone()),
            };
        }
        out.push(Value::Object(gift));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64, wire: u64, out: &mut Vec<u8>) {
        put_varint((n << 3) | wire, out);
    }

    fn put_varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn int(n: u64, v: u64, out: &mut Vec<u8>) {
        key(n, 0, out);
        put_varint(v, out);
    }

    fn bytes(n: u64, b: &[u8], out: &mut Vec<u8>) {
        key(n, 2, out);
        put_varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn encode64(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn a_protobuf_gift_reads_like_a_json_one() {
        let mut medal = Vec::new();
        int(1, 9617619, &mut medal);
        int(5, 21, &mut medal);
        bytes(6, "小狗牌".as_bytes(), &mut medal);
        let mut img = Vec::new();
        bytes(1, b"https://s1.hdslb.com/bfs/live/flower.png", &mut img);
        let mut item = Vec::new();
        int(1, 31036, &mut item);
        bytes(2, "小花花".as_bytes(), &mut item);
        int(3, 3, &mut item);
        int(7, 300, &mut item);
        bytes(8, b"gold", &mut item);
        bytes(9, b"1733203001000000009", &mut item);
        int(10, 1733203001, &mut item);
        bytes(18, "投喂".as_bytes(), &mut item);
        bytes(35, &img, &mut item);
        let mut pb = Vec::new();
        int(1, 37903025, &mut pb);
        bytes(2, "玉麟珑".as_bytes(), &mut pb);
        bytes(3, b"https://i0.hdslb.com/bfs/face/x.jpg", &mut pb);
        int(5, 3, &mut pb);
        bytes(8, &medal, &mut pb);
        bytes(10, &item, &mut pb);
        let data = json!({"pb": encode64(&pb)});
        let gifts = gifts(&data).unwrap();
        assert_eq!(gifts.len(), 1);
        let g = &gifts[0];
        assert_eq!(g["giftName"], "小花花");
        assert_eq!(g["num"], 3);
        assert_eq!(g["total_coin"], 300);
        assert_eq!(g["coin_type"], "gold");
        assert_eq!(g["tid"], "1733203001000000009");
        assert_eq!(g["uid"], 37903025);
        assert_eq!(g["uname"], "玉麟珑");
        assert_eq!(g["guard_level"], 3);
        assert_eq!(g["medal_info"]["medal_name"], "小狗牌");
        assert_eq!(
            g["gift_info"]["img_basic"],
            "https://s1.hdslb.com/bfs/live/flower.png"
        );
        assert_eq!(base64("aGk=").unwrap(), b"hi");
        assert_eq!(base64("aGk").unwrap(), b"hi", "padding is optional");
        assert_eq!(base64("-_8=").unwrap(), [0xfb, 0xff], "URL-safe too");
        assert!(gifts_of_junk());
    }

    fn gifts_of_junk() -> bool {
        gifts(&json!({"pb": "!!!"})).is_none()
            && gifts(&json!({"pb": encode64(&[0x0a, 0x20, 0x01])})).is_none()
            && gifts(&json!({})).is_none()
    }
}
