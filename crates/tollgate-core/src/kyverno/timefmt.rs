//! Parsing times with a Go reference layout (`2006-01-02 15:04:05`), as Kyverno's `time_parse`
//! and `time_since` take them. Values come from resources: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use tollgate_yaml::time::{build, Timestamp};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Layout tokens, longest first so `2006` wins over `2`, `January` over `Jan`.
const TOKENS: &[&str] = &[
    "January", "Monday", "Z07:00", "-07:00", "Z0700", "-0700", "2006", "Jan", "Mon", "MST", "01",
    "02", "_2", "15", "03", "04", "05", "PM", "pm", "-07", "1", "2", "3", "4", "5",
];

/// Parses `value` laid out as `layout`.
pub(super) fn parse(layout: &str, value: &str) -> Result<Timestamp, String> {
    let bad = || format!("'{value}' does not match the time layout '{layout}'");
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut nanos, mut off) =
        (1i64, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32, 0i32);
    let mut pm: Option<bool> = None;
    let mut l = layout;
    let mut v = value;
    while !l.is_empty() {
        // Fractional seconds: `.000` (exact digits) or `.999` (optional).
        if let Some(rest) = l.strip_prefix('.') {
            let digits = rest
                .bytes()
                .take_while(|b| *b == b'0' || *b == b'9')
                .count();
            if digits > 0 && !rest[..digits].is_empty() {
                l = &rest[digits..];
                if let Some(vr) = v.strip_prefix('.') {
                    let n = vr.bytes().take_while(u8::is_ascii_digit).count();
                    let frac = format!("{:0<9}", &vr[..n.min(9)]);
                    nanos = frac.parse().map_err(|_| bad())?;
                    v = &vr[n..];
                }
                continue;
            }
        }
        let Some(tok) = TOKENS.iter().find(|t| l.starts_with(**t)) else {
            let c = l.chars().next().unwrap_or(' ');
            v = v.strip_prefix(c).ok_or_else(bad)?;
            l = &l[c.len_utf8()..];
            continue;
        };
        l = &l[tok.len()..];
        let take_num = |v: &mut &str, min: usize, max: usize| -> Result<i64, String> {
            let n = v.bytes().take_while(u8::is_ascii_digit).count().min(max);
            if n < min {
                return Err(bad());
            }
            let r = v[..n].parse().map_err(|_| bad());
            *v = &v[n..];
            r
        };
        match *tok {
            "2006" => y = take_num(&mut v, 4, 4)?,
            "01" => mo = take_num(&mut v, 2, 2)? as u32,
            "1" => mo = take_num(&mut v, 1, 2)? as u32,
            "02" => d = take_num(&mut v, 2, 2)? as u32,
            "2" => d = take_num(&mut v, 1, 2)? as u32,
            "_2" => {
                v = v.trim_start_matches(' ');
                d = take_num(&mut v, 1, 2)? as u32;
            }
            "15" => h = take_num(&mut v, 1, 2)? as u32,
            "03" | "3" => h = take_num(&mut v, 1, 2)? as u32,
            "04" | "4" => mi = take_num(&mut v, 1, 2)? as u32,
            "05" | "5" => s = take_num(&mut v, 1, 2)? as u32,
            "PM" | "pm" => {
                let up = v.get(..2).unwrap_or("").to_ascii_uppercase();
                pm = Some(match up.as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(bad()),
                });
                v = &v[2..];
            }
            "Jan" | "January" => {
                let full = *tok == "January";
                let i = MONTHS
                    .iter()
                    .position(|m| v.starts_with(if full { m } else { m.get(..3).unwrap_or(m) }))
                    .ok_or_else(bad)?;
                let taken = if full {
                    MONTHS.get(i).map_or(3, |m| m.len())
                } else {
                    3
                };
                v = v.get(taken..).ok_or_else(bad)?;
                mo = u32::try_from(i).map_err(|_| bad())?.saturating_add(1);
            }
            "Mon" | "Monday" => {
                let full = *tok == "Monday";
                let i = DAYS
                    .iter()
                    .position(|m| v.starts_with(if full { m } else { m.get(..3).unwrap_or(m) }))
                    .ok_or_else(bad)?;
                let taken = if full {
                    DAYS.get(i).map_or(3, |d| d.len())
                } else {
                    3
                };
                v = v.get(taken..).ok_or_else(bad)?;
            }
            "MST" => {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(bad());
                }
                v = &v[n..];
            }
            zone => {
                if zone.starts_with('Z') && v.starts_with('Z') {
                    v = &v[1..];
                    off = 0;
                    continue;
                }
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                v = &v[1..];
                let hh = take_num(&mut v, 2, 2)?;
                let mut mm = 0;
                if zone.ends_with("07:00") {
                    v = v.strip_prefix(':').ok_or_else(bad)?;
                    mm = take_num(&mut v, 2, 2)?;
                } else if zone.ends_with("0700") {
                    mm = take_num(&mut v, 2, 2)?;
                }
                // Two-digit hours and minutes: at most 99 * 3600 + 99 * 60, far inside i32.
                let seconds = hh
                    .saturating_mul(3600)
                    .saturating_add(mm.saturating_mul(60));
                off = i32::try_from(seconds)
                    .map_err(|_| bad())?
                    .saturating_mul(sign);
            }
        }
    }
    if !v.is_empty() {
        return Err(bad());
    }
    if let Some(pm) = pm {
        if h > 12 {
            return Err(bad());
        }
        h = match (pm, h) {
            (true, 12) => 12,
            (true, h) => h.saturating_add(12),
            (false, 12) => 0,
            (false, h) => h,
        };
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok(build(y, mo, d, h, mi, s, nanos, off))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn go_layouts() {
        let t = parse("2006-01-02", "2024-03-05").unwrap();
        assert_eq!(t.rfc3339(), "2024-03-05T00:00:00Z");
        let t = parse("Mon Jan _2 15:04:05 2006", "Tue Mar  5 13:04:05 2024").unwrap();
        assert_eq!(t.rfc3339(), "2024-03-05T13:04:05Z");
        let t = parse(
            "2006-01-02T15:04:05.000-07:00",
            "2024-03-05T13:04:05.250+02:00",
        )
        .unwrap();
        assert_eq!(t.rfc3339_nano(), "2024-03-05T13:04:05.25+02:00");
        let t = parse("3:04PM", "1:30PM").unwrap();
        assert_eq!(t.rfc3339(), "0001-01-01T13:30:00Z");
        assert!(parse("2006-01-02", "2024/03/05").is_err());
    }
}
