//! `{{ expression }}` substitution in policy values: a string that is exactly one variable is
//! replaced by the typed result, otherwise results are spliced in as text. Expressions are
//! compiled once and cached; an unresolved variable is an error, as in Kyverno.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "the `{{ }}` scanner indexes bytes it found with find() on the same string; fuzzed through kyverno_jmespath; panics contained per resource"
)]

use super::functions::to_string;
use super::jmes::{self, Expr, JmesError, Scope};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq)]
pub struct SubstError {
    /// The variable as written (`{{ request.object.x }}`).
    pub variable: String,
    /// What went wrong.
    pub error: JmesError,
}

impl std::fmt::Display for SubstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to substitute {}: {}", self.variable, self.error)
    }
}

/// The innermost `{{ ... }}` spans of a string: byte range and the trimmed expression. A
/// variable inside another (`{{ f('{{ x }}') }}`) is resolved first, as Kyverno does.
fn spans(s: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    'outer: while let Some(off) = s[i..].find("{{") {
        let start = i + off;
        if start > 0 && b[start - 1] == b'\\' {
            i = start + 2;
            continue;
        }
        // Single `{...}` (JMESPath multi-select hashes, JSON literals) may appear inside.
        let mut j = start + 2;
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'{' if j + 1 < b.len() && b[j + 1] == b'{' => {
                    // A nested variable: it is the innermost candidate now.
                    i = j;
                    continue 'outer;
                }
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if j + 1 < b.len() && b[j + 1] == b'}' => {
                    out.push((start, j + 2, s[start + 2..j].trim()));
                    i = j + 2;
                    continue 'outer;
                }
                _ => {}
            }
            j += 1;
        }
        break;
    }
    out
}

/// Whether a string contains a variable.
pub fn has_vars(s: &str) -> bool {
    s.contains("{{") && !spans(s).is_empty()
}

/// Whether any string (or key) in a tree contains a variable.
pub fn tree_has_vars(v: &Value) -> bool {
    match v {
        Value::String(s) => has_vars(s),
        Value::Array(a) => a.iter().any(tree_has_vars),
        Value::Object(m) => m.iter().any(|(k, v)| has_vars(k) || tree_has_vars(v)),
        _ => false,
    }
}

fn cache() -> &'static RwLock<HashMap<String, Arc<Expr>>> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Expr>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Compiles (once) the expression of a variable.
pub fn expr(src: &str) -> Result<Arc<Expr>, String> {
    if let Some(e) = cache().read().ok().and_then(|c| c.get(src).cloned()) {
        return Ok(e);
    }
    let e = Arc::new(jmes::compile(src)?);
    if let Ok(mut c) = cache().write() {
        c.insert(src.to_owned(), e.clone());
    }
    Ok(e)
}

/// The compiled expression of a string that is exactly one variable, whose value then stands
/// for the string, typed.
pub fn whole_variable(s: &str) -> Option<Arc<Expr>> {
    match spans(s).as_slice() {
        [(0, end, src)] if *end == s.len() && !strip_at(src).is_empty() => expr(strip_at(src)).ok(),
        _ => None,
    }
}

/// Substitutes a string known to be one variable (see [`whole_variable`]).
pub fn substitute_whole<'d>(
    s: &str,
    e: &Expr,
    ctx: &'d Scope<'_>,
    mode: Mode,
) -> Result<Cow<'d, Value>, SubstError> {
    if mode.delete {
        // The expression reads the old object then: take the general path, which rewrites it.
        return substitute_str(s, ctx, mode);
    }
    e.search(ctx).map_err(|error| SubstError {
        variable: s.to_owned(),
        error,
    })
}

/// Checks every variable of a string compiles; the message names the variable.
pub fn check(s: &str) -> Result<(), String> {
    for (_, _, e) in spans(s) {
        let e = strip_at(e);
        if e.is_empty() {
            continue;
        }
        expr(e).map_err(|m| format!("invalid variable {{{{{e}}}}}: {m}"))?;
    }
    Ok(())
}

fn strip_at(e: &str) -> &str {
    e.strip_prefix('-').map_or(e, str::trim)
}

/// How `request.object` is read: on DELETE Kyverno reads the old object instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// The request is a DELETE.
    pub delete: bool,
}

/// Compiles (once) an expression as it reads in this mode: on DELETE, `request.object` is the
/// old object.
pub fn expr_for(src: &str, mode: Mode) -> Result<Arc<Expr>, String> {
    if mode.delete && src.contains("request.object") {
        expr(&src.replace("request.object", "request.oldObject"))
    } else {
        expr(src)
    }
}

fn eval<'d>(src: &str, ctx: &'d Scope<'_>, mode: Mode) -> Result<Cow<'d, Value>, JmesError> {
    let e = expr_for(src, mode).map_err(JmesError::Runtime)?;
    e.search(ctx)
}

/// Substitutes the variables of one string; a string that is one variable gives its value,
/// borrowed from the context when it comes straight from it.
pub fn substitute_str<'d>(
    s: &str,
    ctx: &'d Scope<'_>,
    mode: Mode,
) -> Result<Cow<'d, Value>, SubstError> {
    if !s.contains("{{") {
        return Ok(Cow::Owned(Value::String(s.to_owned())));
    }
    let fail = |var: &str, error| SubstError {
        variable: var.to_owned(),
        error,
    };
    let mut current = s.to_owned();
    // Each round resolves the innermost variables; nesting is shallow in practice.
    for _ in 0..16 {
        let found = spans(&current);
        if found.is_empty() {
            return Ok(Cow::Owned(Value::String(unescape(&current))));
        }
        if found.len() == 1 && found[0].0 == 0 && found[0].1 == current.len() {
            let src = strip_at(found[0].2);
            return eval(src, ctx, mode).map_err(|e| fail(&current, e));
        }
        let mut out = String::with_capacity(current.len());
        let mut last = 0;
        for (start, end, src) in &found {
            out.push_str(&current[last..*start]);
            let v = eval(strip_at(src), ctx, mode).map_err(|e| fail(&current[*start..*end], e))?;
            out.push_str(&to_string(&v));
            last = *end;
        }
        out.push_str(&current[last..]);
        current = out;
    }
    Ok(Cow::Owned(Value::String(unescape(&current))))
}

