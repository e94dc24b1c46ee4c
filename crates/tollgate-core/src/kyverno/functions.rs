//! The JMESPath function table: the standard functions plus Kyverno's own (string, regex,
//! arithmetic on quantities and durations, time, encoding, hashing, images), one table so a
//! policy naming an unknown function fails when it is loaded.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "each function's arity is checked by the table before it runs (`a[0]` of a one-argument function), and its number arithmetic is f64; evaluation panics are contained per resource and the functions are fuzzed (fuzz/kyverno_functions)"
)]

use super::jmes::{apply_expref, json_eq, Arg, JmesError};
use super::units;
use crate::wildcard;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use tollgate_yaml::time::{parse_rfc3339, Timestamp};

type Out = Result<Value, JmesError>;
type Func = fn(&[Arg<'_>]) -> Out;

/// Name, (min, max) argument count (`usize::MAX` = variadic), implementation.
const TABLE: &[(&str, usize, usize, Func)] = &[
    // Standard JMESPath.
    ("abs", 1, 1, f_abs),
    ("avg", 1, 1, f_avg),
    ("ceil", 1, 1, |a| num_fn(a, f64::ceil)),
    ("contains", 2, 2, f_contains),
    ("ends_with", 2, 2, |a| {
        Ok(Value::Bool(s(a, 0)?.ends_with(s(a, 1)?)))
    }),
    ("floor", 1, 1, |a| num_fn(a, f64::floor)),
    ("join", 2, 2, f_join),
    ("keys", 1, 1, f_keys),
    ("length", 1, 1, f_length),
    ("map", 2, 2, f_map),
    ("max", 1, 1, |a| min_max(a, Ordering::Greater)),
    ("max_by", 2, 2, |a| min_max_by(a, Ordering::Greater)),
    ("merge", 1, usize::MAX, f_merge),
    ("min", 1, 1, |a| min_max(a, Ordering::Less)),
    ("min_by", 2, 2, |a| min_max_by(a, Ordering::Less)),
    ("not_null", 1, usize::MAX, f_not_null),
    ("reverse", 1, 1, f_reverse),
    ("sort", 1, 1, f_sort),
    ("sort_by", 2, 2, f_sort_by),
    ("starts_with", 2, 2, |a| {
        Ok(Value::Bool(s(a, 0)?.starts_with(s(a, 1)?)))
    }),
    ("sum", 1, 1, f_sum),
    ("to_array", 1, 1, f_to_array),
    ("to_number", 1, 1, f_to_number),
    ("to_string", 1, 1, f_to_string),
    ("type", 1, 1, f_type),
    ("values", 1, 1, f_values),
    // Kyverno: strings.
    ("compare", 2, 2, |a| {
        Ok(num(ord_num(s(a, 0)?.cmp(s(a, 1)?))))
    }),
    ("equal_fold", 2, 2, |a| {
        Ok(Value::Bool(
            s(a, 0)?.to_lowercase() == s(a, 1)?.to_lowercase(),
        ))
    }),
    ("replace", 4, 4, f_replace),
    ("replace_all", 3, 3, |a| {
        Ok(Value::String(s(a, 0)?.replace(s(a, 1)?, s(a, 2)?)))
    }),
    ("to_upper", 1, 1, |a| {
        Ok(Value::String(s(a, 0)?.to_uppercase()))
    }),
    ("to_lower", 1, 1, |a| {
        Ok(Value::String(s(a, 0)?.to_lowercase()))
    }),
    ("trim", 2, 2, f_trim),
    ("trim_prefix", 2, 2, |a| {
        Ok(Value::String(
            s(a, 0)?
                .strip_prefix(s(a, 1)?)
                .unwrap_or(s(a, 0)?)
                .to_owned(),
        ))
    }),
    ("split", 2, 2, |a| {
        Ok(Value::Array(
            s(a, 0)?
                .split(s(a, 1)?)
                .map(|p| Value::String(p.to_owned()))
                .collect(),
        ))
    }),
    ("truncate", 2, 2, f_truncate),
    ("path_canonicalize", 1, 1, |a| {
        Ok(Value::String(clean_path(s(a, 0)?)))
    }),
    ("to_boolean", 1, 1, f_to_boolean),
    // Kyverno: matching.
    ("regex_match", 2, 2, f_regex_match),
    ("regex_replace_all", 3, 3, |a| regex_replace(a, false)),
    ("regex_replace_all_literal", 3, 3, |a| {
        regex_replace(a, true)
    }),
    ("pattern_match", 2, 2, |a| {
        Ok(Value::Bool(wildcard::matches(s(a, 0)?, &str_or_num(a, 1)?)))
    }),
    ("label_match", 2, 2, f_label_match),
    ("semver_compare", 2, 2, f_semver_compare),
    ("is_external_url", 1, 1, f_is_external_url),
    // Kyverno: arithmetic on numbers, quantities and durations.
    ("add", 2, 2, |a| arith(a, Op::Add)),
    ("subtract", 2, 2, |a| arith(a, Op::Sub)),
    ("multiply", 2, 2, |a| arith(a, Op::Mul)),
    ("divide", 2, 2, |a| arith(a, Op::Div)),
    ("modulo", 2, 2, |a| arith(a, Op::Mod)),
    ("round", 2, 2, f_round),
    // Kyverno: encodings and hashes.
    ("base64_decode", 1, 1, f_base64_decode),
    ("base64_encode", 1, 1, |a| {
        Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(s(a, 0)?),
        ))
    }),
    ("sha256", 1, 1, |a| {
        Ok(Value::String(hex(&<sha2::Sha256 as sha2::Digest>::digest(
            s(a, 0)?.as_bytes(),
        ))))
    }),
    ("sha1", 1, 1, |a| {
        Ok(Value::String(hex(&<sha1::Sha1 as sha1::Digest>::digest(
            s(a, 0)?.as_bytes(),
        ))))
    }),
    ("md5", 1, 1, |a| {
        Ok(Value::String(hex(&<md5::Md5 as md5::Digest>::digest(
            s(a, 0)?.as_bytes(),
        ))))
    }),
    ("parse_json", 1, 1, f_parse_json),
    ("parse_yaml", 1, 1, f_parse_yaml),
    ("x509_decode", 1, 1, super::x509::decode),
    // Kyverno: objects.
    ("lookup", 2, 2, f_lookup),
    ("items", 3, 3, f_items),
    ("object_from_lists", 2, 2, f_object_from_lists),
    ("random", 1, 1, f_random),
    ("image_normalize", 1, 1, |a| {
        super::images::normalize(s(a, 0)?)
            .map(Value::String)
            .map_err(JmesError::Runtime)
    }),
    // Kyverno: time.
    ("time_now", 0, 0, |_| {
        Ok(Value::String(Timestamp::now_utc().rfc3339()))
    }),
    ("time_now_utc", 0, 0, |_| {
        Ok(Value::String(Timestamp::now_utc().rfc3339()))
    }),
    ("time_since", 3, 3, f_time_since),
    ("time_to_cron", 1, 1, f_time_to_cron),
    ("time_add", 2, 2, f_time_add),
    ("time_parse", 2, 2, f_time_parse),
    ("time_utc", 1, 1, |a| {
        Ok(Value::String(ts(a, 0)?.utc().rfc3339()))
    }),
    ("time_diff", 2, 2, f_time_diff),
    ("time_before", 2, 2, |a| {
        Ok(Value::Bool(
            ts(a, 0)?.nanos_total() < ts(a, 1)?.nanos_total(),
        ))
    }),
    ("time_after", 2, 2, |a| {
        Ok(Value::Bool(
            ts(a, 0)?.nanos_total() > ts(a, 1)?.nanos_total(),
        ))
    }),
    ("time_between", 3, 3, f_time_between),
    ("time_truncate", 2, 2, f_time_truncate),
];

