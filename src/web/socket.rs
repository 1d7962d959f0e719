//! The server side of a WebSocket (RFC 6455) for the live feeds: the
//! upgrade handshake, then a connection that writes frames the hub already
//! encoded, shared by every client, straight to the socket in one vectored
//! write per batch, and reads the little a client sends (close, ping,
//! pong). It knows nothing of what a frame means (`ws` decides what to
//! send) and must not touch the hub, the log or any state of the app.
//!
//! Why not axum's `WebSocket`: tungstenite copies every outgoing frame into
//! a write buffer of the connection's own, which grows to the largest batch
//! it was handed (the 300-comment backlog, for a dashboard that just
//! connected) and never shrinks: about 16 KiB held by every idle dashboard,
//! and a copy of every frame for every client. Here a batch costs a few
//! header bytes per frame, gone when it is written, and an idle connection
//! holds nothing but a read buffer that starts empty. Frame headers are
//! parsed and formatted by tungstenite's `FrameHeader`.

use std::future::Future;
use std::io::{self, Cursor, IoSlice};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Largest frame a client may send: clients only send close, ping and pong.
const MAX_CLIENT_FRAME: u64 = 4096;
/// A read buffer that grew past this is given back once it is empty.
const KEEP_READ: usize = 512;
/// Most slices handed to one `writev` (Linux's `IOV_MAX`).
const MAX_SLICES: usize = 1024;

/// A WebSocket upgrade request that passed the handshake's checks.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let bad = |why: &'static str| (StatusCode::BAD_REQUEST, why).into_response();
        if parts.method != Method::GET {
            return Err((
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket opens with GET\n",
            )
                .into_response());
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(bad("Connection header did not include 'upgrade'\n"));
        }
        if !has_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(bad("Upgrade header did not include 'websocket'\n"));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(bad("Sec-WebSocket-Version must be 13\n"));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Err(bad("Sec-WebSocket-Key header missing\n"));
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err((
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded\n",
            )
                .into_response());
        };
        Ok(Upgrade { key, on_upgrade })
    }
}

/// Whether the comma-separated `name` header lists `token`, in any case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl Upgrade {
    /// The `101 Switching Protocols` answer; once it is sent, `run` gets the
    /// connection (on a task of its own).
    pub fn on_upgrade<F, Fut>(self, run: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                run(Socket::new(upgraded)).await;
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

/// What a client sent, as far as a feed cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Answer with [`Socket::pong`].
    Ping(Bytes),
    /// The client is closing: answer with [`Socket::close`] and stop.
    Close,
    /// A pong, or a data frame (clients have nothing to say; it is ignored
    /// but shows the client is alive).
    Other,
}

/// Why reading stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    /// The connection ended or failed.
    Gone,
    /// The client broke the protocol: close with 1002 and this reason.
    Protocol(&'static str),
    /// A frame larger than a client ever needs: close with 1009.
    TooBig,
}

/// One upgraded connection.
pub struct Socket {
    io: TokioIo<Upgraded>,
    read: BytesMut,
}

impl Socket {
    fn new(upgraded: Upgraded) -> Socket {
        Socket {
            io: TokioIo::new(upgraded),
            read: BytesMut::new(),
        }
    }

    /// The next frame from the client. Cancel-safe: nothing read is lost
    /// when the future is dropped (it only reads; answers are written by
    /// the caller).
    pub async fn recv(&mut self) -> Result<Incoming, Broken> {
        loop {
            if let Some(frame) = parse(&mut self.read)? {
                return Ok(frame);
            }
            match self.io.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return Err(Broken::Gone),
                Ok(_) => {}
            }
        }
    }

    /// Writes each of `texts` as a text message; `batched`, all of them as
    /// one text message holding a JSON array of them (each must be JSON).
    /// One vectored write: the texts themselves are not copied.
    pub async fn send_texts(&mut self, texts: &[&[u8]], batched: bool) -> io::Result<()> {
        if texts.is_empty() {
            return Ok(());
        }
        let mut heads = Vec::with_capacity(texts.len() * 4);
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(texts.len() * 2 + 1);
        if batched && texts.len() > 1 {
            // `[` + texts joined by `,` + `]`.
            let len = texts.iter().map(|t| t.len() + 1).sum::<usize>() + 1;
            format_header(&mut heads, OpCode::Data(Data::Text), len);
            slices.push(IoSlice::new(&heads));
            for (i, text) in texts.iter().enumerate() {
                slices.push(IoSlice::new(if i == 0 { b"[" } else { b"," }));
                slices.push(IoSlice::new(text));
            }
            slices.push(IoSlice::new(b"]"));
        } else {
            let mut ends = Vec::with_capacity(texts.len());
            for text in texts {
                format_header(&mut heads, OpCode::Data(Data::Text), text.len());
                ends.push(heads.len());
            }
            let mut start = 0;
            for (end, text) in ends.into_iter().zip(texts) {
                slices.push(IoSlice::new(&heads[start..end]));
                slices.push(IoSlice::new(text));
                start = end;
            }
        }
        write_all(&mut self.io, &mut slices).await
    }

    pub async fn ping(&mut self) -> io::Result<()> {
        self.control(Control::Ping, &[]).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.control(Control::Pong, payload).await
    }

    /// Sends a close frame with `code` and `reason` (at most 123 bytes).
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
        self.control(Control::Close, &payload).await
    }

    async fn control(&mut self, control: Control, payload: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(2 + payload.len());
        format_header(&mut frame, OpCode::Control(control), payload.len());
        frame.extend_from_slice(payload);
        self.io.write_all(&frame).await?;
        self.io.flush().await
    }
}

