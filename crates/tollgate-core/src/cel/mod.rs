//! One CEL evaluator for every CEL dialect tollgate reads (Kyverno `validate.cel` and
//! `ValidatingPolicy`, Kubernetes `ValidatingAdmissionPolicy`): expressions are compiled once
//! (parsed, checked against the names the dialect declares, rewritten where the interpreter
//! differs from cel-go) and evaluated per resource on any thread, under a cost budget.
//!
//! The parser is the `cel` crate's; expressions run on `interp`, which calls the `cel`
//! crate's registry (the Kubernetes libraries of `kube-cel`) for the functions it does not
//! answer itself; Kyverno's own libraries are in [`libs`]. docs/cel.md says what each dialect
//! sees.
// Reads policies from repositories: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod convert;
pub mod engine;
pub mod exception;
mod interp;
pub mod libs;
pub mod matching;
pub mod policies;
mod rewrite;
pub mod vap;
pub mod vpol;

use kube_cel::cel;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

pub use cel::Value;
pub use rewrite::Decls;

/// Comprehension steps one policy may take on one object before it is stopped. Kubernetes
/// bounds an admission evaluation by cost units (10,000,000 per policy, about one per
/// step); tollgate counts the steps of every `all`, `exists`, `map`, `filter` and
/// `exists_one`, which is where a runaway expression spends them.
pub const STEP_BUDGET: u64 = 1_000_000;

/// The line of a policy field (`spec.validations[1].expression`), or of the nearest field
/// above it that has one.
pub(crate) fn line_of(res: &crate::manifest::Resource, path: &str) -> u32 {
    let mut p = path;
    loop {
        if let Some((l, _)) = res.origin.position_of(p) {
            return l;
        }
        match p.rfind(['.', '[']) {
            Some(i) => p = p.get(..i).unwrap_or(""),
            None => return res.origin.line,
        }
    }
}

/// A compiled expression and its source, shared by every thread.
#[derive(Clone)]
pub struct Program {
    source: Arc<str>,
    node: Arc<interp::Node>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({:?})", self.source)
    }
}

impl Program {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Compiles `source`. `decls` are the names the dialect declares (`object`, `variables`,
/// ...); any other name, and any function the environment does not have, is a compile error,
/// as cel-go's checker reports it before anything runs.
pub fn compile(source: &str, decls: &Decls<'_>) -> Result<Program, String> {
    let parsed = cel::parser::Parser::new()
        .enable_optional_syntax(true)
        .parse(source)
        .map_err(|e| parse_message(&e))?;
    rewrite::check(&parsed, decls)?;
    Ok(Program {
        source: source.into(),
        node: Arc::new(interp::compile(&rewrite::rewrite(parsed))),
    })
}

/// A parse error as one line per problem, `line:column: message`, without the interpreter's
/// `<input>` prefix.
fn parse_message(e: &cel::ParseErrors) -> String {
    e.errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.pos.0, e.pos.1, e.msg))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The functions of the environment: the CEL standard library, the Kubernetes libraries and
/// Kyverno's, registered once for the process (the evaluator answers the commonest itself).
fn root() -> &'static cel::Context<'static> {
    static ROOT: OnceLock<cel::Context<'static>> = OnceLock::new();
    ROOT.get_or_init(|| {
        use kube_cel::KubeCelExt;
        let mut ctx = cel::Context::default().with_all();
        libs::register(&mut ctx);
        ctx
    })
}

/// The variables of one evaluation, layered: what is known of the resource, then what each
/// policy adds (its `variables`, its params). Values are shared, never copied, between
/// layers and evaluations.
pub struct Scope<'a> {
    vars: Vec<(String, Value)>,
    parent: Option<&'a Scope<'a>>,
}

impl Scope<'static> {
    /// The outermost layer.
    pub fn new() -> Self {
        Scope {
            vars: Vec::new(),
            parent: None,
        }
    }
}

impl Default for Scope<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Scope<'a> {
    /// A layer above this one: its names hide this one's.
    pub fn child(&'a self) -> Scope<'a> {
        Scope {
            vars: Vec::new(),
            parent: Some(self),
        }
    }

    /// Binds `name` to a JSON value.
    pub fn set_json(&mut self, name: &str, value: &serde_json::Value) {
        self.set(name, convert::to_cel(value));
    }

    /// Binds `name` to a CEL value (again: the new value replaces the old in this layer).
    pub fn set(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
    }

    /// The value of `name`: this layer's, else the layers' below.
    fn get(&self, name: &str) -> Option<&Value> {
        match self.vars.iter().find(|(n, _)| n == name) {
            Some((_, v)) => Some(v),
            None => self.parent.and_then(|p| p.get(name)),
        }
    }
}

