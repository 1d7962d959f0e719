//! One IRC line as Twitch sends it: IRCv3 tags (unescaped exactly as the
//! message-tags spec and Twitch do it), prefix, command, middle params and
//! the trailing one; and the structured tag values Twitch puts in them
//! (`badges`, `badge-info`, `emotes`).
//!
//! Pure parsing: no I/O, no clock, nothing of the crate. It must not decide
//! what a message means (that is `messages`), and it is lenient where being
//! strict would lose a message: a malformed tag is dropped, the line kept;
//! emote ranges out of the text are clamped or skipped.

use std::collections::HashMap;

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Tag values, unescaped. A tag without `=` has the empty value.
    pub tags: HashMap<String, String>,
    /// The prefix without its `:` (`nick!user@host` or a server name).
    pub prefix: Option<String>,
    /// The command, upper-case (`PRIVMSG`, `001`).
    pub command: String,
    /// Middle params, then the trailing one (without its `:`) if present.
    pub params: Vec<String>,
}

/// Why a line is no message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("an empty line")]
    Empty,
    #[error("no command after the tags or prefix")]
    NoCommand,
    #[error("the command is neither a word nor a three-digit number")]
    BadCommand,
}

impl Message {
    /// Parses one line, without its `\r\n`.
    pub fn parse(line: &str) -> Result<Message, ParseError> {
        let mut rest = line.trim_end_matches(['\r', '\n']);
        if rest.trim().is_empty() {
            return Err(ParseError::Empty);
        }
        let mut message = Message::default();
        if let Some(after) = rest.strip_prefix('@') {
            let (tags, remainder) = after.split_once(' ').ok_or(ParseError::NoCommand)?;
            message.tags = parse_tags(tags);
            rest = remainder.trim_start_matches(' ');
        }
        if let Some(after) = rest.strip_prefix(':') {
            let (prefix, remainder) = after.split_once(' ').ok_or(ParseError::NoCommand)?;
            if !prefix.is_empty() {
                message.prefix = Some(prefix.to_owned());
            }
            rest = remainder.trim_start_matches(' ');
        }
        let (command, mut params) = match rest.split_once(' ') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let word = command.bytes().all(|b| b.is_ascii_alphabetic());
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if !word && !numeric {
            return Err(ParseError::BadCommand);
        }
        message.command = command.to_ascii_uppercase();
        while let Some(p) = params {
            let p = p.trim_start_matches(' ');
            if let Some(trailing) = p.strip_prefix(':') {
                message.params.push(trailing.to_owned());
                break;
            }
            if p.is_empty() {
                break;
            }
            let (param, next) = match p.split_once(' ') {
                Some((a, b)) => (a, Some(b)),
                None => (p, None),
            };
            message.params.push(param.to_owned());
            params = next;
        }
        Ok(message)
    }

    /// The value of tag `key`, if the line has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The value of tag `key` when it is there and not empty.
    pub fn tag_nonempty(&self, key: &str) -> Option<&str> {
        self.tag(key).filter(|v| !v.is_empty())
    }

    /// The nick of a `nick!user@host` prefix; `None` for a server prefix.
    pub fn nick(&self) -> Option<&str> {
        let prefix = self.prefix.as_deref()?;
        if !prefix.contains(['!', '@']) {
            return None;
        }
        let nick = prefix.split(['!', '@']).next().unwrap_or("");
        (!nick.is_empty()).then_some(nick)
    }

    /// Param `i`, if present.
    pub fn param(&self, i: usize) -> Option<&str> {
        self.params.get(i).map(String::as_str)
    }

    /// The channel a message is about (`#name` → `name`), lower-case.
    pub fn channel(&self) -> Option<String> {
        self.param(0)
            .and_then(|c| c.strip_prefix('#'))
            .map(str::to_ascii_lowercase)
    }
}

/// Reads `k1=v1;k2;k3=v3`. A tag with an empty key or a key outside the
/// spec's characters is dropped; the others are kept. A key sent twice
/// keeps its last value.
fn parse_tags(raw: &str) -> HashMap<String, String> {
    let mut tags = HashMap::new();
    for item in raw.split(';') {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k, unescape(v)),
            None => (item, String::new()),
        };
        if !valid_key(key) {
            continue;
        }
        tags.insert(key.to_owned(), value);
    }
    tags
}

/// `[+][vendor/]name` with letters, digits, `-`, and `.` in the vendor.
fn valid_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    let name = match key.rsplit_once('/') {
        Some((vendor, name)) => {
            let vendor_ok = !vendor.is_empty()
                && vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !vendor_ok {
                return false;
            }
            name
        }
        None => key,
    };
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Undoes the tag-value escaping: `\:` → `;`, `\s` → space, `\\` → `\`,
/// `\r` → CR, `\n` → LF, any other `\x` → `x`, a lone `\` at the end
/// dropped.
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The inverse of [`unescape`], for the mock server and tests.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `name/version,name/version` (`badges`, `badge-info`) as pairs; an item
/// without `/` has the empty version.
pub fn badges(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .filter(|b| !b.is_empty())
        .map(|b| match b.split_once('/') {
            Some((name, version)) => (name.to_owned(), version.to_owned()),
            None => (b.to_owned(), String::new()),
        })
        .collect()
}

/// One emote in a message: its id and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emote {
    pub id: String,
    /// First code point of the emote in the message text.
    pub start: usize,
    /// One past its last code point (clamped to the text).
    pub end: usize,
    /// The text it covers: the emote's name.
    pub name: String,
}

/// Reads the `emotes` tag (`id:start-end,start-end/id2:start-end`, ends
/// inclusive, positions in **code points** of `text`) against the text.
/// A range past the text's end is clamped (Twitch sends some), one that
/// starts past it or is malformed is skipped; the rest are kept, in text
/// order.
pub fn emotes(value: &str, text: &str) -> Vec<Emote> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for group in value.split('/').filter(|g| !g.is_empty()) {
        let Some((id, ranges)) = group.split_once(':') else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        for range in ranges.split(',') {
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(last)) = (a.parse::<usize>(), b.parse::<usize>()) else {
                continue;
            };
            if last < start || start >= chars.len() {
                continue;
            }
            let end = (last + 1).min(chars.len());
            out.push(Emote {
                id: id.to_owned(),
                start,
                end,
                name: chars[start..end].iter().collect(),
            });
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

#[cfg(test)]
#[path = "irc_tests.rs"]
mod tests;
