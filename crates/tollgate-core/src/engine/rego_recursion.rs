//! Recursive Rego functions, found before evaluation. OPA rejects recursion at compile time
//! (`rego_recursion_error`); regorus 0.14 does not, and evaluating `f(x) := y if { y := f(x) }`
//! overflows the stack and aborts the process (a policy must never take the process down).
//! regorus does stop recursive *rules* while evaluating (an error, not a crash), so this pass
//! looks at function calls: it reads the AST regorus parsed (its JSON form), builds the call
//! graph between the functions of all packages, and reports the first cycle of each function
//! with the file and line of its definition. The same reading finds calls to functions that
//! exist nowhere (`unknown_functions`).
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "chain offsets are taken within the chain's own length"
)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A recursive function: where it is defined and the cycle it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recursion {
    /// The policy file.
    pub(super) file: String,
    /// 1-based line of the function's definition.
    pub(super) line: u64,
    /// The cycle, as `data.pkg.f -> data.pkg.g -> data.pkg.f`.
    pub(super) cycle: String,
}

/// One function: `(package, name)`; a function defined in several bodies is one node.
type Node = (String, String);

/// The dotted names a reference spells (`data.lib.f` -> `["data", "lib", "f"]`), when it is a
/// plain chain of names.
fn chain(e: &Value) -> Option<Vec<String>> {
    if let Some(v) = e.get("Var") {
        return Some(vec![v.get("value")?.as_str()?.to_owned()]);
    }
    if let Some(d) = e.get("RefDot") {
        let mut c = chain(d.get("refr")?)?;
        c.push(d.get("field")?.get(1)?.as_str()?.to_owned());
        return Some(c);
    }
    if let Some(b) = e.get("RefBrack") {
        let mut c = chain(b.get("refr")?)?;
        c.push(
            b.get("index")?
                .get("String")?
                .get("value")?
                .as_str()?
                .to_owned(),
        );
        return Some(c);
    }
    None
}

/// Every function called anywhere below `v`, as the chain of names it is called by.
fn calls(v: &Value, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            if let Some(call) = m.get("Call") {
                if let Some(c) = call.get("fcn").and_then(chain) {
                    out.push(c);
                }
            }
            m.values().for_each(|x| calls(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| calls(x, out)),
        _ => {}
    }
}

