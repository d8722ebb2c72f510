//! Sizes, durations and rates as users write them in `rampart.toml`.
//!
//! Sizes take binary or decimal units (`64KiB`, `10MiB`, `1MB`, `512` bytes); durations take
//! `ms`, `s`, `m`, `h`, `d` (`250ms`, `10s`, `5m`); rates are a count per unit (`20/s`,
//! `600/m`, `1000/h`) or, for byte rates, a size per second (`1KiB/s`).

use std::time::Duration;

/// Why a unit string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("expected a size such as `64KiB` or `10MiB`, found `{0}`")]
    Size(String),
    #[error("expected a duration such as `250ms`, `10s` or `5m`, found `{0}`")]
    Duration(String),
    #[error("expected a rate such as `20/s`, `600/m` or `1000/h`, found `{0}`")]
    Rate(String),
}

/// A number of events per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub per: Duration,
}

impl Rate {
    /// Events per second, as a float (for GCRA emission intervals and display).
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.per.as_secs_f64()
    }
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n: f64 = s[..end].parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    Some((n, s[end..].trim()))
}

/// Parse a byte size: `512`, `64KiB`, `10MiB`, `1GiB`, `1KB` (decimal), `1k`.
pub fn parse_byte_size(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Size(s.to_string());
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1000.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        _ => return Err(err()),
    };
    let bytes = n * mult;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(err());
    }
    Ok(bytes.round() as u64)
}

/// Parse a duration: `250ms`, `10s`, `5m`, `2h`, `1d`. A bare number is refused: the unit is
/// too easy to get wrong.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::Duration(s.to_string());
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(err()),
    };
    if secs > 1e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parse an event rate: `20/s`, `600/m`, `1000/h`, `10/5s`.
pub fn parse_rate(s: &str) -> Result<Rate, UnitError> {
    let err = || UnitError::Rate(s.to_string());
    let (count, per) = s.split_once('/').ok_or_else(err)?;
    let count: u64 = count.trim().parse().map_err(|_| err())?;
    let per = per.trim();
    let per = match per {
        "s" => Duration::from_secs(1),
        "m" | "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86400),
        other => parse_duration(other).map_err(|_| err())?,
    };
    if count == 0 || per.is_zero() {
        return Err(err());
    }
    Ok(Rate { count, per })
}

/// Parse a byte rate (`1KiB/s`) into bytes per second.
pub fn parse_byte_rate(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Rate(s.to_string());
    let (size, per) = s.split_once('/').ok_or_else(err)?;
    let bytes = parse_byte_size(size).map_err(|_| err())?;
    let per = match per.trim() {
        "s" => Duration::from_secs(1),
        other => parse_duration(other).map_err(|_| err())?,
    };
    Ok((bytes as f64 / per.as_secs_f64()).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("64KiB"), Ok(65536));
        assert_eq!(parse_byte_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("1KB"), Ok(1000));
        assert_eq!(parse_byte_size("512"), Ok(512));
        assert!(parse_byte_size("ten").is_err());
        assert!(parse_byte_size("5 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20/s"), Ok(Rate { count: 20, per: Duration::from_secs(1) }));
        assert_eq!(parse_rate("600/m").unwrap().per_second(), 10.0);
        assert_eq!(parse_rate("10/5s").unwrap().per, Duration::from_secs(5));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_byte_rate("1KiB/s"), Ok(1024));
    }
}
