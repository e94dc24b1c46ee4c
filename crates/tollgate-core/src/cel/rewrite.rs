//! What happens to a parsed expression before it runs: every name and function is checked
//! against the environment (cel-go's checker rejects unknown ones at compile time; the
//! interpreter would only fail when the branch runs), and the tree is rewritten where the
//! interpreter differs from cel-go or needs a hook: `a.?b` becomes `a[?'b']` (the
//! interpreter's `?.` errors on a missing key instead of giving `optional.none()`), and every
//! comprehension's loop condition first takes a step from the budget.

use super::cel;
use cel::common::ast::{operators, CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr};

/// The names an expression may use.
#[derive(Debug, Clone, Copy)]
pub struct Decls<'a> {
    /// Top-level variables (`object`, `request`, `variables`, ...).
    pub names: &'a [&'a str],
    /// The fields `variables.NAME` may name, when the dialect declares them; `None` when it
    /// does not (then any field is accepted).
    pub variables: Option<&'a [String]>,
}

/// The function that takes one comprehension step from the budget.
const TICK: &str = "@tick";
/// The step of `all` that keeps an element's error unless a later element is false.
const ALL_STEP: &str = "@all_step";
/// The step of `exists` that keeps an element's error unless a later element is true.
const EXISTS_STEP: &str = "@exists_step";
/// The result of those two: the kept error, else the bool.
const RESULT: &str = "@result_of";
/// The key of the map that stands for an error held in an accumulator.
const HELD: &str = "@held_error";

/// Functions of the environment, by name: the CEL standard library the interpreter has, the
/// Kubernetes libraries, Kyverno's libraries and our own additions. Qualified names
/// (`base64.encode`) are called on a namespace identifier.
const FUNCTIONS: &[&str] = &[
    // CEL standard library.
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "optional.none",
    "optional.of",
    "optional.ofNonZeroValue",
    "value",
    "hasValue",
    "or",
    "orValue",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    // Kubernetes libraries (kube-cel) and the cel-go extensions Kubernetes enables.
    "add",
    "asApproximateFloat",
    "asInteger",
    "base64.decode",
    "base64.encode",
    "charAt",
    "cidr",
    "compareTo",
    "containsCIDR",
    "containsIP",
    "distinct",
    "family",
    "find",
    "findAll",
    "first",
    "flatten",
    "format",
    "format.byte",
    "format.date",
    "format.datetime",
    "format.dns1035Label",
    "format.dns1035LabelPrefix",
    "format.dns1123Label",
    "format.dns1123LabelPrefix",
    "format.dns1123Subdomain",
    "format.dns1123SubdomainPrefix",
    "format.labelValue",
    "format.named",
    "format.qualifiedName",
    "format.uri",
    "format.uuid",
    "getEscapedPath",
    "getHost",
    "getHostname",
    "getPort",
    "getQuery",
    "getScheme",
    "indexOf",
    "ip",
    "ip.isCanonical",
    "isCIDR",
    "isCIDRv4",
    "isCIDRv6",
    "isGlobalUnicast",
    "isGreaterThan",
    "isIP",
    "isIPv4",
    "isIPv6",
    "isInteger",
    "isLessThan",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isLoopback",
    "isQuantity",
    "isSemver",
    "isSorted",
    "isURL",
    "isUnspecified",
    "join",
    "last",
    "lastIndexOf",
    "lists.range",
    "lowerAscii",
    "major",
    "masked",
    "math.abs",
    "math.bitAnd",
    "math.bitNot",
    "math.bitOr",
    "math.bitShiftLeft",
    "math.bitShiftRight",
    "math.bitXor",
    "math.ceil",
    "math.floor",
    "math.greatest",
    "math.isFinite",
    "math.isInf",
    "math.isNaN",
    "math.least",
    "math.round",
    "math.sign",
    "math.sqrt",
    "math.trunc",
    "minor",
    "patch",
    "prefixLength",
    "quantity",
    "replace",
    "reverse",
    "semver",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "sign",
    "slice",
    "sort",
    "split",
    "strings.quote",
    "sub",
    "substring",
    "sum",
    "trim",
    "upperAscii",
    "url",
    "validate",
    // Ours and Kyverno's (see libs).
    "dyn",
    "resource.Get",
    "resource.List",
    "image.GetMetadata",
    "parseServiceAccount",
    "time.now",
    "http.Get",
    "http.Post",
    "http.Client",
    "globalContext.Get",
];

