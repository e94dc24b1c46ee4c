//! The network model of a set of manifests: workloads (every pod template) with their labels
//! and container ports, namespaces with their labels, and NetworkPolicies read into selectors
//! and rules. The checks and `netpol reach` both ask it, under Kubernetes semantics:
//! isolation per direction, allowed traffic the union of every selecting policy's rules.

pub mod allow_all;
pub mod dangling_peer;
pub mod empty_pod_selector;
pub mod no_default_deny_egress;
pub mod no_default_deny_ingress;
mod reach;
pub mod unselected_workload;

pub use reach::{reach, Direction, Endpoint, PortQuery, Reach};

use super::selector::{labels, Labels, Selector};
use super::{malformed, namespace_of};
use crate::engine::EvalError;
use crate::manifest::Resource;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A port a container declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    /// `name`, which policies may use instead of the number.
    pub name: Option<String>,
    /// `containerPort`.
    pub port: u16,
    /// `protocol` (TCP when unset).
    pub protocol: String,
}

/// Anything that runs pods: a Pod or the template of a controller.
#[derive(Debug)]
pub struct Workload<'a> {
    /// The object.
    pub resource: &'a Resource,
    /// Its kind.
    pub kind: &'a str,
    /// Its namespace (`default` when unset).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The labels its pods get.
    pub labels: Labels,
    /// Field path of the pod template (`spec.template`; empty for a Pod).
    pub template: &'static str,
    /// Ports of its containers.
    pub ports: Vec<ContainerPort>,
}

impl Workload<'_> {
    /// `namespace/name`, as queries name it.
    pub fn display(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Field path of its pods' labels.
    pub fn labels_path(&self) -> String {
        if self.template.is_empty() {
            "metadata.labels".to_owned()
        } else {
            format!("{}.metadata.labels", self.template)
        }
    }
}

/// A namespace: from a Namespace object or because workloads live in it.
#[derive(Debug)]
pub struct Namespace<'a> {
    /// Its name.
    pub name: String,
    /// Its labels, with `kubernetes.io/metadata.name` as the API server sets it.
    pub labels: Labels,
    /// The Namespace object, when the manifests have one.
    pub resource: Option<&'a Resource>,
}

/// An IP block of a policy peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    /// `cidr` as written.
    pub cidr: String,
    net: Cidr,
    except: Vec<Cidr>,
}

impl IpBlock {
    /// Whether `ip` is inside the block and outside every `except`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.net.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }

    /// Whether it is `0.0.0.0/0` or `::/0` without exceptions: every address.
    pub fn is_everything(&self) -> bool {
        self.net.prefix == 0 && self.except.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR (10.0.0.0/8)"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not a CIDR (10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?;
        Ok(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(i)), 32u32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128u32),
            _ => return false,
        };
        let host_bits = bits.saturating_sub(u32::from(self.prefix));
        // `checked_shr` is None for a shift of 128 (prefix 0 of IPv6): everything matches.
        let mask_off = |v: u128| v.checked_shr(host_bits).unwrap_or(0);
        mask_off(net) == mask_off(ip)
    }
}

/// One peer of a rule (`from[i]` / `to[i]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Pods chosen by selectors: `pods` alone means the policy's namespace; `namespaces`
    /// alone means every pod of those namespaces; both, those pods in those namespaces.
    Pods {
        /// `podSelector`.
        pods: Option<Selector>,
        /// `namespaceSelector`.
        namespaces: Option<Selector>,
    },
    /// Addresses.
    Ip(IpBlock),
}

/// A port of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// `protocol` (TCP when unset).
    pub protocol: String,
    /// `port`: a number, a name of a container port, or every port when unset.
    pub port: Option<PortValue>,
    /// `endPort`: with a numeric port, the range's end.
    pub end_port: Option<u16>,
}

/// A port by number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortValue {
    /// A number.
    Number(u16),
    /// A container port's name, resolved on the destination pod.
    Name(String),
}

/// One `ingress[i]` or `egress[i]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficRule {
    /// Its index.
    pub index: usize,
    /// `from` / `to`; `None` (absent or empty) allows every peer.
    pub peers: Option<Vec<Peer>>,
    /// `ports`; `None` (absent or empty) allows every port.
    pub ports: Option<Vec<PortSpec>>,
}

