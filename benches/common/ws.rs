//! The benchmarks' WebSocket client: as little as a client can do, so that
//! the load generator, which shares the machine's two cores with the
//! server, takes as few of them as it can. It opens a connection (RFC 6455
//! handshake, checked), then hands out each text message as a slice of its
//! own read buffer: no allocation or copy per message, no timer per read.
//! It answers pings, and ends at a close or at a message it does not expect
//! (a fragmented one: the servers measured never fragment). It knows only
//! TCP on loopback; it touches nothing of the server's.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The key every client sends, and the answer RFC 6455 gives for it
/// (section 1.3's sample).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What a client's read buffer starts at. It doubles, up to [`KEEP`], when
/// a read fills it (fewer reads for a poll's batch), grows further only for
/// a frame larger than itself, and goes back to this when it has been
/// drained from above [`KEEP`].
const START: usize = 8 * 1024;
const KEEP: usize = 64 * 1024;

pub struct Client {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not yet handed out.
    start: usize,
    end: usize,
}

/// Connects to `url` (`ws://host:port/path?query`) and completes the
/// handshake; an error says what went wrong.
pub async fn connect(url: &str) -> io::Result<Client> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| invalid("only ws:// URLs"))?;
    let (host, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let mut tcp = TcpStream::connect(host).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; START];
    let mut end = 0;
    let head_end = loop {
        if let Some(at) = buf[..end].windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if end == buf.len() {
            return Err(invalid("handshake response too long"));
        }
        let n = tcp.read(&mut buf[end..]).await?;
        if n == 0 {
            return Err(invalid("closed during the handshake"));
        }
        end += n;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") {
        let status = head.lines().next().unwrap_or_default().to_owned();
        return Err(invalid(&format!("handshake refused: {status}")));
    }
    let accepted = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .any(|(name, value)| {
            name.trim() == "sec-websocket-accept" && value.trim() == ACCEPT.to_ascii_lowercase()
        });
    if !accepted {
        return Err(invalid("wrong Sec-WebSocket-Accept"));
    }
    Ok(Client {
        tcp,
        buf,
        start: head_end,
        end,
    })
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// One server frame at the front of `data`: (FIN, opcode, payload range),
/// or `None` until all of it is there; `Err` for a masked frame.
fn frame(data: &[u8]) -> io::Result<Option<(bool, u8, std::ops::Range<usize>)>> {
    if data.len() < 2 {
        return Ok(None);
    }
    if data[1] & 0x80 != 0 {
        return Err(invalid("a server frame must not be masked"));
    }
    let (len, at) = match data[1] & 0x7f {
        126 if data.len() >= 4 => (u16::from_be_bytes([data[2], data[3]]) as usize, 4),
        127 if data.len() >= 10 => (
            u64::from_be_bytes(data[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return Ok(None),
        len => (len as usize, 2),
    };
    if data.len() < at + len {
        return Ok(None);
    }
    Ok(Some((data[0] & 0x80 != 0, data[0] & 0x0f, at..at + len)))
}

impl Client {
    /// The next text message; `None` when the server closed (with a close
    /// frame or the connection). Pings are answered on the way.
    pub async fn next_text(&mut self) -> io::Result<Option<&str>> {
        loop {
            let data = &self.buf[self.start..self.end];
            match frame(data)? {
                Some((fin, opcode, range)) => {
                    let (from, to) = (self.start + range.start, self.start + range.end);
                    self.start = to;
                    match (fin, opcode) {
                        (true, 0x1) => {
                            let text = std::str::from_utf8(&self.buf[from..to])
                                .map_err(|_| invalid("a text message that is not UTF-8"))?;
                            return Ok(Some(text));
                        }
                        (true, 0x9) => {
                            let payload = self.buf[from..to].to_vec();
                            self.pong(&payload).await?;
                        }
                        (true, 0x8) => return Ok(None),
                        (true, 0x2 | 0xa) => {}
                        _ => return Err(invalid("a fragmented message")),
                    }
                }
                None => {
                    if !self.fill().await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Reads more; `false` at the end of the connection.
    async fn fill(&mut self) -> io::Result<bool> {
        // Keep only what is unread, at the front.
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == 0 && self.buf.len() > KEEP {
            self.buf = vec![0u8; START];
        }
        if self.end == self.buf.len() {
            // A frame larger than the buffer: make room for it (its header
            // says how much), or double.
            let want = match self.buf[1] & 0x7f {
                127 if self.end >= 10 => {
                    10 + u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize
                }
                _ => 0,
            };
            let len = want.max(self.buf.len() * 2);
            self.buf.resize(len, 0);
        }
        let n = self.tcp.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        if self.end == self.buf.len() && self.buf.len() < KEEP {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        Ok(n > 0)
    }

    /// Answers a ping: a masked pong (clients must mask) with its payload.
    async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        let mask = [0x5a, 0xa5, 0x3c, 0xc3];
        let mut out = vec![0x8a, 0x80 | payload.len() as u8];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&out).await
    }
}
