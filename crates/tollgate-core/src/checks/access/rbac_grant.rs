//! ACCESS001: a binding of the branch grants a subject a permission nothing granted it on the
//! merge base.

use super::super::rbac::{Graph, PolicyRule};
use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use std::collections::HashSet;

/// The rule.
pub static RULE: Rule = Rule {
    id: "ACCESS001",
    family: Family::Access,
    title: "The change grants new RBAC permissions",
    severity: Severity::Info,
    inventory: true,
    description: "A pull request that adds or widens a Role, ClusterRole or binding changes who may do what in the cluster, and review of YAML rarely shows it: an aggregated ClusterRole, a new subject on an old binding, a role edited in another file. With `--new-since`, every permission a subject holds on the branch and did not hold on the merge base (by any binding) is reported once per binding, subject and role rule, with the verbs, resources and namespace, on the binding's subject.",
    fix: "Read the grant: if it is intended, nothing to do (the finding is info by default; raise it with `severity: {ACCESS001: warning}` in tollgate.yaml to make such changes fail); if not, narrow the role or remove the subject.",
    check: Check::Change(check),
};

/// One permission of one subject: subject, scope (namespace or cluster-wide), verb, group,
/// resource or URL, and the names it is narrowed to.
type Key = (String, Option<String>, String, String, String, String);

fn keys(rule: &PolicyRule<'_>, subject: &str, scope: Option<&str>) -> Vec<Key> {
    let names = rule.resource_names.join(",");
    let mut out = Vec::new();
    for verb in &rule.verbs {
        if rule.non_resource_urls.is_empty() {
            for group in &rule.api_groups {
                for resource in &rule.resources {
                    out.push((
                        subject.to_owned(),
                        scope.map(str::to_owned),
                        (*verb).to_owned(),
                        (*group).to_owned(),
                        (*resource).to_owned(),
                        names.clone(),
                    ));
                }
            }
        } else {
            for url in &rule.non_resource_urls {
                out.push((
                    subject.to_owned(),
                    None,
                    (*verb).to_owned(),
                    String::new(),
                    (*url).to_owned(),
                    String::new(),
                ));
            }
        }
    }
    out
}

/// Every permission the graph grants.
fn granted(g: &Graph<'_>) -> HashSet<Key> {
    let mut out = HashSet::new();
    for b in &g.bindings {
        for e in g.granted_by(b) {
            for s in &b.subjects {
                out.extend(keys(e.rule, &s.display(), b.namespace));
            }
        }
    }
    out
}

fn check(base: &Model<'_>, head: &Model<'_>, emit: &mut Emit) {
    let before = granted(base.rbac());
    let g = head.rbac();
    for b in &g.bindings {
        let rules = g.granted_by(b);
        for s in &b.subjects {
            let subject = s.display();
            for e in &rules {
                let new: Vec<Key> = keys(e.rule, &subject, b.namespace)
                    .into_iter()
                    .filter(|k| !before.contains(k))
                    .collect();
                if new.is_empty() {
                    continue;
                }
                let mut verbs: Vec<&str> = new.iter().map(|k| k.2.as_str()).collect();
                verbs.sort_unstable();
                verbs.dedup();
                let mut what: Vec<String> = new
                    .iter()
                    .map(|k| match k.3.as_str() {
                        "" => k.4.clone(),
                        group => format!("{}.{group}", k.4),
                    })
                    .collect();
                what.sort();
                what.dedup();
                let names = if e.rule.resource_names.is_empty() {
                    String::new()
                } else {
                    format!(" named {}", e.rule.resource_names.join(", "))
                };
                let scope = match b.namespace {
                    Some(ns) => format!("in namespace {ns}"),
                    None => "cluster-wide".to_owned(),
                };
                emit.at(
                    b.resource,
                    &format!("subjects[{}]", s.index),
                    format!(
                        "newly grants {subject} {} on {}{names} {scope}, through {} ({})",
                        verbs.join(", "),
                        what.join(", "),
                        b.display(),
                        b.role_display()
                    ),
                );
            }
        }
    }
}
