//! The `validate.pattern` walk: a pattern tree against a resource, with Kyverno's anchors
//! (`(k)` conditional, `=(k)` equality, `^(k)` existence, `X(k)` negation, `<(k)` global),
//! arrays of maps, and the rules that turn a mismatch into pass, fail, skip or error.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "list positions come from enumerate() over the list indexed, after a length check"
)]

use super::ops::pattern_scalar;
use crate::wildcard;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The kinds of anchor a pattern key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// `(key)`: if the key matches, the siblings must too; otherwise skip.
    Condition,
    /// `=(key)`: if present, must match.
    Equality,
    /// `^(key)`: each pattern element must match at least one list element.
    Existence,
    /// `X(key)`: must be absent.
    Negation,
    /// `<(key)`: if present and not matching, the whole rule is skipped.
    Global,
    /// `+(key)`: mutate only; validate treats it as a plain key.
    AddIfNotPresent,
}

/// Splits an anchored key into its anchor and the key inside.
pub fn parse_anchor(key: &str) -> Option<(Anchor, &str)> {
    let b = key.as_bytes();
    if b.len() < 2 || b[b.len() - 1] != b')' {
        return None;
    }
    let (anchor, inner) = if b[0] == b'(' {
        (Anchor::Condition, &key[1..key.len() - 1])
    } else if b.len() >= 3 && b[1] == b'(' {
        let a = match b[0] {
            b'=' => Anchor::Equality,
            b'^' => Anchor::Existence,
            b'X' => Anchor::Negation,
            b'<' => Anchor::Global,
            b'+' => Anchor::AddIfNotPresent,
            _ => return None,
        };
        (a, &key[2..key.len() - 1])
    } else {
        return None;
    };
    (!inner.is_empty()).then_some((anchor, inner))
}

/// Why a pattern did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything matched.
    Pass,
    /// A field did not match: the path (`/spec/containers/0/image/`) and why.
    Fail { path: String, message: String },
    /// A conditional or global anchor did not hold: the rule does not apply.
    Skip { message: String },
    /// Kyverno's quirk: a mismatch while an anchored key was missing everywhere.
    Error { message: String },
}

#[derive(Debug)]
enum ErrKind {
    Plain,
    Conditional,
    Global,
    Negation,
    /// An array whose elements all skipped.
    SkipAll,
}

#[derive(Debug)]
struct PatErr {
    kind: ErrKind,
    path: String,
    message: String,
}

impl PatErr {
    fn plain(path: &Path<'_>, message: String) -> Self {
        PatErr {
            kind: ErrKind::Plain,
            path: path.to_string(),
            message,
        }
    }
    fn skips(&self) -> bool {
        matches!(
            self.kind,
            ErrKind::Conditional | ErrKind::Global | ErrKind::SkipAll
        )
    }
}

/// Where the walk is, built only when an error needs it: paths are rendered as
/// `/spec/containers/0/image/`, and most comparisons succeed.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn key(&'a self, k: &'a str) -> Path<'a> {
        Path::Key(self, k)
    }
    fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("/"),
            Path::Key(p, k) => write!(f, "{p}{k}/"),
            Path::Index(p, i) => write!(f, "{p}{i}/"),
        }
    }
}

fn shown_p(p: &Path<'_>) -> String {
    shown(&p.to_string())
}

/// Tracks, for each conditional/existence/negation anchor, whether any resource map had it.
#[derive(Default)]
struct AnchorMap(HashMap<String, bool>);

impl AnchorMap {
    fn check(&mut self, pattern: &Map<String, Value>, resource: &Map<String, Value>) {
        for key in pattern.keys() {
            if let Some((a, inner)) = parse_anchor(key) {
                if matches!(a, Anchor::Condition | Anchor::Existence | Anchor::Negation) {
                    let here = resource.contains_key(inner);
                    // Look up before inserting: the key is copied only the first time it is met.
                    match self.0.get_mut(key.as_str()) {
                        Some(seen) => *seen |= here,
                        None => {
                            self.0.insert(key.clone(), here);
                        }
                    }
                }
            }
        }
    }
    fn keys_missing(&self) -> bool {
        self.0.values().any(|v| !v)
    }
}

