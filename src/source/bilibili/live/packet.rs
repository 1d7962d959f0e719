//! The danmaku server's binary packets: a 16-byte big-endian header
//! (packet length, header length, protocol version, operation, sequence)
//! and a body; bodies of protocol version 2 (zlib) and 3 (brotli) hold more
//! packets, decoded recursively. Pure computation on bytes: no I/O, no
//! JSON, nothing of the connection (`conn`) or of the commands
//! (`commands`).
//!
//! A malformed packet is skipped and counted; its neighbours in the same
//! frame are still read when the frame's layout allows it.

use std::io::Read;

/// The length of every header.
pub const HEADER_LEN: usize = 16;

/// A client's heartbeat (body ignored by the server).
pub const OP_HEARTBEAT: u32 = 2;
/// The server's answer to a heartbeat: 4 bytes of "popularity".
pub const OP_HEARTBEAT_REPLY: u32 = 3;
/// A command (JSON), possibly packed inside a compressed body.
pub const OP_COMMAND: u32 = 5;
/// The client's authentication (JSON).
pub const OP_AUTH: u32 = 7;
/// The server's answer to the authentication (`{"code":0}`).
pub const OP_AUTH_REPLY: u32 = 8;

/// Plain JSON body.
pub const VER_PLAIN: u16 = 0;
/// Plain body of heartbeats and authentication.
pub const VER_CONTROL: u16 = 1;
/// zlib-compressed packets.
pub const VER_ZLIB: u16 = 2;
/// brotli-compressed packets.
pub const VER_BROTLI: u16 = 3;

/// A decompressed body is never allowed past this (a small frame must not
/// inflate into gigabytes).
pub const MAX_INFLATED: usize = 16 << 20;

/// How deep compressed bodies may nest (the server nests once).
const MAX_DEPTH: usize = 4;

/// A packet's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Header plus body, in bytes.
    pub packet_len: u32,
    pub header_len: u16,
    pub ver: u16,
    pub op: u32,
    pub seq: u32,
}

/// What one frame (one WebSocket message) carried, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Bodies of plain command packets (op 5), each one JSON document.
    pub commands: Vec<Vec<u8>>,
    /// The popularity of each heartbeat reply.
    pub heartbeats: Vec<u32>,
    /// Bodies of authentication replies.
    pub auth_replies: Vec<Vec<u8>>,
    /// Operations no client needs (counted, then ignored).
    pub other_ops: Vec<u32>,
    /// Packets that could not be read.
    pub malformed: usize,
}

