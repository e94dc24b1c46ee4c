//! The evaluator compiled CEL runs on: a walk over the parsed tree whose values share their
//! lists, maps and strings, so selecting `object.spec.containers` or binding a variable
//! copies nothing. The `cel` crate's own walk turns every map and list it touches into a
//! second representation and back (a deep copy per field selection and per function call),
//! which cost tens of microseconds per policy and object. The operators and the functions
//! policies use most run here; every other call goes to the crate's function registry with
//! its arguments already evaluated, so the libraries (kube-cel's, Kyverno's) stay one set.
//!
//! A native operation answers only the types it is sure of and hands anything else to the
//! registry (`None` from [`native`]), so an unusual operand gets the interpreter's answer.

use super::cel::{self, ExecutionError as E};
use super::Value;
use cel::common::ast::{operators, CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr};
use cel::objects::{Key, KeyRef, Map, OptionalValue};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The function name budget errors carry.
const BUDGET: &str = "budget";
/// The function name the error an `all` or `exists` ends with is raised under.
const HELD_BY: &str = "comprehension";

/// An expression, compiled.
pub(super) enum Node {
    /// A literal, converted once.
    Lit(Value),
    /// A variable.
    Ident(String),
    /// `a.f` (`test`: `has(a.f)`).
    Select {
        operand: Box<Node>,
        field: Arc<String>,
        test: bool,
    },
    /// `a && b` (`short` false) or `a || b` (`short` true): `short` on either side decides,
    /// even over an error on the other, as CEL absorbs errors.
    Logic {
        short: bool,
        a: Box<Node>,
        b: Box<Node>,
    },
    /// `c ? a : b`.
    Cond(Box<[Node; 3]>),
    /// `@not_strictly_false(x)`: a loop condition; an error is true.
    NotStrictlyFalse(Box<Node>),
    /// A call: an operator or a function.
    Call(Box<Call>),
    /// `[a, ?b]`: elements and the indices of the optional ones.
    List(Vec<Node>, Vec<usize>),
    /// `{k: v, ?k2: v2}`.
    Map(Vec<(Node, Node, bool)>),
    /// A macro (`all`, `exists`, `map`, `filter`, `exists_one`).
    Comprehension(Box<Comprehension>),
    /// What cannot run (the checker rejects it first; kept so nothing panics).
    Invalid(&'static str),
}

/// A call of a function or operator.
pub(super) struct Call {
    /// The operation this evaluator answers itself, when it has one.
    op: Option<Op>,
    /// The receiver (`x` of `x.f()`), unless the target only qualifies the name.
    target: Option<Node>,
    args: Vec<Node>,
    /// The same call over bound names (`@t.f(@0, @1)`), for the registry.
    call: IdedExpr,
    /// The names its arguments are bound to (`@0`, `@1`, ...).
    names: Vec<String>,
}

/// A comprehension.
pub(super) struct Comprehension {
    iter_var: String,
    accu_var: String,
    range: Node,
    body: Body,
}

/// What a comprehension does with its elements.
enum Body {
    /// `all` (`decides` false) or `exists` (`decides` true): the first element whose
    /// predicate is `decides` decides, even when another element's errors (cel-go keeps an
    /// error only when nothing decides).
    Quantifier { decides: bool, predicate: Node },
    /// Any other macro (`map`, `filter`, `exists_one`): the accumulator folded as written.
    Fold {
        init: Node,
        cond: Node,
        step: Node,
        result: Node,
    },
}

/// The operations answered natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Not,
    Neg,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Index,
    OptIndex,
    Size,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    OrValue,
    HasValue,
    OptValue,
    OptOr,
    OptNone,
    OptOf,
    OptOfNonZero,
    Dyn,
}

