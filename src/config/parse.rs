//! Parsing helpers shared by every setting: one range check, durations,
//! base URLs, word lists, `CW_DB`, `CW_RETENTION`, `CW_POLL`, `CW_LISTEN`. Each error
//! names the variable, the value and what would be accepted.

use std::ops::RangeBounds;
use std::str::FromStr;
use std::time::Duration;

use crate::domain::{ConfigError, Schedule};

/// Parses `value` (trimmed) as a `T` inside `range`; anything else is an
/// error naming `var`, the value and `expected`.
pub fn in_range<T: FromStr + PartialOrd>(
    var: &str,
    value: &str,
    range: impl RangeBounds<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match value.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError::invalid(var, value, expected)),
    }
}

/// Parses `CW_DB`; a password in a URL that does not parse is not echoed.
pub fn parse_db(value: &str) -> Result<crate::store::Target, ConfigError> {
    crate::store::Target::parse(value)
        .map_err(|why| ConfigError::invalid("CW_DB", &crate::domain::redact(value), why))
}

/// Parses `CW_RETENTION`: a duration of at least an hour, or unset, empty
/// or `forever` to keep everything.
pub fn parse_retention(value: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    let Some(v) = value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "forever")
    else {
        return Ok(None);
    };
    match humantime::parse_duration(v) {
        Ok(d) if d >= Duration::from_secs(3600) && !v.contains(' ') => Ok(Some(d)),
        _ => Err(ConfigError::invalid(
            "CW_RETENTION",
            v,
            "expected how long to keep comments, at least 1h, without spaces (90d, 12h), or forever",
        )),
    }
}

/// Parses `CW_POLL`: a duration, or a six-field cron expression.
pub fn parse_schedule(value: &str) -> Result<Schedule, ConfigError> {
    Schedule::parse(value, chrono::Utc::now())
        .map_err(|expected| ConfigError::invalid("CW_POLL", value, expected))
}

/// A base URL such as `https://api.example.com`: http(s), no trailing slash.
pub fn parse_base_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::invalid(
            var,
            value,
            "expected an http(s) URL such as https://api.example.com",
        )),
    }
}

/// A comma-separated list of words (`CW_HIGHLIGHT`, `CW_BLOCK`): trimmed,
/// empty entries dropped, at most 200 entries of at most 100 characters.
pub fn parse_word_list(var: &'static str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if words.len() > 200 || words.iter().any(|w| w.chars().count() > 100) {
        return Err(ConfigError::invalid(
            var,
            value,
            "expected at most 200 comma-separated words of at most 100 characters each",
        ));
    }
    Ok(words)
}

/// The longest duration any setting takes: a year. Longer ones are typos,
/// and would overflow the clock arithmetic they feed.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

pub fn parse_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if !d.is_zero() && d <= MAX_DURATION && !value.trim().contains(' ') => Ok(d),
        _ => Err(ConfigError::invalid(
            var,
            value,
            "expected a duration without spaces of at most a year, e.g. 15s or 1m",
        )),
    }
}

/// `CW_LISTEN`: an IP address and port, or a host name and port
/// (`localhost:3000`) resolved once, at start. Of what the name resolves to,
/// an IPv4 loopback address is bound first, then any loopback address, then
/// the first address: `localhost` means this machine only, as it says.
pub fn parse_listen(value: &str) -> Result<std::net::SocketAddr, ConfigError> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let refuse = |why: &str| {
        ConfigError::invalid(
            "CW_LISTEN",
            value,
            format!(
                "{why}; expected an address and port, e.g. 127.0.0.1:3000, localhost:3000 or [::1]:8080"
            ),
        )
    };
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(refuse("no port"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(refuse("not a host name and port"));
    }
    let found: Vec<SocketAddr> = value
        .to_socket_addrs()
        .map_err(|_| refuse("this host name does not resolve"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4() && a.ip().is_loopback())
        .or_else(|| found.iter().find(|a| a.ip().is_loopback()))
        .or_else(|| found.first())
        .copied()
        .ok_or_else(|| refuse("this host name resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_check_trims_parses_and_bounds() {
        assert_eq!(in_range("V", " 5 ", 1..=100, "e").unwrap(), 5u32);
        for bad in ["0", "101", "x", ""] {
            let e = in_range::<u32>("V", bad, 1..=100, "1 to 100").unwrap_err();
            assert_eq!(e.to_string(), format!("V={bad:?} is not valid: 1 to 100"));
        }
        let open = (
            std::ops::Bound::Excluded(0.0),
            std::ops::Bound::Included(24.0),
        );
        assert!(in_range::<f64>("V", "0", open, "e").is_err());
        assert!(in_range::<f64>("V", "NaN", open, "e").is_err());
        assert_eq!(in_range::<f64>("V", "24", open, "e").unwrap(), 24.0);
    }
}
