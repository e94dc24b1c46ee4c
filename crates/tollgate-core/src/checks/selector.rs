//! Kubernetes label selectors (`matchLabels` and `matchExpressions`), as RBAC aggregation and
//! NetworkPolicy pod and namespace selectors use them. Read once per object, matched many
//! times.

use serde_json::Value;
use std::collections::BTreeMap;

/// Labels of an object (or of a pod template).
pub type Labels = BTreeMap<String, String>;

/// The labels under `value` (a `labels` map); values that are not strings are skipped, as the
/// API server would have refused them.
pub fn labels(value: Option<&Value>) -> Labels {
    value
        .and_then(Value::as_object)
        .map(of_map)
        .unwrap_or_default()
}

/// The labels of a `labels` map already in hand.
pub fn of_map(m: &serde_json::Map<String, Value>) -> Labels {
    m.iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// One `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expression {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// A parsed label selector. The empty selector (`{}`) matches every object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<(String, String)>,
    expressions: Vec<Expression>,
}

impl Selector {
    /// Reads a selector; the error says which part is malformed (the caller adds the place).
    pub fn parse(value: &Value) -> Result<Selector, String> {
        let Some(map) = value.as_object() else {
            return Err("a label selector must be a mapping".into());
        };
        let mut out = Selector::default();
        if let Some(ml) = map.get("matchLabels").filter(|v| !v.is_null()) {
            let Some(ml) = ml.as_object() else {
                return Err("matchLabels must be a mapping of strings".into());
            };
            for (k, v) in ml {
                let Some(v) = v.as_str() else {
                    return Err(format!("matchLabels.{k} must be a string"));
                };
                out.labels.push((k.clone(), v.to_owned()));
            }
        }
        if let Some(me) = map.get("matchExpressions").filter(|v| !v.is_null()) {
            let Some(me) = me.as_array() else {
                return Err("matchExpressions must be a list".into());
            };
            for (i, e) in me.iter().enumerate() {
                let key = e.get("key").and_then(Value::as_str);
                let op = e.get("operator").and_then(Value::as_str);
                let (Some(key), Some(op)) = (key, op) else {
                    return Err(format!("matchExpressions[{i}] needs a key and an operator"));
                };
                let operator = match op {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(format!(
                            "matchExpressions[{i}]: unknown operator `{other}` (In, NotIn, Exists, DoesNotExist)"
                        ))
                    }
                };
                let values = match e.get("values") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(vs)) => vs
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| format!("matchExpressions[{i}].values must be strings"))?,
                    Some(_) => return Err(format!("matchExpressions[{i}].values must be a list")),
                };
                // The API server refuses In/NotIn without values and Exists with them; a
                // selector it would refuse is an error here too, not a silent match.
                let needs_values = matches!(operator, Operator::In | Operator::NotIn);
                if needs_values == values.is_empty() {
                    return Err(format!(
                        "matchExpressions[{i}]: {op} {} values",
                        if needs_values { "needs" } else { "takes no" }
                    ));
                }
                out.expressions.push(Expression {
                    key: key.to_owned(),
                    operator,
                    values,
                });
            }
        }
        Ok(out)
    }

    /// Whether the selector is `{}`: it matches everything.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// Whether the selector requires `key` to be present (in `matchLabels`, or an `In` or
    /// `Exists` expression).
    pub fn requires(&self, key: &str) -> bool {
        self.labels.iter().any(|(k, _)| k == key)
            || self
                .expressions
                .iter()
                .any(|e| e.key == key && matches!(e.operator, Operator::In | Operator::Exists))
    }

    /// Whether an object with `labels` is selected: every matchLabels pair and every
    /// expression must hold (they are ANDed).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
            && self.expressions.iter().all(|e| {
                let value = labels.get(&e.key);
                match e.operator {
                    Operator::In => value.is_some_and(|v| e.values.contains(v)),
                    // NotIn matches objects without the key, as in Kubernetes.
                    Operator::NotIn => value.is_none_or(|v| !e.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn expressions_follow_kubernetes() {
        let s = Selector::parse(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
                {"key": "team", "operator": "Exists"}
            ]
        }))
        .unwrap();
        // All three hold: app=web, tier absent (NotIn matches a missing key), team present.
        assert!(s.matches(&l(&[("app", "web"), ("team", "a")])));
        // tier=db fails NotIn.
        assert!(!s.matches(&l(&[("app", "web"), ("team", "a"), ("tier", "db")])));
        // team missing fails Exists.
        assert!(!s.matches(&l(&[("app", "web")])));
        // {} selects everything, even an object without labels.
        assert!(Selector::parse(&json!({})).unwrap().matches(&Labels::new()));
    }

    #[test]
    fn malformed_selectors_say_what_is_wrong() {
        for (bad, says) in [
            (json!([]), "must be a mapping"),
            (json!({"matchLabels": ["a"]}), "matchLabels"),
            (json!({"matchLabels": {"a": 1}}), "matchLabels.a"),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
                "unknown operator",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                "needs values",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "takes no values",
            ),
        ] {
            let e = Selector::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
