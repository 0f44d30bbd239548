//! How long to wait before trying again: the server's `Retry-After` when it sends one, else an
//! exponential backoff with a little jitter (so that several clients rate-limited together do
//! not all come back in the same millisecond).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait a server's `Retry-After` gets. A longer request (an hourly or daily quota)
/// is not worth blocking a dub for; the error says what the server asked instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest wait our own backoff reaches.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How hard one request tries.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles per retry.
    pub backoff: Duration,
    /// The longest single wait (ours or the server's) this request accepts.
    pub max_wait: Duration,
    /// Budget for one attempt, from connecting to the last byte.
    pub timeout: Duration,
}

/// `base × 2^n` (n = retries already made, from 0), capped at [`MAX_BACKOFF`], plus up to 10 %
/// jitter.
pub fn backoff(base: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX);
    let delay = base.saturating_mul(factor).min(MAX_BACKOFF);
    delay + jitter(delay / 10)
}

/// A pseudo-random duration in `[0, max)`. The clock's nanoseconds are random enough to spread
/// retries; no need for a random-number crate.
fn jitter(max: Duration) -> Duration {
    let max_ns = max.as_nanos() as u64;
    if max_ns == 0 {
        return Duration::ZERO;
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    // Scramble so that consecutive calls do not give nearly the same value.
    let mixed = (u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    Duration::from_nanos((mixed >> 11) % max_ns)
}

/// What the server asked us to wait, from `retry-after-ms` (OpenAI's, more precise) or
/// `Retry-After` (seconds, or an HTTP date). `None` when absent or unreadable.
pub fn server_delay(retry_after_ms: Option<&str>, retry_after: Option<&str>, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    let value = retry_after?.trim();
    if let Some(delay) = parse_seconds(value) {
        return Some(delay);
    }
    let at = parse_http_date(value)?;
    // A date in the past means "now".
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A non-negative decimal number of seconds ("1", "1.5"); for `retry-after-ms` the caller
/// divides by 1000.
fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let secs: f64 = value.parse().ok()?;
    // Anything beyond a day is as good as "much longer than we wait".
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only date form RFC 9110 lets servers
/// send. The obsolete RFC 850 and asctime forms are not worth a dependency; they fall back to
/// our own backoff.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, s): (u64, u64, u64) = (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn http_date() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(parse_http_date("soon").is_none());
    }

    #[test]
    fn server_delay_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(server_delay(None, Some("2"), now), Some(Duration::from_secs(2)));
        assert_eq!(server_delay(None, Some(" 1.5 "), now), Some(Duration::from_millis(1500)));
        assert_eq!(server_delay(Some("250"), Some("1"), now), Some(Duration::from_millis(250)));
        assert_eq!(server_delay(None, Some("Sun, 06 Nov 1994 08:49:37 GMT"), now), Some(Duration::from_secs(7)));
        assert_eq!(server_delay(None, Some("Sun, 06 Nov 1994 08:49:00 GMT"), now), Some(Duration::ZERO));
        assert_eq!(server_delay(None, Some("-1"), now), None);
        assert_eq!(server_delay(None, Some("soon"), now), None);
        assert_eq!(server_delay(None, None, now), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        let b0 = backoff(base, 0);
        assert!(b0 >= base && b0 < base * 11 / 10);
        let b3 = backoff(base, 3);
        assert!(b3 >= base * 8 && b3 < base * 8 * 11 / 10);
        assert!(backoff(base, 40) <= MAX_BACKOFF * 11 / 10);
        assert_eq!(backoff(Duration::ZERO, 2), Duration::ZERO);
    }
}