/// The native operation of a call, by name and whether it has a receiver.
fn op_of(name: &str, qualified: bool) -> Option<Op> {
    Some(match (name, qualified) {
        (operators::LOGICAL_NOT, false) => Op::Not,
        (operators::NEGATE, false) => Op::Neg,
        (operators::EQUALS, false) => Op::Eq,
        (operators::NOT_EQUALS, false) => Op::Ne,
        (operators::LESS, false) => Op::Lt,
        (operators::LESS_EQUALS, false) => Op::Le,
        (operators::GREATER, false) => Op::Gt,
        (operators::GREATER_EQUALS, false) => Op::Ge,
        (operators::IN, false) => Op::In,
        (operators::ADD, false) => Op::Add,
        (operators::SUBSTRACT, false) => Op::Sub,
        (operators::MULTIPLY, false) => Op::Mul,
        (operators::INDEX, false) => Op::Index,
        (operators::OPT_INDEX, false) => Op::OptIndex,
        ("size", false) => Op::Size,
        ("startsWith", false) => Op::StartsWith,
        ("endsWith", false) => Op::EndsWith,
        ("contains", false) => Op::Contains,
        ("matches", false) => Op::Matches,
        ("orValue", false) => Op::OrValue,
        ("hasValue", false) => Op::HasValue,
        ("value", false) => Op::OptValue,
        ("or", false) => Op::OptOr,
        ("none", true) => Op::OptNone,
        ("of", true) => Op::OptOf,
        ("ofNonZeroValue", true) => Op::OptOfNonZero,
        ("dyn", false) => Op::Dyn,
        _ => return None,
    })
}

/// Compiles a parsed (and rewritten) expression.
pub(super) fn compile(e: &IdedExpr) -> Node {
    match &e.expr {
        Expr::Literal(l) => match Value::try_from(l.to_val().as_ref()) {
            Ok(v) => Node::Lit(v),
            Err(_) => Node::Invalid("a literal of an unsupported type"),
        },
        Expr::Ident(name) => Node::Ident(name.clone()),
        Expr::Select(s) => Node::Select {
            operand: Box::new(compile(&s.operand)),
            field: Arc::new(s.field.clone()),
            test: s.test,
        },
        Expr::Call(c) => compile_call(c),
        Expr::List(l) => Node::List(
            l.elements.iter().map(compile).collect(),
            l.optional_indices.clone(),
        ),
        Expr::Map(m) => {
            let mut entries = Vec::with_capacity(m.entries.len());
            for entry in &m.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        entries.push((compile(&me.key), compile(&me.value), me.optional))
                    }
                    EntryExpr::StructField(_) => {
                        return Node::Invalid("message construction is not supported")
                    }
                }
            }
            Node::Map(entries)
        }
        Expr::Comprehension(c) => Node::Comprehension(Box::new(Comprehension {
            iter_var: c.iter_var.clone(),
            accu_var: c.accu_var.clone(),
            range: compile(&c.iter_range),
            body: match quantifier(c) {
                Some((decides, predicate)) => Body::Quantifier {
                    decides,
                    predicate: compile(predicate),
                },
                None => Body::Fold {
                    init: compile(&c.accu_init),
                    cond: compile(&c.loop_cond),
                    step: compile(&c.loop_step),
                    result: compile(&c.result),
                },
            },
        })),
        Expr::Struct(_) => Node::Invalid("message construction is not supported"),
        Expr::Unspecified => Node::Invalid("an empty expression"),
    }
}

/// Whether a comprehension is the parser's `all` (`accu = true; accu && p; accu`) or
/// `exists` (`accu = false; accu || p; accu`), with whether `p` decides it when true, and `p`.
fn quantifier(c: &ComprehensionExpr) -> Option<(bool, &IdedExpr)> {
    let Expr::Call(step) = &c.loop_step.expr else {
        return None;
    };
    let decides = match step.func_name.as_str() {
        operators::LOGICAL_AND => false,
        operators::LOGICAL_OR => true,
        _ => return None,
    };
    let [IdedExpr {
        expr: Expr::Ident(accu),
        ..
    }, predicate] = step.args.as_slice()
    else {
        return None;
    };
    let starts_undecided =
        matches!(compile(&c.accu_init), Node::Lit(Value::Bool(b)) if b != decides);
    let gives_accu = matches!(&c.result.expr, Expr::Ident(r) if *r == c.accu_var);
    (step.target.is_none() && *accu == c.accu_var && starts_undecided && gives_accu)
        .then_some((decides, predicate))
}

