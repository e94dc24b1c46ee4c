//! `netpol reach`: may one workload open a connection to another (or to an address), and
//! which policies decide. Kubernetes semantics: a pod is isolated in a direction when any
//! policy selecting it has that policy type; an isolated pod allows what the union of those
//! policies' rules allows; a connection needs the source's egress and the destination's
//! ingress to allow it.

use super::{ContainerPort, Network, Peer, PortSpec, PortValue, TrafficRule, Workload};
use crate::checks::close_matches;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// One end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'n, 'a> {
    /// The pods of a workload of the manifests.
    Workload(&'n Workload<'a>),
    /// An address outside the workloads (matched by `ipBlock` peers only).
    Ip(IpAddr),
}

impl Endpoint<'_, '_> {
    fn ports(&self) -> &[ContainerPort] {
        match self {
            Endpoint::Workload(w) => &w.ports,
            Endpoint::Ip(_) => &[],
        }
    }
}

/// The port asked about: a number or a container port's name, with its protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortQuery {
    /// The port (a name is resolved on the destination's containers).
    pub port: PortValue,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
}

impl PortQuery {
    /// Reads `PORT[/PROTOCOL]` (`443`, `53/UDP`, `http`).
    pub fn parse(s: &str) -> Result<PortQuery, crate::Error> {
        Self::read(s).map_err(crate::Error::Usage)
    }

    fn read(s: &str) -> Result<PortQuery, String> {
        let (port, protocol) = match s.split_once('/') {
            Some((p, proto)) => (p, proto.to_ascii_uppercase()),
            None => (s, "TCP".to_owned()),
        };
        if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
            return Err(format!("`{s}`: the protocol is TCP, UDP or SCTP"));
        }
        let port = match port.parse::<u16>() {
            Ok(0) | Err(_) if port.chars().all(|c| c.is_ascii_digit()) => {
                return Err(format!("`{s}`: a port number is 1 to 65535"))
            }
            Ok(n) => PortValue::Number(n),
            Err(_) if !port.is_empty() => PortValue::Name(port.to_owned()),
            Err(_) => return Err(format!("`{s}` is not a port (443, 53/UDP, http)")),
        };
        Ok(PortQuery { port, protocol })
    }
}

/// The verdict of one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Direction {
    /// Some policy selecting the pod has this policy type.
    pub isolated: bool,
    /// The policies that isolate it (`namespace/name`).
    pub isolated_by: Vec<String>,
    /// The policies with a rule allowing the connection (`namespace/name`).
    pub allowed_by: Vec<String>,
}

impl Direction {
    /// Whether this direction lets the connection through.
    pub fn allows(&self) -> bool {
        !self.isolated || !self.allowed_by.is_empty()
    }
}

/// The answer to `reach`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reach {
    /// Both directions allow it.
    pub allowed: bool,
    /// The source's egress.
    pub egress: Direction,
    /// The destination's ingress.
    pub ingress: Direction,
    /// The port asked, resolved to a number when it was a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

/// Whether a rule's ports admit `port` (or, with `None`, some port) on `target`.
fn ports_match(rule: &TrafficRule, port: Option<(u16, &str)>, target: &[ContainerPort]) -> bool {
    let Some(specs) = &rule.ports else {
        return true;
    };
    specs.iter().any(|spec| spec_matches(spec, port, target))
}

fn spec_matches(spec: &PortSpec, port: Option<(u16, &str)>, target: &[ContainerPort]) -> bool {
    // A named port means the destination container's port of that name and protocol.
    let resolved: Option<(u16, u16)> = match &spec.port {
        None => Some((1, u16::MAX)),
        Some(PortValue::Number(n)) => Some((*n, spec.end_port.unwrap_or(*n).max(*n))),
        Some(PortValue::Name(name)) => target
            .iter()
            .find(|c| c.name.as_deref() == Some(name.as_str()) && c.protocol == spec.protocol)
            .map(|c| (c.port, c.port)),
    };
    let Some((low, high)) = resolved else {
        return false;
    };
    match port {
        None => true,
        Some((n, protocol)) => spec.protocol == protocol && low <= n && n <= high,
    }
}

/// Whether a rule's peers admit `peer` for a policy in `policy_ns`.
fn peers_match(
    net: &Network<'_>,
    rule: &TrafficRule,
    policy_ns: &str,
    peer: Endpoint<'_, '_>,
) -> bool {
    let Some(peers) = &rule.peers else {
        return true;
    };
    peers.iter().any(|p| match (p, peer) {
        (Peer::Ip(block), Endpoint::Ip(ip)) => block.contains(ip),
        (Peer::Pods { .. }, Endpoint::Workload(w)) => net.peer_matches(p, policy_ns, w),
        _ => false,
    })
}

