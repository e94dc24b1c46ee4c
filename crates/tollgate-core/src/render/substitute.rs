//! Flux's `postBuild` variable substitution, applied to rendered text as kustomize-controller
//! applies it: `${var}`, `${var:=default}` and `${var:-default}`, `$${var}` for a literal;
//! `$var` without braces is left alone. A resource annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled` is not substituted.

use std::collections::BTreeMap;

/// The variables of one Flux `Kustomization`: `substitute` overrides `substituteFrom`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// Name to value.
    pub values: BTreeMap<String, String>,
}

/// The annotation that turns substitution off for one resource.
const DISABLED: &str = "kustomize.toolkit.fluxcd.io/substitute: disabled";

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Substitutes one document's text; names without a value and without a default are returned
/// (the text keeps them as written, so no value is invented).
fn document(text: &str, vars: &Vars, missing: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        if let Some(escaped) = from.strip_prefix("$${") {
            // `$${var}` is the literal `${var}`.
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_start) = from.strip_prefix("${") else {
            out.push('$');
            rest = from.get(1..).unwrap_or("");
            continue;
        };
        let Some(end) = body_start.find('}') else {
            out.push_str(from);
            rest = "";
            break;
        };
        let (body, after) = body_start.split_at(end);
        let after = after.get(1..).unwrap_or("");
        let (name, default) = match body.find([':', '=', '-']) {
            Some(i) => {
                let (n, op) = body.split_at(i);
                let op = op.strip_prefix(':').unwrap_or(op);
                let default = op.strip_prefix('=').or_else(|| op.strip_prefix('-'));
                (n, default)
            }
            None => (body, None),
        };
        if !is_name(name) {
            out.push_str("${");
            out.push_str(body);
            out.push('}');
        } else if let Some(v) = vars.values.get(name) {
            out.push_str(v);
        } else if let Some(d) = default {
            out.push_str(d);
        } else {
            if !missing.iter().any(|m| m == name) {
                missing.push(name.to_owned());
            }
            out.push_str("${");
            out.push_str(body);
            out.push('}');
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Substitutes a rendered stream (documents separated by `---` lines) and returns it with the
/// names that had no value.
pub fn stream(text: &str, vars: &Vars) -> (String, Vec<String>) {
    let mut missing = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut doc = String::new();
    let flush = |doc: &mut String, out: &mut String, missing: &mut Vec<String>| {
        if doc.contains(DISABLED) {
            out.push_str(doc);
        } else {
            out.push_str(&document(doc, vars, missing));
        }
        doc.clear();
    };
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            flush(&mut doc, &mut out, &mut missing);
            out.push_str(line);
        } else {
            doc.push_str(line);
        }
    }
    flush(&mut doc, &mut out, &mut missing);
    missing.sort();
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars {
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn substitutes_as_flux_does() {
        let v = vars(&[("cluster", "prod"), ("replicas", "3")]);
        let (out, missing) = stream(
            "name: app-${cluster}\nreplicas: ${replicas}\nregion: ${region:=eu-west-1}\nzone: ${zone:-a}\nliteral: $${cluster}\nshell: $HOME\nunknown: ${nope}\n",
            &v,
        );
        assert_eq!(
            out,
            "name: app-prod\nreplicas: 3\nregion: eu-west-1\nzone: a\nliteral: ${cluster}\nshell: $HOME\nunknown: ${nope}\n"
        );
        assert_eq!(missing, vec!["nope".to_owned()]);
    }

    #[test]
    fn a_disabled_document_is_left_as_written() {
        let v = vars(&[("x", "1")]);
        let text = "a: ${x}\n---\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${x}\n";
        let (out, missing) = stream(text, &v);
        assert_eq!(out, "a: 1\n---\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${x}\n");
        assert!(missing.is_empty());
    }
}