/// A NetworkPolicy.
#[derive(Debug)]
pub struct Policy<'a> {
    /// The object.
    pub resource: &'a Resource,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.podSelector`.
    pub pod_selector: Selector,
    /// `spec.ingress`.
    pub ingress: Vec<TrafficRule>,
    /// `spec.egress`.
    pub egress: Vec<TrafficRule>,
    /// `Ingress` is in `policyTypes` (explicit, or by default).
    pub isolates_ingress: bool,
    /// `Egress` is in `policyTypes` (explicit, or because it has egress rules).
    pub isolates_egress: bool,
}

impl Policy<'_> {
    /// `namespace/name`.
    pub fn display(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether it selects the pods of `w`.
    pub fn selects(&self, w: &Workload<'_>) -> bool {
        self.namespace == w.namespace && self.pod_selector.matches(&w.labels)
    }
}

/// Workloads, namespaces and policies of a set of manifests.
#[derive(Debug, Default)]
pub struct Network<'a> {
    /// Every workload, in input order.
    pub workloads: Vec<Workload<'a>>,
    /// Every namespace, by name.
    pub namespaces: BTreeMap<String, Namespace<'a>>,
    /// Every NetworkPolicy, in input order.
    pub policies: Vec<Policy<'a>>,
    /// Objects too malformed to use (each names its file and line).
    pub errors: Vec<EvalError>,
}

fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn read_workload<'a>(r: &'a Resource, template: &'static str) -> Result<Workload<'a>, EvalError> {
    let pod = at(&r.object, template);
    let labels = labels(pod.and_then(|p| p.pointer("/metadata/labels")));
    let mut ports = Vec::new();
    let spec = pod.and_then(|p| p.get("spec"));
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.and_then(|s| s.get(list)).and_then(Value::as_array) else {
            continue;
        };
        for c in containers {
            let Some(declared) = c.get("ports").and_then(Value::as_array) else {
                continue;
            };
            for p in declared {
                let Some(number) = p
                    .get("containerPort")
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                else {
                    let path = if template.is_empty() {
                        format!("spec.{list}")
                    } else {
                        format!("{template}.spec.{list}")
                    };
                    return Err(malformed(
                        r,
                        &path,
                        "a container port needs a containerPort from 1 to 65535",
                    ));
                };
                ports.push(ContainerPort {
                    name: p.get("name").and_then(Value::as_str).map(str::to_owned),
                    port: number,
                    protocol: p
                        .get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
                        .to_owned(),
                });
            }
        }
    }
    Ok(Workload {
        resource: r,
        kind: &r.kind,
        namespace: namespace_of(r).to_owned(),
        name: r.name.clone().unwrap_or_default(),
        labels,
        template,
        ports,
    })
}

fn read_peer(r: &Resource, v: &Value, at: &str) -> Result<Peer, EvalError> {
    let selector = |key: &str| -> Result<Option<Selector>, EvalError> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(s) => Selector::parse(s)
                .map(Some)
                .map_err(|e| malformed(r, &format!("{at}.{key}"), &e)),
        }
    };
    if let Some(block) = v.get("ipBlock").filter(|b| !b.is_null()) {
        let cidr = block
            .get("cidr")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(r, &format!("{at}.ipBlock"), "ipBlock needs a cidr"))?;
        let net = Cidr::parse(cidr).map_err(|e| malformed(r, &format!("{at}.ipBlock"), &e))?;
        let except = match block.get("except") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|e| {
                    e.as_str()
                        .ok_or_else(|| "except must be a list of CIDRs".to_owned())
                        .and_then(Cidr::parse)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| malformed(r, &format!("{at}.ipBlock.except"), &e))?,
            Some(_) => {
                return Err(malformed(
                    r,
                    &format!("{at}.ipBlock.except"),
                    "except must be a list of CIDRs",
                ))
            }
        };
        return Ok(Peer::Ip(IpBlock {
            cidr: cidr.to_owned(),
            net,
            except,
        }));
    }
    let pods = selector("podSelector")?;
    let namespaces = selector("namespaceSelector")?;
    if pods.is_none() && namespaces.is_none() {
        return Err(malformed(
            r,
            at,
            "a peer needs a podSelector, a namespaceSelector or an ipBlock",
        ));
    }
    Ok(Peer::Pods { pods, namespaces })
}

