//! `tollgate.yaml`: policy sources, namespaces, data, path excludes, severity overrides and
//! governed exceptions. Found upwards from the working directory or given with `--config`;
//! every error names the line of the file.

use crate::finding::Severity;
use std::path::{Path, PathBuf};
use tollgate_yaml::read::{read_documents, Schema};
use tollgate_yaml::tree::{Entry, Node, Scalar};

/// The file name looked for.
pub const FILE_NAME: &str = "tollgate.yaml";

/// A configuration error, at a line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `tollgate.yaml:LINE` (or just the file).
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Resource selector of an exception: globs on kind, namespace and name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceGlob {
    /// Kind glob.
    pub kind: Option<String>,
    /// Namespace glob.
    pub namespace: Option<String>,
    /// Name glob.
    pub name: Option<String>,
}

/// A governed exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Rule id globs (`main/deny`, `IMG*`).
    pub rules: Vec<String>,
    /// Resources it covers (all when empty).
    pub resources: Vec<ResourceGlob>,
    /// Path globs, relative to the working directory (all when empty).
    pub paths: Vec<String>,
    /// Why: required.
    pub reason: String,
    /// Last day it applies (`YYYY-MM-DD`).
    pub expires: Option<String>,
    /// Line in `tollgate.yaml`, for reports.
    pub line: u32,
}

/// The `webhook:` section: how admission decides, and where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Findings at or above this deny the request (`fail_on`, default `error`).
    pub fail_on: Severity,
    /// Namespaces whose requests are admitted without evaluation (default `kube-system`).
    pub exempt_namespaces: Vec<String>,
    /// `listen`: the address to serve on.
    pub listen: Option<String>,
    /// `tls_cert`: the PEM certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key`: the PEM private key.
    pub tls_key: Option<PathBuf>,
}

