//! What decides a *time* rotation: the stdlib's `when`/`interval`/`utc`/`atTime`
//! schedule, computed with real local time (DST included) by `jiff`.
//!
//! Like `logging.handlers.TimedRotatingFileHandler`: `S`, `M`, `H` and `D` roll over
//! `interval` units after the previous rollover (D is 24 hours); `MIDNIGHT` rolls over
//! at `at_time` (default 00:00) local or UTC time, every `interval` days; `W0`–`W6` on
//! that weekday (0 is Monday) at `at_time`, every `interval` weeks. Backups are named
//! after the start of the period they cover, formatted with [`Schedule::suffix`].

use crate::error::{Error, Result};
use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan, ZonedDateTime as Zoned};

/// No rollover time before 2000-01-01 is believed (CLH's rule: such a value is corrupt).
pub const MIN_VALID_TIMESTAMP: i64 = 946_684_800;

/// The unit of a time schedule, as the stdlib's `when` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `"S"`: seconds.
    Second,
    /// `"M"`: minutes.
    Minute,
    /// `"H"`: hours.
    Hour,
    /// `"D"`: days of 24 hours.
    Day,
    /// `"MIDNIGHT"`: at `at_time` (default midnight) every `interval` days.
    Midnight,
    /// `"W0"`–`"W6"`: on this weekday (0 is Monday) at `at_time`, every `interval` weeks.
    Weekday(u8),
}

impl When {
    /// Parse the stdlib's spelling (case-insensitive): `S`, `M`, `H`, `D`, `MIDNIGHT`, `W0`–`W6`.
    ///
    /// ```
    /// use clh::When;
    /// assert_eq!(When::parse("midnight").unwrap(), When::Midnight);
    /// assert_eq!(When::parse("W6").unwrap(), When::Weekday(6));
    /// assert!(When::parse("W7").unwrap_err().to_string().contains("W7"));
    /// ```
    pub fn parse(when: &str) -> Result<Self> {
        let upper = when.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "S" => When::Second,
            "M" => When::Minute,
            "H" => When::Hour,
            "D" => When::Day,
            "MIDNIGHT" => When::Midnight,
            w if w.len() == 2 && w.starts_with('W') => match w.as_bytes()[1] {
                d @ b'0'..=b'6' => When::Weekday(d - b'0'),
                _ => {
                    return Err(Error::invalid(
                        "when",
                        when,
                        "weekday must be W0 (Monday) to W6",
                    ))
                }
            },
            _ => {
                return Err(Error::invalid(
                    "when",
                    when,
                    "expected S, M, H, D, MIDNIGHT or W0-W6",
                ))
            }
        })
    }

    fn default_suffix(self) -> &'static str {
        match self {
            When::Second => "%Y-%m-%d_%H-%M-%S",
            When::Minute => "%Y-%m-%d_%H-%M",
            When::Hour => "%Y-%m-%d_%H",
            When::Day | When::Midnight | When::Weekday(_) => "%Y-%m-%d",
        }
    }
}

/// When to rotate by time, and how to name the rotated files.
///
/// ```
/// use clh::{Schedule, When};
/// let daily = Schedule::new(When::Midnight, 1)?.utc(true);
/// let t: jiff::Timestamp = "2026-11-26T08:30:00Z".parse()?;
/// assert_eq!(daily.next_after(t).to_string(), "2026-11-27T00:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    when: When,
    interval: u32,
    at_time: Option<Time>,
    tz: TimeZone,
    suffix: String,
}

/// The longest period a schedule may have, in years (longer ones would overflow the
/// calendar arithmetic long before they could ever rotate).
const MAX_PERIOD_YEARS: u64 = 100;
const MAX_PERIOD_SECONDS: u64 = MAX_PERIOD_YEARS * 31_557_600;

