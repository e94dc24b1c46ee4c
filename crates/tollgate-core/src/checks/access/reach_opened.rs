//! ACCESS002: the branch lets a workload connect to another, on a port, where its merge base
//! did not.

use super::super::netpol::{reach, Endpoint, Network, PortQuery, PortValue, Workload};
use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use std::collections::{HashMap, HashSet};

/// The rule.
pub static RULE: Rule = Rule {
    id: "ACCESS002",
    family: Family::Access,
    title: "The change opens a network path",
    severity: Severity::Info,
    inventory: true,
    description: "A NetworkPolicy edit, a label change or a new workload can open paths between pods that nobody reviewing the diff sees: a podSelector that now matches more pods, a namespaceSelector that matches a relabelled namespace, a policy removed. With `--new-since`, every (source workload, destination workload, destination port) that the branch's policies allow and the merge base's did not is reported, on the policy whose rule allows it. Only paths a change can open are compared: those of workloads the change touches (new, relabelled, or selected by a policy that was added, changed or removed, or in a relabelled namespace). A new workload that no policy isolates is not reported for every peer it can reach: only paths an explicit policy rule allows are.",
    fix: "If the path is intended, nothing to do (info by default; `severity: {ACCESS002: warning}` in tollgate.yaml makes such changes fail); if not, narrow the policy's `from`/`to` selectors or ports. `tollgate netpol reach FROM TO --port P` shows which policies decide.",
    check: Check::Change(check),
};

type Key<'a> = (&'a str, &'a str, &'a str);

fn key<'a>(w: &'a Workload<'_>) -> Key<'a> {
    (w.kind, w.namespace.as_str(), w.name.as_str())
}

/// Every NetworkPolicy of a model by `(namespace, name)`, with its object.
fn policies_of<'n>(n: &'n Network<'_>) -> HashMap<(&'n str, &'n str), &'n serde_json::Value> {
    n.policies
        .iter()
        .map(|p| ((p.namespace.as_str(), p.name.as_str()), &p.resource.object))
        .collect()
}

/// The head workloads a change may have opened paths to or from.
fn touched<'n, 'a>(base: &Network<'_>, head: &'n Network<'a>) -> HashSet<Key<'n>> {
    let before: HashMap<Key<'_>, &Workload<'_>> =
        base.workloads.iter().map(|w| (key(w), w)).collect();
    let mut out = HashSet::new();
    for w in &head.workloads {
        let same = before
            .get(&key(w))
            .is_some_and(|b| b.labels == w.labels && b.ports == w.ports);
        if !same {
            out.insert(key(w));
        }
    }
    let (old, new) = (policies_of(base), policies_of(head));
    let changed: HashSet<(&str, &str)> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .copied()
        .collect();
    let relabelled: HashSet<&str> = head
        .namespaces
        .iter()
        .filter(|(name, ns)| {
            base.namespaces
                .get(*name)
                .is_none_or(|b| b.labels != ns.labels)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    for w in &head.workloads {
        let selected = base
            .policies
            .iter()
            .chain(&head.policies)
            .filter(|p| changed.contains(&(p.namespace.as_str(), p.name.as_str())))
            .any(|p| p.selects(w));
        if selected || relabelled.contains(w.namespace.as_str()) {
            out.insert(key(w));
        }
    }
    out
}

/// The ports a connection to `dst` is judged on: each container port, else any port.
fn ports(dst: &Workload<'_>) -> Vec<Option<PortQuery>> {
    if dst.ports.is_empty() {
        return vec![None];
    }
    dst.ports
        .iter()
        .map(|p| {
            Some(PortQuery {
                port: PortValue::Number(p.port),
                protocol: p.protocol.clone(),
            })
        })
        .collect()
}

fn check(base: &Model<'_>, head: &Model<'_>, emit: &mut Emit) {
    let (old, new) = (base.netpol(), head.netpol());
    let touched = touched(old, new);
    if touched.is_empty() {
        return;
    }
    let before: HashMap<Key<'_>, &Workload<'_>> =
        old.workloads.iter().map(|w| (key(w), w)).collect();
    for src in &new.workloads {
        for dst in &new.workloads {
            if std::ptr::eq(src, dst)
                || !(touched.contains(&key(src)) || touched.contains(&key(dst)))
            {
                continue;
            }
            for port in ports(dst) {
                let Ok(now) = reach(
                    new,
                    Endpoint::Workload(src),
                    Endpoint::Workload(dst),
                    port.as_ref(),
                ) else {
                    continue;
                };
                if !now.allowed {
                    continue;
                }
                let then = match (before.get(&key(src)), before.get(&key(dst))) {
                    (Some(s), Some(d)) => reach(
                        old,
                        Endpoint::Workload(s),
                        Endpoint::Workload(d),
                        port.as_ref(),
                    )
                    .is_ok_and(|r| r.allowed),
                    // A new endpoint: only a path an explicit rule allows is news.
                    _ => now.ingress.allowed_by.is_empty() && now.egress.allowed_by.is_empty(),
                };
                if then {
                    continue;
                }
                let by = now
                    .ingress
                    .allowed_by
                    .first()
                    .or(now.egress.allowed_by.first());
                let on = by.and_then(|name| new.policies.iter().find(|p| p.display() == *name));
                let port_text = now.port.as_deref().unwrap_or("any port");
                let why = by.map_or_else(
                    || "no policy isolates it any more".to_owned(),
                    |p| format!("allowed by NetworkPolicy {p}"),
                );
                let message = format!(
                    "newly lets {} {} connect to {} {} on {port_text} ({why})",
                    src.kind,
                    src.display(),
                    dst.kind,
                    dst.display()
                );
                match on {
                    Some(p) => emit.at(p.resource, "spec.podSelector", message),
                    None => emit.at(dst.resource, "", message),
                }
            }
        }
    }
}
