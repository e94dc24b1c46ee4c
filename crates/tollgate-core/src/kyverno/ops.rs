//! Comparisons: a scalar pattern against a resource value (`>=1`, `!default`, `a | b`, `1-5`,
//! `1Gi`, wildcards) and the condition operators of `deny` and `preconditions` (`Equals`,
//! `AnyIn`, `GreaterThan`, ...), each trying durations, then quantities, then strings.

use super::units::{parse_duration, parse_quantity};
use crate::wildcard;
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::OnceLock;

// --- scalar patterns -----------------------------------------------------------------------

/// Whether a resource value satisfies a scalar pattern (bool, number, null, string, or a map
/// pattern used as "is an object").
pub fn pattern_scalar(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(p) => value.as_bool() == Some(*p),
        Value::Number(p) => {
            let p = p.as_f64().unwrap_or(f64::NAN);
            if p.fract() == 0.0 {
                match value {
                    Value::Number(v) => v.as_f64() == Some(p),
                    Value::String(s) => s.parse::<i64>().is_ok_and(|i| i as f64 == p),
                    _ => false,
                }
            } else {
                match value {
                    Value::Number(v) => v.as_f64() == Some(p),
                    Value::String(s) => s.parse::<f64>().is_ok_and(|f| f == p),
                    _ => false,
                }
            }
        }
        Value::Null => match value {
            Value::Null => true,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::Array(_) => false,
        Value::String(p) => string_pattern(value, p),
    }
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern
        .split('|')
        .any(|alt| alt.trim().split('&').all(|part| single(value, part.trim())))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

fn range_re() -> &'static (regex::Regex, regex::Regex) {
    static RE: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        let num = r"([-|+]?\d+(?:\.\d+)?[A-Za-z]*)";
        (
            regex::Regex::new(&format!("^{num}-{num}$")).expect("static regex"),
            regex::Regex::new(&format!("^{num}!-{num}$")).expect("static regex"),
        )
    })
}

fn single(value: &Value, pattern: &str) -> bool {
    if pattern.len() >= 2 {
        let (inr, notr) = range_re();
        let ops: [(&str, Cmp); 5] = [
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
            ("!", Cmp::Ne),
        ];
        for (prefix, op) in ops {
            if let Some(rest) = pattern.strip_prefix(prefix) {
                return compare_value(value, rest.trim(), op);
            }
        }
        if let Some(c) = notr.captures(pattern) {
            return compare_value(value, &c[1], Cmp::Lt) || compare_value(value, &c[2], Cmp::Gt);
        }
        if let Some(c) = inr.captures(pattern) {
            return compare_value(value, &c[1], Cmp::Ge) && compare_value(value, &c[2], Cmp::Le);
        }
    }
    compare_value(value, pattern, Cmp::Eq)
}