/// Identifiers that only qualify a function name (`base64.encode(...)`).
const NAMESPACES: &[&str] = &[
    "base64",
    "format",
    "ip",
    "lists",
    "math",
    "optional",
    "sets",
    "strings",
    "resource",
    "image",
    "time",
    "http",
    "globalContext",
];

/// Registers the rewrite's own functions.
pub(super) fn register(ctx: &mut cel::Context<'static>) {
    ctx.add_function(
        TICK,
        |_: &cel::FunctionContext| -> Result<bool, cel::ExecutionError> {
            super::spend(1).map_err(|m| cel::ExecutionError::function_error(BUDGET, m))?;
            Ok(true)
        },
    );
    ctx.add_function(ALL_STEP, |ftx: &cel::FunctionContext| step(ftx, false));
    ctx.add_function(EXISTS_STEP, |ftx: &cel::FunctionContext| step(ftx, true));
    ctx.add_function(
        RESULT,
        |v: cel::Value| -> Result<cel::Value, cel::ExecutionError> {
            match held(&v) {
                Some(e) => Err(e),
                None => Ok(v),
            }
        },
    );
}

/// The function name budget errors carry.
const BUDGET: &str = "budget";
/// The function name a held error is raised under at the end of its comprehension.
const HELD_BY: &str = "comprehension";

/// Whether an error is the budget running out.
fn is_budget(e: &cel::ExecutionError) -> bool {
    matches!(e, cel::ExecutionError::FunctionError { function, .. } if function == BUDGET)
}

/// An accumulator holding an error (a held error from an inner comprehension keeps its words).
fn hold(e: &cel::ExecutionError) -> cel::Value {
    let message = match e {
        cel::ExecutionError::FunctionError { function, message } if function == HELD_BY => {
            message.clone()
        }
        e => super::describe(e),
    };
    cel::Value::Map(cel::objects::Map {
        map: std::sync::Arc::new(
            [(
                cel::objects::Key::from(HELD),
                cel::Value::String(std::sync::Arc::new(message)),
            )]
            .into_iter()
            .collect(),
        ),
    })
}

/// The error an accumulator holds.
fn held(v: &cel::Value) -> Option<cel::ExecutionError> {
    let cel::Value::Map(m) = v else { return None };
    match m.map.get(&cel::objects::Key::from(HELD)) {
        Some(cel::Value::String(s)) => {
            Some(cel::ExecutionError::function_error(HELD_BY, s.as_str()))
        }
        _ => None,
    }
}

/// One step of `all` (`decides` false) or `exists` (`decides` true): the deciding value
/// wins over an error, held or new; otherwise an error is held until the end.
fn step(ftx: &cel::FunctionContext, decides: bool) -> Result<cel::Value, cel::ExecutionError> {
    let [accu, element] = ftx.args else {
        return Err(ftx.error("expects two arguments"));
    };
    let accu = cel::Value::resolve(accu, ftx.ptx)?;
    if accu == cel::Value::Bool(decides) {
        return Ok(accu);
    }
    match cel::Value::resolve(element, ftx.ptx) {
        Ok(cel::Value::Bool(b)) if b == decides => Ok(cel::Value::Bool(b)),
        // Budget errors are never absorbed.
        Err(e) if is_budget(&e) => Err(e),
        Ok(cel::Value::Bool(_)) => Ok(accu),
        Ok(_) if held(&accu).is_some() => Ok(accu),
        Ok(_) => Ok(hold(&cel::ExecutionError::NoSuchOverload)),
        Err(_) if held(&accu).is_some() => Ok(accu),
        Err(e) => Ok(hold(&e)),
    }
}

