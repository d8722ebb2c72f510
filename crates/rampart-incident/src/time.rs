//! Wall-clock instants as reports write them: RFC 3339 in UTC with milliseconds
//! (`2026-11-29T15:40:57.123Z`), and the day stamp of incident ids (`20261129`).
//!
//! A few lines of civil-calendar arithmetic (Howard Hinnant's `days_from_civil` and its
//! inverse) instead of a date crate: reports need nothing else.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC. Serialized as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, by the system clock (the epoch if the clock is before it).
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Whole seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0 / 1000
    }

    /// This instant plus `d`.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_millis() as u64))
    }

    /// Milliseconds from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `YYYYMMDD`, the day part of an incident id.
    pub fn day_stamp(self) -> String {
        let (y, m, d) = civil_from_days((self.0 / 86_400_000) as i64);
        format!("{y:04}{m:02}{d:02}")
    }

    /// Parse `YYYY-MM-DDTHH:MM:SS[.fff]Z` (what [`fmt::Display`] writes).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.strip_suffix('Z')?;
        let (date, time) = s.split_once('T')?;
        let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
        let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
        let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
        let mut t = hms.splitn(3, ':').map(|p| p.parse::<u64>().ok());
        let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        let ms: u64 = digits.parse().ok()?;
        let days = days_from_civil(y, mo as u32, da as u32);
        let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + se;
        Some(Timestamp(secs * 1000 + ms))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Timestamp {
        Timestamp(t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, self.0 % 1000)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 UTC time: {s}")))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        let t = Timestamp(1_795_966_857_123); // 2026-11-29T15:40:57.123Z
        assert_eq!(t.to_string(), "2026-11-29T15:40:57.123Z");
        assert_eq!(t.day_stamp(), "20261129");
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::parse("2000-02-29T00:00:00Z"), Some(Timestamp(951_782_400_000)));
        assert_eq!(Timestamp::parse("2000-13-01T00:00:00Z"), None);
        assert_eq!(Timestamp::parse("garbage"), None);
    }
}
