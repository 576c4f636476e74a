//! Time helpers: one definition of "now" and of the forms operators read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    since_epoch(SystemTime::now()).as_secs()
}

/// The time from the Unix epoch to `t` (zero for a time before 1970): how a
/// sans-I/O core turns the clock it is given into lease and bucket times.
pub fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// [`unix_now`] as a signed number, for arithmetic with times that may lie
/// in the past or the future (signature inception and expiry).
pub fn unix_now_secs() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// The civil date and time of Unix seconds `t` (UTC):
/// (year, month, day, hour, minute, second), by H. Hinnant's
/// days-from-civil inverse, valid for any `i64` day count.
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Each of these is bounded by the arithmetic above (day ≤ 31, ...).
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        year,
        small(month),
        small(day),
        small(secs / 3600),
        small(secs % 3600 / 60),
        small(secs % 60),
    )
}

/// Days since 1970-01-01 of a civil date (UTC), the inverse of [`civil`]'s
/// date part (H. Hinnant's days-from-civil).
pub fn from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as RFC 3339 UTC: `2026-11-24T23:00:00Z`.
pub fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Unix seconds as `2026-11-24 23:00:00` (UTC), the form of log and list
/// columns.
pub fn utc(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_civil_inverts_civil() {
        for t in [
            0i64,
            86_399,
            951_782_400,
            1_767_225_600,
            4_107_542_400,
            -86_400,
        ] {
            let (y, mo, d, ..) = civil(t);
            assert_eq!(
                from_civil(y, i64::from(mo), i64::from(d)),
                t.div_euclid(86_400)
            );
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_991), "2026-11-25T00:03:11Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn since_epoch_keeps_fractions_and_floors_at_1970() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(since_epoch(t), Duration::from_millis(1_700_000_000_250));
        assert_eq!(
            since_epoch(UNIX_EPOCH - Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        assert!(unix_now() > 1_795_000_000);
        assert_eq!(
            u64::try_from(unix_now_secs()).unwrap() / 10,
            unix_now() / 10
        );
    }
}
