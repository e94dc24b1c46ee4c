//! SECRET004: a random-looking value under a name that says it is a secret (`DB_PASSWORD`,
//! `apiKey`) in a container's environment, a ConfigMap or an annotation: most leaked
//! passwords have no recognisable format, but they have a telling name and no pattern.

use super::super::{Check, Emit, Family, Model, Rule};
use super::detect;
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SECRET004",
    family: Family::Secrets,
    title: "A secret-named value looks like a real secret",
    severity: Severity::Warning,
    inventory: false,
    description: "An env variable, ConfigMap key or annotation whose name says it holds a secret (it contains password, passwd, secret, token, api key, access key, private key, credential or auth key, and does not end like a pointer to one: `_FILE`, `_PATH`, `Name`, `Ref`, `KEY_ID`, `_URL`, `_TTL`) and whose value looks random: at least `secrets.entropy.min_length` characters (default 20), no whitespace, not a path or URL, and a Shannon entropy of at least `secrets.entropy.threshold` bits per character (default 4.0; random base64 of that length scores about 4.3, words and hostnames under 3.8). Credentials of a known format are SECRET003's. A warning: tune the thresholds in tollgate.yaml, or silence a value that is not a secret with an annotation.",
    fix: "Move the value into a Secret (SOPS-encrypted) and read it with `valueFrom.secretKeyRef`; rotate it if it is real.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let settings = &model.settings().secrets;
    for l in model.literals() {
        if !detect::secret_sounding(l.name)
            || settings.is_reference(l.value)
            || !detect::random_looking(
                l.value,
                settings.entropy_min_length,
                settings.entropy_threshold,
            )
            || detect::credential(l.value).is_some()
        {
            continue;
        }
        emit.secret_at(
            l.resource,
            &l.path,
            format!(
                "{} is named like a secret and holds a random-looking value ({} characters)",
                l.path,
                l.value.chars().count()
            ),
        );
    }
}
