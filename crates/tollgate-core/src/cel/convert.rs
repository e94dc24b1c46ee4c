//! JSON to CEL and back, as Kubernetes converts unstructured objects: integers are `int`
//! (`uint` past `i64`), other numbers `double`, objects maps with string keys.

use super::cel::objects::{Key, Map};
use super::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A JSON value as CEL sees it.
pub fn to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(to_cel).collect())),
        serde_json::Value::Object(o) => Value::Map(Map {
            map: Arc::new(
                o.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                    .collect::<HashMap<_, _>>(),
            ),
        }),
    }
}

/// A CEL value as JSON, for results read back (variables shown in messages, params). Types
/// JSON has no form for (durations, timestamps, bytes, optionals) become strings.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.to_string()),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => {
            let mut entries: Vec<(String, J)> = m
                .map
                .iter()
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect();
            // Maps have no order; JSON output gets a stable one.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        Value::Duration(d) => J::String(format!("{}s", d.num_seconds())),
        Value::Timestamp(t) => J::String(t.to_rfc3339()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        _ => J::Null,
    }
}

fn key_text(k: &Key) -> String {
    match k {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kubernetes_types() {
        assert_eq!(to_cel(&serde_json::json!(3)), Value::Int(3));
        assert_eq!(to_cel(&serde_json::json!(1.5)), Value::Float(1.5));
        assert_eq!(to_cel(&serde_json::json!(u64::MAX)), Value::UInt(u64::MAX));
    }

    #[test]
    fn json_round_trips() {
        let v = serde_json::json!({"a": [1, "x", true, null, {"b": 2.5}]});
        assert_eq!(to_json(&to_cel(&v)), v);
    }
}
