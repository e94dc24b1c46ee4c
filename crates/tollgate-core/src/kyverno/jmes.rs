//! JMESPath as Kyverno evaluates it: the parser of the `jmespath` crate, our own interpreter, so
//! that a missing field on the direct path is an "Unknown key" error (Kyverno's fork) while
//! comparisons, function arguments, projections and `||` see it as null.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "slices and indices follow JMESPath's clamped bounds computed from the list's own length; fuzzed (fuzz/kyverno_jmespath)"
)]

use super::functions;
use jmespath::ast::{Ast, Comparator};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    ast: Ast,
}

/// Why an evaluation produced no value.
#[derive(Debug, Clone, PartialEq)]
pub enum JmesError {
    /// A field on the direct path is missing (Kyverno's `Unknown key`).
    NotFound(String),
    /// A function was called wrongly, or failed.
    Runtime(String),
}

impl std::fmt::Display for JmesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JmesError::NotFound(k) => write!(f, "Unknown key \"{k}\" in path"),
            JmesError::Runtime(m) => f.write_str(m),
        }
    }
}

/// The result of an evaluation: borrowed from the input where possible.
pub type Eval<'a> = Result<Cow<'a, Value>, JmesError>;

/// Parses an expression; function names are checked here so a typo fails at load time.
pub fn compile(src: &str) -> Result<Expr, String> {
    let ast = jmespath::parse(src).map_err(|e| {
        let msg = e.to_string();
        // The crate's message repeats the expression with a caret; the first line says it all,
        // once its "(line 0, column N)" is put in terms of the expression.
        let first = msg.lines().next().unwrap_or(&msg);
        match first.rsplit_once("(line 0, column ") {
            Some((head, col)) => format!(
                "{}(at character {} of the expression)",
                head,
                col.trim_end_matches(')')
            ),
            None => first.to_owned(),
        }
    })?;
    check_functions(&ast)?;
    Ok(Expr { ast })
}

fn check_functions(ast: &Ast) -> Result<(), String> {
    let mut err = Ok(());
    visit(ast, &mut |node| {
        if let Ast::Function { name, .. } = node {
            if err.is_ok() && !functions::exists(name) {
                err = Err(format!("unknown JMESPath function {name}()"));
            }
        }
    });
    err
}

fn visit(ast: &Ast, f: &mut dyn FnMut(&Ast)) {
    f(ast);
    match ast {
        Ast::Comparison { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            visit(predicate, f);
            visit(then, f);
        }
        Ast::Expref { ast, .. } => visit(ast, f),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            visit(node, f)
        }
        Ast::Function { args, .. } => args.iter().for_each(|a| visit(a, f)),
        Ast::MultiList { elements, .. } => elements.iter().for_each(|a| visit(a, f)),
        Ast::MultiHash { elements, .. } => elements.iter().for_each(|kv| visit(&kv.value, f)),
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

impl Expr {
    /// Evaluates against a JSON value or a layered [`Scope`].
    pub fn search<'d, S: Source<'d>>(&self, data: S) -> Eval<'d> {
        eval(&self.ast, data)
    }

    /// Evaluates for a list of items (foreach), borrowing the items from the input.
    pub fn search_list<'d, S: Source<'d>>(&self, data: S) -> Result<Listed<'d>, JmesError> {
        listed(&self.ast, data)
    }
}

/// What an expression starts from: a JSON value, or a rule's layered context.
pub trait Source<'d>: Copy {
    /// A field of an object source (`None` when missing); never called on non-objects.
    fn field(self, name: &str) -> Option<&'d Value>;
    /// Whether the source is an object.
    fn is_object(self) -> bool;
    /// The source as a plain value, when it is one.
    fn plain(self) -> Option<&'d Value>;
    /// The whole source as one value (`@` at the top of a scope).
    fn whole(self) -> Cow<'d, Value>;
}

impl<'d> Source<'d> for &'d Value {
    fn field(self, name: &str) -> Option<&'d Value> {
        self.get(name)
    }
    fn is_object(self) -> bool {
        Value::is_object(self)
    }
    fn plain(self) -> Option<&'d Value> {
        Some(self)
    }
    fn whole(self) -> Cow<'d, Value> {
        Cow::Borrowed(self)
    }
}

/// A rule's context: the resource's shared context plus the names a rule adds (context
/// entries, `element`, values). A scope layers over its parent instead of copying it, and a
/// name may borrow its value, so rules and foreach elements never copy the resource.
#[derive(Debug)]
pub struct Scope<'a> {
    base: &'a Value,
    parent: Option<&'a Scope<'a>>,
    names: Vec<(Cow<'a, str>, Cow<'a, Value>)>,
}

impl<'a> Scope<'a> {
    /// A scope over a context object.
    pub fn new(base: &'a Value) -> Self {
        Scope {
            base,
            parent: None,
            names: Vec::new(),
        }
    }