/// Matches a resource against a pattern.
pub fn validate(resource: &Value, pattern: &Value) -> Outcome {
    let mut ac = AnchorMap::default();
    match element(resource, pattern, &Path::Root, &mut ac) {
        Ok(()) => Outcome::Pass,
        Err(e) if e.skips() => Outcome::Skip { message: e.message },
        Err(e) if matches!(e.kind, ErrKind::Negation) => Outcome::Fail {
            path: e.path,
            message: e.message,
        },
        Err(e) if ac.keys_missing() => Outcome::Error { message: e.message },
        Err(e) => Outcome::Fail {
            path: e.path,
            message: e.message,
        },
    }
}

fn element(
    resource: &Value,
    pattern: &Value,
    path: &Path<'_>,
    ac: &mut AnchorMap,
) -> Result<(), PatErr> {
    match pattern {
        Value::Object(p) => {
            let Value::Object(r) = resource else {
                return Err(PatErr::plain(
                    path,
                    format!(
                        "expected a map at {}, found {}",
                        shown_p(path),
                        kind_of(resource)
                    ),
                ));
            };
            ac.check(p, r);
            map(r, p, path, ac)
        }
        Value::Array(p) => {
            let Value::Array(r) = resource else {
                return Err(PatErr::plain(
                    path,
                    format!(
                        "expected a list at {}, found {}",
                        shown_p(path),
                        kind_of(resource)
                    ),
                ));
            };
            array(r, p, path, ac)
        }
        scalar => {
            let ok = match resource {
                Value::Array(items) => items.iter().all(|i| pattern_scalar(i, scalar)),
                other => pattern_scalar(other, scalar),
            };
            if ok {
                Ok(())
            } else {
                Err(PatErr::plain(
                    path,
                    // Never the actual value: it may be a secret, and reports reach CI logs.
                    format!(
                        "the value at {} does not match {}",
                        shown_p(path),
                        short(scalar)
                    ),
                ))
            }
        }
    }
}

/// `/spec/containers/0/image/` as `spec.containers[0].image` for messages.
fn shown(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    if out.is_empty() {
        "the top level".into()
    } else {
        out
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("'{s}'"),
        Value::Null => "null".into(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}

/// The key of a pattern map whose name, without its anchor, is `tag`.
fn anchored_key<'a>(m: &'a Map<String, Value>, tag: &str) -> Option<(&'a String, &'a Value)> {
    m.iter()
        .find(|(k, _)| parse_anchor(k).map_or(k.as_str(), |(_, inner)| inner) == tag)
}

/// Rewrites wildcard keys under `metadata.labels`/`annotations` (anchored or not) to the first
/// resource key that matches, so `X(fluxcd.io/*)` tests the real key.
fn expand_metadata(
    pattern: &Map<String, Value>,
    resource: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let (meta_key, meta) = anchored_key(pattern, "metadata")?;
    let meta = meta.as_object()?;
    let rmeta = resource.get("metadata")?.as_object()?;
    let mut new_meta = meta.clone();
    let mut changed = false;
    for field in ["labels", "annotations"] {
        let Some((field_key, Value::Object(pm))) = anchored_key(meta, field) else {
            continue;
        };
        if !pm.keys().any(|k| wildcard::has_wildcard(k)) {
            continue;
        }
        let Some(Value::Object(rm)) = rmeta.get(field) else {
            continue;
        };
        let mut out = Map::new();
        for (k, v) in pm {
            let inner = parse_anchor(k).map_or(k.as_str(), |(_, i)| i);
            let new_key = if wildcard::has_wildcard(inner) {
                match rm.keys().find(|rk| wildcard::matches(inner, rk)) {
                    Some(rk) => k.replacen(inner, rk, 1),
                    None => k.clone(),
                }
            } else {
                k.clone()
            };
            out.insert(new_key, v.clone());
        }
        new_meta.insert(field_key.clone(), Value::Object(out));
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut p = pattern.clone();
    p.insert(meta_key.clone(), Value::Object(new_meta));
    Some(p)
}

fn has_nested_anchor(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| parse_anchor(k).is_some() || has_nested_anchor(v)),
        Value::Array(a) => a.iter().any(has_nested_anchor),
        _ => false,
    }
}

