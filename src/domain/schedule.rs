//! `Schedule`: when a source is polled. `CW_POLL` (or a source's default) is
//! parsed once, here, into a value that knows its period and its next tick;
//! the poller and the status reports ask it, and nothing parses the text
//! again.
//!
//! No I/O and no clock: callers pass `now`. Imports nothing else of the crate.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// What `CW_POLL` accepts, for error messages.
pub const SCHEDULE_HELP: &str = "expected a duration without spaces (5s, 1m, 1m30s) or a cron \
     expression with six fields, seconds first (sec min hour day month weekday, e.g. \"*/10 * * * * *\")";

/// When a source is polled.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    /// A six-field cron expression (seconds first), evaluated in UTC.
    Cron(Cron),
}

/// A parsed six-field cron expression (seconds first, UTC), with the text it
/// was written as.
#[derive(Clone)]
pub struct Cron {
    text: String,
    /// Boxed: a parsed expression is a few hundred bytes.
    cron: Box<croner::Cron>,
}

impl Cron {
    /// Parses a six-field expression; the error is croner's own words.
    /// Day-of-month and day-of-week must both match (`0 0 0 13 * 5` is
    /// Friday the 13th).
    pub fn parse(text: &str) -> Result<Cron, String> {
        let text = text.trim();
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(text)
            .map_err(|e| e.to_string())?;
        Ok(Cron {
            text: text.to_owned(),
            cron: Box::new(cron),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first moment after `after` that matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

impl PartialEq for Cron {
    fn eq(&self, other: &Cron) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            Schedule::Cron(c) => write!(f, "cron \"{}\"", c.as_str()),
        }
    }
}

impl Schedule {
    /// Parses `CW_POLL`: a duration from 1s to 24h, or a six-field cron
    /// expression that fires at least once after `now`. The error says what
    /// would be accepted (the caller names the variable).
    pub fn parse(value: &str, now: DateTime<Utc>) -> Result<Schedule, String> {
        let trimmed = value.trim();
        let fields = trimmed.split_whitespace().count();
        if fields <= 1 {
            let d = humantime::parse_duration(trimmed).map_err(|_| SCHEDULE_HELP.to_owned())?;
            if d < Duration::from_secs(1) || d > Duration::from_secs(24 * 3600) {
                return Err("expected a duration from 1s to 24h".into());
            }
            return Ok(Schedule::Every(d));
        }
        if fields == 5 {
            return Err(format!(
                "this cron expression has five fields, but six are needed, seconds first: \
                 try \"0 {trimmed}\""
            ));
        }
        if fields != 6 {
            return Err(SCHEDULE_HELP.into());
        }
        let cron = Cron::parse(trimmed).map_err(|e| format!("{e}; {SCHEDULE_HELP}"))?;
        // A valid expression can still name no moment (30 February): it would
        // poll once at start and never again.
        if cron.next_after(now).is_none() {
            return Err("this cron expression never fires (no such date)".into());
        }
        Ok(Schedule::Cron(cron))
    }

    /// A cron schedule from an expression known to be valid (tests, constants).
    ///
    /// # Panics
    /// If `text` is not a six-field cron expression.
    pub fn cron(text: &str) -> Schedule {
        Schedule::Cron(Cron::parse(text).expect("a valid six-field cron expression"))
    }

    /// The next tick after `now`; `None` for a cron that fires no more.
    pub fn next_tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => Some(now + chrono::Duration::from_std(*d).ok()?),
            Schedule::Cron(c) => c.next_after(now),
        }
    }

    /// The time between two ticks (for cron, the next two after `now`).
    pub fn period(&self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            Schedule::Every(d) => Some(*d),
            Schedule::Cron(c) => {
                let a = c.next_after(now)?;
                let b = c.next_after(a)?;
                (b - a).to_std().ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cron_schedule_has_a_period_and_a_next_tick() {
        let s = Schedule::cron("*/15 * * * * *");
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(s.period(now), Some(Duration::from_secs(15)));
        assert_eq!(
            s.next_tick(now).map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:00:15+00:00".into())
        );
        assert_eq!(s.to_string(), "cron \"*/15 * * * * *\"");
    }

    #[test]
    fn a_duration_ticks_one_period_from_now() {
        let s = Schedule::parse("5s", Utc::now()).unwrap();
        assert_eq!(s, Schedule::Every(Duration::from_secs(5)));
        let now = Utc::now();
        assert_eq!(s.next_tick(now), Some(now + chrono::Duration::seconds(5)));
        assert_eq!(s.to_string(), "every 5s");
    }

    #[test]
    fn bad_schedules_say_what_is_accepted() {
        let now = Utc::now();
        assert!(
            Schedule::parse("*/5 * * * *", now)
                .unwrap_err()
                .contains("six")
        );
        assert!(
            Schedule::parse("0 0 0 30 2 *", now)
                .unwrap_err()
                .contains("never fires")
        );
        assert_eq!(
            Schedule::parse("0s", now).unwrap_err(),
            "expected a duration from 1s to 24h"
        );
        assert_eq!(Schedule::parse("5 min", now).unwrap_err(), SCHEDULE_HELP);
    }
}
