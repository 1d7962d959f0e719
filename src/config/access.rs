//! Who may reach the server, as settings: the `Host` names it answers to
//! beyond its own (`CW_ALLOWED_HOSTS`) and the reverse proxies whose
//! `X-Forwarded-*` headers it believes (`CW_TRUSTED_PROXIES`). Parsing only:
//! `web` enforces them. Touches nothing but strings.

use std::net::{IpAddr, Ipv6Addr};

use super::ConfigError;

/// The access settings, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessSettings {
    /// Extra names the server answers to.
    pub allowed_hosts: Vec<HostName>,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` count.
    pub trusted_proxies: Vec<IpAddr>,
}

/// A host name as a `Host` header carries it: lower-case, no trailing dot,
/// an IPv6 address in brackets; `port: None` matches any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    pub host: String,
    pub port: Option<u16>,
}

impl HostName {
    /// Reads `name`, `name:port`, `1.2.3.4:port` or `[::1]:port`.
    pub fn parse(value: &str) -> Option<HostName> {
        let value = value.trim().to_ascii_lowercase();
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (addr, after) = rest.split_once(']')?;
            addr.parse::<Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
            };
            (format!("[{addr}]"), port)
        } else {
            let (host, port) = match value.rsplit_once(':') {
                Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
                None => (value.as_str(), None),
            };
            let host = host.strip_suffix('.').unwrap_or(host);
            let ok = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return None;
            }
            (host.to_owned(), port)
        };
        Some(HostName { host, port })
    }
}

pub(super) fn parse(
    allowed_hosts: Option<&str>,
    trusted_proxies: Option<&str>,
) -> Result<AccessSettings, ConfigError> {
    let mut settings = AccessSettings::default();
    for entry in list(allowed_hosts) {
        let host = HostName::parse(entry).ok_or_else(|| {
            ConfigError::invalid(
                "CW_ALLOWED_HOSTS",
                allowed_hosts.unwrap_or_default(),
                format!(
                    "{entry:?} is not a host name: expected names like stream.example.com, \
                     192.168.1.20:3000 or [fd00::2]:3000, comma-separated"
                ),
            )
        })?;
        settings.allowed_hosts.push(host);
    }
    for entry in list(trusted_proxies) {
        let ip = entry.parse::<IpAddr>().map_err(|_| {
            ConfigError::invalid(
                "CW_TRUSTED_PROXIES",
                trusted_proxies.unwrap_or_default(),
                format!("{entry:?} is not an IP address: expected e.g. 127.0.0.1, comma-separated"),
            )
        })?;
        settings.trusted_proxies.push(ip);
    }
    Ok(settings)
}

fn list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_read_as_a_host_header_carries_them() {
        let h = HostName::parse(" Stream.Example.COM. ").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("stream.example.com", None));
        let h = HostName::parse("192.168.1.20:3000").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("192.168.1.20", Some(3000)));
        let h = HostName::parse("[FD00::2]:8080").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("[fd00::2]", Some(8080)));
        for bad in [
            "http://x", "x/y", "a..b", "x:99999", "[zz]:1", "", "a b", "::1",
        ] {
            assert_eq!(HostName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_entry_names_the_variable() {
        let e = parse(Some("ok.example, http://bad"), None).unwrap_err();
        assert!(e.to_string().starts_with("CW_ALLOWED_HOSTS="), "{e}");
        let e = parse(None, Some("127.0.0.1, proxy")).unwrap_err();
        assert!(e.to_string().starts_with("CW_TRUSTED_PROXIES="), "{e}");
        let ok = parse(Some("a.example,b.example:443"), Some("127.0.0.1")).unwrap();
        assert_eq!(ok.allowed_hosts.len(), 2);
        assert_eq!(
            ok.trusted_proxies,
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }
}
