//! A Bilibili live mock on loopback: the HTTP side (`room_init`,
//! `get_info`, WBI-signed `getDanmuInfo` that answers only with a `buvid3`
//! cookie, `nav` for the WBI keys, a front page that sets `buvid3`) in
//! wiremock, and a danmaku WebSocket speaking
//! the binary protocol with its own encoder: it checks the auth packet's
//! header and fields, answers the auth and each heartbeat (the reply's
//! length excluding the echo, as the real server), and sends each
//! connection's scripted frames of brotli-packed commands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use wiremock::matchers::{header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The short id the tests configure and the real id it resolves to.
pub const SHORT_ID: &str = "1017";
pub const REAL_ID: u64 = 21452505;
pub const OWNER_UID: u64 = 9617619;
pub const TOKEN: &str = "gZ2Pp2T4rIc2HfD0e53FHhQAwKWjb6-QDD84AcxXi8sk3S89Xcdv";

/// One packet as the server writes it: the 16-byte big-endian header.
pub fn packet(op: u32, ver: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    out.extend_from_slice(&16u16.to_be_bytes());
    out.extend_from_slice(&ver.to_be_bytes());
    out.extend_from_slice(&op.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A command packet (op 5, ver 0).
pub fn command(json: &str) -> Vec<u8> {
    packet(5, 0, json.as_bytes())
}

/// A brotli stream of uncompressed meta-blocks (how the documented
/// example frame is encoded), so the mock needs no compressor.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    let mut header: Vec<bool> = vec![true, true, false, true]; // WBITS 22
    for chunk in data.chunks(1 << 16) {
        header.push(false); // ISLAST
        header.extend([false, false]); // MNIBBLES: 4
        let m = chunk.len() - 1;
        header.extend((0..16).map(|i| m >> i & 1 == 1));
        header.push(true); // ISUNCOMPRESSED
        flush(&mut header, &mut out);
        out.extend_from_slice(chunk);
    }
    header.extend([true, true]); // ISLAST, ISLASTEMPTY
    flush(&mut header, &mut out);
    out
}

/// Writes `bits` LSB first, padded to a byte.
fn flush(bits: &mut Vec<bool>, out: &mut Vec<u8>) {
    for byte in bits.chunks(8) {
        out.push(
            byte.iter()
                .enumerate()
                .fold(0u8, |b, (i, on)| b | (u8::from(*on) << i)),
        );
    }
    bits.clear();
}

/// Commands packed the way the web server sends them: one ver-3 op-5
/// packet whose brotli body holds the command packets.
pub fn brotli_frame(packets: &[Vec<u8>]) -> Vec<u8> {
    packet(5, 3, &brotli_stored(&packets.concat()))
}

/// What one WebSocket connection does after the login.
#[derive(Clone, Default)]
pub struct Script {
    /// Frames sent, in order, right after the auth reply.
    pub frames: Vec<Vec<u8>>,
    /// Whether heartbeats are answered.
    pub silent: bool,
    /// Close the connection after the frames (else hold it open).
    pub close: bool,
    /// Refuse the login (`{"code":-101}`) however good it is.
    pub refuse: bool,
}

/// What the mock saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// Each connection's auth body.
    pub auths: Vec<Value>,
    /// Header fields of each auth packet: (packet len ok, header len, ver, op, seq).
    pub auth_headers: Vec<(bool, u16, u16, u32, u32)>,
    /// The User-Agent of each WebSocket handshake.
    pub user_agents: Vec<String>,
    /// Heartbeats received, over all connections.
    pub heartbeats: usize,
}

pub struct LiveMock {
    pub http: MockServer,
    pub ws: String,
    pub seen: Arc<Mutex<Seen>>,
}