/// Checks every name and function of `e` against `decls` and the environment.
pub(super) fn check(e: &IdedExpr, decls: &Decls<'_>) -> Result<(), String> {
    let mut scope = Vec::new();
    walk(e, decls, &mut scope)
}

fn walk<'e>(e: &'e IdedExpr, decls: &Decls<'_>, scope: &mut Vec<&'e str>) -> Result<(), String> {
    match &e.expr {
        Expr::Ident(name) => {
            if name.starts_with('@')
                || scope.contains(&name.as_str())
                || decls.names.contains(&name.as_str())
            {
                Ok(())
            } else {
                Err(format!("undeclared reference to '{name}'"))
            }
        }
        Expr::Select(s) => {
            if let (Expr::Ident(root), Some(vars)) = (&s.operand.expr, decls.variables) {
                if root == "variables" && !scope.contains(&"variables") {
                    if !vars.contains(&s.field) {
                        return Err(format!(
                            "undefined field '{}': no variable of that name is declared",
                            s.field
                        ));
                    }
                    return Ok(());
                }
            }
            walk(&s.operand, decls, scope)
        }
        Expr::Call(c) => check_call(c, decls, scope),
        Expr::Comprehension(c) => {
            walk(&c.iter_range, decls, scope)?;
            walk(&c.accu_init, decls, scope)?;
            let depth = scope.len();
            scope.push(&c.accu_var);
            scope.push(&c.iter_var);
            if let Some(v2) = &c.iter_var2 {
                scope.push(v2);
            }
            walk(&c.loop_cond, decls, scope)?;
            walk(&c.loop_step, decls, scope)?;
            walk(&c.result, decls, scope)?;
            scope.truncate(depth);
            Ok(())
        }
        Expr::List(l) => l.elements.iter().try_for_each(|x| walk(x, decls, scope)),
        Expr::Map(m) => m.entries.iter().try_for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(me) => {
                walk(&me.key, decls, scope)?;
                walk(&me.value, decls, scope)
            }
            EntryExpr::StructField(f) => walk(&f.value, decls, scope),
        }),
        Expr::Struct(s) => Err(format!(
            "message construction ({}{{...}}) is not supported",
            s.type_name
        )),
        Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

fn check_call<'e>(
    c: &'e CallExpr,
    decls: &Decls<'_>,
    scope: &mut Vec<&'e str>,
) -> Result<(), String> {
    let operator = c.func_name.starts_with(['_', '!', '-', '@']);
    let known = |name: &str| FUNCTIONS.contains(&name);
    match c.target.as_deref() {
        Some(IdedExpr {
            expr: Expr::Ident(ns),
            ..
        }) if NAMESPACES.contains(&ns.as_str())
            && !scope.contains(&ns.as_str())
            && !decls.names.contains(&ns.as_str())
            && known(&format!("{ns}.{}", c.func_name)) =>
        {
            // A qualified call: the namespace is not a value.
        }
        Some(t) => {
            walk(t, decls, scope)?;
            if !operator && !known(&c.func_name) {
                return Err(format!("undeclared function '{}'", c.func_name));
            }
        }
        None => {
            if !operator && !known(&c.func_name) {
                return Err(format!("undeclared function '{}'", c.func_name));
            }
        }
    }
    c.args.iter().try_for_each(|a| walk(a, decls, scope))
}

/// The tree as it runs (see the module documentation).
pub(super) fn rewrite(mut e: IdedExpr) -> IdedExpr {
    visit(&mut e);
    e
}

/// Whether an expression (already rewritten) is an optional chain.
fn is_optional(e: &IdedExpr) -> bool {
    matches!(&e.expr, Expr::Call(c) if c.func_name == operators::OPT_INDEX)
}