fn ident(name: &str) -> IdedExpr {
    IdedExpr {
        id: 0,
        expr: Expr::Ident(name.to_owned()),
    }
}

fn compile_call(c: &CallExpr) -> Node {
    let name = c.func_name.as_str();
    match (name, c.target.as_deref(), c.args.as_slice()) {
        (operators::LOGICAL_AND | operators::LOGICAL_OR, None, [a, b]) => {
            return Node::Logic {
                short: name == operators::LOGICAL_OR,
                a: Box::new(compile(a)),
                b: Box::new(compile(b)),
            };
        }
        (operators::CONDITIONAL, None, [c, a, b]) => {
            return Node::Cond(Box::new([compile(c), compile(a), compile(b)]))
        }
        (operators::NOT_STRICTLY_FALSE, None, [x]) => {
            return Node::NotStrictlyFalse(Box::new(compile(x)))
        }
        _ => {}
    }
    // A target that names a namespace of functions (`optional.none()`, `base64.encode(x)`)
    // qualifies the name, as the interpreter resolves it.
    let qualifier = match c.target.as_deref() {
        Some(IdedExpr {
            expr: Expr::Ident(ns),
            ..
        }) if super::rewrite::is_qualified(ns, name) => Some(ns.as_str()),
        _ => None,
    };
    let op = match qualifier {
        Some("optional") | None => op_of(name, qualifier.is_some()),
        Some(_) => None,
    };
    let target = match qualifier {
        Some(_) => None,
        None => c.target.as_deref().map(compile),
    };
    let names: Vec<String> = (0..c.args.len()).map(|i| format!("@{i}")).collect();
    let call = IdedExpr {
        id: 0,
        expr: Expr::Call(CallExpr {
            func_name: c.func_name.clone(),
            target: match (qualifier, &target) {
                (Some(ns), _) => Some(Box::new(ident(ns))),
                (None, Some(_)) => Some(Box::new(ident("@t"))),
                (None, None) => None,
            },
            args: names.iter().map(|n| ident(n)).collect(),
        }),
    };
    Node::Call(Box::new(Call {
        op,
        target,
        args: c.args.iter().map(compile).collect(),
        call,
        names,
    }))
}

/// Where names are looked up: the caller's scope, then the comprehensions around the
/// expression being evaluated.
enum Env<'a> {
    Scope(&'a super::Scope<'a>),
    Loop(&'a Frame<'a>),
}

/// The variables of one comprehension.
struct Frame<'a> {
    accu_var: &'a str,
    accu: Value,
    iter_var: &'a str,
    /// The element of this step (none before the first).
    item: Option<Value>,
    parent: &'a Env<'a>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Env::Scope(s) => s.get(name),
            Env::Loop(f) => {
                if name == f.iter_var {
                    if let Some(item) = &f.item {
                        return Some(item);
                    }
                }
                if name == f.accu_var {
                    return Some(&f.accu);
                }
                f.parent.get(name)
            }
        }
    }
}

/// Evaluates `node` over `scope`.
pub(super) fn eval(node: &Node, scope: &super::Scope<'_>) -> Result<Value, E> {
    ev(node, &Env::Scope(scope))
}

fn try_bool(v: Result<Value, E>) -> Result<bool, E> {
    match v? {
        Value::Bool(b) => Ok(b),
        _ => Err(E::NoSuchOverload),
    }
}

