//! Twitch chat (`twitch:CHANNEL`), read anonymously over IRC on a WebSocket.
//!
//! `irc` parses one line. It must not touch the log, the web or the
//! sanitizer.

pub mod irc;