impl Default for Webhook {
    fn default() -> Self {
        Webhook {
            fail_on: Severity::Error,
            exempt_namespaces: vec!["kube-system".to_owned()],
            listen: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `images:`: what the image rules allow.
#[derive(Debug, Clone, Default)]
pub struct Images {
    /// `allowed_registries`: wildcards (`*` any run of characters) over an image's
    /// `registry/repository` (`ghcr.io/acme/*`) or its registry alone (`registry.acme.io`).
    pub allowed_registries: Vec<String>,
    /// `signatures`: the images that must carry a cosign signature, and by whom.
    pub signatures: Vec<SignatureRule>,
    /// `insecure_registries`: hosts spoken to over plain HTTP (as
    /// `--allow-insecure-registry`).
    pub insecure_registries: Vec<String>,
}

/// One entry of `images.signatures`.
#[derive(Debug, Clone)]
pub struct SignatureRule {
    /// `match`: wildcards over image references (`ghcr.io/acme/*`); see
    /// [`SignatureRule::applies_to`].
    pub matches: Vec<String>,
    /// `keys`: the public keys, read when the configuration is (any one's signature will do).
    pub keys: Vec<crate::signature::PublicKey>,
    /// `annotations`: what the signed payload's `optional` section must hold.
    pub annotations: Vec<(String, String)>,
    /// `repository`: where the signatures are stored, if not beside the image.
    pub repository: Option<String>,
    /// Its line in tollgate.yaml, for findings.
    pub line: u32,
}

impl SignatureRule {
    /// Whether the rule covers `image`: a pattern matches the reference as written, or
    /// normalized (`docker.io/library/nginx:1.25`), or its repository alone
    /// (`docker.io/library/nginx`).
    pub fn applies_to(&self, written: &str, image: &crate::image::ImageRef) -> bool {
        let name = image.name();
        let mut full = name.clone();
        if let Some(t) = &image.tag {
            full.push(':');
            full.push_str(t);
        }
        if let Some(d) = &image.digest {
            full.push('@');
            full.push_str(d);
        }
        self.matches.iter().any(|p| {
            crate::wildcard::matches(p, written)
                || crate::wildcard::matches(p, &full)
                || crate::wildcard::matches(p, &name)
        })
    }
}

/// `secrets:`: what the secrets rules take for a reference or a secret.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `reference_patterns`: regular expressions for values that point at a secret kept
    /// elsewhere (beside the built-in ones), so are not plaintext secrets.
    pub reference_patterns: Vec<String>,
    /// `entropy.min_length`: the shortest value SECRET004 judges.
    pub entropy_min_length: Option<usize>,
    /// `entropy.threshold`: bits per character at or above which a value is random-looking.
    pub entropy_threshold: Option<f64>,
    /// Verify every SOPS file's MAC with the keys at hand (`--verify-mac`; not a file key:
    /// CI that holds no key must not fail for the lack of one).
    pub verify_mac: bool,
}

/// The parsed configuration; paths are resolved against the config's directory.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from.
    pub path: Option<PathBuf>,
    /// Rego policy files or directories.
    pub policies: Vec<PathBuf>,
    /// Bundled packs to evaluate.
    pub packs: Vec<String>,
    /// Rego packages to evaluate.
    pub namespaces: Vec<String>,
    /// Evaluate every package.
    pub all_namespaces: bool,
    /// Data files for Rego.
    pub data: Vec<PathBuf>,
    /// Path globs never loaded.
    pub exclude: Vec<String>,
    /// Severity per rule id.
    pub severity: Vec<(String, Severity)>,
    /// Whether `tollgate.dev/ignore` annotations are honoured (default true).
    pub annotation_exemptions: bool,
    /// Governed exceptions.
    pub exceptions: Vec<Exception>,
    /// The admission webhook's settings.
    pub webhook: Webhook,
    /// `render: true` (or `render: {enabled: true}`): check what Kustomize, Flux and Argo CD
    /// roots render, as `--render` does.
    pub render: bool,
    /// `render.argocd_repos`: URLs Argo CD Applications use for this repository, besides its
    /// git remotes.
    pub argocd_repos: Vec<String>,
    /// `images:`.
    pub images: Images,
    /// `secrets:`.
    pub secrets: Secrets,
}

/// Looks for `tollgate.yaml` from `start` upwards.
pub fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

struct Ctx<'a> {
    file: String,
    positions: &'a [(String, u32, u32)],
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> ConfigError {
        let line = self
            .positions
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, l, _)| *l);
        ConfigError {
            at: line.map_or_else(|| self.file.clone(), |l| format!("{}:{l}", self.file)),
            message: message.into(),
        }
    }

    fn line(&self, path: &str) -> u32 {
        self.positions
            .iter()
            .find(|(p, _, _)| p == path)
            .map_or(0, |(_, l, _)| *l)
    }

    fn string(&self, node: &Node, path: &str) -> Result<String, ConfigError> {
        match node {
            Node::Scalar(Scalar::Str(s)) => Ok(s.clone()),
            Node::Scalar(Scalar::Int(i)) => Ok(i.to_string()),
            _ => Err(self.err(path, "expected a string")),
        }
    }

    fn strings(&self, node: &Node, path: &str) -> Result<Vec<String>, ConfigError> {
        match node {
            Node::List(items) => items
                .iter()
                .filter(|n| !matches!(n, Node::Comment(_)))
                .enumerate()
                .map(|(i, n)| self.string(n, &format!("{path}[{i}]")))
                .collect(),
            Node::Scalar(Scalar::Str(s)) => Ok(vec![s.clone()]),
            _ => Err(self.err(path, "expected a list of strings")),
        }
    }
}

fn pairs(node: &Node) -> impl Iterator<Item = (&String, &Node)> {
    let entries: &[Entry] = match node {
        Node::Map(e) => e,
        _ => &[],
    };
    entries.iter().filter_map(|e| {
        if let Entry::Pair(k, v) = e {
            Some((k, v))
        } else {
            None
        }
    })
}