/// A value as Kyverno's CLI sees it when comparing as text: numbers are float64 there, and
/// Go prints them in `%E`-free shortest form for whole numbers handled by the quantity path.
fn value_text(value: &Value, nil_as_zero: bool) -> Option<String> {
    match value {
        Value::Null if nil_as_zero => Some("0".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(go_e(n.as_f64().unwrap_or(0.0))),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'E', -1, 64)`: `8E+01`, `1.5E+00`.
pub fn go_e(f: f64) -> String {
    let s = format!("{f:E}");
    let (mant, exp) = s.split_once('E').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}E{sign}{:02}", exp.unsigned_abs())
}

fn ordered(o: Ordering, op: Cmp) -> bool {
    match op {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Ge => o != Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
    }
}

fn compare_value(value: &Value, pattern: &str, op: Cmp) -> bool {
    // Durations, then quantities (an absent value counts as "0" on these two paths).
    if let Some(p) = parse_duration(pattern) {
        if let Some(v) = value_text(value, true).and_then(|t| parse_duration(&t)) {
            return v.partial_cmp(&p).is_some_and(|o| ordered(o, op));
        }
    }
    if let Some((p, _)) = parse_quantity(pattern) {
        if let Some((v, _)) = value_text(value, true).and_then(|t| parse_quantity(&t)) {
            return v.partial_cmp(&p).is_some_and(|o| ordered(o, op));
        }
    }
    let Some(text) = value_text(value, false) else {
        return false;
    };
    match op {
        Cmp::Eq => wildcard::matches(pattern, &text),
        Cmp::Ne => !wildcard::matches(pattern, &text),
        _ => false,
    }
}

// --- condition operators -------------------------------------------------------------------

/// The operators of `deny` and `preconditions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `Equals` / `Equal`.
    Equals,
    /// `NotEquals` / `NotEqual`.
    NotEquals,
    /// `In` (deprecated).
    In,
    /// `NotIn` (deprecated).
    NotIn,
    /// `AnyIn`.
    AnyIn,
    /// `AllIn`.
    AllIn,
    /// `AnyNotIn`.
    AnyNotIn,
    /// `AllNotIn`.
    AllNotIn,
    /// `GreaterThan` (and the `Duration` form).
    GreaterThan,
    /// `GreaterThanOrEquals`.
    GreaterThanOrEquals,
    /// `LessThan`.
    LessThan,
    /// `LessThanOrEquals`.
    LessThanOrEquals,
}

impl Operator {
    /// Every spelling Kyverno accepts.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Equals" | "Equal" => Operator::Equals,
            "NotEquals" | "NotEqual" => Operator::NotEquals,
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "AnyIn" => Operator::AnyIn,
            "AllIn" => Operator::AllIn,
            "AnyNotIn" => Operator::AnyNotIn,
            "AllNotIn" => Operator::AllNotIn,
            "GreaterThan" | "DurationGreaterThan" => Operator::GreaterThan,
            "GreaterThanOrEquals" | "DurationGreaterThanOrEquals" => Operator::GreaterThanOrEquals,
            "LessThan" | "DurationLessThan" => Operator::LessThan,
            "LessThanOrEquals" | "DurationLessThanOrEquals" => Operator::LessThanOrEquals,
            _ => return None,
        })
    }
}

/// The operator names, for error messages.
pub const OPERATORS: &str = "Equals, NotEquals, In, NotIn, AnyIn, AllIn, AnyNotIn, AllNotIn, GreaterThan, GreaterThanOrEquals, LessThan, LessThanOrEquals, Duration*";

/// Evaluates `key <op> value`.
pub fn condition(op: Operator, key: &Value, value: &Value) -> bool {
    match op {
        Operator::Equals => equals(key, value),
        Operator::NotEquals => !equals(key, value),
        Operator::GreaterThan => numeric(key, value).is_some_and(|o| o == Ordering::Greater),
        Operator::GreaterThanOrEquals => numeric(key, value).is_some_and(|o| o != Ordering::Less),
        Operator::LessThan => numeric(key, value).is_some_and(|o| o == Ordering::Less),
        Operator::LessThanOrEquals => numeric(key, value).is_some_and(|o| o != Ordering::Greater),
        Operator::AnyIn | Operator::In => set_op(key, value, SetOp::Any, op == Operator::In),
        Operator::AllIn => set_op(key, value, SetOp::All, false),
        Operator::AnyNotIn | Operator::NotIn => {
            set_op(key, value, SetOp::AnyNot, op == Operator::NotIn)
        }
        Operator::AllNotIn => set_op(key, value, SetOp::AllNot, false),
    }
}

/// Both sides as durations when at least one is a duration string; a bare number is seconds.
fn durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let as_dur = |v: &Value| match v {
        Value::String(s) if s != "0" => parse_duration(s),
        _ => None,
    };
    let (k, v) = (as_dur(key), as_dur(value));
    if k.is_none() && v.is_none() {
        return None;
    }
    let secs = |d: Option<f64>, raw: &Value| -> Option<f64> {
        match d {
            Some(d) => Some(d / 1e9),
            None => match raw {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => parse_duration(&format!("{s}s")).map(|d| d / 1e9),
                _ => None,
            },
        }
    };
    Some((secs(k, key)?, secs(v, value)?))
}

fn quantities(key: &Value, value: &Value) -> Option<(f64, f64)> {
    match (key, value) {
        (Value::String(k), Value::String(v)) => Some((exact_quantity(k)?, exact_quantity(v)?)),
        _ => None,
    }
}