fn ev(node: &Node, env: &Env<'_>) -> Result<Value, E> {
    match node {
        Node::Lit(v) => Ok(v.clone()),
        Node::Ident(name) => env
            .get(name)
            .cloned()
            .ok_or_else(|| E::UndeclaredReference(Arc::new(name.clone()))),
        Node::Select {
            operand,
            field,
            test,
        } => match ev(operand, env)? {
            Value::Map(m) => {
                let key = KeyRef::String(field.as_str());
                if *test {
                    Ok(Value::Bool(m.get(&key).is_some()))
                } else {
                    m.get(&key)
                        .cloned()
                        .ok_or_else(|| E::NoSuchKey(field.clone()))
                }
            }
            // The interpreter answers false for a field of anything but a map.
            _ => Ok(Value::Bool(false)),
        },
        Node::Logic { short, a, b } => {
            let left = try_bool(ev(a, env));
            if left == Ok(*short) {
                return Ok(Value::Bool(*short));
            }
            match (left, ev(b, env)?) {
                (Ok(_), Value::Bool(r)) => Ok(Value::Bool(r)),
                (Err(_), Value::Bool(r)) if r == *short => Ok(Value::Bool(r)),
                (left, _) => Err(left.err().unwrap_or(E::NoSuchOverload)),
            }
        }
        Node::Cond(parts) => {
            let [c, a, b] = parts.as_ref();
            if try_bool(ev(c, env))? {
                ev(a, env)
            } else {
                ev(b, env)
            }
        }
        Node::NotStrictlyFalse(x) => Ok(Value::Bool(try_bool(ev(x, env)).unwrap_or(true))),
        Node::Call(c) => call(c, env),
        Node::List(elements, optional) => {
            let mut out = Vec::with_capacity(elements.len());
            for (i, e) in elements.iter().enumerate() {
                let v = ev(e, env)?;
                if optional.contains(&i) {
                    match optional_of(&v) {
                        Some(Some(inner)) => out.push(inner.clone()),
                        Some(None) => {}
                        None => out.push(v),
                    }
                } else {
                    out.push(v);
                }
            }
            Ok(Value::List(Arc::new(out)))
        }
        Node::Map(entries) => {
            let mut out = HashMap::with_capacity(entries.len());
            for (k, v, optional) in entries {
                let key = key_of(ev(k, env)?)?;
                let v = ev(v, env)?;
                if *optional {
                    match optional_of(&v) {
                        Some(Some(inner)) => {
                            out.insert(key, inner.clone());
                        }
                        Some(None) => {}
                        None => {
                            out.insert(key, v);
                        }
                    }
                } else {
                    out.insert(key, v);
                }
            }
            Ok(Value::Map(Map { map: Arc::new(out) }))
        }
        Node::Comprehension(c) => comprehension(c, env),
        Node::Invalid(what) => Err(E::function_error("cel", *what)),
    }
}

/// A value as a map key to look up (maps are keyed by strings, ints, uints and bools).
fn key_ref(v: &Value) -> Option<KeyRef<'_>> {
    match v {
        Value::String(s) => Some(KeyRef::String(s)),
        Value::Int(i) => Some(KeyRef::Int(*i)),
        Value::UInt(u) => Some(KeyRef::Uint(*u)),
        Value::Bool(b) => Some(KeyRef::Bool(*b)),
        _ => None,
    }
}

fn key_of(v: Value) -> Result<Key, E> {
    match v {
        Value::String(s) => Ok(Key::String(s)),
        Value::Int(i) => Ok(Key::Int(i)),
        Value::UInt(u) => Ok(Key::Uint(u)),
        Value::Bool(b) => Ok(Key::Bool(b)),
        other => Err(E::UnsupportedKeyType(other)),
    }
}

