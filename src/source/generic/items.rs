//! Mapping a generic API's response: the items array, and each item to a
//! `RawComment` through the configured pointers, one at a time (an item
//! that cannot be read is skipped, never its neighbours). Trusts nothing of
//! the response's shape.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::SourceError;
use super::*;
use crate::domain::RawComment;

/// Unix times above this are milliseconds, below it seconds: 10^11 seconds
/// is the year 5138, 10^11 milliseconds is 1973.
pub(super) const MILLIS_THRESHOLD: f64 = 1e11;

impl GenericSettings {
    /// Maps one item, or `None` when its `_ID` or `_TEXT` matches nothing
    /// usable. Optional fields that match nothing are left empty.
    pub(super) fn map_item(&self, item: &Value) -> Option<RawComment> {
        let id = self.id.get(item).and_then(scalar_text)?;
        if id.trim().is_empty() {
            return None;
        }
        let body = self.text.get(item).and_then(scalar_text)?;
        let (text, html) = match self.text_format {
            TextFormat::Plain => (body, None),
            // Empty text makes the sanitizer derive it from the cleaned HTML.
            TextFormat::Html => (String::new(), Some(body)),
        };
        let field =
            |p: &Option<Pointer>| p.as_ref().and_then(|p| p.get(item)).and_then(scalar_text);
        Some(RawComment {
            id,
            author_name: field(&self.author).unwrap_or_default(),
            author_id: field(&self.author_id).unwrap_or_default(),
            author_avatar: field(&self.avatar).filter(|a| !a.trim().is_empty()),
            text,
            html,
            published_at: self
                .time
                .as_ref()
                .and_then(|p| p.get(item))
                .and_then(parse_time),
            updated_at: None,
            likes: self
                .likes
                .as_ref()
                .and_then(|p| p.get(item))
                .and_then(parse_count)
                .unwrap_or(0),
            // Many APIs write 0 or "" for "not a reply" (Bilibili's `parent`).
            reply_to: field(&self.reply_to).filter(|r| !r.trim().is_empty() && r.trim() != "0"),
            amount: None,
            emotes: Vec::new(),
            ..RawComment::default()
        })
    }

    /// The array of items in a response. Matching nothing is an error (retried
    /// with backoff), not an empty page: an API that answers 200 with an error
    /// body looks exactly like this, and the source status should name the
    /// variable.
    pub(super) fn items<'a>(&self, body: &'a Value) -> Result<&'a Vec<Value>, SourceError> {
        let var = self.var("ITEMS");
        match body.pointer(&self.items.0) {
            None | Some(Value::Null) => Err(SourceError::Settings {
                reason: format!("{var} {:?} matches nothing in the response", self.items.0),
            }),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(SourceError::Settings {
                reason: format!(
                    "{var} {:?} matches {} in the response, not an array",
                    self.items.0,
                    json_kind(other)
                ),
            }),
        }
    }
}

/// A string, or a number as its exact JSON text (`12345678901234567` stays
/// exact: serde_json keeps integers as integers). Anything else is nothing.
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// RFC 3339, or unix seconds or milliseconds as a number or numeric string.
pub(super) fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let number = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let millis = if number > MILLIS_THRESHOLD {
        number
    } else {
        number * 1000.0
    };
    // Beyond i64 the cast saturates, and chrono refuses the result.
    DateTime::from_timestamp_millis(millis.round() as i64)
}

/// A count such as likes: a number or a numeric string, never negative.
pub(super) fn parse_count(v: &Value) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })?
        }
        _ => return None,
    };
    Some(n.max(0))
}

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