/// An unmasked (server) frame's header for a final frame of `len` bytes.
fn format_header(out: &mut Vec<u8>, opcode: OpCode, len: usize) {
    let head = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    // Writing to a Vec cannot fail.
    let _ = head.format(len as u64, out);
}

/// Writes every slice, however many `writev` calls it takes.
async fn write_all(io: &mut TokioIo<Upgraded>, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        let upto = slices.len().min(MAX_SLICES);
        let n = io.write_vectored(&slices[..upto]).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    io.flush().await
}

/// Takes one whole frame off the front of `buf`, if it holds one.
fn parse(buf: &mut BytesMut) -> Result<Option<Incoming>, Broken> {
    let mut cursor = Cursor::new(&buf[..]);
    let Some((head, len)) =
        FrameHeader::parse(&mut cursor).map_err(|_| Broken::Protocol("bad frame header"))?
    else {
        return Ok(None);
    };
    if len > MAX_CLIENT_FRAME {
        return Err(Broken::TooBig);
    }
    let (at, len) = (cursor.position() as usize, len as usize);
    if buf.len() < at + len {
        buf.reserve(at + len - buf.len());
        return Ok(None);
    }
    let Some(mask) = head.mask else {
        return Err(Broken::Protocol("client frames must be masked"));
    };
    if head.rsv1 || head.rsv2 || head.rsv3 {
        return Err(Broken::Protocol("no extension was negotiated"));
    }
    buf.advance(at);
    let mut payload = buf.split_to(len);
    if buf.is_empty() && buf.capacity() > KEEP_READ {
        *buf = BytesMut::new();
    }
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    match head.opcode {
        OpCode::Control(_) if !head.is_final || len > 125 => {
            Err(Broken::Protocol("control frames are short and whole"))
        }
        OpCode::Control(Control::Ping) => Ok(Some(Incoming::Ping(payload.freeze()))),
        OpCode::Control(Control::Close) => Ok(Some(Incoming::Close)),
        OpCode::Control(Control::Pong) => Ok(Some(Incoming::Other)),
        OpCode::Data(Data::Text | Data::Binary | Data::Continue) => Ok(Some(Incoming::Other)),
        OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
            Err(Broken::Protocol("unknown opcode"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked, as RFC 6455 requires.
    fn client_frame(opcode: u8, payload: &[u8], fin: bool) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn reads_whole_frames_only_and_unmasks_them() {
        let mut wire = client_frame(0x9, b"are you there", true);
        wire.extend(client_frame(0xA, b"", true));
        wire.extend(client_frame(0x8, &1000u16.to_be_bytes(), true));
        // Byte by byte: nothing is returned before a frame is whole.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = parse(&mut buf).unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(
            got,
            [
                Incoming::Ping(Bytes::from_static(b"are you there")),
                Incoming::Other,
                Incoming::Close
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_what_a_client_may_not_send() {
        let parse_one = |wire: Vec<u8>| parse(&mut BytesMut::from(&wire[..]));
        // Unmasked.
        assert!(matches!(
            parse_one(vec![0x81, 0x02, b'h', b'i']),
            Err(Broken::Protocol(_))
        ));
        // Too large, refused from the header alone.
        let mut big = vec![0x81, 0x80 | 127];
        big.extend_from_slice(&(1u64 << 40).to_be_bytes());
        big.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(parse_one(big), Err(Broken::TooBig));
        assert_eq!(
            parse_one(client_frame(0x1, &[b'x'; 5000], true)),
            Err(Broken::TooBig)
        );
        // A fragmented ping, a reserved bit, an unknown opcode.
        assert!(parse_one(client_frame(0x9, b"x", false)).is_err());
        let mut rsv = client_frame(0x1, b"x", true);
        rsv[0] |= 0x40;
        assert!(parse_one(rsv).is_err());
        assert!(parse_one(client_frame(0x3, b"x", true)).is_err());
        // Text and binary are allowed and ignored.
        assert_eq!(
            parse_one(client_frame(0x1, b"{}", true)),
            Ok(Some(Incoming::Other))
        );
    }

    #[test]
    fn server_headers_follow_the_length_forms() {
        for (len, head) in [
            (5usize, vec![0x81, 5]),
            (125, vec![0x81, 125]),
            (126, vec![0x81, 126, 0, 126]),
            (65_535, vec![0x81, 126, 0xff, 0xff]),
            (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let mut out = Vec::new();
            format_header(&mut out, OpCode::Data(Data::Text), len);
            assert_eq!(out, head, "{len}");
        }
        let mut ping = Vec::new();
        format_header(&mut ping, OpCode::Control(Control::Ping), 0);
        assert_eq!(ping, [0x89, 0]);
    }
}
