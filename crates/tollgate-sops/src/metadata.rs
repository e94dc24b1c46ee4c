//! The `sops` metadata block: a typed model of what we use, with every other field kept as it
//! was so a round trip never drops another tool's keys.

use crate::error::{err, Result};
use crate::selector::{Selector, FIELDS};
use crate::stores::{flatten, unflatten, Format};
use crate::time::parse_rfc3339;
use crate::tree::{Entry, Node, Scalar};

/// The sops version whose format we write.
pub const SOPS_VERSION: &str = "3.11.0";

/// Key types sops knows besides age and PGP; kept verbatim, never used by us.
const OTHER_KEY_TYPES: [&str; 5] = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault"];

/// One age recipient and the data key (or Shamir share) wrapped for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeEntry {
    /// The recipient as given (`age1…` or `ssh-ed25519 AAAA…`).
    pub recipient: String,
    /// The ASCII-armored age file.
    pub enc: String,
}

/// One PGP key and the data key (or Shamir share) encrypted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgpEntry {
    /// The fingerprint as written (sops accepts a full fingerprint or a long key id).
    pub fp: String,
    /// When the entry was written (RFC 3339).
    pub created_at: String,
    /// The ASCII-armored PGP message.
    pub enc: String,
}

/// A key group: every key in it wraps the same data key or share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyGroup {
    /// age recipients.
    pub age: Vec<AgeEntry>,
    /// PGP keys.
    pub pgp: Vec<PgpEntry>,
    /// Other key types (kms, gcp_kms, …) as they were in the file.
    pub other: Vec<(String, Node)>,
}

impl KeyGroup {
    /// The identities of the group's other key types (`kms:ARN`, `gcp_kms:ID`, ...), as
    /// [`crate::config::other_identity`] forms them from a creation rule.
    pub fn other_identities(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, node) in &self.other {
            let Node::List(items) = node else { continue };
            out.extend(
                items
                    .iter()
                    .filter_map(|item| other_identity_of(kind, item)),
            );
        }
        out
    }

    /// Removes the other-type keys whose identity is in `ids`; returns how many went.
    pub fn remove_others(&mut self, ids: &[String]) -> usize {
        let mut removed = 0usize;
        for (kind, node) in &mut self.other {
            let Node::List(items) = node else { continue };
            let before = items.len();
            items.retain(|item| other_identity_of(kind, item).is_none_or(|id| !ids.contains(&id)));
            removed = removed.saturating_add(before.saturating_sub(items.len()));
        }
        removed
    }

    /// Whether any key of any type holds the data key in this group.
    pub fn has_keys(&self) -> bool {
        !self.age.is_empty() || !self.pgp.is_empty() || self.has_other_keys()
    }

    /// Whether keys of a type tollgate cannot wrap (KMS, Vault) are in this group.
    pub fn has_other_keys(&self) -> bool {
        self.other.iter().any(|(_, v)| non_empty(v))
    }
}

/// The identity of one entry of an other-type key list, as [`KeyGroup::other_identities`]
/// lists it (`None` for a type tollgate does not know).
fn other_identity_of(kind: &str, item: &Node) -> Option<String> {
    let field = |k: &str| item.get(k).and_then(Node::as_str).unwrap_or("");
    let id = match kind {
        "kms" => field("arn").to_owned(),
        "gcp_kms" => field("resource_id").to_owned(),
        "azure_kv" => format!(
            "{}/keys/{}/{}",
            field("vaultUrl"),
            field("name"),
            field("version")
        ),
        "hc_vault" => format!(
            "{}/v1/{}/keys/{}",
            field("vault_address"),
            field("engine_path"),
            field("key_name")
        ),
        _ => return None,
    };
    Some(crate::config::other_identity(kind, &id))
}

/// The sops metadata of a file.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Key groups; one group unless Shamir is used.
    pub key_groups: Vec<KeyGroup>,
    /// Groups needed to recover the key (0: all of them).
    pub shamir_threshold: usize,
    /// `lastmodified` as written.
    pub lastmodified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// The partial-encryption selector.
    pub selector: Selector,
    /// Whether the selector was written in the file (sops writes the default explicitly).
    pub selector_written: bool,
    /// Hash only encrypted values.
    pub mac_only_encrypted: bool,
    /// `version` as written.
    pub version: String,
    /// Fields we do not model, in file order.
    pub unknown: Vec<(String, Node)>,
}

