//! Which values get encrypted: the six mutually exclusive sops selectors and their exact
//! matching rules (every key on the path; regexes are unanchored searches).

use crate::error::{err, Result};
use regex::Regex;

/// The one partial-encryption selector of a file.
#[derive(Debug, Clone)]
pub enum Selector {
    /// Values under a key ending with this suffix stay in the clear (`_unencrypted` by default).
    UnencryptedSuffix(String),
    /// Only values under a key ending with this suffix are encrypted.
    EncryptedSuffix(String),
    /// Values under a key matching this regex stay in the clear.
    UnencryptedRegex(Regex),
    /// Only values under a key matching this regex are encrypted.
    EncryptedRegex(Regex),
    /// Values after a comment matching this regex stay in the clear.
    UnencryptedCommentRegex(Regex),
    /// Only values after a comment matching this regex are encrypted.
    EncryptedCommentRegex(Regex),
}

/// The metadata field names of the selectors, in the order sops writes them.
pub const FIELDS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

impl Default for Selector {
    fn default() -> Self {
        Selector::UnencryptedSuffix("_unencrypted".into())
    }
}

impl Selector {
    /// Builds the selector from `(field, value)` pairs; more than one non-empty is an error.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Self>> {
        let mut found: Option<Selector> = None;
        for (name, value) in fields {
            if value.is_empty() {
                continue;
            }
            if found.is_some() {
                return Err(err!(
                    ConflictingParameters,
                    "only one of {} may be set, found several",
                    FIELDS.join(", ")
                ));
            }
            let re =
                || Regex::new(value).map_err(|e| err!(Generic, "invalid {name} `{value}`: {e}"));
            found = Some(match name {
                "unencrypted_suffix" => Selector::UnencryptedSuffix(value.into()),
                "encrypted_suffix" => Selector::EncryptedSuffix(value.into()),
                "unencrypted_regex" => Selector::UnencryptedRegex(re()?),
                "encrypted_regex" => Selector::EncryptedRegex(re()?),
                "unencrypted_comment_regex" => Selector::UnencryptedCommentRegex(re()?),
                "encrypted_comment_regex" => Selector::EncryptedCommentRegex(re()?),
                _ => continue,
            });
        }
        Ok(found)
    }

    /// The metadata field and value this selector is written as.
    pub fn field(&self) -> (&'static str, &str) {
        match self {
            Selector::UnencryptedSuffix(s) => (FIELDS[0], s),
            Selector::EncryptedSuffix(s) => (FIELDS[1], s),
            Selector::UnencryptedRegex(r) => (FIELDS[2], r.as_str()),
            Selector::EncryptedRegex(r) => (FIELDS[3], r.as_str()),
            Selector::UnencryptedCommentRegex(r) => (FIELDS[4], r.as_str()),
            Selector::EncryptedCommentRegex(r) => (FIELDS[5], r.as_str()),
        }
    }

    /// Whether a value at `path`, after the active `comments`, is encrypted. For a comment item,
    /// `is_comment` excludes the comment itself from the encrypted-comment-regex test, as sops does.
    pub fn should_encrypt(
        &self,
        path: &[String],
        comments: &[Vec<String>],
        is_comment: bool,
    ) -> bool {
        match self {
            Selector::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Selector::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Selector::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Selector::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
            Selector::UnencryptedCommentRegex(r) => {
                !comments.iter().flatten().any(|c| r.is_match(c))
            }
            Selector::EncryptedCommentRegex(r) => {
                let last_group = comments.len().saturating_sub(1);
                let last_line = comments.last().map_or(0, |g| g.len().saturating_sub(1));
                comments.iter().enumerate().any(|(i, group)| {
                    group.iter().enumerate().any(|(j, c)| {
                        let itself = is_comment && i == last_group && j == last_line;
                        !itself && r.is_match(c)
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn path_rules() {
        let d = Selector::default();
        assert!(d.should_encrypt(&p(&["stringData", "password"]), &[], false));
        assert!(!d.should_encrypt(&p(&["note_unencrypted"]), &[], false));
        assert!(!d.should_encrypt(&p(&["x_unencrypted", "child"]), &[], false));
        let r = Selector::EncryptedRegex(Regex::new("^(data|stringData)$").unwrap());
        assert!(r.should_encrypt(&p(&["stringData", "password"]), &[], false));
        assert!(!r.should_encrypt(&p(&["metadata", "name"]), &[], false));
        assert!(!r.should_encrypt(&[], &[], true));
    }

    #[test]
    fn only_one_selector() {
        let e = Selector::from_fields([("encrypted_regex", "a"), ("unencrypted_suffix", "_x")])
            .unwrap_err();
        assert_eq!(e.exit_code(), 8);
        assert!(Selector::from_fields([("encrypted_regex", "")])
            .unwrap()
            .is_none());
    }

    #[test]
    fn comment_regex_skips_the_matching_line_itself() {
        let r = Selector::EncryptedCommentRegex(Regex::new("sops:enc").unwrap());
        let stack = vec![vec![" sops:enc".to_string()]];
        assert!(!r.should_encrypt(&[], &stack, true));
        assert!(r.should_encrypt(&p(&["k"]), &stack, false));
    }
}