/// Rewrites the step and result of an `all` (`accu && p`) or `exists` (`accu || p`).
fn absorb_errors(c: &mut ComprehensionExpr) {
    let Expr::Call(step) = &mut c.loop_step.expr else {
        return;
    };
    let accu_first = matches!(step.args.first(), Some(IdedExpr { expr: Expr::Ident(a), .. }) if *a == c.accu_var);
    if !accu_first || step.args.len() != 2 || step.target.is_some() {
        return;
    }
    let name = match step.func_name.as_str() {
        operators::LOGICAL_AND => ALL_STEP,
        operators::LOGICAL_OR => EXISTS_STEP,
        _ => return,
    };
    step.func_name = name.to_owned();
    let result = std::mem::take(&mut c.result);
    c.result = IdedExpr {
        id: result.id,
        expr: Expr::Call(CallExpr {
            func_name: RESULT.to_owned(),
            target: None,
            args: vec![result],
        }),
    };
}

fn visit(e: &mut IdedExpr) {
    match &mut e.expr {
        Expr::Call(c) => {
            if c.func_name == operators::OPT_SELECT {
                // `a.?b` is `a[?'b']`: the same optional, and the interpreter's optional
                // index answers none for a missing key.
                c.func_name = operators::OPT_INDEX.to_owned();
            }
            if let Some(t) = c.target.as_deref_mut() {
                visit(t);
            }
            c.args.iter_mut().for_each(visit);
            // An element of an optional is optional (`a.?b[0]`).
            if c.func_name == operators::INDEX && c.args.first().is_some_and(is_optional) {
                c.func_name = operators::OPT_INDEX.to_owned();
            }
        }
        Expr::Comprehension(c) => {
            absorb_errors(c);
            let ComprehensionExpr {
                iter_range,
                accu_init,
                loop_cond,
                loop_step,
                result,
                ..
            } = c.as_mut();
            for x in [
                &mut *iter_range,
                &mut *accu_init,
                &mut *loop_cond,
                &mut *loop_step,
                &mut *result,
            ] {
                visit(x);
            }
            // `@tick() ? COND : false`: a spent budget stops the loop with an error.
            let cond = std::mem::take(loop_cond);
            *loop_cond = IdedExpr {
                id: cond.id,
                expr: Expr::Call(CallExpr {
                    func_name: operators::CONDITIONAL.to_owned(),
                    target: None,
                    args: vec![
                        IdedExpr {
                            id: cond.id,
                            expr: Expr::Call(CallExpr {
                                func_name: TICK.to_owned(),
                                target: None,
                                args: Vec::new(),
                            }),
                        },
                        cond,
                        IdedExpr {
                            id: 0,
                            expr: Expr::Literal(cel::common::ast::LiteralValue::Boolean(
                                false.into(),
                            )),
                        },
                    ],
                }),
            };
        }
        Expr::Select(s) => {
            visit(&mut s.operand);
            // A field of an optional is optional (`a.?b.c`): the chain goes on.
            if !s.test && is_optional(&s.operand) {
                let operand = std::mem::take(&mut *s.operand);
                let field = std::mem::take(&mut s.field);
                e.expr = Expr::Call(CallExpr {
                    func_name: operators::OPT_INDEX.to_owned(),
                    target: None,
                    args: vec![
                        operand,
                        IdedExpr {
                            id: 0,
                            expr: Expr::Literal(cel::common::ast::LiteralValue::String(
                                field.as_str().into(),
                            )),
                        },
                    ],
                });
            }
        }
        Expr::List(l) => l.elements.iter_mut().for_each(visit),
        Expr::Map(m) => {
            for entry in &mut m.entries {
                match &mut entry.expr {
                    EntryExpr::MapEntry(me) => {
                        visit(&mut me.key);
                        visit(&mut me.value);
                    }
                    EntryExpr::StructField(f) => visit(&mut f.value),
                }
            }
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}
