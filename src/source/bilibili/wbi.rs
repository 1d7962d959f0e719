//! WBI request signing: the mixin key from the nav endpoint's two keys, and
//! the signed query string (`wts`, `w_rid`). Pure computation on strings;
//! the requests themselves are `mod.rs`'s.

use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;

use super::super::SourceError;
use super::super::http::JsonResponse;
use super::*;

/// WBI: the order in which `img_key + sub_key` is shuffled into the mixin key.
pub(super) const MIXIN_KEY_ENC_TAB: [usize; 64] = [
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29,
    28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25,
    54, 21, 56, 59, 6, 63, 57, 62, 11, 36, 20, 34, 44, 52,
];

/// `encodeURIComponent`: everything but letters, digits and `-_.~!*'()`
/// is escaped. `!*'()` never reach the encoder (WBI strips them first), so
/// leaving them in the set changes nothing.
pub(super) const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The WBI mixin key: `img_key + sub_key` shuffled by `MIXIN_KEY_ENC_TAB`,
/// first 32 characters. `None` if the keys are too short or not ASCII (the
/// table indexes 64 characters).
pub fn mixin_key(img_key: &str, sub_key: &str) -> Option<String> {
    let raw: Vec<u8> = img_key.bytes().chain(sub_key.bytes()).collect();
    if raw.len() < 64 || !raw.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mixed: String = MIXIN_KEY_ENC_TAB
        .iter()
        .take(32)
        .map(|&i| char::from(raw[i]))
        .collect();
    Some(mixed)
}

/// Signs `params` with WBI and returns the finished query string:
/// the parameters plus `wts`, sorted by name, `!'()*` stripped from values,
/// encoded like `encodeURIComponent`, then `&w_rid=md5(query + mixin)`.
///
/// The request must send exactly this string: the server recomputes `w_rid`
/// from what it receives.
pub fn sign_query(params: &[(&str, &str)], mixin: &str, wts: i64) -> String {
    let wts = wts.to_string();
    let mut all: Vec<(&str, String)> = params
        .iter()
        .map(|(k, v)| {
            let clean: String = v.chars().filter(|c| !"!'()*".contains(*c)).collect();
            (*k, clean)
        })
        .collect();
    all.push(("wts", wts));
    all.sort_by(|a, b| a.0.cmp(b.0));
    let query = all
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, URI_COMPONENT),
                utf8_percent_encode(v, URI_COMPONENT)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let w_rid = format!("{:x}", Md5::digest(format!("{query}{mixin}").as_bytes()));
    format!("{query}&w_rid={w_rid}")
}

/// Reads the WBI keys out of a nav response. Logged out the body says
/// `code: -101` but still carries `wbi_img`, so the code only matters when
/// the keys are missing.
pub(super) fn read_nav(resp: &JsonResponse) -> Result<String, SourceError> {
    let img = &resp.body["data"]["wbi_img"];
    let key_of = |field: &str| {
        let url = img.get(field)?.as_str()?;
        let file = url.rsplit('/').next()?;
        let stem = file.split('.').next()?;
        (!stem.is_empty()).then_some(stem)
    };
    if let (Some(img_key), Some(sub_key)) = (key_of("img_url"), key_of("sub_url")) {
        return mixin_key(img_key, sub_key).ok_or_else(|| {
            SourceError::transient("Bilibili sent WBI keys of an unexpected shape")
        });
    }
    Err(match body_code(&resp.body) {
        Some(code) if is_risk_code(code) || resp.status == StatusCode::PRECONDITION_FAILED => {
            risk_control(&describe(code))
        }
        Some(code) => {
            SourceError::transient(format!("Bilibili sent no WBI signing keys (code {code})"))
        }
        None => SourceError::transient(format!(
            "Bilibili sent no WBI signing keys (HTTP {})",
            resp.status.as_u16()
        )),
    })
}
