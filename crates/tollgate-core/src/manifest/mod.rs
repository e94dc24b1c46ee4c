//! Loads Kubernetes manifests from files, directories and stdin into resources that know the
//! file, document, and line and column of each field, so every finding can point at its source.
// Reads manifests and policies from repositories: no indexing or unchecked arithmetic,
// unless a submodule says why its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod convert;
mod scan;
mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tollgate_yaml::read::{read_documents, read_documents_each, Document, Schema};
use tollgate_yaml::tree::{Entry, Node};

pub use scan::{scan, ScanError, ScanOptions};
pub use walk::{expand, files_below, Input};

/// A YAML tree as JSON (comments dropped), as policies see it.
pub fn node_to_json(node: &Node) -> serde_json::Value {
    convert::to_json(node)
}

/// The documents of a YAML (or JSON) text as JSON values, typed with the Kubernetes schema.
pub fn json_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let docs = read_documents(text, Schema::Kubernetes).map_err(|e| e.message().to_owned())?;
    Ok(docs.iter().map(|d| node_to_json(&d.root)).collect())
}

/// Files larger than this are refused: a manifest that big is a mistake or an attack.
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// Where each field of one document is: field path (`spec.containers[0].image`) to line and
/// column (1-based).
#[derive(Debug, Default)]
pub struct FieldPositions(HashMap<String, (u32, u32)>);

impl FieldPositions {
    /// The position of a field path, if the document has it.
    pub fn get(&self, path: &str) -> Option<(u32, u32)> {
        self.0.get(path).copied()
    }
}

/// Where a resource came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file as given on the command line or found in a directory (`-` for stdin).
    pub file: Arc<str>,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// Line and column where the resource starts (1-based).
    pub line: u32,
    /// Column where the resource starts (1-based).
    pub column: u32,
    positions: Arc<FieldPositions>,
    /// For an item of a `List`: its path in the document (`items[2]`).
    prefix: String,
    /// The render root whose output this resource is (`apps/staging`), when it was rendered;
    /// `file` and the positions are then those of its source.
    pub rendered_from: Option<Arc<str>>,
}

impl Origin {
    /// Line and column of a field of this resource (`spec.template.spec.containers[0].image`).
    pub fn position_of(&self, field_path: &str) -> Option<(u32, u32)> {
        let canonical = canonical_path(field_path);
        let field_path = canonical.as_str();
        if self.prefix.is_empty() {
            return self.positions.get(field_path);
        }
        let joined = if field_path.starts_with('[') || field_path.is_empty() {
            format!("{}{field_path}", self.prefix)
        } else {
            format!("{}.{field_path}", self.prefix)
        };
        self.positions.get(&joined)
    }
}

impl Origin {
    /// The origin of a rendered resource: this (the source document's origin) with only the
    /// positions of fields whose value came through rendering unchanged, so a finding on a
    /// field an overlay changed points at the document, not at a line that says otherwise.
    pub(crate) fn rendered(
        &self,
        source: &serde_json::Value,
        rendered: &serde_json::Value,
        root: &Arc<str>,
    ) -> Origin {
        let strip = |p: &str| -> Option<String> {
            if self.prefix.is_empty() {
                return Some(p.to_owned());
            }
            let rest = p.strip_prefix(self.prefix.as_str())?;
            Some(rest.strip_prefix('.').unwrap_or(rest).to_owned())
        };
        let kept: HashMap<String, (u32, u32)> = self
            .positions
            .0
            .iter()
            .filter_map(|(path, pos)| {
                let own = strip(path)?;
                let same = value_at(source, &own)
                    .zip(value_at(rendered, &own))
                    .is_some_and(|(a, b)| a == b);
                same.then_some((own, *pos))
            })
            .collect();
        Origin {
            file: self.file.clone(),
            document: self.document,
            line: self.line,
            column: self.column,
            positions: Arc::new(FieldPositions(kept)),
            prefix: String::new(),
            rendered_from: Some(root.clone()),
        }
    }

    /// The origin of a rendered resource whose source is not known: the root's own file.
    pub(crate) fn of_root(file: &str, root: &Arc<str>) -> Origin {
        Origin {
            file: Arc::from(file),
            document: 0,
            line: 1,
            column: 1,
            positions: Arc::new(FieldPositions::default()),
            prefix: String::new(),
            rendered_from: Some(root.clone()),
        }
    }
}

