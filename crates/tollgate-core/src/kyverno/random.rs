//! Kyverno's `random(pattern)`: a random string that matches a regular expression, generated
//! from the expression's syntax tree.

use rand::Rng;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Unbounded repetitions (`*`, `+`, `{n,}`) stop this many times past their minimum.
const OPEN_REPEAT: u32 = 8;

/// A string matching `pattern`.
pub(super) fn generate(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| format!("invalid pattern: {e}"))?;
    let mut out = String::new();
    let mut rng = rand::thread_rng();
    emit(&hir, &mut rng, &mut out)?;
    Ok(out)
}

fn emit(h: &Hir, rng: &mut impl Rng, out: &mut String) -> Result<(), String> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
        HirKind::Class(Class::Unicode(c)) => {
            let ranges = c.ranges();
            let total: u64 = ranges
                .iter()
                .map(|r| u64::from(r.end()) - u64::from(r.start()) + 1)
                .sum();
            if total == 0 {
                return Err("the pattern has an empty character class".into());
            }
            let mut pick = rng.gen_range(0..total);
            for r in ranges {
                let size = u64::from(r.end()) - u64::from(r.start()) + 1;
                if pick < size {
                    let c = char::from_u32(r.start() as u32 + pick as u32).unwrap_or('x');
                    out.push(c);
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let ranges = c.ranges();
            if ranges.is_empty() {
                return Err("the pattern has an empty character class".into());
            }
            let r = ranges[rng.gen_range(0..ranges.len())];
            out.push(char::from(rng.gen_range(r.start()..=r.end())));
        }
        HirKind::Repetition(r) => {
            let max = r.max.unwrap_or(r.min + OPEN_REPEAT);
            let n = rng.gen_range(r.min..=max.max(r.min));
            for _ in 0..n {
                emit(&r.sub, rng, out)?;
            }
        }
        HirKind::Capture(c) => emit(&c.sub, rng, out)?,
        HirKind::Concat(parts) => {
            for p in parts {
                emit(p, rng, out)?;
            }
        }
        HirKind::Alternation(alts) => emit(&alts[rng.gen_range(0..alts.len())], rng, out)?,
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
}