/// A quantity that an f64 holds exactly enough to compare: Kubernetes compares quantities
/// in arbitrary precision, so a number with more significant digits than an f64 keeps (an
/// RSA modulus in decimal, a 20-digit id) is compared as the text it is, not rounded into
/// equality with its neighbours (or with another such number, as infinity).
fn exact_quantity(s: &str) -> Option<f64> {
    let significant = s
        .trim()
        .trim_start_matches(['+', '-'])
        .trim_start_matches(['0', '.'])
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .filter(u8::is_ascii_digit)
        .count();
    let (q, _) = parse_quantity(s)?;
    (significant <= 15 && q.is_finite()).then_some(q)
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => {
            let k = k.as_f64();
            match value {
                Value::Number(v) => v.as_f64() == k,
                Value::String(s) => s.parse::<f64>().ok() == k,
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a == b;
            }
            if let Some((a, b)) = quantities(key, value) {
                return a == b;
            }
            match value {
                Value::String(v) => wildcard::matches(v, k),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => super::jmes::json_eq(key, value),
        Value::Null => false,
    }
}

fn semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let v = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    it.next().is_none().then_some(v)
}

/// The ordering of `key` against `value`, when they are comparable.
fn numeric(key: &Value, value: &Value) -> Option<Ordering> {
    if let Some((a, b)) = durations(key, value) {
        return a.partial_cmp(&b);
    }
    if let Some((a, b)) = quantities(key, value) {
        return a.partial_cmp(&b);
    }
    if let (Value::String(k), Value::String(v)) = (key, value) {
        if let (Some(a), Some(b)) = (semver(k), semver(v)) {
            return Some(a.cmp(&b));
        }
    }
    let k = number_of(key)?;
    let v = number_of(value)?;
    k.partial_cmp(&v)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Any,
    All,
    AnyNot,
    AllNot,
}

/// Go's `fmt.Sprint` of a JSON value, which is how Kyverno turns set elements into strings.
pub fn go_sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e21 {
                format!("{}", f as i128)
            } else {
                format!("{f}")
            }
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(go_sprint).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", go_sprint(&m[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

fn either_match(a: &str, b: &str) -> bool {
    wildcard::matches(a, b) || wildcard::matches(b, a)
}

/// The value side as a list of strings: an array, a JSON array in a string, or a single string.
fn value_set(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(a) => Some(a.iter().map(go_sprint).collect()),
        Value::String(s) => match serde_json::from_str::<Vec<Value>>(s) {
            Ok(arr) => Some(arr.iter().map(go_sprint).collect()),
            Err(_) => Some(vec![s.clone()]),
        },
        _ => None,
    }
}

/// A range value `a-b` (inclusive) or `a!-b` (outside), against a numeric key.
fn in_range(key: &str, value: &Value) -> Option<bool> {
    let Value::String(v) = value else {
        return None;
    };
    let (inr, notr) = range_re();
    let k: f64 = key.parse().ok()?;
    if let Some(c) = notr.captures(v) {
        let (a, b): (f64, f64) = (c[1].parse().ok()?, c[2].parse().ok()?);
        return Some(k < a || k > b);
    }
    let c = inr.captures(v)?;
    let (a, b): (f64, f64) = (c[1].parse().ok()?, c[2].parse().ok()?);
    Some(k >= a && k <= b)
}

