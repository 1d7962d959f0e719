//! The one rate limiter for wrong credentials: a token bucket per client
//! address (an IPv6 client by its /64, which one machine usually owns
//! whole). Each wrong token, key or cookie takes one from the bucket; an
//! empty bucket refuses further wrong guesses until it refills. It never
//! sees a correct credential: those are checked first and always get in,
//! so an attacker who shares the streamer's address cannot lock them out.
//! Holds counters only; knows nothing of requests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::warn;

/// Wrong guesses allowed in a burst.
const BURST: f64 = 10.0;
/// One more wrong guess allowed per this long.
const REFILL: Duration = Duration::from_secs(6);
/// Addresses remembered at most; a full table forgets those that have
/// recovered, then the stalest.
const MAX_CLIENTS: usize = 10_000;

#[derive(Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn now(self, now: Instant) -> Bucket {
        let refilled = now.duration_since(self.at).as_secs_f64() / REFILL.as_secs_f64();
        Bucket {
            tokens: (self.tokens + refilled).min(BURST),
            at: now,
        }
    }
}

/// IPv6 clients are grouped by their /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
        v4 => v4,
    }
}

impl Limiter {
    /// Seconds until `ip` may guess again, if it may not now.
    pub fn locked(&self, ip: IpAddr) -> Option<u64> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.get(&key(ip))?.now(Instant::now());
        (bucket.tokens < 1.0).then(|| {
            let wait = (1.0 - bucket.tokens) * REFILL.as_secs_f64();
            (wait.ceil() as u64).max(1)
        })
    }

    /// Records a wrong guess from `ip`; returns the seconds to wait if that
    /// used up its allowance.
    pub fn failed(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&key(ip)) {
            buckets.retain(|_, b| b.now(now).tokens < BURST);
            if buckets.len() >= MAX_CLIENTS
                && let Some(stalest) = buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| *k)
            {
                buckets.remove(&stalest);
            }
        }
        let bucket = buckets.entry(key(ip)).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        *bucket = bucket.now(now);
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        (bucket.tokens < 1.0).then(|| {
            warn!(client.ip = %ip, "too many wrong credentials from this address; slowing it down");
            REFILL.as_secs()
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_wrong_guesses_locks_that_address_only() {
        let l = Limiter::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..9 {
            assert_eq!(l.failed(ip), None);
            assert_eq!(l.locked(ip), None);
        }
        assert!(l.failed(ip).is_some());
        assert!(l.locked(ip).is_some_and(|s| s <= 6));
        assert_eq!(l.locked("192.0.2.8".parse().unwrap()), None);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let l = Limiter::default();
        for i in 0..10u16 {
            l.failed(IpAddr::from([0x2001, 0xdb8, 1, 2, i, i, i, i]));
        }
        assert!(l.locked("2001:db8:1:2::99".parse().unwrap()).is_some());
        assert!(l.locked("2001:db8:1:3::1".parse().unwrap()).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = Limiter::default();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            l.failed(IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.len() <= MAX_CLIENTS);
    }
}