thread_local! {
    /// Steps left in this thread's current evaluation (see [`STEP_BUDGET`]).
    static STEPS: Cell<u64> = const { Cell::new(STEP_BUDGET) };
}

/// Starts a new budget for the evaluations of one policy on one object.
pub fn reset_budget() {
    STEPS.with(|s| s.set(STEP_BUDGET));
}

/// Takes `n` steps from the budget; an error when it is spent.
pub(crate) fn spend(n: u64) -> Result<(), String> {
    STEPS.with(|s| {
        let left = s.get();
        if n > left {
            s.set(0);
            Err(format!(
                "the evaluation exceeded its budget of {STEP_BUDGET} comprehension steps and was stopped"
            ))
        } else {
            s.set(left.saturating_sub(n));
            Ok(())
        }
    })
}

/// Why an expression gave no value: what the interpreter said, without the values it names
/// (they may come from a Secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Evaluates a program in a scope.
pub fn eval(program: &Program, scope: &Scope<'_>) -> Result<Value, EvalError> {
    match crate::contained(|| interp::eval(&program.node, scope)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(EvalError(describe(&e))),
        Err(panic) => Err(EvalError(format!(
            "internal error in the CEL interpreter: {panic} (a tollgate bug: please report it with the policy)"
        ))),
    }
}

/// Evaluates a program that must give a bool.
pub fn eval_bool(program: &Program, scope: &Scope<'_>) -> Result<bool, EvalError> {
    match eval(program, scope)? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError(format!(
            "expression '{}' gave a {}, not a bool",
            program.source(),
            other.type_of()
        ))),
    }
}

/// Evaluates a program that must give a string (a `messageExpression`).
pub fn eval_string(program: &Program, scope: &Scope<'_>) -> Result<String, EvalError> {
    match eval(program, scope)? {
        Value::String(s) => Ok(s.to_string()),
        other => Err(EvalError(format!(
            "expression '{}' gave a {}, not a string",
            program.source(),
            other.type_of()
        ))),
    }
}

