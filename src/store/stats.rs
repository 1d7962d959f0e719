//! Statistics of a selection (totals, sources, activity over time, the most
//! active authors), for the `/log` panel, `/api/stats` and
//! `commentwatch stats`: the value types and [`StatsBuilder`], which both
//! backends feed their rows to, one at a time. No I/O, no SQL beyond the
//! column list each backend selects.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;

use crate::domain::rfc3339;

/// Most points in the comments-per-minute series.
const MAX_BUCKETS: i64 = 240;

/// How many comments one source holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub source: String,
    pub count: u64,
}

/// An author and how many of their comments are in the selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorCount {
    /// The name on their most recent comment in the selection.
    pub name: String,
    pub id: String,
    pub count: u64,
}

/// One point of the comments-per-minute series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket, RFC 3339.
    pub start: String,
    pub count: u64,
    /// `count` divided by the bucket's minutes.
    pub per_minute: f64,
}

/// A minute and how many comments were posted in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moment {
    /// Start of the minute, RFC 3339.
    pub minute: String,
    pub count: u64,
}

/// Statistics of a selection, for the `/log` panel, `/api/stats` and
/// `commentwatch stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub total: u64,
    /// Most comments first.
    pub sources: Vec<SourceCount>,
    /// When the first and the last comment were posted, RFC 3339.
    pub first: Option<String>,
    pub last: Option<String>,
    /// Width of each point of `per_minute`, in minutes (1 for up to four
    /// hours of comments, wider beyond so the series stays short).
    pub bucket_minutes: i64,
    /// Comments per minute over time, oldest first, empty buckets included.
    pub per_minute: Vec<Bucket>,
    /// The ten most active authors, most comments first.
    pub top_authors: Vec<AuthorCount>,
    /// The five minutes with the most comments, busiest first.
    pub busiest: Vec<Moment>,
}

/// The columns [`StatsBuilder::add`] takes, in order (`seq` is read so the
/// latest name of each author wins).
pub(super) const STATS_COLUMNS: &str =
    "c.source, c.author_id, c.author_name, c.published_at, c.seq";

/// Statistics, one row at a time: what both backends feed their rows to.
#[derive(Default)]
pub(super) struct StatsBuilder {
    total: u64,
    sources: HashMap<String, u64>,
    authors: HashMap<String, (String, i64, u64)>,
    // Keyed by "YYYY-MM-DDTHH:MM", the first 16 bytes of the stored time:
    // sorting the keys sorts the minutes.
    minutes: HashMap<[u8; 16], u64>,
}

impl StatsBuilder {
    /// Counts one comment of the selection.
    pub(super) fn add(&mut self, source: &str, id: &str, name: &str, published_at: &str, seq: i64) {
        self.total += 1;
        match self.sources.get_mut(source) {
            Some(n) => *n += 1,
            None => {
                self.sources.insert(source.to_owned(), 1);
            }
        }
        // Without a platform id, the name is all there is to go by.
        let key = if id.is_empty() { name } else { id };
        match self.authors.get_mut(key) {
            Some((latest, latest_seq, n)) => {
                *n += 1;
                if seq > *latest_seq && latest != name {
                    *latest = name.to_owned();
                    *latest_seq = seq;
                }
            }
            None => {
                self.authors
                    .insert(key.to_owned(), (name.to_owned(), seq, 1));
            }
        }
        if let Some(minute) = published_at.as_bytes().get(..16) {
            *self
                .minutes
                .entry(minute.try_into().expect("16 bytes"))
                .or_default() += 1;
        }
    }

    /// The statistics of every comment added.
    pub(super) fn finish(self) -> Stats {
        let StatsBuilder {
            total,
            sources,
            authors,
            minutes,
        } = self;
        let mut sources: Vec<SourceCount> = sources
            .into_iter()
            .map(|(source, count)| SourceCount { source, count })
            .collect();
        sources.sort_by(|a, b| b.count.cmp(&a.count).then(a.source.cmp(&b.source)));
        let mut top_authors: Vec<AuthorCount> = authors
            .into_iter()
            .map(|(id, (name, _, count))| AuthorCount {
                id: if id == name { String::new() } else { id },
                name,
                count,
            })
            .collect();
        top_authors.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        top_authors.truncate(10);
        let mut minutes: Vec<(DateTime<Utc>, u64)> = minutes
            .into_iter()
            .filter_map(|(k, n)| {
                let s = std::str::from_utf8(&k).ok()?;
                let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok()?;
                Some((t.and_utc(), n))
            })
            .collect();
        minutes.sort_unstable();
        let mut busiest: Vec<&(DateTime<Utc>, u64)> = minutes.iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let busiest = busiest
            .into_iter()
            .take(5)
            .map(|(t, n)| Moment {
                minute: rfc3339::format(t),
                count: *n,
            })
            .collect();
        let (first, last) = match (minutes.first(), minutes.last()) {
            (Some(f), Some(l)) => (Some(f.0), Some(l.0)),
            _ => (None, None),
        };
        let mut bucket_minutes = 1;
        let mut per_minute = Vec::new();
        if let (Some(first), Some(last)) = (first, last) {
            let span = (last - first).num_minutes() + 1;
            bucket_minutes = bucket_width(span);
            let n = (span + bucket_minutes - 1) / bucket_minutes;
            let mut counts = vec![0u64; n as usize];
            for (t, c) in &minutes {
                counts[((*t - first).num_minutes() / bucket_minutes) as usize] += c;
            }
            per_minute = counts
                .into_iter()
                .enumerate()
                .map(|(i, count)| Bucket {
                    start: rfc3339::format(&(first + Duration::minutes(i as i64 * bucket_minutes))),
                    count,
                    per_minute: count as f64 / bucket_minutes as f64,
                })
                .collect();
        }
        Stats {
            total,
            sources,
            first: first.map(|t| rfc3339::format(&t)),
            // The end of the last minute that has a comment.
            last: minutes
                .last()
                .map(|(t, _)| rfc3339::format(&(*t + Duration::minutes(1)))),
            bucket_minutes,
            per_minute,
            top_authors,
            busiest,
        }
    }
}

/// The narrowest round bucket width, in minutes, that keeps a span of
/// `span` minutes within `MAX_BUCKETS` points.
fn bucket_width(span: i64) -> i64 {
    const ROUND: &[i64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080,
    ];
    let needed = (span + MAX_BUCKETS - 1) / MAX_BUCKETS;
    ROUND
        .iter()
        .copied()
        .find(|w| *w >= needed)
        // Beyond weeks: whole weeks.
        .unwrap_or_else(|| (needed + 10079) / 10080 * 10080)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_keep_the_series_short() {
        assert_eq!(bucket_width(1), 1);
        assert_eq!(bucket_width(240), 1);
        assert_eq!(bucket_width(241), 2);
        assert_eq!(bucket_width(4 * 60 * 24), 30);
        assert!(365 * 1440 / bucket_width(365 * 1440) <= MAX_BUCKETS);
    }
}
