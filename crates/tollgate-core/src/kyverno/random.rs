//! Kyverno's `random(pattern)`: a random string that matches a regular expression, generated
//! from the expression's syntax tree. The pattern comes from a policy (or a resource, through
//! a variable): no indexing or unchecked arithmetic here.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use rand::Rng;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Unbounded repetitions (`*`, `+`, `{n,}`) stop this many times past their minimum.
const OPEN_REPEAT: u32 = 8;

/// The longest string generated: `a{1000000000}` is a valid pattern, and a policy must not be
/// able to make the process allocate gigabytes.
const MAX_LEN: usize = 64 * 1024;

/// Syntax-tree steps one generation may take: `((a|){65535}){65535}` often picks the empty
/// branch, and walking it all would take billions of steps.
const MAX_STEPS: usize = 1_000_000;

/// A string matching `pattern`.
pub(super) fn generate(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| format!("invalid pattern: {e}"))?;
    let mut out = String::new();
    let mut rng = rand::thread_rng();
    let mut steps = 0;
    emit(&hir, &mut rng, &mut out, &mut steps)?;
    Ok(out)
}

/// How many characters `start..=end` holds.
fn width(start: char, end: char) -> u64 {
    u64::from(end)
        .saturating_sub(u64::from(start))
        .saturating_add(1)
}

fn emit(h: &Hir, rng: &mut impl Rng, out: &mut String, steps: &mut usize) -> Result<(), String> {
    *steps = steps.saturating_add(1);
    if *steps > MAX_STEPS {
        return Err("the pattern is too complex to generate a string from".into());
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
        HirKind::Class(Class::Unicode(c)) => {
            let ranges = c.ranges();
            let total: u64 = ranges.iter().map(|r| width(r.start(), r.end())).sum();
            if total == 0 {
                return Err("the pattern has an empty character class".into());
            }
            let mut pick = rng.gen_range(0..total);
            for r in ranges {
                let size = width(r.start(), r.end());
                if pick < size {
                    // pick < size, so the sum stays inside the range (a valid scalar value).
                    let c = u32::try_from(u64::from(r.start()).saturating_add(pick))
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('x');
                    out.push(c);
                    break;
                }
                pick = pick.saturating_sub(size);
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let ranges = c.ranges();
            if ranges.is_empty() {
                return Err("the pattern has an empty character class".into());
            }
            if let Some(r) = ranges.get(rng.gen_range(0..ranges.len())) {
                out.push(char::from(rng.gen_range(r.start()..=r.end())));
            }
        }
        HirKind::Repetition(r) => {
            let max = r.max.unwrap_or(r.min.saturating_add(OPEN_REPEAT));
            let n = rng.gen_range(r.min..=max.max(r.min));
            for _ in 0..n {
                emit(&r.sub, rng, out, steps)?;
                if out.len() > MAX_LEN {
                    return Err(format!(
                        "the pattern generates strings longer than {MAX_LEN} bytes"
                    ));
                }
            }
        }
        HirKind::Capture(c) => emit(&c.sub, rng, out, steps)?,
        HirKind::Concat(parts) => {
            for p in parts {
                emit(p, rng, out, steps)?;
            }
        }
        HirKind::Alternation(alts) => {
            if let Some(alt) = alts.get(rng.gen_range(0..alts.len().max(1))) {
                emit(alt, rng, out, steps)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::generate;

    #[test]
    fn output_matches_the_pattern() {
        for p in [
            "[a-z0-9]{6}",
            "(abc|def)-[0-9]+",
            "x\\d{3}y?",
            "[A-Z][a-z]*",
        ] {
            let re = regex::Regex::new(&format!("^(?:{p})$")).unwrap();
            for _ in 0..20 {
                let s = generate(p).unwrap();
                assert!(re.is_match(&s), "{p} -> {s}");
            }
        }
        assert!(generate("[").is_err());
    }

    #[test]
    fn huge_repetitions_are_refused_not_overflowed() {
        // Once an arithmetic overflow (min + 8 past u32::MAX); then gigabytes of output.
        assert!(generate("a{4294967295,}")
            .unwrap_err()
            .contains("longer than"));
        assert!(generate("a{1000000000}")
            .unwrap_err()
            .contains("longer than"));
        // Billions of steps, many of them producing nothing: stopped by one bound or the other.
        assert!(generate("((a|){65535}){65535}").is_err());
    }
}