fn unescape(s: &str) -> String {
    s.replace("\\{{", "{{")
}

/// Substitutes every string and key of a tree.
pub fn substitute(v: &Value, ctx: &Scope<'_>, mode: Mode) -> Result<Value, SubstError> {
    match v {
        Value::String(s) => substitute_str(s, ctx, mode).map(Cow::into_owned),
        Value::Array(a) => a
            .iter()
            .map(|x| substitute(x, ctx, mode))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, x) in m {
                let key = if k.contains("{{") {
                    to_string(&*substitute_str(k, ctx, mode)?)
                } else {
                    k.clone()
                };
                out.insert(key, substitute(x, ctx, mode)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Inserts a value at a dotted path (`request.operation`), creating maps on the way, as
/// Kyverno's `AddVariable` does for values files.
pub fn insert_dotted(ctx: &mut Value, dotted: &str, value: Value) {
    insert_path(ctx, &dotted_fields(dotted), value);
}

/// The fields of a dotted values key as Kyverno splits it (a CSV record with `.` between
/// fields): a field in double quotes may hold dots (`annotations."example.com/team"`), and
/// `""` inside it is one quote.
pub fn dotted_fields(dotted: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = dotted.chars().peekable();
    let (mut at_start, mut quoted) = (true, false);
    while let Some(c) = chars.next() {
        if !quoted && c == '.' {
            fields.push(String::new());
            at_start = true;
            continue;
        }
        let Some(field) = fields.last_mut() else {
            break;
        };
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if at_start => quoted = true,
            c => field.push(c),
        }
        at_start = false;
    }
    fields
}

/// Sets `value` at the path of `fields` below `ctx`, making maps on the way.
pub fn insert_path(ctx: &mut Value, fields: &[String], value: Value) {
    let mut cur = ctx;
    let mut parts = fields.iter().peekable();
    while let Some(p) = parts.next() {
        if !cur.is_object() {
            *cur = Value::Object(serde_json::Map::new());
        }
        let Value::Object(m) = cur else { return };
        if parts.peek().is_none() {
            m.insert(p.clone(), value);
            return;
        }
        cur = m.entry(p.clone()).or_insert(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(s: &str, ctx: &Scope<'_>, mode: Mode) -> Result<Value, SubstError> {
        substitute_str(s, ctx, mode).map(Cow::into_owned)
    }

    #[test]
    fn typed_and_spliced() {
        let ctx = json!({"request": {"object": {"spec": {"replicas": 3, "name": "web"}}}});
        let m = Mode::default();
        assert_eq!(
            sub("{{ request.object.spec.replicas }}", &Scope::new(&ctx), m),
            Ok(json!(3))
        );
        assert_eq!(
            sub(
                "n={{request.object.spec.replicas}}/{{ request.object.spec.name }}",
                &Scope::new(&ctx),
                m
            ),
            Ok(json!("n=3/web"))
        );
        assert_eq!(
            sub("{{ request.object.nope || 'd' }}", &Scope::new(&ctx), m),
            Ok(json!("d"))
        );
        assert!(sub("{{ request.object.nope }}", &Scope::new(&ctx), m).is_err());
        assert_eq!(
            sub("\\{{ literal }}", &Scope::new(&ctx), m),
            Ok(json!("{{ literal }}"))
        );
        assert_eq!(
            sub("{{ {a: request.object.spec.name} }}", &Scope::new(&ctx), m),
            Ok(json!({"a": "web"}))
        );
        assert!(check("{{ nope( }}").is_err());
        let ctx = json!({"x": "abc"});
        assert_eq!(
            sub("{{ to_upper('{{ x }}') }}", &Scope::new(&ctx), m),
            Ok(json!("ABC"))
        );
        assert_eq!(
            sub("a-{{ to_upper('{{ x }}') }}", &Scope::new(&ctx), m),
            Ok(json!("a-ABC"))
        );
    }

    #[test]
    fn delete_reads_the_old_object() {
        let ctx = json!({"request": {"oldObject": {"a": 1}}});
        assert_eq!(
            sub(
                "{{ request.object.a }}",
                &Scope::new(&ctx),
                Mode { delete: true }
            ),
            Ok(json!(1))
        );
    }

    #[test]
    fn dotted_values() {
        let mut ctx = json!({"request": {"object": {"spec": {"x": 1}}}});
        assert_eq!(
            dotted_fields(r#"request.object.metadata.annotations."example.com/team""#),
            [
                "request",
                "object",
                "metadata",
                "annotations",
                "example.com/team"
            ]
        );
        assert_eq!(dotted_fields(r#"a."b""c".d"#), ["a", "b\"c", "d"]);
        assert_eq!(dotted_fields("a"), ["a"]);
        insert_dotted(&mut ctx, "request.object.spec.sa", json!("busybox"));
        insert_dotted(&mut ctx, "cm.data.k", json!("v"));
        assert_eq!(
            ctx,
            json!({"request": {"object": {"spec": {"x": 1, "sa": "busybox"}}}, "cm": {"data": {"k": "v"}}})
        );
    }
}
