//! The sops tree as JSON: what policy engines evaluate.

use serde_json::{Map, Number, Value};
use tollgate_yaml::tree::{go_format_f, Entry, Node, Scalar};

/// Converts a document to JSON; comments are dropped.
pub(super) fn to_json(node: &Node) -> Value {
    match node {
        Node::Map(entries) => {
            let mut m = Map::new();
            for e in entries {
                if let Entry::Pair(k, v) = e {
                    m.insert(k.clone(), to_json(v));
                }
            }
            Value::Object(m)
        }
        Node::List(items) => Value::Array(
            items
                .iter()
                .filter(|n| !matches!(n, Node::Comment(_)))
                .map(to_json)
                .collect(),
        ),
        Node::Comment(_) => Value::Null,
        Node::Scalar(s) => match s {
            Scalar::Null => Value::Null,
            Scalar::Str(s) => Value::String(s.clone()),
            Scalar::Int(i) => Value::Number((*i).into()),
            Scalar::Float(f) => {
                Number::from_f64(*f).map_or_else(|| Value::String(go_format_f(*f)), Value::Number)
            }
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Time(t) => Value::String(t.rfc3339_nano()),
            Scalar::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        },
    }
}
