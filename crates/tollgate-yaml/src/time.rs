//! RFC 3339 timestamps without a date-time dependency: sops's `lastmodified` AAD and YAML
//! `type:time` values must be formatted exactly as Go's `time` package does.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "calendar arithmetic on values the parser has range-checked (months 1-12, days 1-31, years 0-9999)"
)]

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant with the UTC offset it was written in (Go keeps the offset, and so must we).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset east of UTC in seconds.
    pub offset: i32,
}

impl Timestamp {
    /// Now, in UTC, truncated to the second (sops writes second precision).
    pub fn now_utc() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        Timestamp {
            unix,
            nanos: 0,
            offset: 0,
        }
    }

    /// Go `time.RFC3339`: second precision, `Z` for a zero offset.
    pub fn rfc3339(&self) -> String {
        self.format(false)
    }

    /// Go `time.RFC3339Nano` (what `MarshalText` writes): fraction without trailing zeros.
    pub fn rfc3339_nano(&self) -> String {
        self.format(true)
    }

    fn format(&self, nanos: bool) -> String {
        let local = self.unix + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        if nanos && self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let abs = self.offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60));
        }
        out
    }
}

/// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, s)` does: fractional seconds accepted.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') && b.get(10) != Some(&b't') {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let (y, m, d) = parse_date(date, true)?;
    let rest = rest.get(1..)?;
    let (clock, zone) = split_zone(rest)?;
    let (h, mi, sec, nanos) = parse_clock(clock, true)?;
    let offset = parse_offset(zone)?;
    Some(build(y, m, d, h, mi, sec, nanos, offset))
}

/// Recognises a YAML timestamp the way yaml.v3 does (formats `2006-1-2T15:4:5.999999999Z07:00`,
/// the same with `t`, `2006-1-2 15:4:5.999999999`, and `2006-1-2`).
pub fn parse_yaml_timestamp(s: &str) -> Option<Timestamp> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits != 4 || s.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    let split = s.find(['T', 't', ' ']);
    let Some(pos) = split else {
        let (y, m, d) = parse_date(s, false)?;
        return Some(build(y, m, d, 0, 0, 0, 0, 0));
    };
    let (y, m, d) = parse_date(&s[..pos], false)?;
    let sep = s.as_bytes()[pos];
    let rest = &s[pos + 1..];
    if sep == b' ' {
        let (h, mi, sec, nanos) = parse_clock(rest, false)?;
        return Some(build(y, m, d, h, mi, sec, nanos, 0));
    }
    let (clock, zone) = split_zone(rest)?;
    let (h, mi, sec, nanos) = parse_clock(clock, false)?;
    let offset = parse_offset(zone)?;
    Some(build(y, m, d, h, mi, sec, nanos, offset))
}

/// An instant from its calendar fields in the given offset.
#[allow(clippy::too_many_arguments)]
pub fn build(
    y: i64,
    m: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    nanos: u32,
    offset: i32,
) -> Timestamp {
    let days = days_from_civil(y, m, d);
    let local = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Timestamp {
        unix: local - i64::from(offset),
        nanos,
        offset,
    }
}

fn split_zone(s: &str) -> Option<(&str, &str)> {
    if let Some(stripped) = s.strip_suffix(['Z', 'z']) {
        return Some((stripped, "Z"));
    }
    let pos = s.rfind(['+', '-'])?;
    Some((&s[..pos], &s[pos..]))
}

fn parse_offset(zone: &str) -> Option<i32> {
    if zone == "Z" {
        return Some(0);
    }
    let b = zone.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let h: i32 = num(&zone[1..3], 2, 2)?;
    let m: i32 = num(&zone[4..6], 2, 2)?;
    if h > 23 || m > 59 {
        return None;
    }
    let total = h * 3600 + m * 60;
    Some(if b[0] == b'-' { -total } else { total })
}

fn parse_date(s: &str, strict: bool) -> Option<(i64, u32, u32)> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let min = if strict { 2 } else { 1 };
    let y: i64 = num(y, 4, 4)?;
    let m: u32 = num(m, min, 2)?;
    let d: u32 = num(d, min, 2)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

fn parse_clock(s: &str, strict: bool) -> Option<(u32, u32, u32, u32)> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let min = if strict { 2 } else { 1 };
    let h: u32 = num(h, min, 2)?;
    let m: u32 = num(m, min, 2)?;
    let sec: u32 = num(sec, min, 2)?;
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            let padded = format!("{f:0<9}");
            padded.parse().ok()?
        }
        Some(_) => return None,
    };
    Some((h, m, sec, nanos))
}

fn num<T: std::str::FromStr>(s: &str, min: usize, max: usize) -> Option<T> {
    if s.len() < min || s.len() > max || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil, exact for the proleptic Gregorian calendar.
/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_like_go() {
        let t = parse_rfc3339("2026-11-21T22:55:09.123456Z").unwrap();
        assert_eq!(t.rfc3339(), "2026-11-21T22:55:09Z");
        assert_eq!(t.rfc3339_nano(), "2026-11-21T22:55:09.123456Z");
        assert_eq!(
            parse_rfc3339("2026-11-21T22:55:09+00:00")
                .unwrap()
                .rfc3339(),
            "2026-11-21T22:55:09Z"
        );
        let plus_one = parse_rfc3339("2026-11-21T23:55:09+01:00").unwrap();
        assert_eq!(plus_one.rfc3339(), "2026-11-21T23:55:09+01:00");
        assert_eq!(
            plus_one.unix,
            parse_rfc3339("2026-11-21T22:55:09Z").unwrap().unix
        );
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("not a time").is_none());
    }

    #[test]
    fn yaml_timestamps() {
        assert_eq!(
            parse_yaml_timestamp("2024-01-01").unwrap().rfc3339_nano(),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            parse_yaml_timestamp("2024-1-2 3:04:05.5")
                .unwrap()
                .rfc3339_nano(),
            "2024-01-02T03:04:05.5Z"
        );
        assert_eq!(
            parse_yaml_timestamp("2001-12-14t21:59:43.10-05:00")
                .unwrap()
                .rfc3339_nano(),
            "2001-12-14T21:59:43.1-05:00"
        );
        assert!(parse_yaml_timestamp("2024-01-01x").is_none());
        assert!(parse_yaml_timestamp("12024-01-01").is_none());
        assert_eq!(
            parse_yaml_timestamp("1969-12-31T23:59:59Z").unwrap().unix,
            -1
        );
    }
}
