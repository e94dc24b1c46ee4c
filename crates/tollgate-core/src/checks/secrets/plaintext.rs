//! SECRET001: a Secret manifest with plaintext `data` or `stringData` values. A value in git
//! is readable by everyone with read access to the repository, in every clone, forever.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use base64::Engine as _;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SECRET001",
    family: Family::Secrets,
    title: "A Secret holds plaintext values",
    severity: Severity::Error,
    inventory: false,
    description: "A Secret manifest (`v1` `Secret`) whose `data` or `stringData` values are not encrypted puts the secret in git history for everyone with read access, forever. Values that are references resolved elsewhere are not secrets: `op://` (1Password), `ref+SCHEME://` (vals), `<path:…>` (argocd-vault-plugin), `${VAR}`, `${VAR:=default}` and `${VAR:-default}` (Flux postBuild), `vault:…`, empty strings, and whatever `secrets.reference_patterns` in tollgate.yaml adds; in `data` they are recognised once base64-decoded. SealedSecret, ExternalSecret, SecretStore and PushSecret objects are never judged. In a SOPS-encrypted Secret, the values its selector leaves in the clear (`*_unencrypted` keys) are plaintext too and reported; one pasted over its ciphertext is also SOPS006's (the edit bypassed sops). The finding names the key, never the value, and its source line is masked in every report.",
    fix: "Encrypt the file with `tollgate sops encrypt -i FILE` (see `.sops.yaml` creation rules), or replace the value with a reference; rotate the exposed secret.",
    check: Check::Set(check),
};

/// The text a `data` value stands for: base64-decoded when it decodes to UTF-8, else as
/// written (a value that is not base64 is judged as it is).
fn decoded(value: &str) -> std::borrow::Cow<'_, str> {
    match base64::engine::general_purpose::STANDARD.decode(value) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => s.into(),
            Err(_) => value.into(),
        },
        Err(_) => value.into(),
    }
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    let settings = &model.settings().secrets;
    for r in model.resources() {
        if r.kind != "Secret" || r.api_version != "v1" {
            continue;
        }
        for section in ["data", "stringData"] {
            let Some(values) = r.object.get(section).and_then(Value::as_object) else {
                continue;
            };
            for (key, value) in values {
                let Some(text) = value.as_str() else { continue };
                // Ciphertext without its `sops` block (an admission request of a file Flux
                // did not decrypt) is SOPS002's concern, not a plaintext secret.
                if text.starts_with("ENC[AES256_GCM,") {
                    continue;
                }
                let plain = if section == "data" {
                    decoded(text)
                } else {
                    text.into()
                };
                if settings.is_reference(&plain) {
                    continue;
                }
                let mut path = section.to_owned();
                tollgate_yaml::read::push_key(&mut path, key);
                emit.secret_at(
                    r,
                    &path,
                    format!("Secret value {section}.{key} is not encrypted"),
                );
            }
        }
    }
}