fn comprehension(c: &Comprehension, env: &Env<'_>) -> Result<Value, E> {
    let accu = match &c.body {
        Body::Fold { init, .. } => ev(init, env)?,
        Body::Quantifier { decides, .. } => Value::Bool(!decides),
    };
    let range = ev(&c.range, env)?;
    // A list is shared: iterated in place. A map ranges over its keys.
    let (mut elements, mut keys);
    let items: &mut dyn Iterator<Item = Value> = match &range {
        Value::List(l) => {
            elements = l.iter().cloned();
            &mut elements
        }
        Value::Map(m) => {
            keys = m.map.keys().map(Value::from);
            &mut keys
        }
        _ => return Err(E::NoSuchOverload),
    };
    let mut frame = Frame {
        accu_var: &c.accu_var,
        accu,
        iter_var: &c.iter_var,
        item: None,
        parent: env,
    };
    match &c.body {
        Body::Quantifier { decides, predicate } => {
            let mut first_error = None;
            for item in items {
                tick()?;
                frame.item = Some(item);
                match ev(predicate, &Env::Loop(&frame)) {
                    Ok(Value::Bool(b)) if b == *decides => return Ok(Value::Bool(b)),
                    Ok(Value::Bool(_)) => {}
                    // Budget errors are never absorbed.
                    Err(e) if is_budget(&e) => return Err(e),
                    Ok(_) => {
                        first_error.get_or_insert(E::NoSuchOverload);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                // An inner comprehension's error keeps its words.
                Some(e @ E::FunctionError { .. }) if held_by(&e) => Err(e),
                Some(e) => Err(E::function_error(HELD_BY, super::describe(&e))),
                None => Ok(Value::Bool(!decides)),
            }
        }
        Body::Fold {
            cond, step, result, ..
        } => {
            for item in items {
                tick()?;
                frame.item = Some(item);
                if !try_bool(ev(cond, &Env::Loop(&frame)))? {
                    break;
                }
                frame.accu = ev(step, &Env::Loop(&frame))?;
            }
            ev(result, &Env::Loop(&frame))
        }
    }
}

/// One comprehension step taken from the budget.
fn tick() -> Result<(), E> {
    super::spend(1).map_err(|m| E::function_error(BUDGET, m))
}

/// Whether an error is the budget running out.
fn is_budget(e: &E) -> bool {
    matches!(e, E::FunctionError { function, .. } if function == BUDGET)
}

/// Whether an error is one an inner `all` or `exists` ended with.
fn held_by(e: &E) -> bool {
    matches!(e, E::FunctionError { function, .. } if function == HELD_BY)
}

fn call(c: &Call, env: &Env<'_>) -> Result<Value, E> {
    let mut vals = Vec::with_capacity(c.args.len().saturating_add(1));
    if let Some(t) = &c.target {
        vals.push(ev(t, env)?);
    }
    for a in &c.args {
        vals.push(ev(a, env)?);
    }
    if let Some(op) = c.op {
        if let Some(answer) = native(op, &vals) {
            return answer;
        }
    }
    registry(c, vals)
}

/// Hands a call to the interpreter's registry, its arguments bound to names.
fn registry(c: &Call, vals: Vec<Value>) -> Result<Value, E> {
    let mut ctx = super::root().new_inner_scope();
    let mut vals = vals.into_iter();
    if c.target.is_some() {
        if let Some(t) = vals.next() {
            ctx.add_variable_from_value("@t", t);
        }
    }
    for (name, v) in c.names.iter().zip(vals) {
        ctx.add_variable_from_value(name.as_str(), v);
    }
    cel::Value::resolve(&c.call, &ctx)
}

/// The inner value of an optional (`Some(None)` for `optional.none()`), `None` for a value
/// that is not optional.
fn optional_of(v: &Value) -> Option<Option<&Value>> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<OptionalValue>().map(OptionalValue::value),
        _ => None,
    }
}

fn some(v: Value) -> Value {
    Value::Opaque(Arc::new(OptionalValue::of(v)))
}

fn none() -> Value {
    Value::Opaque(Arc::new(OptionalValue::none()))
}

fn boolean(b: bool) -> Option<Result<Value, E>> {
    Some(Ok(Value::Bool(b)))
}