fn text(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Some(s.clone()),
        Node::Scalar(Scalar::Time(t)) => Some(t.rfc3339()),
        Node::Scalar(Scalar::Int(i)) => Some(i.to_string()),
        Node::Scalar(Scalar::Float(f)) => Some(crate::tree::go_format_f(*f)),
        Node::Scalar(Scalar::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// The entries of one key type's list (`sops.age`, `sops.pgp`): each must have its identity
/// field `id` and `enc`; `make` builds the entry from the trimmed identity, `enc` and the item.
fn key_entries<T>(
    node: &Node,
    kind: &str,
    id: &str,
    make: impl Fn(String, String, &Node) -> T,
) -> Result<Vec<T>> {
    let Node::List(items) = node else {
        return Err(err!(Generic, "`sops.{kind}` must be a list"));
    };
    items
        .iter()
        .filter(|i| !matches!(i, Node::Comment(_)))
        .map(|item| {
            let ident = item.get(id).and_then(text).unwrap_or_default();
            let enc = item.get("enc").and_then(text).unwrap_or_default();
            if ident.is_empty() || enc.is_empty() {
                return Err(err!(
                    Generic,
                    "{} {kind} entry of the metadata lacks `{id}` or `enc`",
                    if kind == "age" { "an" } else { "a" }
                ));
            }
            Ok(make(ident.trim().to_owned(), enc, item))
        })
        .collect()
}

fn age_list(node: &Node) -> Result<Vec<AgeEntry>> {
    key_entries(node, "age", "recipient", |recipient, enc, _| AgeEntry {
        recipient,
        enc,
    })
}

fn pgp_list(node: &Node) -> Result<Vec<PgpEntry>> {
    key_entries(node, "pgp", "fp", |fp, enc, item| PgpEntry {
        fp,
        created_at: item.get("created_at").and_then(text).unwrap_or_default(),
        enc,
    })
}

fn group_from(node: &Node) -> Result<KeyGroup> {
    let mut g = KeyGroup::default();
    if let Node::Map(entries) = node {
        for e in entries {
            if let Entry::Pair(k, v) = e {
                if k == "age" {
                    g.age = age_list(v)?;
                } else if k == "pgp" {
                    g.pgp = pgp_list(v)?;
                } else {
                    g.other.push((k.clone(), v.clone()));
                }
            }
        }
    }
    Ok(g)
}

fn non_empty(node: &Node) -> bool {
    matches!(node, Node::List(items) if !items.is_empty())
}

impl Metadata {
    /// Metadata for a new file.
    pub fn new(
        key_groups: Vec<KeyGroup>,
        shamir_threshold: usize,
        selector: Selector,
        mac_only_encrypted: bool,
    ) -> Self {
        Metadata {
            key_groups,
            shamir_threshold,
            lastmodified: String::new(),
            mac: String::new(),
            selector,
            selector_written: true,
            mac_only_encrypted,
            version: SOPS_VERSION.into(),
            unknown: Vec::new(),
        }
    }

    /// Reads the `sops` mapping.
    pub fn from_node(node: &Node) -> Result<Self> {
        let Node::Map(entries) = node else {
            return Err(err!(Generic, "the `sops` metadata is not a mapping"));
        };
        let mut top_group = KeyGroup::default();
        let mut groups = Vec::new();
        let mut unknown = Vec::new();
        let mut selector_fields: Vec<(String, String)> = Vec::new();
        let (mut lastmodified, mut mac, mut version) = (None, String::new(), String::new());
        let mut threshold = 0usize;
        let mut mac_only = false;
        for e in entries {
            let Entry::Pair(k, v) = e else { continue };
            match k.as_str() {
                "age" => top_group.age = age_list(v)?,
                "pgp" => top_group.pgp = pgp_list(v)?,
                k if OTHER_KEY_TYPES.contains(&k) => {
                    top_group.other.push((k.to_owned(), v.clone()))
                }
                "key_groups" => {
                    if let Node::List(items) = v {
                        for item in items.iter().filter(|i| !matches!(i, Node::Comment(_))) {
                            groups.push(group_from(item)?);
                        }
                    }
                }
                "shamir_threshold" => {
                    threshold = text(v)
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| err!(Generic, "`sops.shamir_threshold` is not a number"))?;
                }
                "lastmodified" => lastmodified = text(v),
                "mac" => mac = text(v).unwrap_or_default(),
                "version" => version = text(v).unwrap_or_default(),
                "mac_only_encrypted" => {
                    mac_only = matches!(v, Node::Scalar(Scalar::Bool(true)))
                        || text(v).as_deref() == Some("true");
                }
                k if FIELDS.contains(&k) => {
                    selector_fields.push((k.to_owned(), text(v).unwrap_or_default()))
                }
                _ => unknown.push((k.clone(), v.clone())),
            }
        }
        let has_top_keys = top_group.has_keys();
        let key_groups = if has_top_keys || groups.is_empty() {
            vec![top_group]
        } else {
            groups
        };
        let lastmodified =
            lastmodified.ok_or_else(|| err!(Generic, "the metadata has no `lastmodified`"))?;
        if version.is_empty() {
            return Err(err!(Generic, "Version string empty")
                .with_hint("sops refuses files whose metadata has no `version`"));
        }
        let selector = Selector::from_fields(
            selector_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        Ok(Metadata {
            key_groups,
            shamir_threshold: threshold,
            lastmodified,
            mac,
            selector_written: selector.is_some(),
            selector: selector.unwrap_or_default(),
            mac_only_encrypted: mac_only,
            version,
            unknown,
        })
    }

    /// `lastmodified` in the canonical form used as the MAC's AAD (Go parses and re-formats it).
    pub fn canonical_lastmodified(&self) -> Result<String> {
        parse_rfc3339(&self.lastmodified)
            .map(|t| t.rfc3339())
            .ok_or_else(|| {
                err!(
                    Generic,
                    "`sops.lastmodified` is not an RFC 3339 time: `{}`",
                    self.lastmodified
                )
            })
    }

    /// Every age recipient of every group.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.key_groups
            .iter()
            .flat_map(|g| g.age.iter().map(|a| a.recipient.as_str()))
    }

    /// The `sops` mapping in sops's field order.
    pub fn to_node(&self, format: Format) -> Node {
        let mut e = Vec::new();
        let pair = |k: &str, v: Node| Entry::Pair(k.into(), v);
        // sops writes a threshold it was given even for a single group.
        if self.shamir_threshold > 0 {
            e.push(pair(
                "shamir_threshold",
                Node::Scalar(Scalar::Int(
                    i64::try_from(self.shamir_threshold).unwrap_or(0),
                )),
            ));
        }
        if self.key_groups.len() > 1 {
            let groups = self.key_groups.iter().map(group_node).collect();
            e.push(pair("key_groups", Node::List(groups)));
        } else if let Some(g) = self.key_groups.first() {
            for t in ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault"] {
                if let Some((_, v)) = g.other.iter().find(|(k, v)| k == t && non_empty(v)) {
                    e.push(pair(t, v.clone()));
                }
            }
            if !g.age.is_empty() {
                e.push(pair("age", age_node(&g.age)));
            }
        }
        e.push(pair("lastmodified", Node::str(self.lastmodified.clone())));
        e.push(pair("mac", Node::str(self.mac.clone())));
        if let [only] = self.key_groups.as_slice() {
            if !only.pgp.is_empty() {
                e.push(pair("pgp", pgp_node(&only.pgp)));
            }
        }
        // sops does not write a selector for binary files.
        if self.selector_written && format != Format::Binary {
            let (k, v) = self.selector.field();
            e.push(pair(k, Node::str(v)));
        }
        if self.mac_only_encrypted {
            e.push(pair("mac_only_encrypted", Node::Scalar(Scalar::Bool(true))));
        }
        e.push(pair("version", Node::str(self.version.clone())));
        for (k, v) in &self.unknown {
            e.push(pair(k, v.clone()));
        }
        Node::Map(e)
    }
}