/// The interpreter's error in words, naming types and keys but never values.
fn describe(e: &cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    let t = |v: &Value| v.type_of().to_string();
    match e {
        E::InvalidArgumentCount { expected, actual } => {
            format!("wrong number of arguments: expected {expected}, got {actual}")
        }
        E::UnsupportedTargetType { target } => {
            format!("unsupported argument of type {}", t(target))
        }
        E::NotSupportedAsMethod { method, target } => {
            format!("no such overload: {}.{method}()", t(target))
        }
        E::UnsupportedKeyType(v) => format!("a {} cannot be a map key", t(v)),
        E::UnexpectedType { got, want } => format!("got a {got}, want a {want}"),
        E::NoSuchKey(k) => format!("no such key: {k}"),
        E::NoSuchOverload => "no such overload".into(),
        E::UndeclaredReference(n) => format!("undeclared reference to '{n}'"),
        E::MissingArgumentOrTarget => "missing argument or target".into(),
        E::ValuesNotComparable(a, b) => format!("a {} cannot be compared to a {}", t(a), t(b)),
        E::UnsupportedUnaryOperator(op, v) => format!("no such overload: {op} on a {}", t(v)),
        E::UnsupportedBinaryOperator(op, a, b) => {
            format!("no such overload: {op} on a {} and a {}", t(a), t(b))
        }
        E::UnsupportedMapIndex(v) => format!("a {} cannot index a map", t(v)),
        E::UnsupportedListIndex(v) => format!("a {} cannot index a list", t(v)),
        E::UnsupportedIndex(a, b) => format!("a {} cannot index a {}", t(a), t(b)),
        E::UnsupportedFunctionCallIdentifierType(_) => "unsupported call".into(),
        E::UnsupportedFieldsConstruction(_) => "message construction is not supported".into(),
        // Our own functions and the libraries' say what went wrong without the value.
        E::FunctionError { function, message } => format!("{function}: {message}"),
        E::DivisionByZero(_) => "division by zero".into(),
        E::RemainderByZero(_) => "modulus by zero".into(),
        E::Overflow(op, a, b) => format!("{op} of a {} and a {} overflowed", t(a), t(b)),
        E::IndexOutOfBounds(_) => "index out of range".into(),
        _ => "evaluation error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> Decls<'static> {
        Decls {
            names: &["object"],
            variables: None,
        }
    }

    fn run(src: &str, object: serde_json::Value) -> Result<Value, String> {
        let p = compile(src, &decls())?;
        let mut s = Scope::new();
        s.set_json("object", &object);
        reset_budget();
        eval(&p, &s).map_err(|e| e.0)
    }

    #[test]
    fn optional_field_selection_on_a_missing_key_is_none() {
        // cel-go: `a.?b` is optional.none() when `b` is absent, so orValue gives its default.
        // The interpreter errors instead; the rewrite answers as cel-go does.
        let o = serde_json::json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            run("object.spec.?initContainers.orValue([]).size()", o.clone()),
            Ok(Value::Int(0))
        );
        assert_eq!(
            run(
                "object.spec.containers.all(c, c.?securityContext.?privileged.orValue(false) == false)",
                o.clone()
            ),
            Ok(Value::Bool(true))
        );
        // A field of an optional is optional: the chain goes on past `.?`.
        assert_eq!(
            run(
                "object.spec.containers.all(c, c.?securityContext.allowPrivilegeEscalation.orValue(true) == true)",
                o.clone()
            ),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run(
                "object.spec.?containers[0].name.orValue('') == 'a'",
                o.clone()
            ),
            Ok(Value::Bool(true))
        );
        // Present keys still select.
        assert_eq!(
            run("object.spec.?containers.orValue([]).size()", o),
            Ok(Value::Int(1))
        );
    }

    #[test]
    fn unknown_names_and_functions_fail_to_compile() {
        let e = compile("objekt.spec", &decls()).unwrap_err();
        assert!(e.contains("undeclared reference to 'objekt'"), "{e}");
        let e = compile("object.spec.frobnicate()", &decls()).unwrap_err();
        assert!(e.contains("undeclared function 'frobnicate'"), "{e}");
        // Comprehension variables are declared inside their macro only.
        assert!(compile("object.a.all(x, x > 1)", &decls()).is_ok());
        let e = compile("object.a.all(x, x > 1) && x == 2", &decls()).unwrap_err();
        assert!(e.contains("'x'"), "{e}");
        // A syntax error names line and column.
        let e = compile("object.spec.(", &decls()).unwrap_err();
        assert!(e.starts_with("1:"), "{e}");
    }

    #[test]
    fn all_and_exists_absorb_errors_another_element_decides() {
        // cel-go: `all` is false when any element is false, even if another element errors
        // (here `x.a` on an element without `a`); `exists` is true when any is true.
        let o = serde_json::json!({"l": [{"a": 1}, {}, {"a": 5}]});
        assert_eq!(
            run("object.l.all(x, x.a < 3)", o.clone()),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            run("object.l.exists(x, x.a > 3)", o.clone()),
            Ok(Value::Bool(true))
        );
        // Nothing decides: the error stands.
        let e = run("object.l.all(x, x.a < 10)", o.clone()).unwrap_err();
        assert!(e.contains("no such key: a"), "{e}");
        let e = run("object.l.exists(x, x.a > 10)", o).unwrap_err();
        assert!(e.contains("no such key: a"), "{e}");
    }

    #[test]
    fn a_runaway_expression_is_stopped_by_the_budget() {
        // 2,000 × 2,000 = 4,000,000 inner steps: over the 1,000,000 budget.
        let e = run(
            "lists.range(2000).all(i, lists.range(2000).all(j, i + j >= 0))",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(e.contains("budget"), "{e}");
        // 100 × 100 = 10,000 steps is well within it.
        assert_eq!(
            run(
                "lists.range(100).all(i, lists.range(100).all(j, i + j >= 0))",
                serde_json::json!({})
            ),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn errors_name_types_not_values() {
        let e = run(
            "object.data.password + 1 == 2",
            serde_json::json!({"data": {"password": "hunter2"}}),
        )
        .unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("string"), "{e}");
    }

    #[test]
    fn kubernetes_libraries_are_there() {
        let o = serde_json::json!({"m": "1Gi", "ip": "10.0.0.1"});
        for (src, want) in [
            ("quantity(object.m).isGreaterThan(quantity('512Mi'))", true),
            ("cidr('10.0.0.0/8').containsIP(ip(object.ip))", true),
            ("url('https://a.b:8443/x').getPort() == '8443'", true),
            ("semver('1.2.3').isLessThan(semver('1.10.0'))", true),
            ("'abc123'.find('[0-9]+') == '123'", true),
            ("sets.contains([1, 2, 3], [2])", true),
            ("[1, 2, 3].isSorted()", true),
            ("'a,b'.split(',').join('-') == 'a-b'", true),
        ] {
            assert_eq!(run(src, o.clone()), Ok(Value::Bool(want)), "{src}");
        }
    }
}