fn map(
    resource: &Map<String, Value>,
    pattern: &Map<String, Value>,
    path: &Path<'_>,
    ac: &mut AnchorMap,
) -> Result<(), PatErr> {
    let expanded = expand_metadata(pattern, resource);
    let pattern = expanded.as_ref().unwrap_or(pattern);
    let mut anchors: Vec<(&String, Anchor, &str, &Value)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in pattern {
        match parse_anchor(k) {
            Some((
                a @ (Anchor::Condition | Anchor::Existence | Anchor::Equality | Anchor::Negation),
                inner,
            )) => anchors.push((k, a, inner, v)),
            _ => plain.push((k, v)),
        }
    }
    anchors.sort_by(|a, b| a.0.cmp(b.0));
    for (_, anchor, inner, pv) in anchors {
        let current = path.key(inner);
        match anchor {
            Anchor::Negation => {
                if resource.contains_key(inner) {
                    return Err(PatErr {
                        kind: ErrKind::Negation,
                        message: format!("{} is not allowed", shown_p(&current)),
                        path: current.to_string(),
                    });
                }
            }
            Anchor::Equality => {
                if let Some(rv) = resource.get(inner) {
                    element(rv, pv, &current, ac)?;
                }
            }
            Anchor::Condition => match resource.get(inner) {
                Some(rv) => {
                    if let Err(e) = element(rv, pv, &current, ac) {
                        return Err(PatErr {
                            kind: ErrKind::Conditional,
                            path: e.path,
                            message: format!("conditional anchor mismatch: {}", e.message),
                        });
                    }
                }
                None => {
                    return Err(PatErr {
                        kind: ErrKind::Conditional,
                        path: current.to_string(),
                        message: "conditional anchor key doesn't exist in the resource".into(),
                    })
                }
            },
            Anchor::Existence => {
                if let Some(rv) = resource.get(inner) {
                    existence(rv, pv, &current, ac)?;
                }
            }
            Anchor::Global | Anchor::AddIfNotPresent => {}
        }
    }
    // Keys with anchors below them (and global anchors) run first, so their skips win.
    plain.sort_by_cached_key(|(k, v)| {
        let first = matches!(parse_anchor(k), Some((Anchor::Global, _))) || has_nested_anchor(v);
        !first
    });
    for (k, pv) in plain {
        if let Some((Anchor::Global, inner)) = parse_anchor(k) {
            if let Some(rv) = resource.get(inner) {
                let current = path.key(inner);
                if let Err(e) = element(rv, pv, &current, ac) {
                    return Err(PatErr {
                        kind: ErrKind::Global,
                        path: e.path,
                        message: format!("global anchor mismatch: {}", e.message),
                    });
                }
            }
            continue;
        }
        let key = match parse_anchor(k) {
            Some((Anchor::AddIfNotPresent, inner)) => inner,
            _ => k.as_str(),
        };
        let current = path.key(key);
        let rv = resource.get(key).unwrap_or(&Value::Null);
        if pv.as_str() == Some("*") {
            if rv.is_null() {
                return Err(PatErr::plain(
                    path,
                    format!("{} is required", shown_p(&current)),
                ));
            }
            continue;
        }
        element(rv, pv, &current, ac)?;
    }
    Ok(())
}

fn existence(rv: &Value, pv: &Value, path: &Path<'_>, ac: &mut AnchorMap) -> Result<(), PatErr> {
    let Value::Array(items) = rv else {
        return Err(PatErr::plain(
            path,
            format!("the existence anchor needs a list at {}", shown_p(path)),
        ));
    };
    let Value::Array(patterns) = pv else {
        return Err(PatErr::plain(
            path,
            format!(
                "the existence anchor pattern at {} must be a list",
                shown_p(path)
            ),
        ));
    };
    for p in patterns {
        let found = items
            .iter()
            .enumerate()
            .any(|(i, item)| element(item, p, &path.index(i), ac).is_ok());
        if !found {
            return Err(PatErr::plain(
                path,
                format!(
                    "no element of {} matches the existence anchor",
                    shown_p(path)
                ),
            ));
        }
    }
    Ok(())
}

