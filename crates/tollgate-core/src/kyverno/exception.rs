//! Kyverno `PolicyException` (`kyverno.io/v2`, `v2beta1`, `v2alpha1`): named rules of named
//! policies do not judge the resources the exception matches (and whose `conditions` hold).
//! Such a rule's result is `skip`, as Kyverno reports it, so a documented exception in the
//! repository silences exactly what it names in `check`, `test` and admission alike.

use super::policy::{self, Conditions, MatchBlock, PolicyError};
use crate::manifest::Resource;
use crate::wildcard;
use serde_json::Value;

/// One loaded exception.
#[derive(Debug, Clone)]
pub struct Exception {
    /// `namespace/name` (or `name`), for the skip message.
    pub key: String,
    /// `(policyName, ruleNames)`: `ns/name` for a namespaced Policy; rule names may hold
    /// wildcards.
    pub exceptions: Vec<(String, Vec<String>)>,
    /// The resources it is for.
    pub matches: MatchBlock,
    /// Further conditions on the request, evaluated like preconditions.
    pub conditions: Option<Conditions>,
    /// The file it came from.
    pub file: String,
}

impl Exception {
    /// Whether it names this policy (by key) and rule.
    pub fn covers(&self, policy: &str, rule: &str) -> bool {
        self.exceptions
            .iter()
            .any(|(p, rules)| p == policy && rules.iter().any(|r| wildcard::matches(r, rule)))
    }
}

/// Whether a document is a Kyverno PolicyException.
pub fn is_exception(r: &Resource) -> bool {
    r.api_version.starts_with("kyverno.io/") && r.kind == "PolicyException"
}

/// Reads one PolicyException document.
pub fn parse(r: &Resource) -> Result<Exception, PolicyError> {
    let name = r.name.clone().unwrap_or_default();
    let key = match &r.namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let spec = r.object.get("spec").unwrap_or(&Value::Null);
    let exceptions = spec
        .get("exceptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |v: &Value| v.as_str().map(str::to_owned);
            let policy = e.get("policyName").and_then(text).unwrap_or_default();
            let rules = e
                .get("ruleNames")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect();
            (policy, rules)
        })
        .collect();
    let (matches, conditions) = policy::parse_match_and_conditions(
        r,
        &name,
        spec.get("match").unwrap_or(&Value::Null),
        spec.get("conditions"),
    )?;
    Ok(Exception {
        key,
        exceptions,
        matches,
        conditions,
        file: r.origin.file.to_string(),
    })
}