/// The value at a field path in the loader's form (`spec.containers[0].image`,
/// `metadata.labels["app.kubernetes.io/name"]`).
pub fn value_at<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            rest = after;
            continue;
        }
        if let Some(quoted) = rest.strip_prefix('[').filter(|q| q.starts_with('"')) {
            // A JSON string up to the `"]` that closes it.
            let mut de = serde_json::Deserializer::from_str(quoted).into_iter::<String>();
            let key = de.next()?.ok()?;
            let used = de.byte_offset();
            cur = cur.get(key.as_str())?;
            rest = quoted.get(used..)?.strip_prefix(']')?;
        } else if let Some(index) = rest.strip_prefix('[') {
            let (n, after) = index.split_once(']')?;
            cur = cur.get(n.parse::<usize>().ok()?)?;
            rest = after;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (key, after) = rest.split_at(end);
            cur = cur.get(key)?;
            rest = after;
        }
    }
    Some(cur)
}

/// Rewrites a field path in the loader's form: `a.b`, `[0]`, and `["x.y"]` only for keys that
/// are not plain identifiers, so `data["password"]` and `data.password` name the same field.
pub fn canonical_path(path: &str) -> String {
    use tollgate_yaml::read::push_key;
    // Paths come from policies (conftest `field`, Kyverno paths), so any text must work: the
    // walk moves by whole characters and a malformed part is kept as a plain key.
    let mut out = String::new();
    let mut rest = path;
    while let Some(c) = rest.chars().next() {
        if c == '.' {
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else if let Some(quoted) = rest.strip_prefix("[\"") {
            // A JSON string key: find its closing quote, honouring escapes.
            let mut end = None;
            let mut escaped = false;
            for (i, ch) in quoted.char_indices() {
                match ch {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                push_key(&mut out, quoted);
                break;
            };
            // The JSON string literal: from the opening quote (after `[`) to the closing one.
            let (body, after) = quoted.split_at(end);
            let key: String = serde_json::from_str(&format!("\"{body}\"")).unwrap_or_default();
            push_key(&mut out, &key);
            let after = after.strip_prefix('"').unwrap_or(after);
            rest = after.strip_prefix(']').unwrap_or(after);
        } else if c == '[' {
            let (index, after) = match rest.split_once(']') {
                Some((index, after)) => (index, after),
                None => (rest, ""),
            };
            out.push_str(index);
            if rest.len() > index.len() {
                out.push(']');
            }
            rest = after;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (key, after) = rest.split_at(end);
            push_key(&mut out, key);
            rest = after;
        }
    }
    out
}

/// One Kubernetes object. Its `Debug` names it and where it came from, never its contents
/// (a Secret's values, a SOPS block).
#[derive(Clone)]
pub struct Resource {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, if set.
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName`), if set.
    pub name: Option<String>,
    /// The object as JSON, without SOPS metadata.
    pub object: serde_json::Value,
    /// Where it came from.
    pub origin: Origin,
    /// The document's `sops` block, when it was SOPS-encrypted (its `ENC[...]` values stay
    /// opaque strings in `object`). Kept apart: the cluster receives the object without it
    /// (Kyverno and the built-in rules judge that), conftest policies see it (Rego does).
    pub sops: Option<Arc<serde_json::Value>>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("file", &&*self.origin.file)
            .field("line", &self.origin.line)
            .finish_non_exhaustive()
    }
}

/// A file that could not be loaded; the other files still are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: String,
    /// What went wrong, with the line when known.
    pub message: String,
}

/// Why documents were not checked as resources the cluster receives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// No `apiVersion`/`kind`: not a Kubernetes object.
    NotAnObject,
    /// kustomize's own `Kustomization` or `Component`, or a file it reads as configuration
    /// (transformers, replacements, generator inputs).
    KustomizeConfig,
    /// A patch a kustomization applies (the file named).
    Patch(String),
    /// Matched by a `.sourceignore` (the file named): Flux never reads it.
    SourceIgnore(String),
    /// Matched by an `exclude` glob of tollgate.yaml.
    Excluded,
    /// tollgate's own `tollgate.yaml`: configuration, not an input.
    TollgateConfig,
    /// A `kyverno-test.yaml` suite or a resource file it tests.
    KyvernoTest,
    /// Checked through the rendered output of a root (named), not as it is.
    Rendered(String),
}

impl SkipReason {
    /// The short category the summary counts by.
    pub fn category(&self) -> &'static str {
        match self {
            SkipReason::NotAnObject => "not a Kubernetes object",
            SkipReason::KustomizeConfig => "kustomize configuration",
            SkipReason::Patch(_) => "patch",
            SkipReason::SourceIgnore(_) => ".sourceignore",
            SkipReason::Excluded => "excluded",
            SkipReason::TollgateConfig => "tollgate configuration",
            SkipReason::KyvernoTest => "kyverno test",
            SkipReason::Rendered(_) => "rendered",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Patch(by) => write!(f, "patch applied by {by}"),
            SkipReason::SourceIgnore(by) => write!(f, "ignored by {by}"),
            SkipReason::Rendered(root) => write!(f, "checked as rendered from {root}"),
            SkipReason::Excluded => f.write_str("excluded in tollgate.yaml"),
            other => f.write_str(other.category()),
        }
    }
}

/// Documents of a file that were not checked as they are, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// The file.
    pub file: String,
    /// How many documents of it (at least 1 for a skipped file).
    pub documents: usize,
    /// Why.
    pub reason: SkipReason,
}

/// Everything loaded from the inputs, in input order.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Kubernetes objects (and, after [`Inventory::include_documents`], the other documents).
    pub resources: Vec<Resource>,
    /// Documents that are not Kubernetes objects (no `apiVersion`/`kind`: compose files,
    /// Terraform plans, plain data), counted in `skipped` until included.
    pub documents: Vec<Resource>,
    /// What was not checked as a resource, and why, sorted by file.
    pub skipped: Vec<Skipped>,
    /// Files that could not be read or parsed.
    pub errors: Vec<LoadError>,
    /// Files read.
    pub files: usize,
    /// Render roots whose output was checked (`--render`), by label.
    pub roots: Vec<String>,
    /// What the run should tell the user without failing: a HelmRelease not rendered, a
    /// substitution variable with no value.
    pub notes: Vec<String>,
}

/// Resources of one file, and the documents of it that could not be read.
pub(crate) struct FileResult {
    pub(crate) resources: Vec<Resource>,
    /// Its documents that are not Kubernetes objects.
    pub(crate) documents: Vec<Resource>,
    /// Documents that are not objects.
    skipped: usize,
    /// kustomize `Kustomization`/`Component` documents.
    kustomize: usize,
    /// Kyverno CLI `Test` documents.
    kyverno_tests: usize,
    /// Broken documents (`document 2: invalid YAML at line 9 ...`); the others still count.
    pub(crate) errors: Vec<String>,
}

impl FileResult {
    /// What of this file was skipped, as entries of the inventory's list.
    pub(crate) fn skipped(&self, file: &str) -> impl Iterator<Item = Skipped> + '_ {
        let file = file.to_owned();
        [
            (self.skipped, SkipReason::NotAnObject),
            (self.kustomize, SkipReason::KustomizeConfig),
            (self.kyverno_tests, SkipReason::KyvernoTest),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(move |(documents, reason)| Skipped {
            file: file.clone(),
            documents,
            reason,
        })
    }
}

/// Loads every input (files and directory walks in parallel); the result is in a stable order:
/// inputs sorted by path, documents in file order.
pub fn load(inputs: &[Input]) -> Inventory {
    use rayon::prelude::*;
    let results: Vec<(String, Result<FileResult, String>)> = inputs
        .par_iter()
        .map(|input| {
            let name = input.display_name();
            let loaded = input.read().map(|text| load_text(&name, &text));
            (name, loaded)
        })
        .collect();
    collect(results)
}

/// One inventory out of the files' results, in their order.
fn collect(results: Vec<(String, Result<FileResult, String>)>) -> Inventory {
    let mut inv = Inventory {
        files: results.len(),
        ..Inventory::default()
    };
    for (file, r) in results {
        match r {
            Ok(f) => {
                inv.skipped.extend(f.skipped(&file));
                inv.resources.extend(f.resources);
                inv.documents.extend(f.documents);
                inv.errors
                    .extend(f.errors.into_iter().map(|message| LoadError {
                        file: file.clone(),
                        message,
                    }));
            }
            Err(message) => inv.errors.push(LoadError { file, message }),
        }
    }
    inv
}

/// Loads files whose text is already in memory (the merge base's versions of changed files,
/// read from git), named as given; sorted by name like a walk.
pub fn load_texts(files: Vec<(String, String)>) -> Inventory {
    use rayon::prelude::*;
    let mut files = files;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let results: Vec<(String, Result<FileResult, String>)> = files
        .into_par_iter()
        .map(|(name, text)| {
            let loaded = load_text(&name, &text);
            (name, Ok(loaded))
        })
        .collect();
    collect(results)
}

/// Loads the documents of one file's text. A stream that does not parse as a whole is read
/// document by document, so the valid ones are still checked and each broken one is named.
pub(crate) fn load_text(file: &str, text: &str) -> FileResult {
    let file: Arc<str> = Arc::from(file);
    let mut out = FileResult {
        resources: Vec::new(),
        documents: Vec::new(),
        skipped: 0,
        kustomize: 0,
        kyverno_tests: 0,
        errors: Vec::new(),
    };
    match read_documents(text, Schema::Kubernetes) {
        Ok(docs) => add_documents(&file, docs, 0, &mut out),
        Err(whole) => {
            let pieces = read_documents_each(text, Schema::Kubernetes);
            if pieces.len() < 2 {
                out.errors.push(whole.message().to_owned());
                return out;
            }
            let mut index = 0;
            for piece in pieces {
                match piece {
                    Ok(docs) => {
                        let n = docs.len();
                        add_documents(&file, docs, index, &mut out);
                        index = index.saturating_add(n);
                    }
                    Err(e) => {
                        out.errors.push(format!(
                            "document {}: {}",
                            index.saturating_add(1),
                            e.message()
                        ));
                        index = index.saturating_add(1);
                    }
                }
            }
        }
    }
    out
}

/// Turns parsed documents into resources; `first` is the index of the first in the file.
fn add_documents(file: &Arc<str>, docs: Vec<Document>, first: usize, out: &mut FileResult) {
    for (i, doc) in docs.into_iter().enumerate() {
        let index = first.saturating_add(i);
        let mut root = doc.root;
        if matches!(root, Node::Scalar(tollgate_yaml::tree::Scalar::Null))
            || matches!(&root, Node::Map(e) if e.is_empty())
        {
            continue;
        }
        let sops = strip_sops(&mut root).map(|block| Arc::new(convert::to_json(&block)));
        let positions = Arc::new(FieldPositions(
            doc.positions
                .into_iter()
                .map(|(k, l, c)| (k, (l, c)))
                .collect(),
        ));
        let origin = Origin {
            file: file.clone(),
            document: index,
            line: u32::try_from(doc.line).unwrap_or(u32::MAX),
            column: u32::try_from(doc.column).unwrap_or(u32::MAX),
            positions,
            prefix: String::new(),
            rendered_from: None,
        };
        let object = convert::to_json(&root);
        match Resource::from_object(object, origin.clone(), sops.clone(), out) {
            // kustomize's configuration and Kyverno's test suites are read by tools, never
            // applied to a cluster.
            Some(r)
                if crate::render::kustomization::is_kustomize_object(&r.api_version, &r.kind) =>
            {
                out.kustomize = out.kustomize.saturating_add(1);
            }
            Some(r) if r.api_version.starts_with("cli.kyverno.io/") => {
                out.kyverno_tests = out.kyverno_tests.saturating_add(1);
            }
            Some(r) if is_list(&r) => expand_list(r, out),
            Some(r) => out.resources.push(r),
            None => {}
        }
    }
}

fn is_list(r: &Resource) -> bool {
    r.kind.ends_with("List")
        && r.object
            .get("items")
            .is_some_and(serde_json::Value::is_array)
}

fn expand_list(list: Resource, out: &mut FileResult) {
    let Some(serde_json::Value::Array(items)) = list.object.get("items").cloned() else {
        return;
    };
    for (i, item) in items.into_iter().enumerate() {
        let mut origin = list.origin.clone();
        origin.prefix = format!("items[{i}]");
        if let Some((line, column)) = origin.position_of("") {
            origin.line = line;
            origin.column = column;
        }
        if let Some(r) = Resource::from_object(item, origin, list.sops.clone(), out) {
            out.resources.push(r);
        }
    }
}

/// Removes sops's metadata block and returns it, if there was one.
fn strip_sops(root: &mut Node) -> Option<Node> {
    let Node::Map(entries) = root else {
        return None;
    };
    let is_sops = |e: &Entry| matches!(e, Entry::Pair(k, v) if k == "sops" && (v.get("mac").is_some() || v.get("lastmodified").is_some()));
    let at = entries.iter().position(is_sops)?;
    match entries.remove(at) {
        Entry::Pair(_, block) => Some(block),
        Entry::Comment(_) => None,
    }
}

impl Resource {
    /// Whether `line` holds a value of this resource's secret data: a `Secret`'s `data` or
    /// `stringData` entries. Source excerpts of such lines are masked.
    pub fn is_secret_value_line(&self, line: u32) -> bool {
        if self.kind != "Secret" {
            return false;
        }
        let prefix = &self.origin.prefix;
        self.origin.positions.0.iter().any(|(path, (l, _))| {
            *l == line
                && path
                    .strip_prefix(prefix.as_str())
                    .map(|p| p.strip_prefix('.').unwrap_or(p))
                    .is_some_and(|p| {
                        ["data", "stringData"].iter().any(|section| {
                            p.strip_prefix(section)
                                .is_some_and(|rest| rest.starts_with(['.', '[']))
                        })
                    })
        })
    }

    /// An object that did not come from a file (an admission request's), named `label` in
    /// findings. An object without `apiVersion`/`kind` still becomes a resource (the API
    /// server has already validated it), with empty identity fields.
    pub fn from_admission(object: serde_json::Value, label: &str) -> Resource {
        let origin = Origin {
            file: Arc::from(label),
            document: 0,
            line: 1,
            column: 1,
            positions: Arc::new(FieldPositions::default()),
            prefix: String::new(),
            rendered_from: None,
        };
        let (api_version, kind, namespace, name) = identity(&object);
        Resource {
            api_version: api_version.unwrap_or_default(),
            kind: kind.unwrap_or_default(),
            namespace,
            name,
            object,
            origin,
            sops: None,
        }
    }

    /// The object as a resource; a document without `apiVersion`/`kind` goes to the file's
    /// other documents instead (counted as skipped until they are included).
    fn from_object(
        object: serde_json::Value,
        origin: Origin,
        sops: Option<Arc<serde_json::Value>>,
        file: &mut FileResult,
    ) -> Option<Self> {
        let (api_version, kind, namespace, name) = identity(&object);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            file.skipped = file.skipped.saturating_add(1);
            file.documents.push(Resource {
                api_version: String::new(),
                kind: String::new(),
                namespace: None,
                name: None,
                object,
                origin,
                sops,
            });
            return None;
        };
        Some(Resource {
            api_version,
            kind,
            namespace,
            name,
            object,
            origin,
            sops,
        })
    }

    /// Whether it is a Kubernetes object (it has `apiVersion` and `kind`); the other
    /// documents are for Rego policies alone, as conftest gives them.
    pub fn is_kubernetes(&self) -> bool {
        !self.api_version.is_empty() && !self.kind.is_empty()
    }

    /// Whether the document was SOPS-encrypted.
    pub fn sops_encrypted(&self) -> bool {
        self.sops.is_some()
    }
}

/// `apiVersion` and `kind` (when non-empty), `metadata.namespace`, and `metadata.name` (else
/// `generateName`) of an object.
type Identity = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn identity(object: &serde_json::Value) -> Identity {
    let text =
        |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map(str::to_owned);
    let meta = object.get("metadata");
    (
        text(object.get("apiVersion")).filter(|s| !s.is_empty()),
        text(object.get("kind")).filter(|s| !s.is_empty()),
        text(meta.and_then(|m| m.get("namespace"))),
        text(meta.and_then(|m| m.get("name")))
            .or_else(|| text(meta.and_then(|m| m.get("generateName")))),
    )
}

impl Inventory {
    /// Makes the documents that are not Kubernetes objects inputs too (conftest's behaviour:
    /// Rego policies see every document), no longer counted as skipped. They join at the end
    /// (findings are sorted by file and document later), so the objects stay a prefix the
    /// policy set can lend the other engines without a copy.
    pub fn include_documents(&mut self) {
        if self.documents.is_empty() {
            return;
        }
        self.resources.append(&mut self.documents);
        self.skipped.retain(|s| s.reason != SkipReason::NotAnObject);
    }
}

/// Loads manifests from paths as `tollgate check` takes them (`-` is stdin), leaving out files
/// that match an `exclude` glob (relative path, `**` crosses directories).
pub fn load_paths(paths: &[PathBuf], exclude: &[String]) -> Inventory {
    let (mut inputs, errors) = expand(paths);
    if let Some(set) = path_globs(exclude) {
        inputs.retain(|i| !set.is_match(i.display_name()));
    }
    let mut inv = load(&inputs);
    inv.errors.extend(errors);
    inv.errors.sort_by(|a, b| a.file.cmp(&b.file));
    inv
}

/// Path globs (relative paths, `*` within a directory, `**` across them) compiled once, as
/// tollgate.yaml's `exclude` and Argo CD's git generator take them; `None` when there are none.
pub fn path_globs(globs: &[String]) -> Option<globset::GlobSet> {
    if globs.is_empty() {
        return None;
    }
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        if let Ok(glob) = globset::GlobBuilder::new(g).literal_separator(true).build() {
            b.add(glob);
        }
    }
    b.build().ok()
}

/// Kinds that have no namespace (the built-in ones and the common CRDs'): an object of any
/// other kind without `metadata.namespace` lands in the namespace it is applied to.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterPolicy",
    "ClusterPolicyReport",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterRoleTemplateBinding",
    "ClusterSecretStore",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SecurityContextConstraints",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Whether objects of `kind` are cluster-scoped.
pub(crate) fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// Whether a path names a manifest file by its extension.
/// The kind of a built-in resource's plural name (`pods` -> `Pod`), for the places that see
/// only the API path (admission subresources, Kyverno `apiCall` URLs) and have no discovery.
pub fn kind_of_plural(plural: &str) -> Option<&'static str> {
    Some(match plural {
        "pods" => "Pod",
        "deployments" => "Deployment",
        "replicasets" => "ReplicaSet",
        "statefulsets" => "StatefulSet",
        "daemonsets" => "DaemonSet",
        "replicationcontrollers" => "ReplicationController",
        "jobs" => "Job",
        "cronjobs" => "CronJob",
        "services" => "Service",
        "endpoints" => "Endpoints",
        "configmaps" => "ConfigMap",
        "secrets" => "Secret",
        "nodes" => "Node",
        "namespaces" => "Namespace",
        "serviceaccounts" => "ServiceAccount",
        "persistentvolumeclaims" => "PersistentVolumeClaim",
        "persistentvolumes" => "PersistentVolume",
        "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        "poddisruptionbudgets" => "PodDisruptionBudget",
        "ingresses" => "Ingress",
        "ingressclasses" => "IngressClass",
        "networkpolicies" => "NetworkPolicy",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "clusterroles" => "ClusterRole",
        "clusterrolebindings" => "ClusterRoleBinding",
        "limitranges" => "LimitRange",
        "resourcequotas" => "ResourceQuota",
        "storageclasses" => "StorageClass",
        "certificatesigningrequests" => "CertificateSigningRequest",
        _ => return None,
    })
}

pub fn is_manifest_path(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn debug_names_a_resource_without_its_contents() {
        let r = super::Resource::from_admission(
            serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": "prod"},
                "stringData": {"password": "hunter2-not-for-logs"}}),
            "admission:1",
        );
        let shown = format!("{r:?}");
        assert!(shown.contains("Secret") && shown.contains("db"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn paths_in_either_spelling_name_the_same_field() {
        assert_eq!(canonical_path("data[\"password\"]"), "data.password");
        assert_eq!(canonical_path("data.password"), "data.password");
        assert_eq!(
            canonical_path("spec.containers[0].image"),
            "spec.containers[0].image"
        );
        assert_eq!(
            canonical_path("metadata.annotations[\"a.b/c\"]"),
            "metadata.annotations[\"a.b/c\"]"
        );
        assert_eq!(canonical_path("a[\"x\\\"y\"].b"), "a[\"x\\\"y\"].b");
    }

    #[test]
    fn values_are_found_by_their_field_path() {
        let v = serde_json::json!({"spec": {"containers": [{"image": "a"}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "x"}}});
        assert_eq!(
            super::value_at(&v, "spec.containers[0].image"),
            Some(&serde_json::json!("a"))
        );
        assert_eq!(
            super::value_at(&v, "metadata.labels[\"app.kubernetes.io/name\"]"),
            Some(&serde_json::json!("x"))
        );
        assert_eq!(super::value_at(&v, "spec.containers[1]"), None);
        assert_eq!(super::value_at(&v, "spec[\"x"), None);
        assert_eq!(super::value_at(&v, ""), Some(&v));
    }

    #[test]
    fn malformed_paths_do_not_panic() {
        // Each of these once sliced inside a character or past the end.
        for p in [
            "[\"a\"é",
            "[\"é",
            "[\"\\é\"]",
            "[",
            "[\"",
            "a[\"b",
            "é[",
            "..",
            "[0",
        ] {
            let _ = canonical_path(p);
        }
        assert_eq!(canonical_path("[\"a\"é"), "a[\"é\"]");
    }
}
