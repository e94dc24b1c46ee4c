//! What happens to a parsed expression before it runs: every name and function is checked
//! against the environment (cel-go's checker rejects unknown ones at compile time; the
//! evaluation would only fail when the branch runs), and optional chains are rewritten to
//! one form: `a.?b` becomes `a[?'b']` (the optional index, which answers none for a missing
//! key), and a field or element of an optional is itself optional.

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

/// Whether `ns.name(...)` names a function of a namespace (`base64.encode`), not a method of
/// a value called `ns`.
pub(super) fn is_qualified(ns: &str, name: &str) -> bool {
    NAMESPACES.contains(&ns) && FUNCTIONS.contains(&format!("{ns}.{name}").as_str())
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
        }) if !scope.contains(&ns.as_str())
            && !decls.names.contains(&ns.as_str())
            && is_qualified(ns, &c.func_name) =>
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
            let ComprehensionExpr {
                iter_range,
                accu_init,
                loop_cond,
                loop_step,
                result,
                ..
            } = c.as_mut();
            for x in [iter_range, accu_init, loop_cond, loop_step, result] {
                visit(x);
            }
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
