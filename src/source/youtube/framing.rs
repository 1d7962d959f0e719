//! The framing of `liveChatMessages.streamList` over REST: a JSON array
//! written a piece at a time (`[`, an object per batch, `,` …, `]` when the
//! server ends the response), read by brace depth with string and escape
//! tracking, never by lines. A bare sequence of objects (concatenated or one
//! per line) is read the same way, so a change of framing degrades
//! gracefully. Pure bytes in, JSON objects out: no network, no log.

/// Splits a byte stream into the top-level JSON objects it carries.
#[derive(Debug, Default)]
pub struct ObjectSplitter {
    /// The bytes of the object being read (empty between objects).
    current: Vec<u8>,
    /// Brace and bracket depth inside the current object.
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// The most bytes one pushed object may take: a stream that never closes
/// its object is cut off rather than held in memory without bound.
pub const MAX_OBJECT_BYTES: usize = 8 * 1024 * 1024;

/// What the splitter could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("a pushed object is larger than {MAX_OBJECT_BYTES} bytes")]
    TooLarge,
    #[error("unexpected byte {0:#04x} between pushed objects")]
    Unexpected(u8),
}

impl ObjectSplitter {
    /// Feeds `chunk`; returns each object completed by it, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.depth == 0 {
                match b {
                    b'{' => {
                        self.current.push(b);
                        self.depth = 1;
                    }
                    // The array around the objects, its commas, whitespace.
                    b'[' | b']' | b',' | b' ' | b'\t' | b'\r' | b'\n' => {}
                    other => return Err(FramingError::Unexpected(other)),
                }
                continue;
            }
            self.current.push(b);
            if self.current.len() > MAX_OBJECT_BYTES {
                return Err(FramingError::TooLarge);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        out.push(std::mem::take(&mut self.current));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether an object was cut off part way (the connection closed
    /// inside it).
    pub fn is_mid_object(&self) -> bool {
        self.depth > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], chunk: usize) -> Vec<serde_json::Value> {
        let mut s = ObjectSplitter::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            for o in s.push(piece).unwrap() {
                out.push(serde_json::from_slice(&o).unwrap());
            }
        }
        assert!(!s.is_mid_object());
        out
    }

    const TRICKY: &str = r#"{"nextPageToken":"t1","items":[{"id":"a","snippet":{"displayMessage":"} ] { [ \" \\"}}]}"#;

    #[test]
    fn an_array_written_piecewise_yields_each_object_whatever_the_separators() {
        for sep in [",", ",\n", "\n,", "\r\n,", " , "] {
            let input = format!("[{TRICKY}{sep}{{\"nextPageToken\":\"t2\",\"items\":[]}}\n]");
            for chunk in [1, 2, 7, 4096] {
                let objects = split_all(input.as_bytes(), chunk);
                assert_eq!(objects.len(), 2, "{sep:?} in chunks of {chunk}");
                assert_eq!(objects[0]["nextPageToken"], "t1");
                assert_eq!(
                    objects[0]["items"][0]["snippet"]["displayMessage"],
                    "} ] { [ \" \\"
                );
                assert_eq!(objects[1]["nextPageToken"], "t2");
            }
        }
    }

    #[test]
    fn bare_objects_concatenated_or_one_per_line_are_read_too() {
        let input = format!("{TRICKY}{TRICKY}\n{TRICKY}\n");
        assert_eq!(split_all(input.as_bytes(), 3).len(), 3);
    }

    #[test]
    fn an_object_cut_off_is_not_emitted_and_garbage_is_refused() {
        let mut s = ObjectSplitter::default();
        assert!(s.push(b"[{\"a\":1},{\"b\":").unwrap().len() == 1);
        assert!(s.is_mid_object());
        let mut s = ObjectSplitter::default();
        assert_eq!(s.push(b"<html>"), Err(FramingError::Unexpected(b'<')));
    }
}
