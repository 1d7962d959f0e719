//! Which names this server answers to, and which sites count as itself.
//!
//! **DNS rebinding.** A page on `evil.example` can point its own name at
//! 127.0.0.1 a moment after loading; the browser then sends the streamer's
//! requests to this server with `Host: evil.example:3000` and an `Origin`
//! that matches it, so a same-origin check that compares `Origin` with `Host`
//! lets it read everything. Checking `Host` against names this server knows
//! ends that: the listen address, `127.0.0.1`, `localhost` and `[::1]` on the
//! port it listens on, plus `CW_ALLOWED_HOSTS`. Any other name gets `421`
//! before a handler runs. `Origin` is compared with the same list, scheme
//! included, never with the request's own `Host`.
//!
//! It also says who the client is (`client_ip`) and whether it came over
//! https, believing `X-Forwarded-*` only from `CW_TRUSTED_PROXIES`.
//! It reads headers and nothing else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{AccessSettings, HostName};

/// The names this server answers to and the proxies it believes.
#[derive(Clone, Debug)]
pub struct Hosts(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    allowed: Vec<HostName>,
    trusted_proxies: Vec<IpAddr>,
}

impl Default for Hosts {
    /// Loopback names on port 3000: tests that build a router by hand.
    fn default() -> Hosts {
        Hosts::new(
            SocketAddr::from(([127, 0, 0, 1], 3000)),
            &AccessSettings::default(),
        )
    }
}

impl Hosts {
    /// The names for a server bound to `listen`, plus the configured ones.
    pub fn new(listen: SocketAddr, access: &AccessSettings) -> Hosts {
        let port = Some(listen.port());
        let mut allowed = vec![
            HostName {
                host: "127.0.0.1".into(),
                port,
            },
            HostName {
                host: "localhost".into(),
                port,
            },
            HostName {
                host: "[::1]".into(),
                port,
            },
        ];
        if !listen.ip().is_unspecified() {
            let host = match listen.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            };
            allowed.push(HostName { host, port });
        }
        allowed.extend(access.allowed_hosts.iter().cloned());
        Hosts(Arc::new(Inner {
            allowed,
            trusted_proxies: access.trusted_proxies.clone(),
        }))
    }

    /// Whether a `Host` header (`name[:port]`) names this server. A missing
    /// port is the scheme's default.
    pub fn allows_host(&self, host: &str, https: bool) -> bool {
        let Some(name) = HostName::parse(host) else {
            return false;
        };
        let port = name.port.unwrap_or(if https { 443 } else { 80 });
        self.matches(&name.host, port)
    }

    /// Whether an `Origin` header (`scheme://name[:port]`) is this server.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let (https, rest) = if let Some(rest) = origin.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = origin.strip_prefix("http://") {
            (false, rest)
        } else {
            return false;
        };
        !rest.contains('/') && self.allows_host(rest, https)
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.0
            .allowed
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port))
    }

    /// Whether a request that changes something, or opens a WebSocket, comes
    /// from a page of this server. Browsers send `Origin` with both; when it
    /// is `null` (a form posted under `Referrer-Policy: no-referrer`, which
    /// Chromium sends as `Origin: null`), `Sec-Fetch-Site: same-origin` —
    /// set by the browser, beyond a page's reach — must vouch for it. A
    /// request with neither header comes from a tool, not a browser page.
    pub fn same_site(&self, headers: &HeaderMap) -> bool {
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        match headers.get(header::ORIGIN).map(|o| o.to_str()) {
            Some(Ok("null")) => fetch_site == Some("same-origin"),
            Some(Ok(origin)) => {
                self.allows_origin(origin) && matches!(fetch_site, None | Some("same-origin"))
            }
            Some(Err(_)) => false,
            None => matches!(fetch_site, None | Some("same-origin") | Some("none")),
        }
    }

    /// The client's address: the connection's, or, from a trusted proxy, the
    /// last address in `X-Forwarded-For` that is not a trusted proxy.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        if !self.0.trusted_proxies.contains(&peer) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .rev()
            .find(|ip| !self.0.trusted_proxies.contains(ip))
            .unwrap_or(peer)
    }

    /// Whether the browser reached us over https (a trusted proxy says so).
    pub fn https(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
        peer.is_some_and(|p| self.0.trusted_proxies.contains(&p.ip()))
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }
}

/// Middleware, outermost: a request for any other name gets `421` before a
/// handler (or the token check) sees it.
pub async fn check_host(State(hosts): State<Hosts>, req: Request, next: Next) -> Response {
    let peer = super::serve::peer(req.extensions());
    let https = hosts.https(peer, req.headers());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if hosts.allows_host(&host, https) => next.run(req).await,
        _ => (
            StatusCode::MISDIRECTED_REQUEST,
            "This commentwatch does not answer to that host name. Open it by its own address \
             (e.g. http://127.0.0.1:3000/), or add the name to CW_ALLOWED_HOSTS.\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(extra: &str) -> Hosts {
        let access = AccessSettings {
            allowed_hosts: extra.split(',').filter_map(HostName::parse).collect(),
            trusted_proxies: vec!["10.0.0.9".parse().unwrap()],
        };
        Hosts::new("127.0.0.1:3000".parse().unwrap(), &access)
    }

    #[test]
    fn only_known_names_on_our_port_are_answered() {
        let h = hosts("stream.example.com,lan.box:3000");
        for ok in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST:3000",
            "[::1]:3000",
            "stream.example.com",
            "stream.example.com:8443",
            "lan.box:3000",
        ] {
            assert!(h.allows_host(ok, false), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "127.0.0.1:3001",
            "localhost",
            "lan.box:80",
            "lan.box",
            "127.0.0.1.evil.example:3000",
            "",
        ] {
            assert!(!h.allows_host(bad, false), "{bad}");
        }
    }

    #[test]
    fn origins_compare_with_the_list_and_the_scheme_port() {
        let h = hosts("stream.example.com");
        assert!(h.allows_origin("http://127.0.0.1:3000"));
        assert!(h.allows_origin("https://stream.example.com"));
        assert!(!h.allows_origin("http://evil.example:3000"));
        assert!(!h.allows_origin("null"));
        assert!(!h.allows_origin("http://127.0.0.1:3000/x"));
        assert!(!h.allows_origin("ws://127.0.0.1:3000"));
    }

    #[test]
    fn a_null_origin_needs_the_browsers_same_origin_word() {
        let h = hosts("");
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!h.same_site(&headers));
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!h.same_site(&headers));
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(h.same_site(&headers));
        headers.insert(header::ORIGIN, "http://evil.example:3000".parse().unwrap());
        assert!(!h.same_site(&headers));
        assert!(h.same_site(&HeaderMap::new()), "a tool sends neither");
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let h = hosts("");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.5, 10.0.0.9".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        let proxy: SocketAddr = "10.0.0.9:5555".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.1:5555".parse().unwrap();
        assert_eq!(
            h.client_ip(Some(proxy), &headers),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert!(h.https(Some(proxy), &headers));
        assert_eq!(h.client_ip(Some(stranger), &headers), stranger.ip());
        assert!(!h.https(Some(stranger), &headers));
    }
}