fn read_port(r: &Resource, v: &Value, at: &str) -> Result<PortSpec, EvalError> {
    let protocol = v
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP")
        .to_owned();
    let port = match v.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(PortValue::Name(name.clone())),
        Some(n) => Some(PortValue::Number(
            n.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    malformed(r, at, "port must be a number from 1 to 65535 or a name")
                })?,
        )),
    };
    let end_port = match v.get("endPort") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| malformed(r, at, "endPort must be a number from 1 to 65535"))?,
        ),
    };
    Ok(PortSpec {
        protocol,
        port,
        end_port,
    })
}

fn read_rules(
    r: &Resource,
    spec: &Value,
    key: &str,
    peers_key: &str,
) -> Result<Vec<TrafficRule>, EvalError> {
    let items = match spec.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(malformed(
                r,
                &format!("spec.{key}"),
                &format!("{key} must be a list"),
            ))
        }
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let at = format!("spec.{key}[{index}]");
        if !(item.is_object() || item.is_null()) {
            return Err(malformed(r, &at, "a rule must be a mapping"));
        }
        let list = |k: &str| -> Result<Option<&Vec<Value>>, EvalError> {
            match item.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(v)) => Ok((!v.is_empty()).then_some(v)),
                Some(_) => Err(malformed(
                    r,
                    &format!("{at}.{k}"),
                    &format!("{k} must be a list"),
                )),
            }
        };
        let peers = list(peers_key)?
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .map(|(j, p)| read_peer(r, p, &format!("{at}.{peers_key}[{j}]")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let ports = list("ports")?
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .map(|(j, p)| read_port(r, p, &format!("{at}.ports[{j}]")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        out.push(TrafficRule {
            index,
            peers,
            ports,
        });
    }
    Ok(out)
}

fn read_policy(r: &Resource) -> Result<Policy<'_>, EvalError> {
    let Some(spec) = r.object.get("spec").filter(|s| s.is_object()) else {
        return Err(malformed(r, "", "a NetworkPolicy needs a spec"));
    };
    let pod_selector = match spec.get("podSelector") {
        None | Some(Value::Null) => {
            return Err(malformed(
                r,
                "spec",
                "spec.podSelector is required (`{}` selects every pod of the namespace)",
            ))
        }
        Some(s) => Selector::parse(s).map_err(|e| malformed(r, "spec.podSelector", &e))?,
    };
    let ingress = read_rules(r, spec, "ingress", "from")?;
    let egress = read_rules(r, spec, "egress", "to")?;
    let (isolates_ingress, isolates_egress) = match spec.get("policyTypes") {
        None | Some(Value::Null) => (true, !egress.is_empty()),
        Some(Value::Array(types)) => {
            let mut ingress_type = false;
            let mut egress_type = false;
            for t in types {
                match t.as_str() {
                    Some("Ingress") => ingress_type = true,
                    Some("Egress") => egress_type = true,
                    _ => {
                        return Err(malformed(
                            r,
                            "spec.policyTypes",
                            "policyTypes may hold only Ingress and Egress",
                        ))
                    }
                }
            }
            (ingress_type, egress_type)
        }
        Some(_) => {
            return Err(malformed(
                r,
                "spec.policyTypes",
                "policyTypes must be a list",
            ))
        }
    };
    Ok(Policy {
        resource: r,
        namespace: namespace_of(r).to_owned(),
        name: r.name.clone().unwrap_or_default(),
        pod_selector,
        ingress,
        egress,
        isolates_ingress,
        isolates_egress,
    })
}

fn namespace_entry<'a>(map: &mut BTreeMap<String, Namespace<'a>>, name: &str) {
    map.entry(name.to_owned()).or_insert_with(|| Namespace {
        name: name.to_owned(),
        labels: Labels::from([(METADATA_NAME.to_owned(), name.to_owned())]),
        resource: None,
    });
}

/// The label the API server puts on every namespace, with its name.
pub(crate) const METADATA_NAME: &str = "kubernetes.io/metadata.name";

