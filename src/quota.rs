//! The quota planner: how often YouTube may be polled so that the day's quota
//! lasts the whole session. Pure arithmetic on numbers the poller gives it;
//! no I/O.
//!
//! A default API key has 10,000 units a day, reset at midnight Pacific time.
//! `commentThreads.list` costs 1 unit and `liveChatMessages.list` 5. If every
//! YouTube source gets an equal share of what is left today, source `i` may
//! poll at most every `session × cost_i × sources ÷ units_left` seconds. The
//! planner reserves a few percent for what a plain poll does not count:
//! backfill pages, reply fetches, errors (every request costs, failed ones
//! too).

use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;

/// Share of the budget kept back for extra pages, replies and retries.
pub const RESERVE: f64 = 0.05;

/// The shortest interval between polls of one source that keeps the quota
/// alive for `session_left`, or `None` when nothing is left to spend.
///
/// `cost` is the units of one poll of this source; `sources` how many
/// sources share the key; `units_left` what the day's quota still holds.
pub fn floor_interval(
    cost: i64,
    sources: usize,
    units_left: i64,
    session_left: Duration,
) -> Option<Duration> {
    let spendable = units_left as f64 * (1.0 - RESERVE);
    if spendable < cost as f64 {
        return None;
    }
    let secs = session_left.as_secs_f64() * cost as f64 * sources.max(1) as f64 / spendable;
    Some(Duration::from_secs_f64(secs))
}

/// The quota day `t` falls in: the date in America/Los_Angeles.
pub fn quota_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&Los_Angeles).format("%Y-%m-%d").to_string()
}

/// When the quota day that `t` falls in ends: the next midnight Pacific time.
pub fn next_reset(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&Los_Angeles);
    let tomorrow = local.date_naive().succ_opt().expect("a date after today");
    let midnight = tomorrow.and_time(NaiveTime::MIN);
    // Midnight exists on every Pacific date (DST changes happen at 2 am).
    Los_Angeles
        .from_local_datetime(&midnight)
        .earliest()
        .expect("midnight exists")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR_HOURS: Duration = Duration::from_secs(4 * 3600);

    fn secs(d: Option<Duration>) -> f64 {
        (d.unwrap().as_secs_f64() * 100.0).round() / 100.0
    }

    #[test]
    fn one_two_and_five_videos_share_ten_thousand_units_over_four_hours() {
        // 14,400 s × 1 unit × N ÷ 9,500 spendable units.
        assert_eq!(secs(floor_interval(1, 1, 10_000, FOUR_HOURS)), 1.52);
        assert_eq!(secs(floor_interval(1, 2, 10_000, FOUR_HOURS)), 3.03);
        assert_eq!(secs(floor_interval(1, 5, 10_000, FOUR_HOURS)), 7.58);
    }

    #[test]
    fn live_chat_costs_five_times_as_much_per_poll() {
        assert_eq!(secs(floor_interval(5, 1, 10_000, FOUR_HOURS)), 7.58);
    }

    #[test]
    fn what_was_spent_today_slows_the_rest_of_the_day_down() {
        assert_eq!(secs(floor_interval(1, 1, 5_000, FOUR_HOURS)), 3.03);
        assert_eq!(floor_interval(1, 1, 0, FOUR_HOURS), None);
        assert_eq!(floor_interval(5, 1, 4, FOUR_HOURS), None);
    }

    #[test]
    fn the_quota_day_is_pacific_time_and_resets_at_its_midnight() {
        // 07:30 UTC on 1 March is still 28 February in Los Angeles (PST, −8).
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 7, 30, 0).unwrap();
        assert_eq!(quota_day(t), "2026-02-28");
        assert_eq!(
            next_reset(t),
            Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
        );
        // In summer (PDT, −7) midnight is 07:00 UTC.
        let t = Utc.with_ymd_and_hms(2026, 7, 4, 20, 0, 0).unwrap();
        assert_eq!(quota_day(t), "2026-07-04");
        assert_eq!(
            next_reset(t),
            Utc.with_ymd_and_hms(2026, 7, 5, 7, 0, 0).unwrap()
        );
    }
}