fn set_op(key: &Value, value: &Value, op: SetOp, legacy: bool) -> bool {
    let keys: Vec<String> = match key {
        Value::Array(a) => a.iter().map(go_sprint).collect(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let k = go_sprint(key);
            if let Some(r) = in_range(&k, value) {
                return match op {
                    SetOp::Any | SetOp::All => r,
                    SetOp::AnyNot | SetOp::AllNot => !r,
                };
            }
            vec![k]
        }
        _ => return false,
    };
    // A range value (`5000-6000`) holds each key element that falls inside it.
    if let Some(hits) = keys
        .iter()
        .map(|k| in_range(k, value))
        .collect::<Option<Vec<bool>>>()
        .filter(|_| !keys.is_empty())
    {
        let n = hits.iter().filter(|h| **h).count();
        return match op {
            SetOp::Any => n > 0,
            SetOp::All => n == keys.len(),
            SetOp::AnyNot => n < keys.len(),
            SetOp::AllNot => n == 0,
        };
    }
    let Some(values) = value_set(value) else {
        return false;
    };
    let found = |k: &String| {
        values.iter().any(|v| {
            if legacy {
                v == k || wildcard::matches(v, k)
            } else {
                either_match(k, v)
            }
        })
    };
    let hits = keys.iter().filter(|k| found(k)).count();
    match op {
        SetOp::Any => hits > 0,
        SetOp::All => hits == keys.len(),
        SetOp::AnyNot => hits < keys.len(),
        SetOp::AllNot => hits == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalar_patterns() {
        assert!(pattern_scalar(&json!("abc"), &json!("a*")));
        assert!(!pattern_scalar(&json!("default"), &json!("!default")));
        assert!(pattern_scalar(&json!("x"), &json!("!default")));
        assert!(pattern_scalar(&json!(3), &json!(">2")));
        assert!(pattern_scalar(&json!("2Gi"), &json!("<=2048Mi")));
        assert!(pattern_scalar(&json!(5), &json!("1-10")));
        assert!(!pattern_scalar(&json!(5), &json!("1!-10")));
        assert!(pattern_scalar(&json!("b"), &json!("a | b")));
        assert!(pattern_scalar(&json!(5), &json!(">1 & <10")));
        assert!(
            pattern_scalar(&json!(null), &json!("<10")),
            "absent counts as 0 for numbers"
        );
        assert!(
            !pattern_scalar(&json!(null), &json!("!x")),
            "absent fails string comparisons"
        );
        assert!(pattern_scalar(&json!(""), &json!(null)));
        assert!(pattern_scalar(&json!(false), &json!(null)));
        assert!(!pattern_scalar(&json!({}), &json!(null)));
        assert!(pattern_scalar(&json!("80"), &json!(80)));
        assert!(pattern_scalar(&json!(true), &json!(true)));
        assert!(!pattern_scalar(&json!("true"), &json!(true)));
        assert!(pattern_scalar(&json!("90s"), &json!(">1m")));
        assert_eq!(go_e(80.0), "8E+01");
        assert_eq!(go_e(1.5), "1.5E+00");
    }

    #[test]
    fn conditions() {
        use Operator::*;
        assert!(condition(Equals, &json!("abc"), &json!("a*")));
        assert!(condition(Equals, &json!("1Gi"), &json!("1024Mi")));
        // Numbers past an f64's precision compare as text, not rounded into equality:
        // two 20-digit values one apart differ, and two different 600-digit RSA moduli
        // (infinite as f64) are not equal (Kyverno's x509 test compares such N values).
        assert!(!condition(
            Equals,
            &json!("12345678901234567890"),
            &json!("12345678901234567891")
        ));
        let (a, b) = ("7".repeat(600), "8".repeat(600));
        assert!(condition(NotEquals, &json!(a), &json!(b)));
        assert!(condition(Equals, &json!(a), &json!(a.clone())));
        assert!(condition(Equals, &json!(3), &json!("3")));
        assert!(!condition(Equals, &json!(null), &json!(null)));
        assert!(condition(AnyIn, &json!(["a", "b"]), &json!(["b", "c"])));
        assert!(!condition(AllIn, &json!(["a", "b"]), &json!(["b", "c"])));
        assert!(condition(AnyNotIn, &json!(["a", "b"]), &json!(["b", "c"])));
        assert!(condition(AllNotIn, &json!(["x"]), &json!(["b", "c"])));
        assert!(condition(AnyIn, &json!("kube-system"), &json!(["kube-*"])));
        assert!(condition(AnyIn, &json!("a"), &json!("[\"a\",\"b\"]")));
        assert!(condition(AnyIn, &json!(5), &json!("1-10")));
        assert!(!condition(
            AnyNotIn,
            &json!([5500, 5600]),
            &json!("5000-6000")
        ));
        assert!(condition(AnyNotIn, &json!([5500, 80]), &json!("5000-6000")));
        assert!(condition(GreaterThan, &json!("3Gi"), &json!("2Gi")));
        assert!(condition(GreaterThan, &json!(3), &json!(2)));
        assert!(condition(LessThan, &json!("1.2.3"), &json!("1.10.0")));
        assert!(condition(GreaterThan, &json!("2h"), &json!("90m")));
        assert!(!condition(GreaterThan, &json!("abc"), &json!(1)));
        assert!(condition(NotEquals, &json!("a"), &json!("b")));
        assert!(condition(Equals, &json!({"a": 1}), &json!({"a": 1.0})));
    }
}