fn array(
    resource: &[Value],
    pattern: &[Value],
    path: &Path<'_>,
    ac: &mut AnchorMap,
) -> Result<(), PatErr> {
    let Some(first) = pattern.first() else {
        return Err(PatErr::plain(path, "pattern Array empty".into()));
    };
    match first {
        Value::Object(_) => {
            let mut applied = 0;
            let mut skipped: Vec<String> = Vec::new();
            for (i, item) in resource.iter().enumerate() {
                match element(item, first, &path.index(i), ac) {
                    Ok(()) => applied += 1,
                    Err(e) if e.skips() => skipped.push(e.message),
                    Err(e) => return Err(e),
                }
            }
            if applied == 0 && !skipped.is_empty() {
                return Err(PatErr {
                    kind: ErrKind::SkipAll,
                    path: path.to_string(),
                    message: skipped.join("; "),
                });
            }
            Ok(())
        }
        Value::Array(_) => {
            if resource.len() < pattern.len() {
                return Err(PatErr::plain(
                    path,
                    format!(
                        "the list at {} has {} elements, the pattern needs {}",
                        shown_p(path),
                        resource.len(),
                        pattern.len()
                    ),
                ));
            }
            for (i, p) in pattern.iter().enumerate() {
                element(&resource[i], p, &path.index(i), ac)?;
            }
            Ok(())
        }
        scalar => match resource.iter().find(|i| !pattern_scalar(i, scalar)) {
            None => Ok(()),
            Some(_) => Err(PatErr::plain(
                path,
                format!(
                    "a value in {} does not match {}",
                    shown_p(path),
                    short(scalar)
                ),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(r: Value, p: Value) -> Outcome {
        validate(&r, &p)
    }

    #[test]
    fn plain_fields_and_wildcards() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1.2"}]}});
        assert_eq!(
            check(
                pod.clone(),
                json!({"spec": {"containers": [{"image": "!*:latest"}]}})
            ),
            Outcome::Pass
        );
        assert!(
            matches!(check(pod.clone(), json!({"spec": {"containers": [{"image": "*:latest"}]}})), Outcome::Fail { path, .. } if path == "/spec/containers/0/image/")
        );
        assert!(matches!(
            check(pod, json!({"spec": {"hostNetwork": true}})),
            Outcome::Fail { .. }
        ));
    }

    #[test]
    fn anchors() {
        let r = json!({"spec": {"containers": [{"name": "a", "securityContext": {"privileged": true}}, {"name": "b"}]}});
        // Equality: present must match; absent passes.
        let p = json!({"spec": {"containers": [{"=(securityContext)": {"=(privileged)": false}}]}});
        assert!(matches!(check(r.clone(), p), Outcome::Fail { .. }));
        // Conditional: only elements named a are checked.
        let p = json!({"spec": {"containers": [{"(name)": "b", "image": "x"}]}});
        assert!(matches!(check(r.clone(), p), Outcome::Fail { .. }));
        let p = json!({"spec": {"containers": [{"(name)": "zzz", "image": "x"}]}});
        assert!(matches!(check(r.clone(), p), Outcome::Skip { .. }));
        // Negation.
        let p = json!({"spec": {"X(hostNetwork)": "null"}});
        assert_eq!(check(r.clone(), p), Outcome::Pass);
        let p = json!({"spec": {"X(containers)": "null"}});
        assert!(matches!(check(r.clone(), p), Outcome::Fail { .. }));
        // Global: a mismatch skips the rule.
        let p = json!({"spec": {"<(dnsPolicy)": "None", "containers": [{"image": "x"}]}});
        assert!(matches!(
            check(
                json!({"spec": {"dnsPolicy": "Default", "containers": [{"image": "y"}]}}),
                p
            ),
            Outcome::Skip { .. }
        ));
        // Existence.
        let p = json!({"spec": {"^(containers)": [{"name": "b"}]}});
        assert_eq!(check(r.clone(), p), Outcome::Pass);
        let p = json!({"spec": {"^(containers)": [{"name": "c"}]}});
        assert!(matches!(check(r, p), Outcome::Fail { .. }));
    }

    #[test]
    fn wildcard_keys_in_metadata() {
        let r = json!({"metadata": {"labels": {"fluxcd.io/sync": "x"}}});
        let p = json!({"metadata": {"labels": {"X(fluxcd.io/*)": "*"}}});
        assert!(matches!(check(r, p), Outcome::Fail { .. }));
    }

    #[test]
    fn empty_pattern_array_never_matches_and_star_requires_a_value() {
        assert!(matches!(
            check(json!({"a": []}), json!({"a": []})),
            Outcome::Fail { .. }
        ));
        assert!(matches!(
            check(json!({}), json!({"a": "*"})),
            Outcome::Fail { .. }
        ));
        assert_eq!(check(json!({"a": 1}), json!({"a": "*"})), Outcome::Pass);
        assert_eq!(parse_anchor("=(a)"), Some((Anchor::Equality, "a")));
        assert_eq!(parse_anchor("(a)"), Some((Anchor::Condition, "a")));
        assert_eq!(parse_anchor("a"), None);
    }
}