/// Starts both sides; connection n follows `scripts[n]` (the last script
/// repeats).
pub async fn start(scripts: Vec<Script>) -> LiveMock {
    let http = MockServer::start().await;
    let ok = |data: Value| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"code":0,"msg":"ok","message":"ok","data":data}))
    };
    Mock::given(method("GET"))
        .and(path("/room/v1/Room/room_init"))
        .and(query_param("id", SHORT_ID))
        .respond_with(ok(json!({
            "room_id": REAL_ID, "short_id": 1017, "uid": OWNER_UID, "need_p2p": 0,
            "is_hidden": false, "is_locked": false, "is_portrait": false, "live_status": 1,
            "hidden_till": 0, "lock_till": 0, "encrypted": false, "pwd_verified": false,
            "live_time": 1733200000, "room_shield": 0, "is_sp": 0, "special_type": 0
        })))
        .mount(&http)
        .await;
    Mock::given(method("GET"))
        .and(path("/room/v1/Room/get_info"))
        .and(query_param("room_id", REAL_ID.to_string()))
        .respond_with(ok(json!({
            "uid": OWNER_UID, "room_id": REAL_ID, "short_id": 1017, "attention": 1200,
            "online": 3456, "is_portrait": false, "description": "", "live_status": 1,
            "area_id": 371, "parent_area_id": 9, "title": "晚间杂谈 evening chat",
            "user_cover": "https://i0.hdslb.com/bfs/live/new_room_cover/x.jpg"
        })))
        .mount(&http)
        .await;
    Mock::given(method("GET"))
        .and(path("/x/web-interface/nav"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": -101, "message": "账号未登录", "ttl": 1,
            "data": {"isLogin": false, "wbi_img": {
                "img_url": "https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
                "sub_url": "https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}}
        })))
        .mount(&http)
        .await;
    Mock::given(method("GET"))
        .and(path("/xlive/web-room/v1/index/getDanmuInfo"))
        .and(query_param("id", REAL_ID.to_string()))
        // Bilibili refuses getDanmuInfo without a buvid3 cookie.
        .and(header_regex("cookie", "(^|; ?)buvid3=[^;]+"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "0", "ttl": 1,
            "data": {"group": "live", "business_id": 0, "refresh_row_factor": 0.125,
                     "refresh_rate": 100, "max_delay": 5000, "token": TOKEN,
                     "host_list": [{"host": "127.0.0.1", "port": 2243, "wss_port": 2245, "ws_port": 2244}]}
        })))
        .mount(&http)
        .await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "set-cookie",
                    "buvid3=MOCK-BUVID-0001infoc; path=/; domain=.bilibili.com",
                )
                .set_body_string("<!DOCTYPE html><title>bilibili</title>"),
        )
        .mount(&http)
        .await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws = format!("ws://{}/sub", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let script = scripts[n.min(scripts.len() - 1)].clone();
            n += 1;
            tokio::spawn(serve(socket, script, record.clone()));
        }
    });
    LiveMock { http, ws, seen }
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(socket: tokio::net::TcpStream, script: Script, seen: Arc<Mutex<Seen>>) {
    let record = seen.clone();
    let handshake = move |req: &Request, resp: Response| {
        let ua = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        record.lock().unwrap().user_agents.push(ua);
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(socket, handshake).await else {
        return;
    };
    // The login: one binary frame, within 5 s.
    let Ok(Some(Ok(Message::Binary(auth)))) =
        tokio::time::timeout(Duration::from_secs(5), ws.next()).await
    else {
        return;
    };
    let field = |at: usize, n: usize| {
        auth[at..at + n]
            .iter()
            .fold(0u32, |v, b| v << 8 | u32::from(*b))
    };
    let header = (
        field(0, 4) as usize == auth.len(),
        field(4, 2) as u16,
        field(6, 2) as u16,
        field(8, 4),
        field(12, 4),
    );
    let body: Value = serde_json::from_slice(&auth[16..]).unwrap_or(Value::Null);
    let valid = header == (true, 16, 1, 7, 1)
        && body["roomid"] == REAL_ID
        && body["protover"] == 3
        && body["platform"] == "web"
        && body["type"] == 2
        && body["key"] == TOKEN
        && body["buvid"].as_str().is_some_and(|b| !b.is_empty())
        && body["uid"].is_u64();
    {
        let mut s = seen.lock().unwrap();
        s.auths.push(body);
        s.auth_headers.push(header);
    }
    let code = if valid && !script.refuse { 0 } else { -101 };
    let reply = packet(8, 1, format!("{{\"code\":{code}}}").as_bytes());
    if ws.send(Message::binary(reply)).await.is_err() || code != 0 {
        let _ = ws.close(None).await;
        return;
    }
    for frame in script.frames {
        if ws.send(Message::binary(frame)).await.is_err() {
            return;
        }
    }
    if script.close {
        let _ = ws.close(None).await;
        return;
    }
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Binary(b) = msg else { continue };
        if b.len() >= 16 && b[8..12] == [0, 0, 0, 2] {
            seen.lock().unwrap().heartbeats += 1;
            if !script.silent {
                // Popularity, then the echo the length does not count.
                let mut reply = packet(3, 1, &1234u32.to_be_bytes());
                reply.extend_from_slice(&b[16..]);
                if ws.send(Message::binary(reply)).await.is_err() {
                    return;
                }
            }
        }
    }
}
