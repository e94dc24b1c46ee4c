//! Kyverno's CEL `PolicyException` (`policies.kyverno.io` v1alpha1, v1beta1, v1): it names
//! the policies it waives (`policyRefs`, name and kind) and when (`matchConditions`, CEL over
//! `object`, `oldObject`, `request`, `namespaceObject`, all true). One whose conditions hold
//! exempts the request from the policy, unless it grants only `images` or `allowedValues`,
//! which the policy then reads as `exceptions.allowedImages` / `exceptions.allowedValues`.

use super::engine::{Body, Sources};
use super::{eval_bool, Scope};
use crate::kyverno::PolicyError;
use crate::manifest::Resource;
use serde_json::Value;

/// A loaded CEL PolicyException.
#[derive(Debug, Clone)]
pub struct CelException {
    /// `namespace/name` (`name` for a cluster-wide one), as results name it.
    pub key: String,
    /// `policyRefs`: (kind, name).
    pub refs: Vec<(String, String)>,
    /// `matchConditions`, compiled.
    pub conditions: Body,
    /// `images`: image patterns the policy may allow (`exceptions.allowedImages`).
    pub images: Vec<String>,
    /// `allowedValues` (`exceptions.allowedValues`).
    pub allowed_values: Vec<String>,
}

/// Whether a document is a CEL PolicyException.
pub fn is_exception(r: &Resource) -> bool {
    r.api_version.starts_with("policies.kyverno.io/") && r.kind == "PolicyException"
}

/// Reads one; its conditions are compiled now, so a mistake is an error at its line.
pub fn parse(res: &Resource) -> Result<CelException, Vec<PolicyError>> {
    let name = res.name.clone().unwrap_or_default();
    let spec = res.object.get("spec").cloned().unwrap_or(Value::Null);
    let err = |path: &str, message: String| PolicyError {
        file: res.origin.file.to_string(),
        line: super::line_of(res, path),
        policy: name.clone(),
        rule: None,
        message,
    };
    let refs: Vec<(String, String)> = spec
        .get("policyRefs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    Some((
                        r.get("kind")
                            .and_then(Value::as_str)
                            .unwrap_or("ValidatingPolicy")
                            .to_owned(),
                        r.get("name")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if refs.is_empty() {
        return Err(vec![err(
            "spec.policyRefs",
            "a PolicyException needs policyRefs: the policies (name and kind) it waives".into(),
        )]);
    }
    let conditions = Body::compile(&Sources {
        match_conditions: spec.get("matchConditions"),
        paths: ["spec.matchConditions", "", "", ""],
        ..Sources::default()
    })
    .map_err(|errors| {
        errors
            .into_iter()
            .map(|e| err(&e.path, format!("{}: {}", e.path, e.message)))
            .collect::<Vec<_>>()
    })?;
    Ok(CelException {
        key: match &res.namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        },
        refs,
        conditions,
        images: super::matching::strs(spec.get("images")),
        allowed_values: super::matching::strs(spec.get("allowedValues")),
    })
}

/// What the exceptions decide for one policy on one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exemption {
    /// The exceptions that exempt the request entirely, by key.
    pub by: Vec<String>,
    /// What partial ones allow: (images, values).
    pub allowed: (Vec<String>, Vec<String>),
}

/// The exceptions among `all` that name `kind`/`policy` and whose conditions hold on
/// `scope`. A condition that cannot be evaluated is an error, unless an earlier exception
/// already exempts the request (a broken later one must not take that back).
pub fn exemption(
    all: &[CelException],
    kind: &str,
    policy: &str,
    scope: &Scope<'_>,
) -> Result<Exemption, String> {
    let mut out = Exemption::default();
    for e in all
        .iter()
        .filter(|e| e.refs.iter().any(|(k, n)| k == kind && n == policy))
    {
        let mut holds = true;
        for c in &e.conditions.match_conditions {
            match eval_bool(&c.program, scope) {
                Ok(true) => {}
                Ok(false) => {
                    holds = false;
                    break;
                }
                Err(err) if out.by.is_empty() => {
                    return Err(format!(
                        "PolicyException {} match condition {}: {}",
                        e.key, c.name, err.0
                    ))
                }
                Err(_) => {
                    holds = false;
                    break;
                }
            }
        }
        if !holds {
            continue;
        }
        if e.images.is_empty() && e.allowed_values.is_empty() {
            out.by.push(e.key.clone());
        } else if out.by.is_empty() {
            out.allowed.0.extend(e.images.iter().cloned());
            out.allowed.1.extend(e.allowed_values.iter().cloned());
        }
    }
    Ok(out)
}
