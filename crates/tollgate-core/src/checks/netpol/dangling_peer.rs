//! NET005: a rule peer whose selectors match nothing allows nothing, usually a typo in a
//! label that was meant to open a path.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{Peer, METADATA_NAME};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET005",
    family: Family::Netpol,
    title: "NetworkPolicy peer matches no namespace or workload",
    severity: Severity::Info,
    inventory: true,
    description: "A `from` or `to` peer whose `namespaceSelector` matches no namespace, or whose `podSelector` matches no workload in the namespaces it applies to, allows no traffic. The connection it was written for is then denied, or allowed by something broader. Namespaces are known by their labels and `kubernetes.io/metadata.name`; a selector that names namespaces by `kubernetes.io/metadata.name` is not reported, as it refers on purpose to namespaces often deployed from elsewhere (the ingress controller's).",
    fix: "Match the labels the namespace or the workload's pod template has (`kubernetes.io/metadata.name: NAME` selects a namespace by name).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let net = model.netpol();
    for p in &net.policies {
        for (key, peers_key, rules) in
            [("ingress", "from", &p.ingress), ("egress", "to", &p.egress)]
        {
            for rule in rules {
                for (j, peer) in rule.peers.iter().flatten().enumerate() {
                    let Peer::Pods { pods, namespaces } = peer else {
                        continue;
                    };
                    let at = format!("spec.{key}[{}].{peers_key}[{j}]", rule.index);
                    // A selector naming namespaces by name refers to them on purpose: they
                    // are often deployed from elsewhere (the ingress controller's).
                    let named = namespaces
                        .as_ref()
                        .is_some_and(|s| s.requires(METADATA_NAME));
                    if let Some(ns) = namespaces.as_ref().filter(|s| !s.is_empty() && !named) {
                        if !net.namespaces.values().any(|n| ns.matches(&n.labels)) {
                            emit.at(
                                p.resource,
                                &at,
                                format!(
                                    "NetworkPolicy {} {at}: the namespaceSelector matches no namespace",
                                    p.display()
                                ),
                            );
                            continue;
                        }
                    }
                    let narrow = pods.as_ref().is_some_and(|s| !s.is_empty()) && !named;
                    if narrow && !net.peer_matches_any(peer, &p.namespace) {
                        emit.at(
                            p.resource,
                            &at,
                            format!(
                                "NetworkPolicy {} {at}: the podSelector matches no workload",
                                p.display()
                            ),
                        );
                    }
                }
            }
        }
    }
}