    /// A scope that sees everything this one does; names set on it shadow this one's.
    pub fn child(&'a self) -> Scope<'a> {
        Scope {
            base: self.base,
            parent: Some(self),
            names: Vec::new(),
        }
    }

    /// Sets a top-level name.
    pub fn set(&mut self, name: impl Into<Cow<'a, str>>, value: Value) {
        self.names.push((name.into(), Cow::Owned(value)));
    }

    /// Sets a top-level name to a value that outlives the scope.
    pub fn set_ref(&mut self, name: impl Into<Cow<'a, str>>, value: &'a Value) {
        self.names.push((name.into(), Cow::Borrowed(value)));
    }

    /// Sets a dotted name (`request.operation`): the top-level value is copied and changed.
    pub fn set_dotted(&mut self, dotted: &str, value: Value) {
        if !dotted.contains('.') {
            self.set(dotted.to_owned(), value);
            return;
        }
        let fields = super::vars::dotted_fields(dotted);
        let Some((top, rest)) = fields.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.set(top.clone(), value);
            return;
        }
        let mut current = self.get(top).cloned().unwrap_or(Value::Null);
        super::vars::insert_path(&mut current, rest, value);
        self.set(top.clone(), current);
    }

    /// A top-level name, the latest setting first.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let mut scope = self;
        loop {
            if let Some((_, v)) = scope.names.iter().rev().find(|(k, _)| k == name) {
                return Some(v);
            }
            match scope.parent {
                Some(p) => scope = p,
                None => return scope.base.get(name),
            }
        }
    }
}

impl<'d> Source<'d> for &'d Scope<'_> {
    fn field(self, name: &str) -> Option<&'d Value> {
        self.get(name)
    }
    fn is_object(self) -> bool {
        true
    }
    fn plain(self) -> Option<&'d Value> {
        None
    }
    fn whole(self) -> Cow<'d, Value> {
        let mut chain = Vec::new();
        let mut scope = Some(self);
        while let Some(s) = scope {
            chain.push(s);
            scope = s.parent;
        }
        let mut m = self.base.as_object().cloned().unwrap_or_default();
        for s in chain.iter().rev() {
            for (k, v) in &s.names {
                m.insert(k.to_string(), v.clone().into_owned());
            }
        }
        Cow::Owned(Value::Object(m))
    }
}

/// A function argument: a value, or an expression reference (`&field`).
pub enum Arg<'a> {
    /// An evaluated argument.
    Value(Cow<'a, Value>),
    /// `&expr`.
    Expref(&'a Ast),
}

impl Arg<'_> {
    /// The value, or null for an expression reference.
    pub fn value(&self) -> &Value {
        match self {
            Arg::Value(v) => v,
            Arg::Expref(_) => &Value::Null,
        }
    }
}

/// Evaluates an expression reference against one element.
pub fn apply_expref(ast: &Ast, data: &Value) -> Result<Value, JmesError> {
    Ok(lenient(eval(ast, data))?.into_owned())
}

/// Where Kyverno swallows `Unknown key`: the missing field reads as null.
fn lenient(r: Eval<'_>) -> Eval<'_> {
    match r {
        Err(JmesError::NotFound(_)) => Ok(Cow::Owned(Value::Null)),
        other => other,
    }
}

/// Applies `f` to a value that may be borrowed or owned, keeping borrows where possible.
fn then<'a>(v: Cow<'a, Value>, f: impl for<'b> FnOnce(&'b Value) -> Eval<'b>) -> Eval<'a> {
    match v {
        Cow::Borrowed(b) => f(b),
        Cow::Owned(o) => f(&o).map(|r| Cow::Owned(r.into_owned())),
    }
}

/// JMESPath truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

const NULL: Value = Value::Null;

