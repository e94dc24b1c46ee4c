//! IMG003: an image from a registry outside `images.allowed_registries`. Platform teams mirror
//! what they run; an image pulled from anywhere else bypasses the mirror's scanning, its
//! availability and its signatures.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG003",
    family: Family::Images,
    title: "An image comes from a registry that is not allowed",
    severity: Severity::Error,
    inventory: false,
    description: "When `images.allowed_registries` in tollgate.yaml lists wildcards, every image must match one: a pattern without `/` names a registry host (`registry.acme.io`, `*.dkr.ecr.eu-west-1.amazonaws.com`), one with `/` a repository prefix (`ghcr.io/acme/*`), matched against the normalized reference, so `nginx` is `docker.io/library/nginx` and `docker.io` allows it. `*` matches any run of characters, `/` included. Without the setting the rule reports nothing.",
    fix: "Pull the image through an allowed registry (mirror it there), or add its registry to `images.allowed_registries` after review.",
    check: Check::Set(check),
};

/// Whether `image` (`registry/repository`) is allowed by one of `patterns`.
pub(crate) fn allowed(patterns: &[String], registry: &str, name: &str) -> bool {
    patterns.iter().any(|p| {
        if p.contains('/') {
            crate::wildcard::matches(p, name)
        } else {
            crate::wildcard::matches(p, registry)
        }
    })
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    let patterns = &model.settings().allowed_registries;
    if patterns.is_empty() {
        return;
    }
    for u in model.images() {
        if let Ok(image) = &u.parsed {
            let name = image.name();
            if !allowed(patterns, &image.registry, &name) {
                emit.at(
                    u.resource,
                    &u.path(),
                    format!(
                        "container {} image {} is from {}, which images.allowed_registries does not allow",
                        u.container, u.written, image.registry
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn hosts_and_repository_prefixes() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // A host pattern judges the registry only.
        assert!(allowed(
            &p(&["docker.io"]),
            "docker.io",
            "docker.io/library/nginx"
        ));
        assert!(!allowed(
            &p(&["docker.io"]),
            "ghcr.io",
            "ghcr.io/docker.io/x"
        ));
        assert!(allowed(
            &p(&["*.amazonaws.com"]),
            "1.dkr.ecr.eu-west-1.amazonaws.com",
            "1.dkr.ecr.eu-west-1.amazonaws.com/app"
        ));
        // A prefix pattern judges registry and repository: acme's images, not others'.
        assert!(allowed(
            &p(&["ghcr.io/acme/*"]),
            "ghcr.io",
            "ghcr.io/acme/tools/app"
        ));
        assert!(!allowed(
            &p(&["ghcr.io/acme/*"]),
            "ghcr.io",
            "ghcr.io/acmeevil/app"
        ));
        assert!(!allowed(&p(&[]), "docker.io", "docker.io/library/nginx"));
    }
}