/// Encodes one packet: header and body as they are (no compression).
pub fn encode(op: u32, ver: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&(HEADER_LEN as u16).to_be_bytes());
    out.extend_from_slice(&ver.to_be_bytes());
    out.extend_from_slice(&op.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A packet the client sends: protocol version 1, sequence 1, as the web
/// client does.
pub fn client_packet(op: u32, body: &[u8]) -> Vec<u8> {
    encode(op, VER_CONTROL, 1, body)
}

/// Reads the header at the start of `bytes`, if there are 16 bytes.
pub fn read_header(bytes: &[u8]) -> Option<Header> {
    let h = bytes.get(..HEADER_LEN)?;
    Some(Header {
        packet_len: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        header_len: u16::from_be_bytes([h[4], h[5]]),
        ver: u16::from_be_bytes([h[6], h[7]]),
        op: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        seq: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
    })
}

/// Decodes every packet of one frame.
pub fn decode(frame: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    walk(frame, 0, &mut out);
    out
}

/// Walks the packets laid end to end in `bytes`.
fn walk(bytes: &[u8], depth: usize, out: &mut Decoded) {
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(h) = read_header(rest) else {
            // Fewer than 16 bytes left: a truncated packet.
            out.malformed += 1;
            return;
        };
        let len = h.packet_len as usize;
        let header_len = h.header_len as usize;
        if h.op == OP_HEARTBEAT_REPLY && header_len >= HEADER_LEN && rest.len() >= header_len + 4 {
            // The popularity is 4 bytes; the server echoes the heartbeat's
            // body after them, and its packet length may or may not count
            // that echo. Either way nothing after it is a packet.
            let p = &rest[header_len..header_len + 4];
            out.heartbeats
                .push(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            if len >= header_len + 4
                && len <= rest.len()
                && read_header(&rest[len..]).is_some_and(plausible)
            {
                at += len;
                continue;
            }
            return;
        }
        if len < HEADER_LEN || header_len < HEADER_LEN || header_len > len {
            // The length cannot be trusted: nothing after it can be found.
            out.malformed += 1;
            return;
        }
        if len > rest.len() {
            out.malformed += 1;
            return;
        }
        let body = &rest[header_len..len];
        at += len;
        match (h.op, h.ver) {
            (OP_COMMAND, VER_ZLIB | VER_BROTLI) => {
                if depth >= MAX_DEPTH {
                    out.malformed += 1;
                    continue;
                }
                match inflate(h.ver, body) {
                    Some(inner) => walk(&inner, depth + 1, out),
                    None => out.malformed += 1,
                }
            }
            (OP_COMMAND, _) => {
                if !body.is_empty() {
                    out.commands.push(body.to_vec());
                }
            }
            (OP_AUTH_REPLY, _) => out.auth_replies.push(body.to_vec()),
            (op, _) => out.other_ops.push(op),
        }
    }
}

/// Whether a header looks like one the server writes (used only to tell a
/// heartbeat echo from a following packet).
fn plausible(h: Header) -> bool {
    h.header_len as usize == HEADER_LEN && h.packet_len as usize >= HEADER_LEN && h.ver <= 3
}

/// Decompresses a body of version 2 (zlib) or 3 (brotli), capped.
fn inflate(ver: u16, body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = if ver == VER_ZLIB {
        flate2::read::ZlibDecoder::new(body)
            .take(MAX_INFLATED as u64 + 1)
            .read_to_end(&mut out)
    } else {
        brotli_decompressor::Decompressor::new(body, 4096)
            .take(MAX_INFLATED as u64 + 1)
            .read_to_end(&mut out)
    };
    match read {
        Ok(_) if out.len() <= MAX_INFLATED => Some(out),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// A brotli stream of uncompressed meta-blocks (what the server's
    /// example packet holds): valid brotli without a compressor.
    fn brotli_stored(data: &[u8]) -> Vec<u8> {
        // WBITS 22: bit 0 = 1, bits 1..3 = 5.
        let mut out = Vec::new();
        let mut bits: u64 = 0b1011;
        let mut n: u32 = 4;
        for chunk in data.chunks(1 << 16) {
            // ISLAST 0, MNIBBLES 0 (4 nibbles), MLEN-1 (16 bits), ISUNCOMPRESSED 1.
            bits |= ((chunk.len() as u64 - 1) << (n + 3)) | (1 << (n + 19));
            n += 20;
            while n > 0 {
                out.push(bits as u8);
                bits >>= 8;
                n = n.saturating_sub(8);
            }
            bits = 0;
            out.extend_from_slice(chunk);
        }
        // ISLAST 1, ISLASTEMPTY 1.
        bits |= 0b11 << n;
        n += 2;
        while n > 0 {
            out.push(bits as u8);
            bits >>= 8;
            n = n.saturating_sub(8);
        }
        out
    }

    fn command(json: &str) -> Vec<u8> {
        encode(OP_COMMAND, VER_PLAIN, 0, json.as_bytes())
    }

    #[test]
    fn the_documented_auth_reply_and_heartbeat_reply_decode() {
        let auth = [
            hex("00 00 00 1a 00 10 00 01 00 00 00 08 00 00 00 01"),
            b"{\"code\":0}".to_vec(),
        ]
        .concat();
        assert_eq!(
            read_header(&auth),
            Some(Header {
                packet_len: 26,
                header_len: 16,
                ver: 1,
                op: 8,
                seq: 1
            })
        );
        assert_eq!(decode(&auth).auth_replies, vec![b"{\"code\":0}".to_vec()]);
        // The reply's length excludes the echoed heartbeat body.
        let beat = [
            hex("00 00 00 14 00 10 00 01 00 00 00 03 00 00 00 00 00 00 09 a2"),
            b"[object Object]".to_vec(),
        ]
        .concat();
        let d = decode(&beat);
        assert_eq!(d.heartbeats, vec![2466]);
        assert_eq!(d.malformed, 0, "the echo is not a packet: {d:?}");
        // A length that counts the echo reads the same.
        let mut counted = beat.clone();
        counted[3] = beat.len() as u8;
        assert_eq!(decode(&counted).heartbeats, vec![2466]);
    }

    #[test]
    fn the_documented_brotli_packet_holds_one_command() {
        let inner =
            r#"{"cmd":"WATCHED_CHANGE","data":{"num":1,"text_small":"1","text_large":"1人看过"}}"#
                .as_bytes();
        let packet = command(std::str::from_utf8(inner).unwrap());
        let body = brotli_stored(&packet);
        assert_eq!(body[0], 0x8b, "WBITS 22, as in the documented frame");
        let frame = encode(OP_COMMAND, VER_BROTLI, 0, &body);
        let d = decode(&frame);
        assert_eq!(d.commands, vec![inner.to_vec()]);
        assert_eq!(d.malformed, 0);
    }

    #[test]
    fn a_documented_brotli_prefix_decodes_as_the_reference_says() {
        // `8b 38 80 00` announces an uncompressed meta-block of 0x72 bytes.
        let mut inner = encode(OP_COMMAND, VER_PLAIN, 0, &[b' '; 0x72 - 16]);
        inner[16] = b'{';
        inner[0x71] = b'}';
        let mut body = hex("8b 38 80");
        body.extend_from_slice(&inner);
        body.push(0x03);
        let d = decode(&encode(OP_COMMAND, VER_BROTLI, 0, &body));
        assert_eq!(d.commands.len(), 1, "{d:?}");
        assert_eq!(d.commands[0].len(), 0x72 - 16);
    }

    #[test]
    fn encode_and_decode_round_trip_in_every_version() {
        let a = command(r#"{"cmd":"A"}"#);
        let b = command(r#"{"cmd":"B","data":{"x":"中文"}}"#);
        let both = [a.clone(), b.clone()].concat();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&both).unwrap();
        let zlib = zlib.finish().unwrap();
        let frames = [
            both.clone(),
            encode(OP_COMMAND, VER_BROTLI, 0, &brotli_stored(&both)),
            encode(OP_COMMAND, VER_ZLIB, 0, &zlib),
        ];
        for frame in frames {
            let d = decode(&frame);
            assert_eq!(
                d.commands,
                vec![
                    br#"{"cmd":"A"}"#.to_vec(),
                    r#"{"cmd":"B","data":{"x":"中文"}}"#.as_bytes().to_vec()
                ]
            );
            assert_eq!(d.malformed, 0);
        }
        let h = read_header(&client_packet(OP_AUTH, b"{}")).unwrap();
        assert_eq!(
            (h.packet_len, h.header_len, h.ver, h.op, h.seq),
            (18, 16, 1, 7, 1)
        );
        let beat = client_packet(OP_HEARTBEAT, b"");
        assert_eq!(beat, hex("00 00 00 10 00 10 00 01 00 00 00 02 00 00 00 01"));
    }

    #[test]
    fn a_large_brotli_batch_spanning_meta_blocks_decodes() {
        let packets: Vec<u8> = (0..3000)
            .flat_map(|i| command(&format!(r#"{{"cmd":"DANMU_MSG","n":{i}}}"#)))
            .collect();
        assert!(packets.len() > 1 << 16);
        let d = decode(&encode(OP_COMMAND, VER_BROTLI, 0, &brotli_stored(&packets)));
        assert_eq!(d.commands.len(), 3000);
        assert_eq!(
            d.commands[2999],
            br#"{"cmd":"DANMU_MSG","n":2999}"#.to_vec()
        );
    }

    #[test]
    fn a_malformed_packet_is_counted_and_its_neighbours_kept() {
        let good = command(r#"{"cmd":"OK"}"#);
        // A compressed packet whose body is not brotli, between two good ones.
        let bad = encode(OP_COMMAND, VER_BROTLI, 0, b"not brotli at all");
        let frame = [good.clone(), bad, good.clone()].concat();
        let d = decode(&frame);
        assert_eq!(d.commands.len(), 2);
        assert_eq!(d.malformed, 1);
        // Inside a brotli batch too.
        let inner = [
            good.clone(),
            encode(OP_COMMAND, VER_ZLIB, 0, b"junk"),
            good.clone(),
        ]
        .concat();
        let d = decode(&encode(OP_COMMAND, VER_BROTLI, 0, &brotli_stored(&inner)));
        assert_eq!((d.commands.len(), d.malformed), (2, 1));
        // A truncated packet at the end loses only itself.
        let mut cut = [good.clone(), good.clone()].concat();
        cut.truncate(good.len() + 10);
        let d = decode(&cut);
        assert_eq!((d.commands.len(), d.malformed), (1, 1));
        // A length shorter than a header stops the walk, counted once.
        let mut short = good.clone();
        short[3] = 4;
        let d = decode(&[good.clone(), short].concat());
        assert_eq!((d.commands.len(), d.malformed), (1, 1));
        // Other operations are reported, not read as commands.
        let d = decode(&encode(6, VER_PLAIN, 0, b""));
        assert_eq!(d.other_ops, vec![6]);
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; MAX_INFLATED + 1024]).unwrap();
        let frame = encode(OP_COMMAND, VER_ZLIB, 0, &z.finish().unwrap());
        let d = decode(&frame);
        assert_eq!((d.commands.len(), d.malformed), (0, 1));
    }
}