/// Whether a function of that name exists.
pub(super) fn exists(name: &str) -> bool {
    TABLE.iter().any(|(n, ..)| *n == name)
}

/// Calls a function by name.
pub(super) fn call(name: &str, args: &[Arg<'_>]) -> Out {
    let Some((_, min, max, f)) = TABLE.iter().find(|(n, ..)| *n == name) else {
        return Err(JmesError::Runtime(format!(
            "Call to undefined function {name}"
        )));
    };
    if args.len() < *min || args.len() > *max {
        return Err(JmesError::Runtime(format!(
            "{name}() takes {} argument(s), got {}",
            if min == max {
                min.to_string()
            } else {
                format!("at least {min}")
            },
            args.len()
        )));
    }
    f(args)
}

fn err(msg: impl Into<String>) -> JmesError {
    JmesError::Runtime(msg.into())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn s<'a>(a: &'a [Arg<'_>], i: usize) -> Result<&'a str, JmesError> {
    match a[i].value() {
        Value::String(x) => Ok(x),
        other => Err(err(format!(
            "argument {} must be a string, got {}",
            i + 1,
            type_name(other)
        ))),
    }
}

fn n(a: &[Arg<'_>], i: usize) -> Result<f64, JmesError> {
    a[i].value().as_f64().ok_or_else(|| {
        err(format!(
            "argument {} must be a number, got {}",
            i + 1,
            type_name(a[i].value())
        ))
    })
}

fn arr<'a>(a: &'a [Arg<'_>], i: usize) -> Result<&'a Vec<Value>, JmesError> {
    match a[i].value() {
        Value::Array(x) => Ok(x),
        other => Err(err(format!(
            "argument {} must be an array, got {}",
            i + 1,
            type_name(other)
        ))),
    }
}

fn obj<'a>(a: &'a [Arg<'_>], i: usize) -> Result<&'a Map<String, Value>, JmesError> {
    match a[i].value() {
        Value::Object(x) => Ok(x),
        other => Err(err(format!(
            "argument {} must be an object, got {}",
            i + 1,
            type_name(other)
        ))),
    }
}

/// Kyverno functions that take "string or number" render the number as Go would.
fn str_or_num(a: &[Arg<'_>], i: usize) -> Result<String, JmesError> {
    match a[i].value() {
        Value::String(x) => Ok(x.clone()),
        Value::Number(x) => Ok(x.to_string()),
        other => Err(err(format!(
            "argument {} must be a string or a number, got {}",
            i + 1,
            type_name(other)
        ))),
    }
}

/// A number as JSON, whole numbers without a fraction (as Go prints float64).
pub(super) fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

fn ord_num(o: Ordering) -> f64 {
    match o {
        Ordering::Less => -1.0,
        Ordering::Equal => 0.0,
        Ordering::Greater => 1.0,
    }
}

fn f_abs(a: &[Arg<'_>]) -> Out {
    Ok(num(n(a, 0)?.abs()))
}

fn num_fn(a: &[Arg<'_>], f: fn(f64) -> f64) -> Out {
    Ok(num(f(n(a, 0)?)))
}

fn f_avg(a: &[Arg<'_>]) -> Out {
    let xs = arr(a, 0)?;
    if xs.is_empty() {
        return Ok(Value::Null);
    }
    let mut total = 0.0;
    for x in xs {
        total += x
            .as_f64()
            .ok_or_else(|| err("avg() needs an array of numbers"))?;
    }
    Ok(num(total / xs.len() as f64))
}

fn f_contains(a: &[Arg<'_>]) -> Out {
    let needle = a[1].value();
    match a[0].value() {
        Value::String(h) => Ok(Value::Bool(match needle {
            Value::String(n) => h.contains(n.as_str()),
            _ => false,
        })),
        Value::Array(items) => Ok(Value::Bool(items.iter().any(|i| json_eq(i, needle)))),
        other => Err(err(format!(
            "contains() needs an array or a string, got {}",
            type_name(other)
        ))),
    }
}

fn f_join(a: &[Arg<'_>]) -> Out {
    let sep = s(a, 0)?;
    let mut parts = Vec::new();
    for v in arr(a, 1)? {
        match v {
            Value::String(x) => parts.push(x.as_str()),
            _ => return Err(err("join() needs an array of strings")),
        }
    }
    Ok(Value::String(parts.join(sep)))
}

fn f_keys(a: &[Arg<'_>]) -> Out {
    Ok(Value::Array(
        obj(a, 0)?
            .keys()
            .map(|k| Value::String(k.clone()))
            .collect(),
    ))
}

fn f_values(a: &[Arg<'_>]) -> Out {
    Ok(Value::Array(obj(a, 0)?.values().cloned().collect()))
}

fn f_length(a: &[Arg<'_>]) -> Out {
    match a[0].value() {
        Value::String(x) => Ok(num(x.chars().count() as f64)),
        Value::Array(x) => Ok(num(x.len() as f64)),
        Value::Object(x) => Ok(num(x.len() as f64)),
        other => Err(err(format!(
            "length() needs a string, array or object, got {}",
            type_name(other)
        ))),
    }
}

fn expref<'a>(a: &'a [Arg<'_>], i: usize) -> Result<&'a jmespath::ast::Ast, JmesError> {
    match &a[i] {
        Arg::Expref(e) => Ok(e),
        Arg::Value(_) => Err(err(format!(
            "argument {} must be an expression (&...)",
            i + 1
        ))),
    }
}

fn f_map(a: &[Arg<'_>]) -> Out {
    let e = expref(a, 0)?;
    let mut out = Vec::new();
    for v in arr(a, 1)? {
        out.push(apply_expref(e, v)?);
    }
    Ok(Value::Array(out))
}

fn cmp_values(x: &Value, y: &Value) -> Result<Ordering, JmesError> {
    match (x, y) {
        (Value::Number(p), Value::Number(q)) => Ok(p
            .as_f64()
            .partial_cmp(&q.as_f64())
            .unwrap_or(Ordering::Equal)),
        (Value::String(p), Value::String(q)) => Ok(p.cmp(q)),
        _ => Err(err("values must all be numbers or all be strings")),
    }
}

fn min_max(a: &[Arg<'_>], want: Ordering) -> Out {
    let xs = arr(a, 0)?;
    let mut best: Option<&Value> = None;
    for x in xs {
        best = match best {
            Some(b) if cmp_values(x, b)? != want => Some(b),
            _ => {
                cmp_values(x, x)?;
                Some(x)
            }
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn min_max_by(a: &[Arg<'_>], want: Ordering) -> Out {
    let xs = arr(a, 0)?;
    let e = expref(a, 1)?;
    let mut best: Option<(Value, &Value)> = None;
    for x in xs {
        let k = apply_expref(e, x)?;
        best = match best {
            Some((bk, b)) if cmp_values(&k, &bk)? != want => Some((bk, b)),
            _ => Some((k, x)),
        };
    }
    Ok(best.map(|(_, v)| v.clone()).unwrap_or(Value::Null))
}

fn f_merge(a: &[Arg<'_>]) -> Out {
    let mut out = Map::new();
    for i in 0..a.len() {
        for (k, v) in obj(a, i)? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn f_not_null(a: &[Arg<'_>]) -> Out {
    Ok(a.iter()
        .map(Arg::value)
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

fn f_reverse(a: &[Arg<'_>]) -> Out {
    match a[0].value() {
        Value::String(x) => Ok(Value::String(x.chars().rev().collect())),
        Value::Array(x) => Ok(Value::Array(x.iter().rev().cloned().collect())),
        other => Err(err(format!(
            "reverse() needs a string or an array, got {}",
            type_name(other)
        ))),
    }
}

fn f_sort(a: &[Arg<'_>]) -> Out {
    let mut xs = arr(a, 0)?.clone();
    let mut bad = None;
    xs.sort_by(|x, y| {
        cmp_values(x, y).unwrap_or_else(|e| {
            bad = Some(e);
            Ordering::Equal
        })
    });
    match bad {
        Some(e) => Err(e),
        None => Ok(Value::Array(xs)),
    }
}

fn f_sort_by(a: &[Arg<'_>]) -> Out {
    let e = expref(a, 1)?;
    let mut keyed = Vec::new();
    for x in arr(a, 0)? {
        keyed.push((apply_expref(e, x)?, x.clone()));
    }
    let mut bad = None;
    keyed.sort_by(|(p, _), (q, _)| {
        cmp_values(p, q).unwrap_or_else(|e| {
            bad = Some(e);
            Ordering::Equal
        })
    });
    match bad {
        Some(e) => Err(e),
        None => Ok(Value::Array(keyed.into_iter().map(|(_, v)| v).collect())),
    }
}

/// Kyverno's `sum`: numbers, or quantities, or durations.
fn f_sum(a: &[Arg<'_>]) -> Out {
    let xs = arr(a, 0)?;
    if xs.is_empty() {
        return Err(err("sum() needs at least one element"));
    }
    let mut acc = xs[0].clone();
    for x in &xs[1..] {
        acc = arith2(&acc, x, Op::Add)?;
    }
    Ok(acc)
}

fn f_to_array(a: &[Arg<'_>]) -> Out {
    Ok(match a[0].value() {
        Value::Array(x) => Value::Array(x.clone()),
        other => Value::Array(vec![other.clone()]),
    })
}

fn f_to_number(a: &[Arg<'_>]) -> Out {
    Ok(match a[0].value() {
        Value::Number(x) => Value::Number(x.clone()),
        Value::String(x) => x.trim().parse::<f64>().map_or(Value::Null, num),
        _ => Value::Null,
    })
}

/// JSON text of any value; strings stay as they are.
pub(super) fn to_string(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn f_to_string(a: &[Arg<'_>]) -> Out {
    Ok(Value::String(to_string(a[0].value())))
}

fn f_type(a: &[Arg<'_>]) -> Out {
    Ok(Value::String(type_name(a[0].value()).into()))
}

fn f_replace(a: &[Arg<'_>]) -> Out {
    let (src, old, new) = (s(a, 0)?, s(a, 1)?, s(a, 2)?);
    let count = n(a, 3)?;
    Ok(Value::String(if count < 0.0 {
        src.replace(old, new)
    } else {
        src.replacen(old, new, count as usize)
    }))
}

fn f_trim(a: &[Arg<'_>]) -> Out {
    let cut: Vec<char> = s(a, 1)?.chars().collect();
    Ok(Value::String(
        s(a, 0)?.trim_matches(|c| cut.contains(&c)).to_owned(),
    ))
}

fn f_truncate(a: &[Arg<'_>]) -> Out {
    let len = n(a, 1)?.max(0.0) as usize;
    Ok(Value::String(s(a, 0)?.chars().take(len).collect()))
}

fn f_to_boolean(a: &[Arg<'_>]) -> Out {
    match s(a, 0)?.to_ascii_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        other => Err(err(format!(
            "to_boolean(): lexer error: '{other}' is neither true nor false"
        ))),
    }
}

/// Go's `filepath.Clean` for slash paths.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A compiled regular expression. Policies call `regex_match` with the same few patterns for
/// every resource, and compiling dwarfs matching, so each thread keeps what it compiled.
fn regex(src: &str) -> Result<regex::Regex, JmesError> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    // Patterns usually come from the policy, but may be built from resource data; the bound
    // keeps such a run from growing the cache without end.
    const LIMIT: usize = 512;
    thread_local! {
        static COMPILED: RefCell<HashMap<String, regex::Regex>> = RefCell::new(HashMap::new());
    }
    if let Some(re) = COMPILED.with(|c| c.borrow().get(src).cloned()) {
        return Ok(re);
    }
    let re = regex::Regex::new(src).map_err(|e| err(format!("invalid regular expression: {e}")))?;
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= LIMIT {
            c.clear();
        }
        c.insert(src.to_owned(), re.clone());
    });
    Ok(re)
}

fn f_regex_match(a: &[Arg<'_>]) -> Out {
    Ok(Value::Bool(regex(s(a, 0)?)?.is_match(&str_or_num(a, 1)?)))
}

fn regex_replace(a: &[Arg<'_>], literal: bool) -> Out {
    let re = regex(s(a, 0)?)?;
    let src = str_or_num(a, 1)?;
    let rep = str_or_num(a, 2)?;
    Ok(Value::String(if literal {
        re.replace_all(&src, regex::NoExpand(&rep)).into_owned()
    } else {
        re.replace_all(&src, rep.as_str()).into_owned()
    }))
}

fn f_label_match(a: &[Arg<'_>]) -> Out {
    let selector = obj(a, 0)?;
    let labels = obj(a, 1)?;
    Ok(Value::Bool(selector.iter().all(|(k, v)| {
        labels.get(k).is_some_and(|l| to_string(l) == to_string(v))
    })))
}

fn f_is_external_url(a: &[Arg<'_>]) -> Out {
    let url = s(a, 0)?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.trim_start_matches('[').split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    let internal = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v) => v.is_loopback() || v.is_private() || v.is_link_local(),
            std::net::IpAddr::V6(v) => v.is_loopback() || (v.segments()[0] & 0xfe00) == 0xfc00,
        });
    Ok(Value::Bool(!internal))
}

/// `semver_compare(version, range)`: ranges like `>=1.2.0 <2.0.0`, `||` between alternatives.
fn f_semver_compare(a: &[Arg<'_>]) -> Out {
    let v = parse_semver(s(a, 0)?).ok_or_else(|| err("semver_compare(): invalid version"))?;
    let range = s(a, 1)?;
    let mut any = false;
    for alt in range.split("||") {
        let mut all = true;
        for cond in alt.split_whitespace() {
            let (op, ver) = ["!=", ">=", "<=", "==", ">", "<", "="]
                .iter()
                .find_map(|op| cond.strip_prefix(op).map(|r| (*op, r)))
                .unwrap_or(("=", cond));
            let w = parse_semver(ver).ok_or_else(|| err("semver_compare(): invalid range"))?;
            let o = v.cmp(&w);
            all &= match op {
                ">=" => o != Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                "<" => o == Ordering::Less,
                "!=" => o != Ordering::Equal,
                _ => o == Ordering::Equal,
            };
        }
        any |= all;
    }
    Ok(Value::Bool(any))
}

fn parse_semver(s: &str) -> Option<(u64, u64, u64, bool)> {
    let s = s.trim().trim_start_matches('v');
    let (core, pre) = match s.split_once('-') {
        Some((c, _)) => (c, true),
        None => (s.split('+').next().unwrap_or(s), false),
    };
    let mut it = core.split('.').map(|p| p.parse::<u64>());
    let major = it.next()?.ok()?;
    let minor = it.next().map_or(Some(0), Result::ok)?;
    let patch = it.next().map_or(Some(0), Result::ok)?;
    // A pre-release sorts before the release.
    Some((major, minor, patch, !pre))
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

fn arith(a: &[Arg<'_>], op: Op) -> Out {
    arith2(a[0].value(), a[1].value(), op)
}

/// Kyverno's arithmetic: numbers with numbers, quantities with quantities (or a number, for
/// multiply and divide), durations with durations.
fn arith2(x: &Value, y: &Value, op: Op) -> Out {
    let apply = |p: f64, q: f64| -> Result<f64, JmesError> {
        Ok(match op {
            Op::Add => p + q,
            Op::Sub => p - q,
            Op::Mul => p * q,
            Op::Div => {
                if q == 0.0 {
                    return Err(err("divide(): division by zero"));
                }
                p / q
            }
            Op::Mod => {
                if q == 0.0 {
                    return Err(err("modulo(): division by zero"));
                }
                if p.fract() != 0.0 || q.fract() != 0.0 {
                    return Err(err("modulo(): both arguments must be whole"));
                }
                p % q
            }
        })
    };
    match (x, y) {
        (Value::Number(p), Value::Number(q)) => Ok(num(apply(
            p.as_f64().unwrap_or(0.0),
            q.as_f64().unwrap_or(0.0),
        )?)),
        (Value::String(p), Value::String(q)) => {
            if let (Some(d1), Some(d2)) = (units::parse_duration(p), units::parse_duration(q)) {
                return match op {
                    Op::Div => Ok(num(apply(d1, d2)?)),
                    Op::Mul => Err(err("multiply(): cannot multiply two durations")),
                    _ => Ok(Value::String(units::format_duration(apply(d1, d2)? as i64))),
                };
            }
            if let (Some((q1, f1)), Some((q2, _))) =
                (units::parse_quantity(p), units::parse_quantity(q))
            {
                return match op {
                    Op::Div => Ok(num(apply(q1, q2)?)),
                    Op::Mul => Err(err("multiply(): cannot multiply two quantities")),
                    _ => Ok(Value::String(units::format_quantity(apply(q1, q2)?, f1))),
                };
            }
            Err(err("arguments must be numbers, quantities or durations"))
        }
        (Value::String(p), Value::Number(q)) => {
            let q = q.as_f64().unwrap_or(0.0);
            if !matches!(op, Op::Mul | Op::Div) {
                return Err(err(
                    "a quantity or duration and a number can only be multiplied or divided",
                ));
            }
            if let Some(d) = units::parse_duration(p) {
                return Ok(Value::String(units::format_duration(apply(d, q)? as i64)));
            }
            if let Some((v, f)) = units::parse_quantity(p) {
                return Ok(Value::String(units::format_quantity(apply(v, q)?, f)));
            }
            Err(err("arguments must be numbers, quantities or durations"))
        }
        (Value::Number(_), Value::String(_)) if matches!(op, Op::Mul) => arith2(y, x, op),
        _ => Err(err("arguments must be numbers, quantities or durations")),
    }
}

fn f_round(a: &[Arg<'_>]) -> Out {
    let v = n(a, 0)?;
    let digits = n(a, 1)?;
    if digits.fract() != 0.0 || digits < 0.0 {
        return Err(err(
            "round(): the number of digits must be a whole number >= 0",
        ));
    }
    let p = 10f64.powi(digits as i32);
    Ok(num((v * p).round() / p))
}

fn f_base64_decode(a: &[Arg<'_>]) -> Out {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s(a, 0)?)
        .map_err(|e| err(format!("base64_decode(): {e}")))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn f_parse_json(a: &[Arg<'_>]) -> Out {
    serde_json::from_str(s(a, 0)?).map_err(|e| err(format!("parse_json(): {e}")))
}

fn f_parse_yaml(a: &[Arg<'_>]) -> Out {
    let docs =
        crate::manifest::json_documents(s(a, 0)?).map_err(|m| err(format!("parse_yaml(): {m}")))?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
}

fn f_lookup(a: &[Arg<'_>]) -> Out {
    match a[0].value() {
        Value::Object(m) => Ok(m.get(s(a, 1)?).cloned().unwrap_or(Value::Null)),
        Value::Array(xs) => {
            let i = n(a, 1)?;
            if i.fract() != 0.0 {
                return Err(err("lookup(): an array index must be whole"));
            }
            Ok(usize::try_from(i as i64)
                .ok()
                .and_then(|i| xs.get(i))
                .cloned()
                .unwrap_or(Value::Null))
        }
        other => Err(err(format!(
            "lookup() needs an object or an array, got {}",
            type_name(other)
        ))),
    }
}

fn f_items(a: &[Arg<'_>]) -> Out {
    let (kn, vn) = (s(a, 1)?, s(a, 2)?);
    let pair = |k: Value, v: &Value| {
        let mut m = Map::new();
        m.insert(kn.to_owned(), k);
        m.insert(vn.to_owned(), v.clone());
        Value::Object(m)
    };
    match a[0].value() {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Ok(Value::Array(
                keys.into_iter()
                    .map(|k| pair(Value::String(k.clone()), &m[k]))
                    .collect(),
            ))
        }
        Value::Array(xs) => Ok(Value::Array(
            xs.iter()
                .enumerate()
                .map(|(i, v)| pair(num(i as f64), v))
                .collect(),
        )),
        other => Err(err(format!(
            "items() needs an object or an array, got {}",
            type_name(other)
        ))),
    }
}

fn f_object_from_lists(a: &[Arg<'_>]) -> Out {
    let keys = arr(a, 0)?;
    let values = arr(a, 1)?;
    let mut out = Map::new();
    for (i, k) in keys.iter().enumerate() {
        let Value::String(k) = k else {
            return Err(err("object_from_lists(): keys must be strings"));
        };
        out.insert(k.clone(), values.get(i).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Object(out))
}

fn f_random(a: &[Arg<'_>]) -> Out {
    super::random::generate(s(a, 0)?)
        .map(Value::String)
        .map_err(|e| err(format!("random(): {e}")))
}

fn ts(a: &[Arg<'_>], i: usize) -> Result<Timestamp, JmesError> {
    let v = s(a, i)?;
    parse_rfc3339(v).ok_or_else(|| err(format!("'{v}' is not an RFC 3339 time")))
}

fn dur(a: &[Arg<'_>], i: usize) -> Result<i64, JmesError> {
    let v = s(a, i)?;
    units::parse_duration(v)
        .map(|d| d as i64)
        .ok_or_else(|| err(format!("'{v}' is not a duration")))
}

trait TimeExt {
    fn nanos_total(&self) -> i128;
    fn from_nanos(n: i128, offset: i32) -> Self;
    fn utc(&self) -> Self;
}

impl TimeExt for Timestamp {
    fn nanos_total(&self) -> i128 {
        i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos)
    }
    fn from_nanos(n: i128, offset: i32) -> Self {
        Timestamp {
            unix: n.div_euclid(1_000_000_000) as i64,
            nanos: n.rem_euclid(1_000_000_000) as u32,
            offset,
        }
    }
    fn utc(&self) -> Self {
        Timestamp { offset: 0, ..*self }
    }
}

fn parse_layout(layout: &str, value: &str) -> Result<Timestamp, JmesError> {
    if layout.is_empty() || layout == "2006-01-02T15:04:05Z07:00" {
        return parse_rfc3339(value)
            .ok_or_else(|| err(format!("'{value}' does not match the time layout")));
    }
    super::timefmt::parse(layout, value).map_err(err)
}

fn f_time_since(a: &[Arg<'_>]) -> Out {
    let layout = s(a, 0)?;
    let start = parse_layout(layout, s(a, 1)?)?;
    let end = match s(a, 2)? {
        "" => Timestamp::now_utc(),
        v => parse_layout(layout, v)?,
    };
    let d = end.nanos_total() - start.nanos_total();
    Ok(Value::String(units::format_duration(d as i64)))
}

fn f_time_to_cron(a: &[Arg<'_>]) -> Out {
    let t = ts(a, 0)?;
    let local = t.unix + i64::from(t.offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (_, month, day) = tollgate_yaml::time::civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7);
    Ok(Value::String(format!(
        "{} {} {} {} {}",
        secs % 3600 / 60,
        secs / 3600,
        day,
        month,
        weekday
    )))
}

fn f_time_add(a: &[Arg<'_>]) -> Out {
    let t = ts(a, 0)?;
    let d = dur(a, 1)?;
    Ok(Value::String(
        Timestamp::from_nanos(t.nanos_total() + i128::from(d), t.offset).rfc3339_nano(),
    ))
}

fn f_time_parse(a: &[Arg<'_>]) -> Out {
    Ok(Value::String(
        parse_layout(s(a, 0)?, s(a, 1)?)?.rfc3339_nano(),
    ))
}

fn f_time_diff(a: &[Arg<'_>]) -> Out {
    let d = ts(a, 1)?.nanos_total() - ts(a, 0)?.nanos_total();
    Ok(Value::String(units::format_duration(d as i64)))
}

fn f_time_between(a: &[Arg<'_>]) -> Out {
    let t = ts(a, 0)?.nanos_total();
    Ok(Value::Bool(
        t > ts(a, 1)?.nanos_total() && t < ts(a, 2)?.nanos_total(),
    ))
}

fn f_time_truncate(a: &[Arg<'_>]) -> Out {
    let t = ts(a, 0)?;
    let d = i128::from(dur(a, 1)?);
    if d <= 0 {
        return Ok(Value::String(t.rfc3339_nano()));
    }
    let n = t.nanos_total();
    Ok(Value::String(
        Timestamp::from_nanos(n - n.rem_euclid(d), t.offset).rfc3339_nano(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::jmes::compile;
    use serde_json::{json, Value};

    fn run(expr: &str) -> Value {
        compile(expr)
            .unwrap()
            .search(&json!({"labels": {"app": "web", "tier": "x"}}))
            .unwrap()
            .into_owned()
    }

    #[test]
    fn kyverno_functions() {
        assert_eq!(run("to_upper('abc')"), json!("ABC"));
        assert_eq!(run("split('a,b', ',')"), json!(["a", "b"]));
        assert_eq!(run("regex_match('^a.c$', 'abc')"), json!(true));
        assert_eq!(
            run("regex_replace_all('([a-z])x', 'ax bx', '${1}y')"),
            json!("ay by")
        );
        assert_eq!(run("label_match(`{\"app\":\"web\"}`, labels)"), json!(true));
        assert_eq!(run("add('1Gi', '512Mi')"), json!("1536Mi"));
        assert_eq!(run("divide('2Gi', '1Gi')"), json!(2));
        assert_eq!(run("sum(['1m', '30s'])"), json!("1m30s"));
        assert_eq!(run("sum(`[1, 2, 3]`)"), json!(6));
        assert_eq!(run("base64_decode(base64_encode('hi'))"), json!("hi"));
        assert_eq!(
            run("sha256('')"),
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(run("md5('')"), json!("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(
            run("semver_compare('1.2.3', '>=1.0.0 <2.0.0')"),
            json!(true)
        );
        assert_eq!(
            run("semver_compare('2.2.3', '>=1.0.0 <2.0.0')"),
            json!(false)
        );
        assert_eq!(
            run("time_diff('2024-01-01T00:00:00Z', '2024-01-01T01:30:00Z')"),
            json!("1h30m0s")
        );
        assert_eq!(
            run("time_add('2024-01-01T00:00:00Z', '90m')"),
            json!("2024-01-01T01:30:00Z")
        );
        assert_eq!(
            run("time_to_cron('2024-02-03T04:05:00Z')"),
            json!("5 4 3 2 6")
        );
        assert_eq!(
            run("time_truncate('2024-01-01T01:45:00Z', '1h')"),
            json!("2024-01-01T01:00:00Z")
        );
        assert_eq!(
            run("time_before('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')"),
            json!(true)
        );
        assert_eq!(run("path_canonicalize('/a/../b//c/.')"), json!("/b/c"));
        assert_eq!(run("truncate('abcdef', `3`)"), json!("abc"));
        assert_eq!(
            run("items(labels, 'k', 'v')[0]"),
            json!({"k": "app", "v": "web"})
        );
        assert_eq!(run("object_from_lists(['a'], [`1`])"), json!({"a": 1}));
        assert_eq!(run("parse_yaml('a: yes')"), json!({"a": true}));
        assert_eq!(run("parse_json('{\"a\": [1]}').a[0]"), json!(1));
        assert_eq!(
            run("image_normalize('nginx')"),
            json!("docker.io/library/nginx:latest")
        );
        assert_eq!(run("is_external_url('http://10.0.0.1/x')"), json!(false));
        assert_eq!(run("is_external_url('https://example.com')"), json!(true));
        assert_eq!(run("round(`2.71828`, `2`)"), json!(2.72));
        assert_eq!(run("trim('--a--', '-')"), json!("a"));
        assert_eq!(run("compare('a', 'b')"), json!(-1));
        assert_eq!(run("to_boolean('TRUE')"), json!(true));
    }

    #[test]
    fn random_matches_its_pattern() {
        let out = run("random('[a-z]{8}')");
        let s = out.as_str().unwrap();
        assert_eq!(s.len(), 8);
        assert!(s.chars().all(|c| c.is_ascii_lowercase()));
    }
}
