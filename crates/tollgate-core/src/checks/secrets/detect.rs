//! Recognisers for what a value is: a reference to a secret kept elsewhere (not a secret), a
//! credential in a known format (keys, cloud and forge tokens, JWTs), or a random-looking
//! string. Each detector has positive and negative cases below; none returns the value.

use regex::{Regex, RegexSet};
use std::sync::OnceLock;

/// Whether `value` is a reference a controller or plugin resolves, or empty: `op://…`
/// (1Password), `ref+SCHEME://…` (vals), `<path:…>` (argocd-vault-plugin), `${VAR}`,
/// `${VAR:=default}`, `${VAR:-default}` (Flux postBuild), `vault:…` (bank-vaults).
pub fn is_builtin_reference(value: &str) -> bool {
    static PATTERNS: OnceLock<RegexSet> = OnceLock::new();
    if value.is_empty() || value.starts_with("op://") || value.starts_with("vault:") {
        return true;
    }
    PATTERNS
        .get_or_init(|| {
            RegexSet::new([
                r"^ref\+[a-z0-9]+://",
                r"^<path:[^>]+>$",
                r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[=-][^}]*)?\}$",
            ])
            .unwrap_or_else(|_| RegexSet::empty())
        })
        .is_match(value)
}

/// A credential format, by what it is called in findings.
pub struct Detector {
    /// What a match is (`an AWS access key id`).
    pub what: &'static str,
    pattern: &'static str,
}

/// The detectors, most specific first. Patterns follow the issuers' documented formats.
pub static DETECTORS: &[Detector] = &[
    Detector {
        what: "a private key",
        pattern: r"-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----",
    },
    Detector {
        what: "an AWS access key id",
        // AKIA long-term, ASIA temporary; AWS's documentation example ends in EXAMPLE.
        pattern: r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    },
    Detector {
        what: "a GCP service-account key",
        pattern: r#""type"\s*:\s*"service_account"[\s\S]*"private_key"|"private_key"[\s\S]*"type"\s*:\s*"service_account""#,
    },
    Detector {
        what: "an Azure connection string with a key",
        pattern: r"(?i)\b(AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}={0,2}",
    },
    Detector {
        what: "a GitHub token",
        pattern: r"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
    },
    Detector {
        what: "a GitLab token",
        pattern: r"\bgl(pat|dt|rt|ptt|cbt|soat)-[A-Za-z0-9_-]{20,}",
    },
    Detector {
        what: "a Slack token or webhook",
        pattern: r"\bxox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}",
    },
    Detector {
        what: "a JSON Web Token",
        pattern: r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    },
];

/// The detectors as one set (which matched) and one by one (where), index for index.
fn compiled() -> &'static (RegexSet, Vec<Option<Regex>>) {
    static SET: OnceLock<(RegexSet, Vec<Option<Regex>>)> = OnceLock::new();
    SET.get_or_init(|| {
        let patterns: Vec<&str> = DETECTORS.iter().map(|d| d.pattern).collect();
        (
            RegexSet::new(&patterns).unwrap_or_else(|_| RegexSet::empty()),
            patterns.iter().map(|p| Regex::new(p).ok()).collect(),
        )
    })
}

/// The first detector that recognises a credential in `value`.
pub fn credential(value: &str) -> Option<&'static Detector> {
    // Cheap exits: every format above is at least 20 characters long.
    if value.len() < 20 {
        return None;
    }
    let (set, each) = compiled();
    let hit = set.matches(value).into_iter().next()?;
    // AWS's documented example keys are not credentials.
    if DETECTORS
        .get(hit)
        .is_some_and(|d| d.what.starts_with("an AWS"))
    {
        let real = each
            .get(hit)?
            .as_ref()?
            .find_iter(value)
            .any(|m| !m.as_str().ends_with("EXAMPLE"));
        if !real {
            return None;
        }
    }
    DETECTORS.get(hit)
}

/// Shannon entropy of `value` in bits per character.
pub fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in value.bytes() {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c = c.saturating_add(1);
        }
        n = n.saturating_add(1);
    }
    if n == 0 {
        return 0.0;
    }
    let total = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum()
}

/// Whether a key or variable name says its value is a secret (`DB_PASSWORD`, `apiKey`,
/// `slack-token`), and not that it names one (`PASSWORD_FILE`, `TOKEN_PATH`, `secretName`).
pub fn secret_sounding(name: &str) -> bool {
    static RE: OnceLock<Option<(Regex, Regex)>> = OnceLock::new();
    let compiled = RE.get_or_init(|| {
        Some((
            Regex::new(r"(?i)(passw(or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key)").ok()?,
            Regex::new(r"(?i)(file|path|dir|name|ref|key[_-]?id|url|endpoint|length|ttl|expir)s?$").ok()?,
        ))
    });
    compiled
        .as_ref()
        .is_some_and(|(secret, pointer)| secret.is_match(name) && !pointer.is_match(name))
}