/// One `images.signatures` entry; its keys are read now, so a missing or wrong key file is
/// an error at its line, before anything is checked.
fn signature_rule(
    cx: &Ctx<'_>,
    node: &Node,
    path: &str,
    base: &Path,
) -> Result<SignatureRule, ConfigError> {
    if !matches!(node, Node::Map(_)) {
        return Err(cx.err(path, "expected a mapping with `match` and `keys`"));
    }
    let mut rule = SignatureRule {
        matches: Vec::new(),
        keys: Vec::new(),
        annotations: Vec::new(),
        repository: None,
        line: cx.line(path),
    };
    for (k, v) in pairs(node) {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "match" => rule.matches = cx.strings(v, &p)?,
            "keys" => {
                for (i, file) in cx.strings(v, &p)?.into_iter().enumerate() {
                    let at = format!("{p}[{i}]");
                    let key = crate::signature::PublicKey::read(&base.join(&file), &file)
                        .map_err(|e| cx.err(&at, e))?;
                    rule.keys.push(key);
                }
            }
            "annotations" => {
                for (ak, av) in pairs(v) {
                    let text = cx.string(av, &format!("{p}.{ak}"))?;
                    rule.annotations.push((ak.clone(), text));
                }
            }
            "repository" => rule.repository = Some(cx.string(v, &p)?),
            other => {
                return Err(cx.err(
                    &p,
                    format!("unknown key `{other}` (match, keys, annotations, repository)"),
                ))
            }
        }
    }
    if rule.matches.is_empty() {
        return Err(cx.err(
            path,
            "a signature rule needs `match`: the image references it covers",
        ));
    }
    if rule.keys.is_empty() {
        return Err(cx.err(
            path,
            "a signature rule needs `keys`: the public keys (cosign.pub) that may sign",
        ));
    }
    Ok(rule)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.bytes()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            at: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let docs = read_documents(&text, Schema::Kubernetes).map_err(|e| ConfigError {
            at: file.clone(),
            message: e.message().to_owned(),
        })?;
        let doc = docs.into_iter().next();
        let (root, positions) = doc
            .map(|d| (d.root, d.positions))
            .unwrap_or((Node::Map(Vec::new()), Vec::new()));
        let cx = Ctx {
            file,
            positions: &positions,
        };
        if !matches!(root, Node::Map(_) | Node::Scalar(Scalar::Null)) {
            return Err(cx.err("", "the configuration must be a mapping"));
        }
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: String| base.join(p);
        let mut c = Config {
            path: Some(path.to_path_buf()),
            annotation_exemptions: true,
            ..Config::default()
        };
        for (key, value) in pairs(&root) {
            match key.as_str() {
                "policies" => {
                    c.policies = cx.strings(value, key)?.into_iter().map(resolve).collect()
                }
                "data" => c.data = cx.strings(value, key)?.into_iter().map(resolve).collect(),
                "namespaces" => c.namespaces = cx.strings(value, key)?,
                "packs" => {
                    c.packs = cx.strings(value, key)?;
                    if let Some(bad) = c.packs.iter().find(|p| crate::packs::find(p).is_none()) {
                        return Err(cx.err(key, format!("unknown pack `{bad}`")));
                    }
                }
                "all_namespaces" => {
                    c.all_namespaces = matches!(value, Node::Scalar(Scalar::Bool(true)))
                }
                "exclude" => c.exclude = cx.strings(value, key)?,
                "annotation_exemptions" => match value {
                    Node::Scalar(Scalar::Bool(b)) => c.annotation_exemptions = *b,
                    _ => return Err(cx.err(key, "expected true or false")),
                },
                "severity" => {
                    for (rule, sev) in pairs(value) {
                        let p = format!("severity[{}]", serde_json::Value::String(rule.clone()));
                        let p = if rule
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        {
                            format!("severity.{rule}")
                        } else {
                            p
                        };
                        let s = cx.string(sev, &p)?;
                        let level = Severity::parse(&s).ok_or_else(|| {
                            cx.err(&p, format!("`{s}` is not error, warning or info"))
                        })?;
                        c.severity.push((rule.clone(), level));
                    }
                }
                "exceptions" => {
                    let Node::List(items) = value else {
                        return Err(cx.err(key, "expected a list of exceptions"));
                    };
                    for (i, item) in items
                        .iter()
                        .filter(|n| !matches!(n, Node::Comment(_)))
                        .enumerate()
                    {
                        c.exceptions.push(exception(&cx, item, i)?);
                    }
                }
                "render" => match value {
                    Node::Scalar(Scalar::Bool(b)) => c.render = *b,
                    Node::Map(_) => {
                        c.render = true;
                        for (k, v) in pairs(value) {
                            let p = format!("render.{k}");
                            match k.as_str() {
                                "enabled" => match v {
                                    Node::Scalar(Scalar::Bool(b)) => c.render = *b,
                                    _ => return Err(cx.err(&p, "expected true or false")),
                                },
                                "argocd_repos" => c.argocd_repos = cx.strings(v, &p)?,
                                other => {
                                    return Err(cx.err(&p, format!("unknown key `render.{other}`")))
                                }
                            }
                        }
                    }
                    _ => return Err(cx.err(key, "expected true, false or a mapping")),
                },
                "images" => {
                    if !matches!(value, Node::Map(_)) {
                        return Err(cx.err(key, "expected a mapping"));
                    }
                    for (k, v) in pairs(value) {
                        let p = format!("images.{k}");
                        match k.as_str() {
                            "allowed_registries" => {
                                c.images.allowed_registries = cx.strings(v, &p)?
                            }
                            "insecure_registries" => {
                                c.images.insecure_registries = cx.strings(v, &p)?
                            }
                            "signatures" => {
                                let Node::List(items) = v else {
                                    return Err(cx.err(&p, "expected a list of signature rules"));
                                };
                                for (i, item) in items
                                    .iter()
                                    .filter(|n| !matches!(n, Node::Comment(_)))
                                    .enumerate()
                                {
                                    let rule =
                                        signature_rule(&cx, item, &format!("{p}[{i}]"), &base)?;
                                    c.images.signatures.push(rule);
                                }
                            }
                            other => {
                                return Err(cx.err(&p, format!("unknown key `images.{other}`")))
                            }
                        }
                    }
                }
                "secrets" => {
                    if !matches!(value, Node::Map(_)) {
                        return Err(cx.err(key, "expected a mapping"));
                    }
                    for (k, v) in pairs(value) {
                        let p = format!("secrets.{k}");
                        match k.as_str() {
                            "reference_patterns" => {
                                let patterns = cx.strings(v, &p)?;
                                for (i, pattern) in patterns.iter().enumerate() {
                                    if let Err(e) = regex::Regex::new(pattern) {
                                        return Err(cx.err(
                                            &format!("{p}[{i}]"),
                                            format!("`{pattern}` is not a regular expression: {e}"),
                                        ));
                                    }
                                }
                                c.secrets.reference_patterns = patterns;
                            }
                            "entropy" => {
                                for (ek, ev) in pairs(v) {
                                    let ep = format!("{p}.{ek}");
                                    match (ek.as_str(), ev) {
                                        ("min_length", Node::Scalar(Scalar::Int(n))) if *n > 0 => {
                                            c.secrets.entropy_min_length = usize::try_from(*n).ok()
                                        }
                                        ("threshold", Node::Scalar(Scalar::Float(f)))
                                            if (0.0..=8.0).contains(f) =>
                                        {
                                            c.secrets.entropy_threshold = Some(*f)
                                        }
                                        ("threshold", Node::Scalar(Scalar::Int(n)))
                                            if (0..=8).contains(n) =>
                                        {
                                            c.secrets.entropy_threshold =
                                                u8::try_from(*n).ok().map(f64::from)
                                        }
                                        ("min_length", _) => {
                                            return Err(cx.err(&ep, "expected a positive number"))
                                        }
                                        ("threshold", _) => {
                                            return Err(cx.err(
                                                &ep,
                                                "expected bits per character, from 0 to 8",
                                            ))
                                        }
                                        (other, _) => {
                                            return Err(cx.err(
                                                &ep,
                                                format!("unknown key `secrets.entropy.{other}`"),
                                            ))
                                        }
                                    }
                                }
                            }
                            other => {
                                return Err(cx.err(&p, format!("unknown key `secrets.{other}`")))
                            }
                        }
                    }
                }
                "webhook" => {
                    if !matches!(value, Node::Map(_)) {
                        return Err(cx.err(key, "expected a mapping"));
                    }
                    for (k, v) in pairs(value) {
                        let p = format!("webhook.{k}");
                        match k.as_str() {
                            "fail_on" => {
                                let s = cx.string(v, &p)?;
                                c.webhook.fail_on = Severity::parse(&s).ok_or_else(|| {
                                    cx.err(&p, format!("`{s}` is not error, warning or info"))
                                })?;
                            }
                            "exempt_namespaces" => {
                                c.webhook.exempt_namespaces = cx.strings(v, &p)?
                            }
                            "listen" => c.webhook.listen = Some(cx.string(v, &p)?),
                            "tls_cert" => c.webhook.tls_cert = Some(resolve(cx.string(v, &p)?)),
                            "tls_key" => c.webhook.tls_key = Some(resolve(cx.string(v, &p)?)),
                            other => {
                                return Err(cx.err(&p, format!("unknown key `webhook.{other}`")))
                            }
                        }
                    }
                }
                other => return Err(cx.err(other, format!("unknown key `{other}`"))),
            }
        }
        Ok(c)
    }

    /// The severity a rule's findings get (an override, else the rule's own).
    pub fn severity_for(&self, rule_id: &str, default: Severity) -> Severity {
        self.severity
            .iter()
            .find(|(r, _)| crate::wildcard::matches(r, rule_id))
            .map_or(default, |(_, s)| *s)
    }
}