/// Every call below `v` with the line it is on.
fn calls_at(v: &Value, out: &mut Vec<(Vec<String>, u64)>) {
    match v {
        Value::Object(m) => {
            if let Some(call) = m.get("Call") {
                if let Some(c) = call.get("fcn").and_then(chain) {
                    let line = call
                        .pointer("/span/line")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    out.push((c, line));
                }
            }
            m.values().for_each(|x| calls_at(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| calls_at(x, out)),
        _ => {}
    }
}

/// What one module defines and calls.
struct Module {
    file: String,
    package: String,
    /// Import alias -> the package path it names (`lib` -> `lib`, `data.x.y as z` -> `x.y`).
    imports: BTreeMap<String, String>,
    /// Function name -> (line of first definition, call chains in its bodies).
    functions: BTreeMap<String, (u64, Vec<Vec<String>>)>,
    /// Every call in the module, in any rule, with its line.
    all_calls: Vec<(Vec<String>, u64)>,
}

fn text_of(source: &str, span: &Value) -> Option<String> {
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    source.get(start..end).map(str::to_owned)
}

fn module(policy: &Value) -> Option<Module> {
    let file = policy.pointer("/source/file")?.as_str()?.to_owned();
    let contents = policy
        .pointer("/source/contents")
        .and_then(Value::as_str)
        .unwrap_or("");
    let ast = policy.get("ast")?;
    let package = chain(ast.pointer("/package/refr")?)?.join(".");
    let mut imports = BTreeMap::new();
    for import in ast.get("imports")?.as_array()? {
        let Some(path) = import.get("refr").and_then(chain) else {
            continue;
        };
        if path.first().map(String::as_str) != Some("data") || path.len() < 2 {
            continue;
        }
        let alias = import
            .get("as")
            .and_then(|s| text_of(contents, s))
            .or_else(|| path.last().cloned())?;
        imports.insert(alias, path[1..].join("."));
    }
    let mut functions: BTreeMap<String, (u64, Vec<Vec<String>>)> = BTreeMap::new();
    let mut all_calls = Vec::new();
    for rule in ast.get("rules")?.as_array()? {
        calls_at(rule, &mut all_calls);
        let Some(spec) = rule.get("Spec") else {
            continue;
        };
        let Some(func) = spec.pointer("/head/Func") else {
            continue;
        };
        let Some(name) = func.get("refr").and_then(chain) else {
            continue;
        };
        let line = spec
            .pointer("/span/line")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let entry = functions
            .entry(name.join("."))
            .or_insert_with(|| (line, Vec::new()));
        calls(spec.get("bodies").unwrap_or(&Value::Null), &mut entry.1);
        calls(func.get("assign").unwrap_or(&Value::Null), &mut entry.1);
    }
    Some(Module {
        file,
        package,
        imports,
        functions,
        all_calls,
    })
}

/// The function a call names, seen from `m`.
fn resolve(m: &Module, call: &[String], defined: &BTreeSet<Node>) -> Option<Node> {
    let (first, rest) = call.split_first()?;
    let candidates: Vec<Node> = if first == "data" {
        (1..call.len())
            .map(|i| (call[1..i].join("."), call[i..].join(".")))
            .collect()
    } else if let Some(pkg) = m.imports.get(first) {
        let mut v: Vec<Node> = (0..rest.len())
            .map(|i| {
                let mut p = vec![pkg.clone()];
                p.extend(rest[..i].iter().cloned());
                (p.join("."), rest[i..].join("."))
            })
            .collect();
        v.push((m.package.clone(), call.join(".")));
        v
    } else {
        vec![(m.package.clone(), call.join("."))]
    };
    candidates.into_iter().find(|c| defined.contains(c))
}

/// The modules regorus parsed (`Engine::get_ast_as_json`) and the functions they define.
fn modules_of(ast_json: &str) -> (Vec<Module>, BTreeSet<Node>) {
    let Ok(Value::Array(policies)) = serde_json::from_str::<Value>(ast_json) else {
        return (Vec::new(), BTreeSet::new());
    };
    let modules: Vec<Module> = policies.iter().filter_map(module).collect();
    let defined: BTreeSet<Node> = modules
        .iter()
        .flat_map(|m| {
            m.functions
                .keys()
                .map(move |f| (m.package.clone(), f.clone()))
        })
        .collect();
    (modules, defined)
}

/// A call to a function that no policy defines and that is not a builtin: `(file, line,
/// name as written)`. OPA rejects these when compiling (`rego_type_error: undefined
/// function`); regorus only fails when the rule runs, so a typo in a rule that never fires
/// would pass unseen. `is_builtin` answers for names no policy defines.
pub(super) fn unknown_functions(
    ast_json: &str,
    is_builtin: &mut dyn FnMut(&str) -> bool,
) -> Vec<(String, u64, String)> {
    let (modules, defined) = modules_of(ast_json);
    let mut out = Vec::new();
    for m in &modules {
        for (call, line) in &m.all_calls {
            if resolve(m, call, &defined).is_some() {
                continue;
            }
            let name = call.join(".");
            if !is_builtin(&name)
                && !out
                    .iter()
                    .any(|(f, l, n)| f == &m.file && l == line && n == &name)
            {
                out.push((m.file.clone(), *line, name));
            }
        }
    }
    out
}

/// The recursive functions of the policies regorus parsed (`Engine::get_ast_as_json`).
pub(super) fn find(ast_json: &str) -> Vec<Recursion> {
    let (modules, defined) = modules_of(ast_json);
    let mut edges: BTreeMap<Node, BTreeSet<Node>> = BTreeMap::new();
    let mut origin: BTreeMap<Node, (String, u64)> = BTreeMap::new();
    for m in &modules {
        for (name, (line, called)) in &m.functions {
            let node = (m.package.clone(), name.clone());
            origin
                .entry(node.clone())
                .or_insert_with(|| (m.file.clone(), *line));
            let out = edges.entry(node).or_default();
            out.extend(called.iter().filter_map(|c| resolve(m, c, &defined)));
        }
    }
    let show = |n: &Node| format!("data.{}.{}", n.0, n.1);
    let mut found = Vec::new();
    let mut reported: BTreeSet<Node> = BTreeSet::new();
    for start in edges.keys() {
        if reported.contains(start) {
            continue;
        }
        if let Some(cycle) = cycle_from(start, &edges) {
            let (file, line) = origin.get(start).cloned().unwrap_or_default();
            found.push(Recursion {
                file,
                line,
                cycle: cycle.iter().map(show).collect::<Vec<_>>().join(" -> "),
            });
            reported.extend(cycle);
        }
    }
    found
}

/// A path from `start` back to itself, if there is one (breadth-first: the shortest).
fn cycle_from(start: &Node, edges: &BTreeMap<Node, BTreeSet<Node>>) -> Option<Vec<Node>> {
    let mut parent: BTreeMap<Node, Node> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    let mut seen = BTreeSet::from([start.clone()]);
    while let Some(n) = queue.pop_front() {
        for next in edges.get(&n).into_iter().flatten() {
            if next == start {
                let mut path = vec![start.clone()];
                let mut at = n.clone();
                while at != *start {
                    path.push(at.clone());
                    at = parent.get(&at)?.clone();
                }
                // [start, n, parent(n), ...] back to front: the calls in order.
                path[1..].reverse();
                path.push(start.clone());
                return Some(path);
            }
            if seen.insert(next.clone()) {
                parent.insert(next.clone(), n.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recursions(files: &[(&str, &str)]) -> Vec<Recursion> {
        let mut e = regorus::Engine::new();
        for (name, text) in files {
            e.add_policy((*name).to_owned(), (*text).to_owned())
                .unwrap();
        }
        find(&e.get_ast_as_json().unwrap())
    }

    #[test]
    fn direct_and_mutual_recursion_are_found_where_they_are_defined() {
        // f calls itself: the minimal reproduction that overflows regorus's stack.
        let direct = "package main\n\nimport rego.v1\n\nf(x) := y if {\n\ty := f(x)\n}\n\ndeny contains msg if {\n\tmsg := f(1)\n}\n";
        assert_eq!(
            recursions(&[("p.rego", direct)]),
            [Recursion {
                file: "p.rego".into(),
                line: 5,
                cycle: "data.main.f -> data.main.f".into()
            }]
        );
        // g and h call each other through a fully qualified name and an import: one cycle,
        // reported once, at the first function of it.
        let a = "package a\n\nimport rego.v1\nimport data.b\n\ng(x) := b.h(x)\n";
        let b = "package b\n\nimport rego.v1\n\nh(x) := data.a.g(x)\n";
        let found = recursions(&[("a.rego", a), ("b.rego", b)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].cycle, "data.a.g -> data.b.h -> data.a.g");
        assert_eq!((found[0].file.as_str(), found[0].line), ("a.rego", 6));
    }

    #[test]
    fn calls_that_only_look_alike_are_not_recursion() {
        // Hand-worked: g calls f, f calls a builtin; another package's f is another function;
        // a rule named like a function is not a call edge.
        let a =
            "package a\n\nimport rego.v1\n\nf(x) := count(x)\n\ng(x) := f(x) + 1\n\nh := g([1])\n";
        let b = "package b\n\nimport rego.v1\n\nf(x) := data.a.f(x)\n";
        assert!(recursions(&[("a.rego", a), ("b.rego", b)]).is_empty());
    }
}