/// Whether `value` looks like a random secret for SECRET004: long enough, no spaces (prose,
/// commands), not a path or URL, and of high entropy.
pub fn random_looking(value: &str, min_length: usize, threshold: f64) -> bool {
    value.len() >= min_length
        && !value.contains(char::is_whitespace)
        && !value.starts_with('/')
        && !value.contains("://")
        && entropy(value) >= threshold
}

#[cfg(test)]
mod tests {
    use super::super::{ENTROPY_MIN_LENGTH, ENTROPY_THRESHOLD};
    use super::*;

    #[test]
    fn references_are_recognised_and_secrets_are_not() {
        for r in [
            "",
            "op://vault/item/field",
            "ref+vault://secret/db#pw",
            "ref+awssecrets://db",
            "<path:kv/data/db#pw>",
            "${DB_PASSWORD}",
            "${DB_PASSWORD:=changeme}",
            "${X:-d}",
            "vault:secret/data/db#pw",
        ] {
            assert!(is_builtin_reference(r), "{r}");
        }
        // A literal password, a string that only contains a reference, a malformed one.
        for s in [
            "hunter2",
            "pw is op://x",
            "ref+://x",
            "<path:>",
            "${1X}",
            "$DB",
        ] {
            assert!(!is_builtin_reference(s), "{s}");
        }
    }

    #[test]
    fn each_detector_recognises_its_format_and_only_it() {
        // (value, what it is); built at run time so the source holds no whole token.
        let aws = format!("AKIA{}", "Z7Q2K4M6N8P0R3T5");
        let ghp = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let pat = format!("github_pat_{}", "A1b2".repeat(20) + "xy");
        let glpat = format!("glpat-{}", "xY9zW8vU7tS6rQ5pO4nM");
        let slack = format!("xoxb-{}", "1234567890-0987654321-AbCdEfGhIjKl");
        let hook = format!(
            "https://hooks.slack.com/services/T0000000/B0000000/{}",
            "XXXXXXXXXXXXXXXXXXXXXXXX"
        );
        let jwt = format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.{}",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        );
        let key = format!("-----BEGIN {}PRIVATE KEY-----\nMIIB...\n", "RSA ");
        let gcp =
            r#"{"type": "service_account", "project_id": "p", "private_key": "x"}"#.to_owned();
        let azure = format!(
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={};",
            "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy=="
        );
        for (value, what) in [
            (key, "a private key"),
            (format!("id={aws}"), "an AWS access key id"),
            (gcp, "a GCP service-account key"),
            (azure, "an Azure connection string with a key"),
            (ghp, "a GitHub token"),
            (pat, "a GitHub token"),
            (glpat, "a GitLab token"),
            (slack, "a Slack token or webhook"),
            (hook, "a Slack token or webhook"),
            (jwt, "a JSON Web Token"),
        ] {
            assert_eq!(credential(&value).map(|d| d.what), Some(what), "{what}");
        }
        // Near misses: the public half of a key, AWS's documentation example, a key id too
        // short, a prefix without the token, a JWT-like word, a connection string without a
        // key, a GCP file that is not a service account key.
        for value in [
            "-----BEGIN PUBLIC KEY-----\nMIIB",
            "AKIAIOSFODNN7EXAMPLE",
            "AKIA1234 is short",
            "ghp_short",
            "eyJhbGciOi.notatoken",
            "Server=db;Database=app;Integrated Security=true",
            r#"{"type": "authorized_user", "client_id": "x.apps.googleusercontent.com"}"#,
            "just a long ordinary configuration value",
        ] {
            assert!(credential(value).is_none(), "{value}");
        }
    }

    #[test]
    fn entropy_separates_random_strings_from_words_and_paths() {
        // 20 distinct characters: log2(20) = 4.32 bits each.
        assert!((entropy("abcdefghijklmnopqrst") - 20f64.log2()).abs() < 1e-9);
        assert_eq!(entropy("aaaaaaaaaaaaaaaaaaaa"), 0.0);
        assert!(random_looking(
            "q8Vt2LmZ9xK4pR7sW1nB",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
        // Too short; prose; a path; a URL; a repeated word.
        assert!(!random_looking(
            "q8Vt2LmZ9x",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
        assert!(!random_looking(
            "please change me soon ok",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
        assert!(!random_looking(
            "/var/run/secrets/kubernetes.io/token",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
        assert!(!random_looking(
            "https://auth.example.com/oauth2/token",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
        assert!(!random_looking(
            "changemechangemechangeme",
            ENTROPY_MIN_LENGTH,
            ENTROPY_THRESHOLD
        ));
    }

    #[test]
    fn names_that_hold_secrets_and_names_that_point_at_them() {
        for n in [
            "DB_PASSWORD",
            "apiKey",
            "slack-token",
            "CLIENT_SECRET",
            "aws_secret_access_key",
            "PRIVATE_KEY",
        ] {
            assert!(secret_sounding(n), "{n}");
        }
        for n in [
            "PASSWORD_FILE",
            "TOKEN_PATH",
            "secretName",
            "AWS_ACCESS_KEY_ID",
            "LOG_LEVEL",
            "TOKEN_TTL",
            "AUTH_URL",
        ] {
            assert!(!secret_sounding(n), "{n}");
        }
    }
}
