//! `.sops.yaml`: found upwards from the working directory like sops does, creation rules
//! matched against the path relative to the config's directory, first match wins.

use crate::error::{err, Error, Result};
use crate::selector::{Selector, FIELDS};
use crate::stores::yaml_read;
use crate::tree::{Entry, Node, Scalar};
use regex::Regex;
use std::path::{Path, PathBuf};

/// A parsed `.sops.yaml`.
#[derive(Debug)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    dir: PathBuf,
    rules: Vec<CreationRule>,
    /// `stores.yaml.indent`.
    pub yaml_indent: Option<usize>,
    /// `stores.json.indent`.
    pub json_indent: Option<usize>,
}

/// One `creation_rules` entry.
#[derive(Debug, Clone)]
pub struct CreationRule {
    /// Its position in the file, for messages.
    pub index: usize,
    path_regex: Option<Regex>,
    /// Recipients per key group: age recipients, and PGP keys as `pgp:FINGERPRINT`.
    pub key_groups: Vec<Vec<String>>,
    /// Groups needed to recover the key.
    pub shamir_threshold: usize,
    /// The selector, if the rule sets one.
    pub selector: Option<Selector>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
    /// Keys of types tollgate cannot use (KMS, Vault) per key group, as identities comparable
    /// with a file's metadata (`kms:ARN`, ...; see [`other_identity`]).
    pub other_keys: Vec<Vec<String>>,
}

impl CreationRule {
    /// The key types this rule names that tollgate cannot encrypt for (`kms`, `gcp_kms`, ...).
    pub fn unsupported_key_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .other_keys
            .iter()
            .flatten()
            .filter_map(|k| k.split_once(':').map(|(t, _)| t))
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// An error naming the rule and the key types, when encrypting with it needs a key type
    /// tollgate does not have: the other rules of the same `.sops.yaml` still work.
    pub fn require_supported(&self) -> Result<()> {
        let types = self.unsupported_key_types();
        if types.is_empty() {
            return Ok(());
        }
        Err(err!(
            Generic,
            "creation_rules[{}] names {} keys; tollgate encrypts for age, SSH and PGP keys only",
            self.index,
            types.join(", ")
        )
        .with_hint("use Go sops for this rule's files, or give the rule age recipients"))
    }
}

/// The identity of a key of another type, as a creation rule names it and as the metadata
/// records it, so the two can be compared: `pgp:FINGERPRINT` (uppercase), `kms:ARN` (the
/// role after `+` left out), `gcp_kms:RESOURCE_ID`, `azure_kv:VAULT_URL/keys/NAME/VERSION`,
/// `hc_vault:ADDRESS/v1/ENGINE/keys/NAME`.
pub fn other_identity(kind: &str, id: &str) -> String {
    let id = id.trim();
    match kind {
        "pgp" => format!("pgp:{}", id.replace(' ', "").to_uppercase()),
        "kms" => format!("kms:{}", id.split('+').next().unwrap_or(id)),
        "gcp_kms" => format!("gcp_kms:{id}"),
        "azure_keyvault" | "azure_kv" => format!("azure_kv:{}", id.trim_end_matches('/')),
        "hc_vault_transit_uri" | "hc_vault" => format!("hc_vault:{}", id.trim_end_matches('/')),
        other => format!("{other}:{id}"),
    }
}

/// Looks for `.sops.yaml` from `start` upwards (at most 100 parents).
pub fn find(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    for _ in 0..=100 {
        let d = dir?;
        let candidate = d.join(".sops.yaml");
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

fn list_of_strings(node: &Node, what: &str) -> Result<Vec<String>> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()),
        Node::Scalar(Scalar::Null) => Ok(Vec::new()),
        Node::List(items) => items
            .iter()
            .filter(|i| !matches!(i, Node::Comment(_)))
            .map(|i| {
                i.as_str()
                    .map(|s| s.trim().to_owned())
                    .ok_or_else(|| err!(Generic, "`{what}` must list strings"))
            })
            .collect(),
        _ => Err(err!(Generic, "`{what}` must be a string or a list")),
    }
}

const UNSUPPORTED_KEYS: [&str; 6] = [
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hc_vault",
    "hckms",
];