/// `container[key]` for a list or a map; `None` for anything else.
fn index(container: &Value, key: &Value) -> Option<Result<Value, E>> {
    Some(match (container, key) {
        (Value::List(l), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| l.get(i))
            .cloned()
            .ok_or(E::IndexOutOfBounds(Value::Int(*i))),
        (Value::List(l), Value::UInt(u)) => usize::try_from(*u)
            .ok()
            .and_then(|i| l.get(i))
            .cloned()
            .ok_or(E::IndexOutOfBounds(Value::UInt(*u))),
        (Value::List(_), other) => Err(E::UnexpectedType {
            got: other.type_of().to_string(),
            want: "int|uint".into(),
        }),
        (Value::Map(m), key) => {
            let Some(k) = key_ref(key) else {
                return Some(Err(E::NoSuchOverload));
            };
            m.get(&k).cloned().ok_or_else(|| {
                E::NoSuchKey(Arc::new(match k {
                    KeyRef::String(s) => s.to_owned(),
                    KeyRef::Int(i) => i.to_string(),
                    KeyRef::Uint(u) => u.to_string(),
                    KeyRef::Bool(b) => b.to_string(),
                }))
            })
        }
        _ => return None,
    })
}

thread_local! {
    /// Patterns compiled by `matches`, per thread (policies repeat a handful of them).
    static PATTERNS: RefCell<HashMap<String, regex::Regex>> = RefCell::new(HashMap::new());
}

/// The most patterns a thread keeps compiled.
const PATTERN_CACHE: usize = 512;

fn matches(s: &str, pattern: &str) -> Option<Result<Value, E>> {
    PATTERNS.with(|p| {
        let mut p = p.borrow_mut();
        if let Some(re) = p.get(pattern) {
            return boolean(re.is_match(s));
        }
        // An invalid pattern: the registry words the error.
        let re = regex::Regex::new(pattern).ok()?;
        let hit = re.is_match(s);
        if p.len() >= PATTERN_CACHE {
            p.clear();
        }
        p.insert(pattern.to_owned(), re);
        boolean(hit)
    })
}

