//! What `tollgate init` writes into a repository: a starter tollgate.yaml, the pre-commit
//! configuration pinned to this version, and a `.sops.yaml` for an age recipient. The texts
//! live here, beside the configuration they must parse as, so a test can hold them to it.

/// `tollgate.yaml`: every bundled pack, rendering on, and the keys a team fills in later
/// shown commented.
pub fn tollgate_yaml() -> String {
    "# tollgate configuration: https://example.invalid/tollgate/docs/check.md
# Policies (Rego files or directories, Kyverno YAML); without any, the bundled packs run.
# policies: [policy/]
packs: [k8s, images, pss-baseline, pss-restricted, secrets, rbac, netpol]
# Check what the cluster receives: Kustomize overlays, Flux Kustomizations and Argo CD
# Applications are rendered (kustomize or kubectl on PATH) and findings located on the
# source files.
render: true
# Paths never read (globs relative to this file's directory).
exclude: []
# Registries images may come from (hosts, or registry/repository prefixes with `*`):
# images:
#   allowed_registries: [ghcr.io/acme/*, registry.acme.io]
# Values that point at secrets kept elsewhere (regular expressions, beside the built-in
# op://, ref+…://, <path:…>, ${VAR} and vault: forms):
# secrets:
#   reference_patterns: [\"^sm://\"]
# Raise or lower a rule's severity:
# severity:
#   ACCESS001: warning      # pull requests that grant new RBAC permissions fail
# Waive a rule for some resources, with a reason and an end date:
# exceptions:
#   - rules: [PSS014]
#     resources: [{kind: Deployment, namespace: legacy, name: app}]
#     reason: vendor image runs as root; replacement tracked in TICKET-123
#     expires: 2027-06-30
"
    .to_owned()
}

/// `.pre-commit-config.yaml` using the hooks of tollgate's repository at `version`.
pub fn pre_commit_config(repository: &str, version: &str) -> String {
    format!(
        "# pre-commit hooks (https://pre-commit.com): `pre-commit install` once per clone.
repos:
  - repo: {repository}
    rev: v{version}
    hooks:
      # Plaintext Secrets, credentials outside Secrets, and SOPS files that are missing,
      # broken or encrypted for the wrong keys.
      - id: tollgate-secrets
      # The policies of tollgate.yaml on the staged manifests.
      - id: tollgate-check
"
    )
}

/// `.sops.yaml` encrypting the `data` and `stringData` of every YAML file for `age`, the
/// layout Flux documents for SOPS with age.
pub fn sops_yaml(age: &str) -> String {
    format!(
        "# SOPS creation rules: https://getsops.io/docs/#using-sops-yaml-conf-to-select-kms-pgp-and-age-for-new-files
# `tollgate sops encrypt -i FILE` (or `sops -e -i FILE`) encrypts a Secret's values for the
# recipient below; add recipients with `tollgate sops updatekeys`.
creation_rules:
  - path_regex: .*\\.ya?ml$
    encrypted_regex: ^(data|stringData)$
    age: {age}
"
    )
}