impl<'a> Network<'a> {
    /// Reads every workload, Namespace and NetworkPolicy of `resources`.
    pub fn build(resources: &'a [Resource]) -> Network<'a> {
        let mut n = Network::default();
        for r in resources {
            if r.kind == "Namespace" && r.api_version == "v1" {
                let Some(name) = r.name.as_deref() else {
                    continue;
                };
                let mut l = labels(r.object.pointer("/metadata/labels"));
                l.insert(METADATA_NAME.to_owned(), name.to_owned());
                n.namespaces.insert(
                    name.to_owned(),
                    Namespace {
                        name: name.to_owned(),
                        labels: l,
                        resource: Some(r),
                    },
                );
            } else if r.kind == "NetworkPolicy" && r.api_version.starts_with("networking.k8s.io/") {
                match read_policy(r) {
                    Ok(p) => n.policies.push(p),
                    Err(e) => n.errors.push(e),
                }
            } else if let Some(template) = super::pods::template_of(r) {
                match read_workload(r, template) {
                    Ok(w) => n.workloads.push(w),
                    Err(e) => n.errors.push(e),
                }
            }
        }
        let used: Vec<String> = n.workloads.iter().map(|w| w.namespace.clone()).collect();
        for ns in used {
            namespace_entry(&mut n.namespaces, &ns);
        }
        n
    }

    /// The namespaces a peer's `namespaceSelector` selects.
    fn namespace_matches(&self, selector: &Selector, namespace: &str) -> bool {
        match self.namespaces.get(namespace) {
            Some(ns) => selector.matches(&ns.labels),
            // A namespace only a query names: it has its name label and no other.
            None => selector.matches(&Labels::from([(
                METADATA_NAME.to_owned(),
                namespace.to_owned(),
            )])),
        }
    }

    /// Whether `peer` of a policy in `policy_ns` matches the pods of `w`. An `ipBlock` never
    /// matches pods: their addresses are not in the manifests (and whether a CNI applies
    /// ipBlocks to pod traffic is implementation-defined).
    pub fn peer_matches(&self, peer: &Peer, policy_ns: &str, w: &Workload<'_>) -> bool {
        match peer {
            Peer::Ip(_) => false,
            Peer::Pods { pods, namespaces } => {
                let ns_ok = match namespaces {
                    None => w.namespace == policy_ns,
                    Some(sel) => self.namespace_matches(sel, &w.namespace),
                };
                ns_ok && pods.as_ref().is_none_or(|p| p.matches(&w.labels))
            }
        }
    }

    /// The workloads a policy's peer could match, for the dangling-peer check.
    fn peer_matches_any(&self, peer: &Peer, policy_ns: &str) -> bool {
        self.workloads
            .iter()
            .any(|w| self.peer_matches(peer, policy_ns, w))
    }
}

/// The policies of a namespace that select every pod of it (`podSelector: {}`) and isolate
/// the direction `ingress` (or egress): the namespace's default deny.
pub(crate) fn default_deny<'n, 'a>(
    net: &'n Network<'a>,
    namespace: &str,
    ingress: bool,
) -> Option<&'n Policy<'a>> {
    net.policies.iter().find(|p| {
        p.namespace == namespace
            && p.pod_selector.is_empty()
            && if ingress {
                p.isolates_ingress
            } else {
                p.isolates_egress
            }
    })
}

/// Reports each namespace without a default-deny policy for `ingress` (or egress): NET001 and
/// NET002 differ only in the direction and the words.
pub(crate) fn report_missing_default_deny(
    model: &super::Model<'_>,
    emit: &mut super::Emit,
    ingress: bool,
    consequence: &str,
) {
    let net = model.netpol();
    let direction = if ingress { "ingress" } else { "egress" };
    for ns in net.namespaces.values() {
        if default_deny(net, &ns.name, ingress).is_some() {
            continue;
        }
        if let Some((resource, path)) = anchor(net, ns) {
            emit.about(
                format!("namespace {}", ns.name),
                resource,
                &path,
                format!(
                    "namespace {} has no default-deny {direction} policy: {consequence}",
                    ns.name
                ),
            );
        }
    }
}

/// Where a namespace-level finding goes: the Namespace object, else the first workload of it.
pub(crate) fn anchor<'a>(net: &Network<'a>, ns: &Namespace<'a>) -> Option<(&'a Resource, String)> {
    ns.resource.map(|r| (r, "metadata".to_owned())).or_else(|| {
        net.workloads
            .iter()
            .find(|w| w.namespace == ns.name)
            .map(|w| (w.resource, "metadata.namespace".to_owned()))
    })
}