/// The native answer of `op` over its evaluated operands (receiver first); `None` hands
/// the call to the registry.
fn native(op: Op, vals: &[Value]) -> Option<Result<Value, E>> {
    use Value as V;
    match (op, vals) {
        (Op::Not, [V::Bool(b)]) => boolean(!b),
        (Op::Neg, [V::Int(i)]) => Some(i.checked_neg().map(V::Int).ok_or(E::Overflow(
            "negate",
            V::Int(*i),
            V::Null,
        ))),
        (Op::Neg, [V::Float(f)]) => Some(Ok(V::Float(-f))),
        // Equality is heterogeneous over numbers (`1 == 1.0`), as in cel-go.
        (Op::Eq, [a, b]) => boolean(a == b),
        (Op::Ne, [a, b]) => boolean(a != b),
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, [a, b]) => {
            let ord = match (a, b) {
                (V::Bytes(x), V::Bytes(y)) => Some(x.cmp(y)),
                _ => a.partial_cmp(b),
            };
            let Some(ord) = ord else {
                return Some(Err(E::NoSuchOverload));
            };
            boolean(match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        (Op::In, [x, V::List(l)]) => boolean(l.iter().any(|e| e == x)),
        (Op::In, [x, V::Map(m)]) => key_ref(x).and_then(|k| boolean(m.get(&k).is_some())),
        (Op::Add, [V::Int(a), V::Int(b)]) => Some(
            a.checked_add(*b)
                .map(V::Int)
                .ok_or(E::Overflow("add", V::Int(*a), V::Int(*b))),
        ),
        (Op::Add, [V::UInt(a), V::UInt(b)]) => Some(
            a.checked_add(*b)
                .map(V::UInt)
                .ok_or(E::Overflow("add", V::UInt(*a), V::UInt(*b))),
        ),
        #[allow(clippy::arithmetic_side_effects)] // floats do not overflow into UB
        (Op::Add, [V::Float(a), V::Float(b)]) => Some(Ok(V::Float(a + b))),
        (Op::Add, [V::String(a), V::String(b)]) => {
            let mut s = String::with_capacity(a.len().saturating_add(b.len()));
            s.push_str(a);
            s.push_str(b);
            Some(Ok(V::String(Arc::new(s))))
        }
        (Op::Add, [V::List(a), V::List(b)]) => {
            let mut l = Vec::with_capacity(a.len().saturating_add(b.len()));
            l.extend(a.iter().cloned());
            l.extend(b.iter().cloned());
            Some(Ok(V::List(Arc::new(l))))
        }
        (Op::Sub, [V::Int(a), V::Int(b)]) => Some(
            a.checked_sub(*b)
                .map(V::Int)
                .ok_or(E::Overflow("sub", V::Int(*a), V::Int(*b))),
        ),
        (Op::Mul, [V::Int(a), V::Int(b)]) => Some(
            a.checked_mul(*b)
                .map(V::Int)
                .ok_or(E::Overflow("mul", V::Int(*a), V::Int(*b))),
        ),
        (Op::Index, [c, k]) => match optional_of(c) {
            // An element of an optional is optional.
            Some(_) => native(Op::OptIndex, vals),
            None => index(c, k),
        },
        (Op::OptIndex, [c, k]) => match optional_of(c) {
            Some(None) => Some(Ok(none())),
            Some(Some(inner)) => {
                let found = index(inner, k)?;
                Some(Ok(found.map(some).unwrap_or_else(|_| none())))
            }
            None => {
                let found = index(c, k)?;
                Some(Ok(found.map(some).unwrap_or_else(|_| none())))
            }
        },
        (Op::Size, [x]) => {
            let n = match x {
                // Code points, as cel-go counts a string.
                V::String(s) => s.chars().count(),
                V::List(l) => l.len(),
                V::Map(m) => m.map.len(),
                V::Bytes(b) => b.len(),
                _ => return None,
            };
            Some(Ok(V::Int(i64::try_from(n).unwrap_or(i64::MAX))))
        }
        (Op::StartsWith, [V::String(s), V::String(p)]) => boolean(s.starts_with(p.as_str())),
        (Op::EndsWith, [V::String(s), V::String(p)]) => boolean(s.ends_with(p.as_str())),
        (Op::Contains, [V::String(s), V::String(p)]) => boolean(s.contains(p.as_str())),
        (Op::Matches, [V::String(s), V::String(p)]) => matches(s, p),
        // `x.orValue(d)` on a value that is not optional is the value: Kyverno's policies
        // rely on it (`container.securityContext.capabilities.add.orValue([])`) and
        // Kyverno's CLI answers them so.
        (Op::OrValue, [x, d]) => Some(Ok(match optional_of(x) {
            Some(Some(v)) => v.clone(),
            Some(None) => d.clone(),
            None => x.clone(),
        })),
        (Op::HasValue, [x]) => optional_of(x).map(|o| Ok(V::Bool(o.is_some()))),
        (Op::OptValue, [x]) => optional_of(x).map(|o| {
            o.cloned()
                .ok_or_else(|| E::function_error("value", "optional.none() dereference"))
        }),
        (Op::OptOr, [a, b]) => match (optional_of(a), optional_of(b)) {
            (Some(Some(_)), _) => Some(Ok(a.clone())),
            (Some(None), Some(_)) => Some(Ok(b.clone())),
            _ => None,
        },
        (Op::OptNone, []) => Some(Ok(none())),
        (Op::OptOf, [x]) => Some(Ok(some(x.clone()))),
        (Op::OptOfNonZero, [x]) => Some(Ok(if x.is_zero() { none() } else { some(x.clone()) })),
        (Op::Dyn, [x]) => Some(Ok(x.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compile, eval, reset_budget, Decls, Scope};
    use super::Value;

    fn run(src: &str, object: serde_json::Value) -> Result<Value, String> {
        let decls = Decls {
            names: &["object"],
            variables: None,
        };
        let p = compile(src, &decls)?;
        let mut s = Scope::new();
        s.set_json("object", &object);
        reset_budget();
        eval(&p, &s).map_err(|e| e.0)
    }

    fn yes(src: &str, object: serde_json::Value) {
        assert_eq!(run(src, object), Ok(Value::Bool(true)), "{src}");
    }

    #[test]
    fn numbers_compare_across_types_as_in_cel_go() {
        // cel-go's heterogeneous equality: an int, a uint and a double of the same number
        // are equal; JSON gives `replicas: 2` as an int.
        yes(
            "1 == 1.0 && 1u == 1 && object.r == 2.0",
            serde_json::json!({"r": 2}),
        );
        yes("2 in [1.0, 2.0]", serde_json::json!({}));
        yes("1 < 1.5 && 2u > 1", serde_json::json!({}));
        // A string and a number are never equal, and do not order.
        yes("'1' != 1", serde_json::json!({}));
        assert!(run("'1' < 1", serde_json::json!({})).is_err());
    }

    #[test]
    fn size_counts_code_points() {
        // `é` is two bytes in UTF-8 and one code point; cel-go counts code points.
        yes(
            "size('héllo') == 5 && 'héllo'.size() == 5",
            serde_json::json!({}),
        );
        yes(
            "size(object.l) == 3 && size(object.m) == 1",
            serde_json::json!({"l": [1, 2, 3], "m": {"a": 1}}),
        );
    }

    #[test]
    fn selection_indexing_and_membership() {
        let o = serde_json::json!({"m": {"a": {"b": [10, 20]}}, "k": "a"});
        yes("object.m[object.k].b[1] == 20", o.clone());
        yes(
            "'a' in object.m && !('z' in object.m) && 20 in object.m.a.b",
            o.clone(),
        );
        yes("has(object.m.a) && !has(object.m.z)", o.clone());
        let e = run("object.m.z", o.clone()).unwrap_err();
        assert!(e.contains("no such key: z"), "{e}");
        let e = run("object.m.a.b[2]", o.clone()).unwrap_err();
        assert!(e.contains("index out of range"), "{e}");
        // An optional element of a list literal is left out when it is none.
        yes("[1, ?object.m.?z, ?optional.of(3)] == [1, 3]", o.clone());
        yes("{'x': 1, ?'y': object.m.?z}.size() == 1", o);
    }

    #[test]
    fn arithmetic_overflow_is_an_error_not_a_wrap() {
        let e = run("9223372036854775807 + 1 > 0", serde_json::json!({})).unwrap_err();
        assert!(e.contains("overflowed"), "{e}");
        yes(
            "'a' + 'b' == 'ab' && [1] + [2] == [1, 2] && 7 - 2 * 3 == 1",
            serde_json::json!({}),
        );
    }

    #[test]
    fn other_functions_are_answered_by_the_libraries() {
        // Not evaluated natively: handed to the registry with evaluated arguments.
        let o = serde_json::json!({"img": "registry.example.com/app:1.2", "n": "7"});
        yes("object.img.split(':')[1] == '1.2'", o.clone());
        yes("int(object.n) == 7 && string(7) == '7'", o.clone());
        yes("base64.encode(b'hi') == 'aGk='", o.clone());
        yes("object.img.matches('^registry\\\\.example\\\\.com/') && !object.img.matches('^docker')", o);
    }

    #[test]
    fn comprehensions_see_their_own_variables() {
        let o = serde_json::json!({"l": [{"n": 1}, {"n": 2}, {"n": 3}], "m": {"a": 1, "b": 2}});
        yes("object.l.map(x, x.n * 2) == [2, 4, 6]", o.clone());
        yes("object.l.filter(x, x.n > 1).size() == 2", o.clone());
        yes("object.l.exists_one(x, x.n == 2)", o.clone());
        // Over a map, a comprehension ranges over its keys.
        yes("object.m.all(k, k in ['a', 'b'])", o.clone());
        // Nested: the inner variable hides nothing of the outer.
        yes("object.l.all(x, object.l.exists(y, y.n == x.n))", o);
    }
}
