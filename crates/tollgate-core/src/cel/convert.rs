//! JSON to CEL, as Kubernetes converts unstructured objects: integers are `int`
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kubernetes_types() {
        assert_eq!(to_cel(&serde_json::json!(3)), Value::Int(3));
        assert_eq!(to_cel(&serde_json::json!(1.5)), Value::Float(1.5));
        assert_eq!(to_cel(&serde_json::json!(u64::MAX)), Value::UInt(u64::MAX));
    }
}
