//! Kubernetes quantities and Go durations, the two unit systems Kyverno compares before it falls
//! back to strings (`1Gi` equals `1024Mi`, `90s` is more than `1m`). Values come from
//! resources: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

/// A quantity's suffix family: it decides how a computed quantity is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ...
    Binary,
    /// `m`, `k`, `M`, ... or none.
    Decimal,
}

/// Parses a Kubernetes quantity (`500m`, `1.5Gi`, `1e3`, `8E+01`) into its value.
pub fn parse_quantity(s: &str) -> Option<(f64, Format)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let digits_start = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut seen_digit = false;
    let mut seen_dot = false;
    let len = b
        .iter()
        .skip(digits_start)
        .take_while(|c| match c {
            b'0'..=b'9' => {
                seen_digit = true;
                true
            }
            b'.' if !seen_dot => {
                seen_dot = true;
                true
            }
            _ => false,
        })
        .count();
    if !seen_digit {
        return None;
    }
    // Sign, digits and dots are ASCII: the split is on a character boundary.
    let (number, suffix) = s.split_at_checked(digits_start.saturating_add(len))?;
    let number: f64 = number.parse().ok()?;
    let (mult, format) = match suffix {
        "" => (1.0, Format::Decimal),
        "n" => (1e-9, Format::Decimal),
        "u" => (1e-6, Format::Decimal),
        "m" => (1e-3, Format::Decimal),
        "k" => (1e3, Format::Decimal),
        "M" => (1e6, Format::Decimal),
        "G" => (1e9, Format::Decimal),
        "T" => (1e12, Format::Decimal),
        "P" => (1e15, Format::Decimal),
        "E" => (1e18, Format::Decimal),
        "Ki" => (1024f64, Format::Binary),
        "Mi" => (1024f64.powi(2), Format::Binary),
        "Gi" => (1024f64.powi(3), Format::Binary),
        "Ti" => (1024f64.powi(4), Format::Binary),
        "Pi" => (1024f64.powi(5), Format::Binary),
        "Ei" => (1024f64.powi(6), Format::Binary),
        exp if exp.starts_with(['e', 'E']) => {
            let e = &exp[1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = e.parse().ok()?;
            (10f64.powi(e), Format::Decimal)
        }
        _ => return None,
    };
    Some((number * mult, format))
}

/// Writes a quantity the way Kubernetes would for the common cases: the largest suffix that
/// keeps the number whole.
pub fn format_quantity(v: f64, format: Format) -> String {
    if v == 0.0 {
        return "0".into();
    }
    match format {
        Format::Binary => {
            for (suffix, power) in [
                ("Ei", 6),
                ("Pi", 5),
                ("Ti", 4),
                ("Gi", 3),
                ("Mi", 2),
                ("Ki", 1),
            ] {
                let unit = 1024f64.powi(power);
                if (v / unit).fract() == 0.0 && v.abs() >= unit {
                    return format!("{}{suffix}", v / unit);
                }
            }
            if v.fract() == 0.0 {
                return format!("{v}");
            }
            format_quantity(v, Format::Decimal)
        }
        Format::Decimal => {
            for (suffix, power) in [
                ("E", 18),
                ("P", 15),
                ("T", 12),
                ("G", 9),
                ("M", 6),
                ("k", 3),
            ] {
                let unit = 10f64.powi(power);
                if (v / unit).fract() == 0.0 && v.abs() >= unit {
                    return format!("{}{suffix}", v / unit);
                }
            }
            if v.fract() == 0.0 {
                return format!("{v}");
            }
            let milli = v * 1e3;
            if (milli.round() - milli).abs() < 1e-6 {
                return format!("{}m", milli.round());
            }
            format!("{v}")
        }
    }
}

/// Parses a Go duration (`1h30m`, `1.5s`, `-2m`, `0`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let neg = rest.starts_with('-');
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * unit;
    }
    Some(if neg { -total } else { total })
}

/// Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        // Sub-second: one unit with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac(u, div));
        out.push_str(unit);
        return out;
    }
    let h = u / 3_600_000_000_000;
    let m = u / 60_000_000_000 % 60;
    let s_nanos = u % 60_000_000_000;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&frac(s_nanos, 1_000_000_000));
    out.push('s');
    out
}

fn frac(v: u64, div: u64) -> String {
    let (Some(whole), Some(rem)) = (v.checked_div(div), v.checked_rem(div)) else {
        return v.to_string();
    };
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(
            parse_quantity("1Gi").unwrap().0,
            parse_quantity("1024Mi").unwrap().0
        );
        assert_eq!(parse_quantity("500m").unwrap().0, 0.5);
        assert_eq!(parse_quantity("8E+01").unwrap().0, 80.0);
        assert_eq!(parse_quantity("1e3").unwrap().0, 1000.0);
        assert!(parse_quantity("abc").is_none());
        assert!(parse_quantity("1Gb").is_none());
        assert!(parse_quantity("").is_none());
        assert_eq!(
            format_quantity(1536.0 * 1024.0 * 1024.0, Format::Binary),
            "1536Mi"
        );
        assert_eq!(format_quantity(0.25, Format::Decimal), "250m");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5400e9));
        assert_eq!(parse_duration("1.5s"), Some(1.5e9));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert!(parse_duration("10").is_none());
        assert!(parse_duration("1x").is_none());
        assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_duration(90_000_000_000), "1m30s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(500_000_000), "500ms");
        assert_eq!(format_duration(-2_000_000_000), "-2s");
    }
}
