//! The policy packs shipped inside the binary, and the rule reference generated from them.
//! This table is the one place a bundled rule is registered.

use crate::checks::Family;
use crate::engine::rego_source::{scan, Annotation};
use crate::finding::Severity;

/// A bundled policy pack.
#[derive(Debug)]
pub struct Pack {
    /// The name `--pack` and `packs:` use.
    pub name: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// `(path in the repository, Rego source)`.
    pub files: &'static [(&'static str, &'static str)],
    /// The built-in family it enables, for packs of Rust checks.
    pub family: Option<Family>,
}

/// Every bundled pack.
pub static PACKS: &[Pack] = &[Pack {
    name: "k8s",
    summary: "Workload basics the Pod Security Standards do not cover: resource limits",
    files: &[
        (
            "policies/k8s/workloads.rego",
            include_str!("../../../policies/k8s/workloads.rego"),
        ),
    ],
    family: None,
},
Pack {
    name: "secrets",
    summary: "Built-in secrets governance: plaintext values, credentials outside Secrets, SOPS coverage, metadata and recipients (docs/secrets.md; the tollgate-secrets hook)",
    files: &[],
    family: Some(Family::Secrets),
},
Pack {
    name: "images",
    summary: "Built-in image checks: mutable tags, digests, allowed registries, pull policy, digest drift (docs/images.md)",
    files: &[],
    family: Some(Family::Images),
},
Pack {
    name: "pss-baseline",
    summary: "Built-in Pod Security Standards, baseline profile: one rule per control, errors (docs/pss.md)",
    files: &[],
    family: Some(Family::PssBaseline),
},
Pack {
    name: "pss-restricted",
    summary: "Built-in Pod Security Standards, what restricted adds to baseline: one rule per control, warnings (docs/pss.md)",
    files: &[],
    family: Some(Family::PssRestricted),
},
Pack {
    name: "rbac",
    summary: "Built-in RBAC checks: wildcards, escalation, secrets access, dangerous bindings (docs/rbac.md)",
    files: &[],
    family: Some(Family::Rbac),
},
Pack {
    name: "netpol",
    summary: "Built-in NetworkPolicy checks: default deny, unselected workloads, allow-all rules (docs/netpol.md)",
    files: &[],
    family: Some(Family::Netpol),
}];

/// The pack called `name`.
pub fn find(name: &str) -> Option<&'static Pack> {
    PACKS.iter().find(|p| p.name == name)
}

/// One rule of a pack, as documented.
#[derive(Debug, Clone)]
pub struct RuleDoc {
    /// The rule id.
    pub id: String,
    /// The pack.
    pub pack: &'static str,
    /// `package/rule`.
    pub source: String,
    /// The file it is defined in.
    pub file: &'static str,
    /// Its METADATA.
    pub meta: Annotation,
    /// Its severity.
    pub severity: Severity,
}

/// Every documented rule of every pack, sorted by id.
pub fn rules() -> Vec<RuleDoc> {
    let mut out = Vec::new();
    for pack in PACKS {
        for (file, text) in pack.files {
            let s = scan(text);
            for r in s.rules {
                let severity = match r.meta.severity.as_deref() {
                    Some(s) => Severity::parse(s).unwrap_or(Severity::Error),
                    None if r.name.starts_with("warn") => Severity::Warning,
                    None => Severity::Error,
                };
                out.push(RuleDoc {
                    id: r
                        .meta
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("{}/{}", s.package, r.name)),
                    pack: pack.name,
                    source: format!("{}/{}", s.package, r.name),
                    file,
                    meta: r.meta,
                    severity,
                });
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The rule reference: `(path under docs/rules, Markdown)`, index first.
pub fn docs() -> Vec<(String, String)> {
    let rules = rules();
    let mut index = String::from("# Rule reference\n\nGenerated from the bundled policy packs (`policies/`) and the built-in checks (`crates/tollgate-core/src/checks/`); do not edit by hand. Enable a pack with `tollgate check --pack NAME` or `packs: [NAME]` in `tollgate.yaml`.\n\n| id | severity | pack | title |\n|---|---|---|---|\n");
    let mut pages = Vec::new();
    for r in &rules {
        let title = r.meta.title.clone().unwrap_or_default();
        index.push_str(&format!(
            "| [{}]({}.md) | {} | {} | {} |\n",
            r.id,
            r.id,
            r.severity.as_str(),
            r.pack,
            title
        ));
        let mut page = format!("# {}: {}\n\n", r.id, title);
        page.push_str(&format!(
            "- Severity: {}\n- Pack: `{}` (`tollgate check --pack {}`)\n- Rego: `{}` in `{}`\n\n",
            r.severity.as_str(),
            r.pack,
            r.pack,
            r.source,
            r.file
        ));
        if let Some(d) = &r.meta.description {
            page.push_str(&format!("## Why\n\n{d}\n\n"));
        }
        if let Some(f) = &r.meta.fix {
            page.push_str(&format!("## Fix\n\n{f}\n\n"));
        }
        page.push_str(&format!("## Silence it\n\nAnnotate the resource (`tollgate.dev/ignore: \"{}\"` with a `tollgate.dev/ignore-reason`), or add an exception for `{}` with a reason and an expiry date to `tollgate.yaml`.\n", r.id, r.id));
        pages.push((format!("{}.md", r.id), page));
    }
    for (name, page, row) in crate::checks::docs() {
        index.push_str(&row);
        pages.push((name, page));
    }
    let mut out = vec![("index.md".to_owned(), index)];
    out.extend(pages);
    out
}
