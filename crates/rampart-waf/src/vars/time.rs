//! `TIME*` variables, computed in UTC from the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Seconds since the Unix epoch.
    pub epoch: u64,
    /// Year (e.g. 2026).
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=59.
    pub second: u32,
    /// Day of week, 0 = Sunday.
    pub weekday: u32,
}

impl CivilTime {
    /// Now.
    pub fn now() -> CivilTime {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        CivilTime::from_epoch(epoch)
    }

    /// From seconds since the epoch (Howard Hinnant's civil-from-days).
    pub fn from_epoch(epoch: u64) -> CivilTime {
        let days = (epoch / 86_400) as i64;
        let secs = epoch % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilTime {
            epoch,
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
            weekday: ((days + 4).rem_euclid(7)) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CivilTime;

    #[test]
    fn known_date() {
        let t = CivilTime::from_epoch(1_700_000_000);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2023, 11, 14, 22, 13, 20));
        assert_eq!(t.weekday, 2);
    }
}