fn exception(cx: &Ctx<'_>, node: &Node, i: usize) -> Result<Exception, ConfigError> {
    let at = format!("exceptions[{i}]");
    let mut e = Exception {
        rules: Vec::new(),
        resources: Vec::new(),
        paths: Vec::new(),
        reason: String::new(),
        expires: None,
        line: cx.line(&at),
    };
    for (k, v) in pairs(node) {
        let p = format!("{at}.{k}");
        match k.as_str() {
            "rules" => e.rules = cx.strings(v, &p)?,
            "paths" => {
                e.paths = cx.strings(v, &p)?;
                if let Some(bad) = e
                    .paths
                    .iter()
                    .find(|g| crate::suppress::path_glob_matcher(g).is_none())
                {
                    return Err(cx.err(&p, format!("`{bad}` is not a valid path glob")));
                }
            }
            "reason" => e.reason = cx.string(v, &p)?,
            "expires" => {
                let d = cx.string(v, &p)?;
                if !is_date(&d) {
                    return Err(cx.err(&p, format!("`{d}` is not a date (YYYY-MM-DD)")));
                }
                e.expires = Some(d);
            }
            "resources" => {
                let Node::List(items) = v else {
                    return Err(cx.err(&p, "expected a list of {kind, namespace, name}"));
                };
                for (j, r) in items
                    .iter()
                    .filter(|n| !matches!(n, Node::Comment(_)))
                    .enumerate()
                {
                    let rp = format!("{p}[{j}]");
                    let mut g = ResourceGlob::default();
                    for (rk, rv) in pairs(r) {
                        let s = cx.string(rv, &format!("{rp}.{rk}"))?;
                        match rk.as_str() {
                            "kind" => g.kind = Some(s),
                            "namespace" => g.namespace = Some(s),
                            "name" => g.name = Some(s),
                            other => {
                                return Err(cx.err(
                                    &format!("{rp}.{other}"),
                                    format!("unknown key `{other}`: use kind, namespace, name"),
                                ))
                            }
                        }
                    }
                    e.resources.push(g);
                }
            }
            other => return Err(cx.err(&p, format!("unknown key `{other}`"))),
        }
    }
    if e.rules.is_empty() {
        return Err(cx.err(&at, "an exception needs `rules`"));
    }
    if e.reason.trim().is_empty() {
        return Err(cx.err(&at, "an exception needs a `reason`"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn images_and_secrets_settings_are_read_and_checked_at_their_line() {
        let c = load("images:\n  allowed_registries: [ghcr.io/acme/*, registry.acme.io]\nsecrets:\n  reference_patterns: [\"^sm://\"]\n  entropy: {min_length: 24, threshold: 4.5}\n").unwrap();
        assert_eq!(
            c.images.allowed_registries,
            ["ghcr.io/acme/*", "registry.acme.io"]
        );
        assert_eq!(c.secrets.reference_patterns, ["^sm://"]);
        assert_eq!(c.secrets.entropy_min_length, Some(24));
        assert_eq!(c.secrets.entropy_threshold, Some(4.5));
        // A pattern that is not a regular expression, on its own line.
        let e = load("secrets:\n  reference_patterns:\n    - \"^ok\"\n    - \"(unclosed\"\n")
            .unwrap_err();
        assert!(e.at.ends_with("tollgate.yaml:4"), "{e}");
        assert!(
            e.message
                .contains("`(unclosed` is not a regular expression"),
            "{e}"
        );
        // Thresholds out of range, unknown keys.
        let e = load("secrets:\n  entropy: {threshold: 9}\n").unwrap_err();
        assert!(e.message.contains("from 0 to 8"), "{e}");
        let e = load("secrets:\n  entropy: {min_length: -1}\n").unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
        let e = load("images:\n  allow: [x]\n").unwrap_err();
        assert!(e.message.contains("unknown key `images.allow`"), "{e}");
    }

    #[test]
    fn an_exception_path_that_is_not_a_glob_is_refused_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "exceptions:\n  - rules: [IMG001]\n    reason: legacy\n    paths: [\"apps/[legacy.yaml\"]\n",
        )
        .unwrap();
        let e = Config::load(&path).unwrap_err();
        assert!(e.at.ends_with("tollgate.yaml:4"), "{e}");
        assert!(
            e.message
                .contains("`apps/[legacy.yaml` is not a valid path glob"),
            "{e}"
        );
    }
}