fn eval<'d, S: Source<'d>>(ast: &Ast, data: S) -> Eval<'d> {
    if crate::limit::exceeded() {
        return Err(JmesError::Runtime("the time limit ran out".into()));
    }
    match ast {
        Ast::Identity { .. } => Ok(data.whole()),
        Ast::Field { name, .. } => {
            if !data.is_object() {
                return Ok(Cow::Borrowed(&NULL));
            }
            match data.field(name) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => Err(JmesError::NotFound(name.clone())),
            }
        }
        Ast::Subexpr { lhs, rhs, .. } => {
            let left = eval(lhs, data)?;
            then(left, |l: &Value| eval(rhs, l))
        }
        Ast::Index { idx, .. } => match data.plain() {
            Some(Value::Array(a)) => {
                let i = if *idx < 0 {
                    a.len().checked_sub(idx.unsigned_abs() as usize)
                } else {
                    Some(*idx as usize)
                };
                Ok(Cow::Borrowed(i.and_then(|i| a.get(i)).unwrap_or(&NULL)))
            }
            _ => Ok(Cow::Borrowed(&NULL)),
        },
        Ast::Literal { value, .. } => Ok(Cow::Owned(
            serde_json::to_value(&**value).unwrap_or(Value::Null),
        )),
        Ast::Slice {
            start, stop, step, ..
        } => match data.plain() {
            Some(Value::Array(a)) => Ok(Cow::Owned(Value::Array(slice(a, *start, *stop, *step)?))),
            _ => Ok(Cow::Borrowed(&NULL)),
        },
        Ast::Projection { .. }
        | Ast::Flatten { .. }
        | Ast::ObjectValues { .. }
        | Ast::MultiList { .. } => match listed(ast, data)? {
            Listed::Items(items) => Ok(Cow::Owned(Value::Array(
                items.into_iter().map(Cow::into_owned).collect(),
            ))),
            Listed::Other(v) => Ok(v),
        },
        Ast::Condition {
            predicate, then, ..
        } => {
            let p = lenient(eval(predicate, data))?;
            if truthy(&p) {
                lenient(eval(then, data))
            } else {
                Ok(Cow::Borrowed(&NULL))
            }
        }
        Ast::Comparison {
            comparator,
            lhs,
            rhs,
            ..
        } => {
            let l = lenient(eval(lhs, data))?;
            let r = lenient(eval(rhs, data))?;
            Ok(Cow::Owned(compare(comparator, &l, &r)))
        }
        Ast::Not { node, .. } => {
            let v = lenient(eval(node, data))?;
            Ok(Cow::Owned(Value::Bool(!truthy(&v))))
        }
        Ast::And { lhs, rhs, .. } => {
            let l = lenient(eval(lhs, data))?;
            if !truthy(&l) {
                return Ok(l);
            }
            lenient(eval(rhs, data))
        }
        Ast::Or { lhs, rhs, .. } => {
            let l = lenient(eval(lhs, data))?;
            if truthy(&l) {
                return Ok(l);
            }
            // Kyverno's fork swallows `Unknown key` on both sides of `||`.
            lenient(eval(rhs, data))
        }
        Ast::MultiHash { elements, .. } => {
            if data.plain().is_some_and(Value::is_null) {
                return Ok(Cow::Borrowed(&NULL));
            }
            let mut out = serde_json::Map::with_capacity(elements.len());
            for kv in elements {
                out.insert(kv.key.clone(), lenient(eval(&kv.value, data))?.into_owned());
            }
            Ok(Cow::Owned(Value::Object(out)))
        }
        Ast::Expref { .. } => Err(JmesError::Runtime(
            "an expression reference (&) is only allowed as a function argument".into(),
        )),
        Ast::Function { name, args, .. } => {
            let mut evaluated = Vec::with_capacity(args.len());
            for a in args {
                evaluated.push(match a {
                    Ast::Expref { ast, .. } => Arg::Expref(ast),
                    other => Arg::Value(lenient(eval(other, data))?),
                });
            }
            functions::call(name, &evaluated).map(Cow::Owned)
        }
    }
}

/// What an expression gives when a list is wanted: its items, or the value that is not a list.
pub enum Listed<'d> {
    /// The items, borrowed from the input where they come straight from it.
    Items(Vec<Cow<'d, Value>>),
    /// A value that is not a list (null where a projection had nothing to project).
    Other(Cow<'d, Value>),
}

/// Evaluates `ast` as a list: projections, flattens, `*` and multi-selects keep their items
/// borrowed, so `spec.[initContainers, containers][]` copies no container.
fn listed<'d, S: Source<'d>>(ast: &Ast, data: S) -> Result<Listed<'d>, JmesError> {
    let null = || Ok(Listed::Other(Cow::Borrowed(&NULL)));
    match ast {
        Ast::Projection { lhs, rhs, .. } => {
            // Kyverno's fork: a missing field feeding a projection is just no data.
            let items = match lenient_listed(listed(lhs, data))? {
                Listed::Items(items) => items,
                Listed::Other(_) => return null(),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let r = then(item, |v: &Value| lenient(eval(rhs, v)))?;
                if !r.is_null() {
                    out.push(r);
                }
            }
            Ok(Listed::Items(out))
        }
        Ast::Flatten { node, .. } => {
            let items = match lenient_listed(listed(node, data))? {
                Listed::Items(items) => items,
                Listed::Other(_) => return null(),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Cow::Borrowed(Value::Array(inner)) => {
                        out.extend(inner.iter().map(Cow::Borrowed))
                    }
                    Cow::Owned(Value::Array(inner)) => {
                        out.extend(inner.into_iter().map(Cow::Owned))
                    }
                    other => out.push(other),
                }
            }
            Ok(Listed::Items(out))
        }
        Ast::ObjectValues { node, .. } => match lenient(eval(node, data))? {
            Cow::Borrowed(Value::Object(m)) => {
                Ok(Listed::Items(m.values().map(Cow::Borrowed).collect()))
            }
            Cow::Owned(Value::Object(m)) => Ok(Listed::Items(
                m.into_iter().map(|(_, v)| Cow::Owned(v)).collect(),
            )),
            _ => null(),
        },
        Ast::MultiList { elements, .. } => {
            if data.plain().is_some_and(Value::is_null) {
                return null();
            }
            let mut out = Vec::with_capacity(elements.len());
            for e in elements {
                out.push(lenient(eval(e, data))?);
            }
            Ok(Listed::Items(out))
        }
        other => Ok(match eval(other, data)? {
            Cow::Borrowed(Value::Array(a)) => Listed::Items(a.iter().map(Cow::Borrowed).collect()),
            Cow::Owned(Value::Array(a)) => Listed::Items(a.into_iter().map(Cow::Owned).collect()),
            v => Listed::Other(v),
        }),
    }
}

