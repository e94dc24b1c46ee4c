//! The JSON store: ordered objects, sops's tab indentation, Go's number spelling.

use crate::error::{err, Result};
use crate::tree::{go_json_float, Entry, Node, Scalar};
use serde_json::Value;

pub(super) fn read(text: &str) -> Result<Vec<Node>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        err!(
            CouldNotReadInput,
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    match value {
        Value::Object(_) => Ok(vec![from_json(value)]),
        _ => Err(err!(
            CouldNotReadInput,
            "the top level of a sops JSON file must be an object"
        )),
    }
}

/// Converts JSON into the tree. Integers stay integers (as sops 3.13 does); the type travels with
/// the ciphertext, so sops 3.11 reads them too.
pub(crate) fn from_json(v: Value) -> Node {
    match v {
        Value::Null => Node::Scalar(Scalar::Null),
        Value::Bool(b) => Node::Scalar(Scalar::Bool(b)),
        Value::Number(n) => Node::Scalar(match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => Node::Scalar(Scalar::Str(s)),
        Value::Array(items) => Node::List(items.into_iter().map(from_json).collect()),
        Value::Object(map) => Node::Map(
            map.into_iter()
                .map(|(k, v)| Entry::Pair(k, from_json(v)))
                .collect(),
        ),
    }
}

pub(super) fn write(node: &Node, indent: Option<usize>) -> String {
    let unit = match indent {
        Some(n) => " ".repeat(n),
        None => "\t".into(),
    };
    let mut out = String::new();
    value(&mut out, node, &unit, 0);
    out.push('\n');
    out
}

fn pad(out: &mut String, unit: &str, depth: usize) {
    for _ in 0..depth {
        out.push_str(unit);
    }
}

fn value(out: &mut String, node: &Node, unit: &str, depth: usize) {
    match node {
        Node::Map(entries) => {
            let pairs: Vec<_> = entries
                .iter()
                .filter_map(|e| {
                    if let Entry::Pair(k, v) = e {
                        Some((k, v))
                    } else {
                        None
                    }
                })
                .collect();
            if pairs.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, v)) in pairs.iter().enumerate() {
                pad(out, unit, depth.saturating_add(1));
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push_str(": ");
                value(out, v, unit, depth.saturating_add(1));
                if i.saturating_add(1) < pairs.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, unit, depth);
            out.push('}');
        }
        Node::List(items) => {
            let items: Vec<_> = items
                .iter()
                .filter(|n| !matches!(n, Node::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(out, unit, depth.saturating_add(1));
                value(out, v, unit, depth.saturating_add(1));
                if i.saturating_add(1) < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, unit, depth);
            out.push(']');
        }
        Node::Comment(_) => out.push_str("null"),
        Node::Scalar(s) => out.push_str(&match s {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) if f.is_finite() => go_json_float(*f),
            Scalar::Float(f) => Value::String(crate::tree::go_format_f(*f)).to_string(),
            Scalar::Str(s) => Value::String(s.clone()).to_string(),
            Scalar::Time(t) => Value::String(t.rfc3339_nano()).to_string(),
            Scalar::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()).to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_shape() {
        let docs = read("{\"a\": 1, \"b\": [1.5, \"x\", {}], \"c\": {\"d\": null}}").unwrap();
        assert_eq!(
            write(&docs[0], None),
            "{\n\t\"a\": 1,\n\t\"b\": [\n\t\t1.5,\n\t\t\"x\",\n\t\t{}\n\t],\n\t\"c\": {\n\t\t\"d\": null\n\t}\n}\n"
        );
        assert_eq!(read("[1]").unwrap_err().exit_code(), 2);
        assert_eq!(read("{").unwrap_err().exit_code(), 2);
    }
}
