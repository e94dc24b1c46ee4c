//! NET006: a rule that allows every peer undoes the isolation the policy exists for.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{Peer, TrafficRule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET006",
    family: Family::Netpol,
    title: "NetworkPolicy rule allows all traffic",
    severity: Severity::Warning,
    inventory: false,
    description: "Three forms allow every peer: a rule without `from`/`to` (and without `ports`, which would narrow it), an `ipBlock` of `0.0.0.0/0` or `::/0` without `except`, and `namespaceSelector: {}` without a podSelector (every pod of every namespace). The selected pods are then as open as without a policy, in that direction.",
    fix: "Name the peers: a podSelector for pods of the namespace, a namespaceSelector on `kubernetes.io/metadata.name` for other namespaces, an ipBlock of the external range needed.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for p in &model.netpol().policies {
        let directions: [(&str, &str, &Vec<TrafficRule>); 2] =
            [("ingress", "from", &p.ingress), ("egress", "to", &p.egress)];
        for (key, peers_key, rules) in directions {
            for rule in rules {
                let at = format!("spec.{key}[{}]", rule.index);
                let Some(peers) = &rule.peers else {
                    if rule.ports.is_none() {
                        emit.at(
                            p.resource,
                            &at,
                            format!(
                                "NetworkPolicy {} {at} has no `{peers_key}` and no ports: it allows all {key} traffic",
                                p.display()
                            ),
                        );
                    }
                    continue;
                };
                for (j, peer) in peers.iter().enumerate() {
                    let at = format!("{at}.{peers_key}[{j}]");
                    let what = match peer {
                        Peer::Ip(block) if block.is_everything() => {
                            format!("ipBlock {} allows every address", block.cidr)
                        }
                        Peer::Pods {
                            pods: None,
                            namespaces: Some(ns),
                        } if ns.is_empty() => {
                            "namespaceSelector {} without a podSelector allows every pod of every namespace".to_owned()
                        }
                        _ => continue,
                    };
                    emit.at(
                        p.resource,
                        &at,
                        format!("NetworkPolicy {} {at}: {what}", p.display()),
                    );
                }
            }
        }
    }
}