fn lenient_listed(r: Result<Listed<'_>, JmesError>) -> Result<Listed<'_>, JmesError> {
    match r {
        Err(JmesError::NotFound(_)) => Ok(Listed::Other(Cow::Owned(Value::Null))),
        other => other,
    }
}

fn slice(
    a: &[Value],
    start: Option<i32>,
    stop: Option<i32>,
    step: i32,
) -> Result<Vec<Value>, JmesError> {
    if step == 0 {
        return Err(JmesError::Runtime("slice step cannot be 0".into()));
    }
    let len = a.len() as i64;
    let step = i64::from(step);
    let norm = |v: i64, lo: i64, hi: i64| {
        if v < 0 {
            (v + len).max(lo)
        } else {
            v.min(hi)
        }
    };
    let mut out = Vec::new();
    if step > 0 {
        let s = norm(start.map_or(0, i64::from), 0, len);
        let e = norm(stop.map_or(len, i64::from), 0, len);
        let mut i = s;
        while i < e {
            out.push(a[i as usize].clone());
            i += step;
        }
    } else {
        let s = norm(start.map_or(len - 1, i64::from), -1, len - 1);
        let e = norm(stop.map_or(-1 - len, i64::from), -1, len - 1);
        let mut i = s;
        while i > e {
            if i >= 0 && i < len {
                out.push(a[i as usize].clone());
            }
            i += step;
        }
    }
    Ok(out)
}

/// Equality as JMESPath defines it: numbers by value, containers deeply.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn compare(c: &Comparator, l: &Value, r: &Value) -> Value {
    match c {
        Comparator::Equal => Value::Bool(json_eq(l, r)),
        Comparator::NotEqual => Value::Bool(!json_eq(l, r)),
        _ => {
            let ord = match (l, r) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            let Some(ord) = ord else {
                return Value::Null;
            };
            Value::Bool(match c {
                Comparator::LessThan => ord == Ordering::Less,
                Comparator::LessThanEqual => ord != Ordering::Greater,
                Comparator::GreaterThan => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, data: &Value) -> Result<Value, JmesError> {
        compile(expr).unwrap().search(data).map(Cow::into_owned)
    }

    #[test]
    fn missing_key_on_the_direct_path_is_an_error() {
        let d = json!({"request": {"object": {"spec": {}}}});
        assert_eq!(
            run("request.object.spec.foo.bar", &d),
            Err(JmesError::NotFound("foo".into()))
        );
        assert_eq!(run("request.object.spec.foo || 'x'", &d), Ok(json!("x")));
        // Both sides of `||` swallow it, as in Kyverno's fork: `""` is a quoted field name
        // (missing at the root), not a string, so this reads null rather than failing.
        assert_eq!(run(r#"request.object.spec.foo || """#, &d), Ok(json!(null)));
    }

    #[test]
    fn projections_filters_and_functions() {
        let d = json!({"c": [{"name": "a", "image": "x:latest"}, {"name": "b", "image": "y:1"}]});
        assert_eq!(run("c[].name", &d), Ok(json!(["a", "b"])));
        assert_eq!(
            run("c[?ends_with(image, ':latest')].name", &d),
            Ok(json!(["a"]))
        );
        assert_eq!(run("c[?missing == 'x'].name", &d), Ok(json!([])));
        assert_eq!(run("length(c)", &d), Ok(json!(2)));
        assert_eq!(run("c[-1].name", &d), Ok(json!("b")));
        assert_eq!(run("c[*].name | [0]", &d), Ok(json!("a")));
        assert_eq!(run("{n: c[0].name}", &d), Ok(json!({"n": "a"})));
    }

    #[test]
    fn unknown_functions_fail_at_compile_time() {
        assert!(compile("no_such_fn(a)").unwrap_err().contains("no_such_fn"));
        assert!(compile("a[").is_err());
    }
}