/// May `from` connect to `to` on `port` (any port when `None`)? A named port is resolved on
/// `to`'s containers; an error when it has none of that name.
pub fn reach(
    net: &Network<'_>,
    from: Endpoint<'_, '_>,
    to: Endpoint<'_, '_>,
    port: Option<&PortQuery>,
) -> Result<Reach, crate::Error> {
    let port = match port {
        None => None,
        Some(q) => Some(match &q.port {
            PortValue::Number(n) => (*n, q.protocol.as_str()),
            PortValue::Name(name) => to
                .ports()
                .iter()
                .find(|c| c.name.as_deref() == Some(name.as_str()) && c.protocol == q.protocol)
                .map(|c| (c.port, q.protocol.as_str()))
                .ok_or_else(|| {
                    crate::Error::NotFound(format!(
                        "the destination has no {} container port named `{name}`",
                        q.protocol
                    ))
                })?,
        }),
    };
    // The source's egress is decided by the policies of its namespace that select it for
    // egress, the destination's ingress by those selecting it for ingress; an address has
    // no policies (it is not isolated).
    let egress = match from {
        Endpoint::Workload(src) => direction(net, src, Side::Egress, to, port, to.ports()),
        Endpoint::Ip(_) => Direction::default(),
    };
    let ingress = match to {
        Endpoint::Workload(dst) => direction(net, dst, Side::Ingress, from, port, &dst.ports),
        Endpoint::Ip(_) => Direction::default(),
    };
    Ok(Reach {
        allowed: egress.allows() && ingress.allows(),
        egress,
        ingress,
        port: port.map(|(n, proto)| format!("{n}/{proto}")),
    })
}

/// Which direction of a pod's traffic.
#[derive(Clone, Copy)]
enum Side {
    Ingress,
    Egress,
}

/// The verdict of one direction for the pods of `pod`: the policies selecting it with that
/// policy type isolate it; those with a rule admitting `peer` on `port` allow it. Named ports
/// resolve on `target` (the destination's containers, in both directions).
fn direction(
    net: &Network<'_>,
    pod: &Workload<'_>,
    side: Side,
    peer: Endpoint<'_, '_>,
    port: Option<(u16, &str)>,
    target: &[ContainerPort],
) -> Direction {
    let mut d = Direction::default();
    for p in net.policies.iter().filter(|p| p.selects(pod)) {
        let (isolates, rules) = match side {
            Side::Ingress => (p.isolates_ingress, &p.ingress),
            Side::Egress => (p.isolates_egress, &p.egress),
        };
        if !isolates {
            continue;
        }
        d.isolated_by.push(p.display());
        if rules.iter().any(|rule| {
            peers_match(net, rule, &p.namespace, peer) && ports_match(rule, port, target)
        }) {
            d.allowed_by.push(p.display());
        }
    }
    d.isolated = !d.isolated_by.is_empty();
    d.isolated_by.sort();
    d.isolated_by.dedup();
    d.allowed_by.sort();
    d.allowed_by.dedup();
    d
}

impl<'a> Network<'a> {
    /// The endpoint a query names: `NAMESPACE/NAME` or `KIND/NAMESPACE/NAME` of a workload,
    /// or an IP address. Unknown names are an error listing the close matches.
    pub fn endpoint(&self, spec: &str) -> Result<Endpoint<'_, 'a>, crate::Error> {
        self.find_endpoint(spec).map_err(crate::Error::NotFound)
    }

    fn find_endpoint(&self, spec: &str) -> Result<Endpoint<'_, 'a>, String> {
        if let Ok(ip) = spec.parse::<IpAddr>() {
            return Ok(Endpoint::Ip(ip));
        }
        let parts: Vec<&str> = spec.split('/').collect();
        let (kind, ns, name) = match parts.as_slice() {
            [ns, name] => (None, *ns, *name),
            [kind, ns, name] => (Some(*kind), *ns, *name),
            _ => {
                return Err(format!(
                    "`{spec}`: name a workload as NAMESPACE/NAME (or KIND/NAMESPACE/NAME), or give an IP address"
                ))
            }
        };
        let found: Vec<&Workload<'a>> = self
            .workloads
            .iter()
            .filter(|w| {
                w.namespace == ns
                    && w.name == name
                    && kind.is_none_or(|k| k.eq_ignore_ascii_case(w.kind))
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(Endpoint::Workload(one)),
            [] => {
                if !self.namespaces.contains_key(ns) {
                    let close = close_matches(ns, self.namespaces.keys().map(String::as_str));
                    return Err(format!(
                        "`{spec}`: no workload of the manifests is in namespace {ns}{}",
                        hint(&close)
                    ));
                }
                let names: BTreeSet<String> =
                    self.workloads.iter().map(Workload::display).collect();
                let close =
                    close_matches(&format!("{ns}/{name}"), names.iter().map(String::as_str));
                Err(format!(
                    "`{spec}`: no workload {ns}/{name} in the manifests{}",
                    hint(&close)
                ))
            }
            many => Err(format!(
                "`{spec}` names {} workloads ({}): say which with KIND/NAMESPACE/NAME",
                many.len(),
                many.iter().map(|w| w.kind).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

fn hint(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

impl Reach {
    /// The verdict and the policies behind it, one line each.
    pub fn to_human(&self, from: &str, to: &str) -> String {
        let mut out = format!(
            "{from} -> {to}{}: {}\n",
            self.port
                .as_deref()
                .map(|p| format!(" port {p}"))
                .unwrap_or_else(|| " (any port)".to_owned()),
            if self.allowed { "allowed" } else { "denied" }
        );
        for (name, d) in [
            ("egress of the source", &self.egress),
            ("ingress of the destination", &self.ingress),
        ] {
            let line = if !d.isolated {
                "not isolated (no policy selects it for this direction): allowed".to_owned()
            } else if d.allowed_by.is_empty() {
                format!(
                    "isolated by {}; no rule allows it: denied",
                    d.isolated_by.join(", ")
                )
            } else {
                format!(
                    "isolated by {}; allowed by {}",
                    d.isolated_by.join(", "),
                    d.allowed_by.join(", ")
                )
            };
            out.push_str(&format!("  {name}: {line}\n"));
        }
        out
    }
}