/// The keys of another type an entry names (`pgp: "A, B"`, `kms: [{arn: ...}]` in a key group).
fn other_keys(kind: &str, v: &Node) -> Result<Vec<String>> {
    let ids = match v {
        // Key groups list KMS keys as mappings (`{arn: ..., role: ...}`).
        Node::List(items) if items.iter().any(|i| matches!(i, Node::Map(_))) => items
            .iter()
            .filter_map(|i| {
                ["arn", "resource_id", "vaultUrl", "vault_address", "fp"]
                    .iter()
                    .find_map(|f| i.get(f).and_then(Node::as_str))
                    .map(str::to_owned)
            })
            .collect(),
        _ => list_of_strings(v, kind)?,
    };
    Ok(ids.iter().map(|id| other_identity(kind, id)).collect())
}

fn group_recipients(node: &Node, depth: usize) -> Result<(Vec<String>, Vec<String>)> {
    if depth > 16 {
        return Err(err!(Generic, "`merge` nests too deeply"));
    }
    let Node::Map(entries) = node else {
        return Err(err!(Generic, "a key group must be a mapping"));
    };
    let (mut out, mut other) = (Vec::new(), Vec::new());
    for e in entries {
        let Entry::Pair(k, v) = e else { continue };
        match k.as_str() {
            "age" => out.extend(list_of_strings(v, "age")?),
            "merge" => {
                if let Node::List(items) = v {
                    for g in items.iter().filter(|i| !matches!(i, Node::Comment(_))) {
                        let (age, more) = group_recipients(g, depth.saturating_add(1))?;
                        out.extend(age);
                        other.extend(more);
                    }
                }
            }
            // PGP keys join the group's recipients as `pgp:FINGERPRINT`.
            "pgp" => out.extend(other_keys(k, v)?),
            k if UNSUPPORTED_KEYS.contains(&k) => other.extend(other_keys(k, v)?),
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(r.clone()));
    other.retain(|r| seen.insert(r.clone()));
    Ok((out, other))
}

fn rule(index: usize, node: &Node) -> Result<CreationRule> {
    let Node::Map(entries) = node else {
        return Err(err!(Generic, "a creation rule must be a mapping"));
    };
    let mut r = CreationRule {
        index,
        path_regex: None,
        key_groups: Vec::new(),
        shamir_threshold: 0,
        selector: None,
        mac_only_encrypted: false,
        other_keys: Vec::new(),
    };
    let mut flat_age = Vec::new();
    let mut flat_other = Vec::new();
    let mut flat_pgp = Vec::new();
    let mut selectors = Vec::new();
    for e in entries {
        let Entry::Pair(k, v) = e else { continue };
        let s = || v.as_str().map(str::to_owned).unwrap_or_default();
        match k.as_str() {
            "path_regex" => {
                let p = s();
                if !p.is_empty() {
                    r.path_regex = Some(
                        Regex::new(&p)
                            .map_err(|e| err!(Generic, "invalid path_regex `{p}`: {e}"))?,
                    );
                }
            }
            "age" => flat_age = list_of_strings(v, "age")?,
            "key_groups" => {
                if let Node::List(items) = v {
                    for g in items.iter().filter(|i| !matches!(i, Node::Comment(_))) {
                        let (age, other) = group_recipients(g, 0)?;
                        r.key_groups.push(age);
                        r.other_keys.push(other);
                    }
                }
            }
            "shamir_threshold" => {
                r.shamir_threshold = match v {
                    Node::Scalar(Scalar::Int(i)) => usize::try_from(*i).unwrap_or(0),
                    _ => s()
                        .parse()
                        .map_err(|_| err!(Generic, "shamir_threshold must be a number"))?,
                }
            }
            "mac_only_encrypted" => {
                r.mac_only_encrypted = matches!(v, Node::Scalar(Scalar::Bool(true)))
            }
            k if FIELDS.contains(&k) => selectors.push((k.to_owned(), s())),
            "pgp" => flat_pgp = other_keys(k, v)?,
            k if UNSUPPORTED_KEYS.contains(&k) => flat_other.extend(other_keys(k, v)?),
            _ => {}
        }
    }
    if r.key_groups.is_empty() {
        flat_age.extend(flat_pgp);
        r.key_groups.push(flat_age);
        r.other_keys.push(flat_other);
    }
    r.selector = Selector::from_fields(selectors.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(r)
}

fn indent_of(root: &Node, store: &str) -> Option<usize> {
    match root.get("stores")?.get(store)?.get("indent")? {
        Node::Scalar(Scalar::Int(i)) => usize::try_from(*i).ok(),
        _ => None,
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let ctx = |e: Error| e.context(path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ctx(err!(ErrorReadingConfig, "cannot read the config: {e}")))?;
        let docs = yaml_read::read(&text)
            .map_err(|e| ctx(Error::new(crate::error::ErrorKind::Generic, e.message())))?;
        let root = docs.into_iter().next().unwrap_or(Node::Map(Vec::new()));
        let mut rules = Vec::new();
        if let Some(Node::List(items)) = root.get("creation_rules") {
            for (i, item) in items
                .iter()
                .filter(|i| !matches!(i, Node::Comment(_)))
                .enumerate()
            {
                rules.push(
                    rule(i, item).map_err(|e| ctx(e.context(format!("creation_rules[{i}]"))))?,
                );
            }
        }
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Config {
            path: path.to_path_buf(),
            dir,
            rules,
            yaml_indent: indent_of(&root, "yaml"),
            json_indent: indent_of(&root, "json"),
        })
    }

    /// The path sops matches `path_regex` against: relative to the config's directory.
    pub fn relative(&self, file: &Path) -> String {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let s = abs.to_string_lossy().into_owned();
        let prefix = format!("{}{}", self.dir.display(), std::path::MAIN_SEPARATOR);
        s.strip_prefix(&prefix).map_or(s.clone(), str::to_owned)
    }

    /// The `path_regex` of a rule, when it has one (a rule without one matches every file:
    /// it says how to encrypt, not which files must be).
    pub fn path_regex_of(rule: &CreationRule) -> Option<&str> {
        rule.path_regex.as_ref().map(Regex::as_str)
    }

    /// The first rule matching `file`, if any.
    pub fn rule_for(&self, file: &Path) -> Option<&CreationRule> {
        let rel = self.relative(file);
        self.rules
            .iter()
            .find(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(&rel)))
    }

    /// The rule for `file`, or sops's "no matching creation rules" error.
    pub fn require_rule(&self, file: &Path) -> Result<&CreationRule> {
        self.rule_for(file).ok_or_else(|| {
            err!(
                Generic,
                "no matching creation rules found for {}",
                self.relative(file)
            )
            .with_hint(format!(
                "add a creation rule to {} or pass --age",
                self.path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_naming_other_key_types_load_and_are_refused_for_encryption_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".sops.yaml");
        std::fs::write(
            &path,
            "creation_rules:\n  - path_regex: ^legacy/\n    pgp: 'ab cd, EF01'\n    kms: arn:aws:kms:eu-west-1:1:key/k+arn:aws:iam::1:role/r\n  - key_groups:\n      - age: [a1]\n        hc_vault: [https://vault:8200/v1/transit/keys/k/]\n  - age: a2\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        let legacy = c.rule_for(&dir.path().join("legacy/x.yaml")).unwrap();
        // PGP fingerprints join the recipients, without spaces and uppercase; a KMS key is
        // kept without its role, and is what makes the rule unusable for encryption.
        assert_eq!(legacy.key_groups, vec![vec!["pgp:ABCD", "pgp:EF01"]]);
        assert_eq!(
            legacy.other_keys,
            vec![vec!["kms:arn:aws:kms:eu-west-1:1:key/k"]]
        );
        assert_eq!(legacy.unsupported_key_types(), ["kms"]);
        let e = legacy.require_supported().unwrap_err().to_string();
        assert!(e.contains("creation_rules[0]") && e.contains("kms"), "{e}");
        let c2 = &c.rules[1];
        assert_eq!(
            c2.other_keys,
            vec![vec!["hc_vault:https://vault:8200/v1/transit/keys/k"]]
        );
        assert!(c.rules[2].require_supported().is_ok());
    }

    #[test]
    fn rules_groups_merge_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".sops.yaml");
        std::fs::write(
            &path,
            "creation_rules:\n  - path_regex: ^k8s/prod/.*\\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age: [a1, a2]\n      - merge:\n          - age: [b1]\n          - age: [b1, b2]\n  - path_regex: ''\n    age: 'c1, c2,'\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        let prod = c.rule_for(&dir.path().join("k8s/prod/db.yaml")).unwrap();
        assert_eq!(prod.key_groups, vec![vec!["a1", "a2"], vec!["b1", "b2"]]);
        assert_eq!(prod.shamir_threshold, 2);
        let other = c
            .rule_for(&dir.path().join("prod/k8s/prod/x.yaml"))
            .unwrap();
        assert_eq!(
            other.key_groups,
            vec![vec!["c1", "c2"]],
            "the regex is anchored at the config directory"
        );
        // A PGP-only rule is a rule like any other now.
        std::fs::write(&path, "creation_rules:\n  - pgp: ABC\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert!(c.rules[0].require_supported().is_ok());
        assert_eq!(c.rules[0].key_groups, vec![vec!["pgp:ABC"]]);
    }
}