fn age_node(age: &[AgeEntry]) -> Node {
    Node::List(
        age.iter()
            .map(|a| {
                Node::Map(vec![
                    Entry::Pair("recipient".into(), Node::str(a.recipient.clone())),
                    Entry::Pair("enc".into(), Node::str(a.enc.clone())),
                ])
            })
            .collect(),
    )
}

fn pgp_node(pgp: &[PgpEntry]) -> Node {
    Node::List(
        pgp.iter()
            .map(|p| {
                Node::Map(vec![
                    Entry::Pair("created_at".into(), Node::str(p.created_at.clone())),
                    Entry::Pair("enc".into(), Node::str(p.enc.clone())),
                    Entry::Pair("fp".into(), Node::str(p.fp.clone())),
                ])
            })
            .collect(),
    )
}

fn group_node(g: &KeyGroup) -> Node {
    let mut e = Vec::new();
    if !g.pgp.is_empty() {
        e.push(Entry::Pair("pgp".into(), pgp_node(&g.pgp)));
    }
    for t in ["kms", "gcp_kms", "hckms", "azure_kv"] {
        if let Some((_, v)) = g.other.iter().find(|(k, v)| k == t && non_empty(v)) {
            e.push(Entry::Pair(t.into(), v.clone()));
        }
    }
    let vault = g
        .other
        .iter()
        .find(|(k, _)| k == "hc_vault")
        .map_or(Node::List(Vec::new()), |(_, v)| v.clone());
    e.push(Entry::Pair("hc_vault".into(), vault));
    e.push(Entry::Pair("age".into(), age_node(&g.age)));
    Node::Map(e)
}

