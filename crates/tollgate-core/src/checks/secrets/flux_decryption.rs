//! SOPS002: a Flux `Kustomization` whose `spec.path` holds SOPS-encrypted files but that does
//! not decrypt them (`spec.decryption.provider: sops`): Flux would apply the ciphertext, and
//! the Secret the workloads read would hold `ENC[...]` strings.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use crate::render::kustomization::normalize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS002",
    family: Family::Secrets,
    title: "A Flux Kustomization applies SOPS files without decrypting them",
    severity: Severity::Error,
    // It judges a Kustomization against the files of its path.
    inventory: true,
    description: "kustomize-controller decrypts SOPS files only for a Kustomization with `spec.decryption.provider: sops` (and a `secretRef` holding the key); without it the encrypted manifests are applied as they are, so the cluster gets Secrets whose values are `ENC[...]` strings and the workloads fail, or worse, run with them. The rule resolves `spec.path` as the rendering does (relative to the repository root, or to the nearest directory above the Kustomization's file where it exists) and reports each Kustomization without decryption whose path holds a SOPS-encrypted manifest of the set. Argo CD has no such field: repositories that decrypt SOPS files through a plugin (KSOPS, helm-secrets) are not judged by this rule.",
    fix: "Add `spec.decryption: {provider: sops, secretRef: {name: sops-age}}` to the Kustomization (the Secret holding the age key, in flux-system), or move the encrypted files out of its path.",
    check: Check::Set(check),
};

fn absolute(p: &Path) -> PathBuf {
    normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    let encrypted: Vec<PathBuf> = model
        .resources()
        .iter()
        .filter(|r| r.sops_encrypted())
        .map(|r| absolute(Path::new(&*r.origin.file)))
        .collect();
    if encrypted.is_empty() {
        return;
    }
    for k in model
        .resources()
        .iter()
        .filter(|r| crate::render::flux::is_flux_kustomization(r))
    {
        let spec = k.object.get("spec");
        let decrypts = spec
            .and_then(|s| s.get("decryption"))
            .and_then(|d| d.get("provider"))
            .and_then(Value::as_str)
            == Some("sops");
        if decrypts {
            continue;
        }
        let path = spec
            .and_then(|s| s.get("path"))
            .and_then(Value::as_str)
            .unwrap_or("./");
        let file = Path::new(&*k.origin.file);
        let start = file.parent().unwrap_or(Path::new("."));
        let repo = crate::render::repo_root(if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            start
        });
        let Some(dir) = crate::render::resolve_repo_path(path, &repo, &k.origin.file) else {
            continue;
        };
        let dir = absolute(&dir);
        let mut inside: Vec<&PathBuf> = encrypted.iter().filter(|f| f.starts_with(&dir)).collect();
        inside.sort();
        inside.dedup();
        let Some(first) = inside.first() else {
            continue;
        };
        let shown = crate::render::relative_to_cwd(first).display().to_string();
        let more = match inside.len() {
            1 => String::new(),
            n => format!(" and {} more", n.saturating_sub(1)),
        };
        emit.at(
            k,
            "spec",
            format!(
                "Kustomization {}/{} applies {path}, which holds SOPS-encrypted {shown}{more}, without spec.decryption.provider: sops: Flux would apply the ciphertext",
                k.namespace.as_deref().unwrap_or("default"),
                k.name.as_deref().unwrap_or("")
            ),
        );
    }
}