impl Schedule {
    /// A schedule in the system's local time zone; `interval` must be at least 1.
    ///
    /// ```
    /// assert!(clh::Schedule::new(clh::When::Hour, 0).is_err());
    /// let err = clh::Schedule::new(clh::When::Day, 1_000_000).unwrap_err();
    /// assert!(err.to_string().contains("too large"));
    /// ```
    pub fn new(when: When, interval: u32) -> Result<Self> {
        if interval == 0 {
            return Err(Error::invalid("interval", interval, "must be at least 1"));
        }
        let unit_seconds: u64 = match when {
            When::Second => 1,
            When::Minute => 60,
            When::Hour => 3600,
            When::Day | When::Midnight => 86_400,
            When::Weekday(_) => 7 * 86_400,
        };
        if unit_seconds * u64::from(interval) > MAX_PERIOD_SECONDS {
            return Err(Error::invalid(
                "interval",
                interval,
                format!(
                    "is too large: a period may last at most {MAX_PERIOD_YEARS} years ({MAX_PERIOD_SECONDS} seconds)"
                ),
            ));
        }
        Ok(Schedule {
            when,
            interval,
            at_time: None,
            tz: TimeZone::system(),
            suffix: when.default_suffix().to_owned(),
        })
    }

    /// Use UTC instead of local time (the stdlib's `utc=True`).
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Midnight, 1).unwrap().utc(true);
    /// ```
    pub fn utc(mut self, utc: bool) -> Self {
        self.tz = if utc {
            TimeZone::UTC
        } else {
            TimeZone::system()
        };
        self
    }

    /// Use this time zone (tests; a fixed zone for a whole fleet).
    ///
    /// ```
    /// let tz = jiff::tz::TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
    /// let s = clh::Schedule::new(clh::When::Midnight, 1).unwrap().time_zone(tz);
    /// ```
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.tz = tz;
        self
    }

    /// The time of day for `MIDNIGHT` and weekly schedules (the stdlib's `atTime`);
    /// ignored by the others, as in the stdlib.
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Midnight, 1).unwrap()
    ///     .at_time(jiff::civil::time(3, 30, 0, 0));
    /// ```
    pub fn at_time(mut self, at: Time) -> Self {
        self.at_time = Some(at);
        self
    }

    /// The `strftime` format appended to rotated files' names (default: the stdlib's
    /// suffix for `when`, e.g. `%Y-%m-%d_%H` for hours).
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Hour, 1).unwrap();
    /// assert_eq!(s.suffix(), "%Y-%m-%d_%H");
    /// ```
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// Replace the suffix format (CLH lets `finalize_handler_configuration` change it).
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Second, 1).unwrap().with_suffix("%Y%m%d-%H%M%S");
    /// assert_eq!(s.suffix(), "%Y%m%d-%H%M%S");
    /// ```
    pub fn with_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// The length of one period in seconds for fixed-length schedules (`S`, `M`, `H`,
    /// `D`); `None` for calendar ones (`MIDNIGHT`, `W*`), whose length varies with DST.
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Minute, 5).unwrap();
    /// assert_eq!(s.fixed_seconds(), Some(300));
    /// ```
    pub fn fixed_seconds(&self) -> Option<i64> {
        let unit = match self.when {
            When::Second => 1,
            When::Minute => 60,
            When::Hour => 3600,
            When::Day => 86_400,
            When::Midnight | When::Weekday(_) => return None,
        };
        Some(unit * i64::from(self.interval))
    }

    /// The first rollover strictly after `t` (the stdlib's `computeRollover`).
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Second, 2).unwrap();
    /// let t = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    /// assert_eq!(s.next_after(t).as_second(), 1_800_000_002);
    /// ```
    pub fn next_after(&self, t: Timestamp) -> Timestamp {
        if let Some(secs) = self.fixed_seconds() {
            let t = Timestamp::from_second(t.as_second()).unwrap_or(t);
            return t.checked_add(secs.seconds()).unwrap_or(Timestamp::MAX);
        }
        let now = t.to_zoned_datetime(self.tz.clone());
        let at = self.at_time.unwrap_or(Time::midnight());
        let mut date = now.date();
        if let When::Weekday(day) = self.when {
            let today = i64::from(date.weekday().to_monday_zero_offset());
            let ahead = (i64::from(day) - today).rem_euclid(7);
            date = date.checked_add(ahead.days()).unwrap_or(date);
        }
        let step: Span = match self.when {
            When::Weekday(_) => 1.week(),
            _ => 1.day(),
        };
        let mut next = self.zoned(date.to_datetime(at));
        while next.timestamp() <= t {
            date = date.checked_add(step).unwrap_or(date);
            next = self.zoned(date.to_datetime(at));
        }
        // Later occurrences: every `interval` days or weeks from there.
        if self.interval > 1 {
            let extra = step
                .checked_mul(i64::from(self.interval - 1))
                .unwrap_or(step);
            next = self.zoned(date.checked_add(extra).unwrap_or(date).to_datetime(at));
        }
        next.timestamp()
    }

    /// The start of the period that ends at `rollover_at`: what a backup is named after.
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Hour, 1).unwrap().utc(true);
    /// let end: jiff::Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    /// assert_eq!(s.format(s.period_start(end)), "2026-11-26_08");
    /// ```
    pub fn period_start(&self, rollover_at: Timestamp) -> Timestamp {
        if let Some(secs) = self.fixed_seconds() {
            return rollover_at
                .checked_sub(secs.seconds())
                .unwrap_or(rollover_at);
        }
        let step: Span = match self.when {
            When::Weekday(_) => i64::from(self.interval).weeks(),
            _ => i64::from(self.interval).days(),
        };
        let end = rollover_at.to_zoned_datetime(self.tz.clone());
        let start_date = end.date().checked_sub(step).unwrap_or(end.date());
        self.zoned(start_date.to_datetime(end.time())).timestamp()
    }

    /// `t` formatted with the suffix, in this schedule's time zone.
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Minute, 1).unwrap().utc(true);
    /// let t = jiff::Timestamp::from_second(0).unwrap();
    /// assert_eq!(s.format(t), "1970-01-01_00-00");
    /// ```
    pub fn format(&self, t: Timestamp) -> String {
        t.to_zoned_datetime(self.tz.clone())
            .strftime(&self.suffix)
            .to_string()
    }

    /// Whether `text` is a time formatted with the suffix (used to recognise backups).
    ///
    /// ```
    /// let s = clh::Schedule::new(clh::When::Day, 1).unwrap();
    /// assert!(s.matches("2026-11-26"));
    /// assert!(!s.matches("2026-11-26.bak"));
    /// ```
    pub fn matches(&self, text: &str) -> bool {
        jiff::fmt::strtime::parse(&self.suffix, text).is_ok()
    }

    /// Validate the suffix: it must format and parse back, and contain no `/`.
    pub(crate) fn check(&self) -> Result<()> {
        let sample =
            self.format(Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH));
        if sample.contains('/') || sample.is_empty() || !self.matches(&sample) {
            return Err(Error::invalid(
                "suffix",
                &self.suffix,
                "must format a time that parses back, without '/'",
            ));
        }
        Ok(())
    }

    /// Local (or UTC) civil time to an instant; a time skipped by DST moves forward.
    fn zoned(&self, dt: jiff::civil::DateTime) -> Zoned {
        dt.to_zoned_datetime(self.tz.clone())
            .unwrap_or_else(|_| Timestamp::MAX.to_zoned_datetime(self.tz.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn eastern() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }

    #[test]
    fn fixed_units_count_from_the_previous_rollover() {
        let h = Schedule::new(When::Hour, 2).unwrap().utc(true);
        assert_eq!(
            h.next_after(ts("2026-01-01T10:17:05Z")),
            ts("2026-01-01T12:17:05Z")
        );
        assert_eq!(
            h.period_start(ts("2026-01-01T12:17:05Z")),
            ts("2026-01-01T10:17:05Z")
        );
        let d = Schedule::new(When::Day, 1).unwrap().utc(true);
        assert_eq!(
            d.next_after(ts("2026-03-08T01:00:00Z")),
            ts("2026-03-09T01:00:00Z")
        );
    }

    #[test]
    fn midnight_local_and_utc() {
        let m = Schedule::new(When::Midnight, 1)
            .unwrap()
            .time_zone(eastern());
        // 23:30 local on Nov 25 (04:30Z Nov 26) -> local midnight = 05:00Z.
        assert_eq!(
            m.next_after(ts("2026-11-26T04:30:00Z")),
            ts("2026-11-26T05:00:00Z")
        );
        // Exactly at midnight: the next one, a day later.
        assert_eq!(
            m.next_after(ts("2026-11-26T05:00:00Z")),
            ts("2026-11-27T05:00:00Z")
        );
        let u = Schedule::new(When::Midnight, 1).unwrap().utc(true);
        assert_eq!(
            u.next_after(ts("2026-11-26T04:30:00Z")),
            ts("2026-11-27T00:00:00Z")
        );
    }

    #[test]
    fn midnight_across_dst_both_ways() {
        let m = Schedule::new(When::Midnight, 1)
            .unwrap()
            .time_zone(eastern());
        // Spring forward (2026-03-08 02:00 EST -> 03:00 EDT): midnight after is 04:00Z.
        assert_eq!(
            m.next_after(ts("2026-03-08T06:00:00Z")),
            ts("2026-03-09T04:00:00Z")
        );
        assert_eq!(
            m.format(m.period_start(ts("2026-03-09T04:00:00Z"))),
            "2026-03-08"
        );
        // Fall back (2026-11-01 02:00 EDT -> 01:00 EST): that day has 25 hours.
        assert_eq!(
            m.next_after(ts("2026-11-01T05:00:00Z")),
            ts("2026-11-02T05:00:00Z")
        );
        assert_eq!(
            m.period_start(ts("2026-11-02T05:00:00Z")),
            ts("2026-11-01T04:00:00Z")
        );
    }

    #[test]
    fn at_time_inside_a_dst_gap_moves_forward() {
        let m = Schedule::new(When::Midnight, 1)
            .unwrap()
            .time_zone(eastern())
            .at_time(jiff::civil::time(2, 30, 0, 0));
        // 02:30 does not exist on 2026-03-08: the rollover happens at 03:30 EDT (07:30Z).
        assert_eq!(
            m.next_after(ts("2026-03-08T05:00:00Z")),
            ts("2026-03-08T07:30:00Z")
        );
    }

    #[test]
    fn weekly_and_interval() {
        // 2026-11-26 is a Thursday (W3).
        let w0 = Schedule::new(When::Weekday(0), 1).unwrap().utc(true);
        assert_eq!(
            w0.next_after(ts("2026-11-26T08:00:00Z")),
            ts("2026-11-30T00:00:00Z")
        );
        let w3 = Schedule::new(When::Weekday(3), 1).unwrap().utc(true);
        assert_eq!(
            w3.next_after(ts("2026-11-26T08:00:00Z")),
            ts("2026-12-03T00:00:00Z")
        );
        assert_eq!(
            w3.next_after(ts("2026-11-25T08:00:00Z")),
            ts("2026-11-26T00:00:00Z")
        );
        let w3x2 = Schedule::new(When::Weekday(3), 2).unwrap().utc(true);
        assert_eq!(
            w3x2.next_after(ts("2026-11-25T08:00:00Z")),
            ts("2026-12-03T00:00:00Z")
        );
        assert_eq!(
            w3x2.format(w3x2.period_start(ts("2026-12-03T00:00:00Z"))),
            "2026-11-19"
        );
        let m3 = Schedule::new(When::Midnight, 3).unwrap().utc(true);
        assert_eq!(
            m3.next_after(ts("2026-11-26T08:00:00Z")),
            ts("2026-11-29T00:00:00Z")
        );
    }

    #[test]
    fn suffixes_and_matching() {
        let s = Schedule::new(When::Second, 1).unwrap().utc(true);
        assert_eq!(s.format(ts("2026-11-26T08:09:10Z")), "2026-11-26_08-09-10");
        assert!(s.matches("2026-11-26_08-09-10"));
        assert!(!s.matches("2026-11-26_08-09"));
        assert!(!s.matches("2026-11-26_08-09-10.1"));
        assert!(Schedule::new(When::Day, 1)
            .unwrap()
            .with_suffix("%Y/%m")
            .check()
            .is_err());
        assert!(When::parse("X").is_err());
        assert!(Schedule::new(When::Second, 0).is_err());
    }
}
