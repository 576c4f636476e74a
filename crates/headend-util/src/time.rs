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

/// RFC 3339 form of Unix seconds `t` with an offset in seconds east of UTC:
/// `2026-12-05T13:04:05+01:00`, or `...Z` for offset 0.
pub fn rfc3339_offset(t: i64, offset_secs: i32) -> String {
    let (y, mo, d, h, mi, s) = civil(t.saturating_add(i64::from(offset_secs)));
    let zone = if offset_secs == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let abs = offset_secs.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
}

/// The local time zone's offset from UTC at Unix seconds `t`, in seconds,
/// from the TZif file that `TZ` names (`:Europe/Paris`, `Europe/Paris`, a
/// path) or else `/etc/localtime`; 0 (UTC) when there is none or it cannot
/// be read. After the file's last transition its last offset applies.
pub fn local_offset(t: i64) -> i32 {
    let path = match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let name = tz.trim_start_matches(':');
            if name.starts_with('/') {
                std::path::PathBuf::from(name)
            } else if name.contains("..") {
                return 0;
            } else {
                std::path::Path::new("/usr/share/zoneinfo").join(name)
            }
        }
        _ => std::path::PathBuf::from("/etc/localtime"),
    };
    std::fs::read(path)
        .ok()
        .and_then(|bytes| tzif_offset(&bytes, t))
        .unwrap_or(0)
}

/// The UTC offset at `t` in a TZif file (RFC 8536): the local time type of
/// the last transition at or before `t` (the first type before any).
pub fn tzif_offset(bytes: &[u8], t: i64) -> Option<i32> {
    fn be32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    fn counts(b: &[u8]) -> Option<[usize; 6]> {
        if b.get(..4)? != b"TZif" {
            return None;
        }
        let mut c = [0usize; 6];
        for (i, v) in c.iter_mut().enumerate() {
            *v = usize::try_from(be32(b, 20 + 4 * i)?).ok()?;
        }
        Some(c)
    }
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(bytes)?;
    let version = *bytes.get(4)?;
    // Version 2+ repeats the data with 64-bit times after the v1 block.
    let (data, time_size) = if version >= b'2' {
        let v1 = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        (bytes.get(v1..)?, 8)
    } else {
        (bytes, 4)
    };
    let [_, _, _, timecnt, typecnt, _] = counts(data)?;
    let times = 44;
    let idx = times + timecnt * time_size;
    let types = idx + timecnt;
    let time_at = |i: usize| -> Option<i64> {
        let at = times + i * time_size;
        Some(if time_size == 8 {
            i64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
        })
    };
    let mut ty = 0usize;
    for i in 0..timecnt {
        if time_at(i)? > t {
            break;
        }
        ty = usize::from(*data.get(idx + i)?);
    }
    if ty >= typecnt {
        return None;
    }
    let at = types + ty * 6;
    Some(i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// CPU time (user + system, all threads) this process has used, from
/// `/proc/self/stat`; zero where that file cannot be read. Benchmarks and
/// load generators print it so a run shows whether they were the limit.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After "pid (comm) ", utime and stime are the 12th and 13th fields; the
    // command name may hold spaces, so cut at the last ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let mut fields = rest.split_whitespace().skip(11);
    let mut ticks = |_| {
        fields
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let total = ticks(()) + ticks(());
    // USER_HZ is 100 on every Linux architecture headend runs on.
    Duration::from_millis(total * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_writes_the_offset_or_z() {
        assert_eq!(rfc3339_offset(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_offset(1_780_000_000, 3600),
            "2026-05-28T21:26:40+01:00"
        );
        assert_eq!(
            rfc3339_offset(1_780_000_000, -(5 * 3600 + 1800)),
            "2026-05-28T14:56:40-05:30"
        );
    }

    #[test]
    fn tzif_offsets_follow_daylight_saving_time() {
        let Ok(paris) = std::fs::read("/usr/share/zoneinfo/Europe/Paris") else {
            panic!("tzdata is missing: apt-get install tzdata");
        };
        // 2026-01-15 and 2026-07-15, 12:00 UTC.
        assert_eq!(tzif_offset(&paris, 1_768_478_400), Some(3600));
        assert_eq!(tzif_offset(&paris, 1_784_116_800), Some(7200));
        assert_eq!(tzif_offset(b"not a tzif file", 0), None);
    }

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
    fn process_cpu_grows_with_work() {
        let before = process_cpu();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(80) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(
            process_cpu() > before,
            "80 ms of spinning shows as CPU time"
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