/// Takes the metadata out of freshly read documents (`None` when the file is not encrypted).
pub fn extract(format: Format, docs: &mut [Node]) -> Result<Option<Metadata>> {
    let node = match format {
        Format::Dotenv => {
            let Some(Node::Map(entries)) = docs.first_mut() else {
                return Ok(None);
            };
            let mut pairs = Vec::new();
            entries.retain(|e| match e {
                Entry::Pair(k, v) if k.starts_with("sops_") => {
                    pairs.push((k["sops_".len()..].to_owned(), text(v).unwrap_or_default()));
                    false
                }
                _ => true,
            });
            if pairs.is_empty() {
                return Ok(None);
            }
            unflatten(&pairs)
        }
        Format::Ini => {
            let Some(Node::Map(entries)) = docs.first_mut() else {
                return Ok(None);
            };
            let Some(pos) = entries
                .iter()
                .position(|e| matches!(e, Entry::Pair(k, _) if k == "sops"))
            else {
                return Ok(None);
            };
            let Entry::Pair(_, Node::Map(section)) = entries.remove(pos) else {
                return Ok(None);
            };
            let pairs: Vec<_> = section
                .iter()
                .filter_map(|e| {
                    if let Entry::Pair(k, v) = e {
                        Some((k.clone(), text(v).unwrap_or_default()))
                    } else {
                        None
                    }
                })
                .collect();
            unflatten(&pairs)
        }
        _ => {
            let mut found = None;
            for (i, doc) in docs.iter_mut().enumerate() {
                if let Node::Map(entries) = doc {
                    if let Some(pos) = entries
                        .iter()
                        .position(|e| matches!(e, Entry::Pair(k, _) if k == "sops"))
                    {
                        if let Entry::Pair(_, v) = entries.remove(pos) {
                            // sops reads the metadata of the first document and strips it from all.
                            if i == 0 {
                                found = Some(v);
                            }
                        }
                    }
                }
            }
            match found {
                Some(v) => v,
                None => return Ok(None),
            }
        }
    };
    Metadata::from_node(&node).map(Some)
}

/// Appends the metadata to documents about to be written.
pub fn attach(format: Format, docs: &mut [Node], meta: &Metadata) {
    let node = meta.to_node(format);
    match format {
        Format::Dotenv => {
            if let Some(Node::Map(entries)) = docs.first_mut() {
                for (k, v) in flatten(&node) {
                    entries.push(Entry::Pair(format!("sops_{k}"), Node::str(v)));
                }
            }
        }
        Format::Ini => {
            if let Some(Node::Map(entries)) = docs.first_mut() {
                // sops escapes line breaks in INI metadata itself (`\\n`), on top of what
                // the store does with values; 3.13.0-3.13.1 did not, and wrote `"""…"""`.
                let section = flatten(&node)
                    .into_iter()
                    .map(|(k, v)| Entry::Pair(k, Node::str(v.replace('\n', "\\n"))))
                    .collect();
                entries.push(Entry::Pair("sops".into(), Node::Map(section)));
            }
        }
        _ => {
            for doc in docs.iter_mut() {
                if let Node::Map(entries) = doc {
                    entries.push(Entry::Pair("sops".into(), node.clone()));
                }
            }
        }
    }
}

/// Whether a document already carries sops metadata.
pub fn has_metadata(format: Format, docs: &[Node]) -> bool {
    docs.iter().any(|d| match d {
        Node::Map(entries) => entries.iter().any(|e| match e {
            Entry::Pair(k, _) => match format {
                Format::Dotenv => k.starts_with("sops_"),
                _ => k == "sops",
            },
            Entry::Comment(_) => false,
        }),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::yaml_read;

    #[test]
    fn unknown_fields_survive_and_version_is_required() {
        let src = "sops:\n    age:\n        - recipient: age1x\n          enc: e\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: m\n    future_field:\n        a: 1\n    version: 3.11.0\n";
        let mut docs = yaml_read::read(src).unwrap();
        let meta = extract(Format::Yaml, &mut docs).unwrap().unwrap();
        assert_eq!(meta.unknown.len(), 1);
        assert!(!meta.selector_written, "no selector in the file");
        let node = meta.to_node(Format::Yaml);
        assert!(node.get("future_field").is_some());
        assert_eq!(node.get("version").and_then(Node::as_str), Some("3.11.0"));
        let mut no_version = yaml_read::read(&src.replace("    version: 3.11.0\n", "")).unwrap();
        assert_eq!(
            extract(Format::Yaml, &mut no_version)
                .unwrap_err()
                .message(),
            "Version string empty"
        );
    }
}
