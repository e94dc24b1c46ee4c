//! The operations on one SOPS file, shared by every command: open (decrypt with the MAC
//! verified), seal (encrypt with IV reuse), and re-key.

use crate::cipher::DataKey;
use crate::crypt::{self, Rules, Stash};
use crate::error::{err, Error, ErrorKind, Result};
use crate::keys::{self, Keyring};
use crate::metadata::{self, KeyGroup, Metadata};
use crate::stores::Format;
use crate::time::Timestamp;
use crate::tree::{Node, Plaintext};

/// An encrypted file as read: documents still encrypted, metadata taken out.
pub struct Sealed {
    /// The store it was read with.
    pub format: Format,
    /// Encrypted documents without the `sops` key.
    pub docs: Vec<Node>,
    /// Its metadata.
    pub metadata: Metadata,
}

/// A decrypted file with what is needed to write it back with minimal changes.
pub struct Opened {
    /// The plaintext documents.
    pub plain: Plaintext,
    /// Its metadata.
    pub metadata: Metadata,
    /// The data key.
    pub key: DataKey,
    /// IVs of the values as they were.
    pub stash: Stash,
    /// Non-fatal notes (comments that were not encrypted).
    pub warnings: Vec<String>,
}

/// What [`read_sealed`] says of a file without SOPS metadata (also an empty one).
const NOT_SOPS: &str = "sops metadata not found";

/// Whether `e` is [`read_sealed`] finding no SOPS metadata: the file is not encrypted, as
/// opposed to encrypted and broken.
pub fn is_not_encrypted(e: &Error) -> bool {
    e.message() == NOT_SOPS
}

/// Reads an encrypted file. Whatever stops it being read as one (empty, invalid YAML or
/// UTF-8, no `sops` block) is exit code 1, as in sops's decrypt, rotate and updatekeys.
pub fn read_sealed(input: &[u8], format: Format) -> Result<Sealed> {
    let not_sops = || {
        err!(Generic, "{NOT_SOPS}")
            .with_hint("the file is not encrypted; use `tollgate sops encrypt`")
    };
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(not_sops());
    }
    // The binary store's encrypted form is a JSON envelope.
    let mut docs = format.read_encrypted(input).map_err(|e| {
        if e.kind() == ErrorKind::CouldNotReadInput {
            e.with_kind(ErrorKind::Generic)
        } else {
            e
        }
    })?;
    if docs.is_empty() {
        return Err(not_sops());
    }
    let metadata = metadata::extract(format, &mut docs)?.ok_or_else(not_sops)?;
    Ok(Sealed {
        format,
        docs,
        metadata,
    })
}

fn rules(m: &Metadata) -> Rules<'_> {
    Rules {
        selector: &m.selector,
        mac_only_encrypted: m.mac_only_encrypted,
    }
}

/// Decrypts a sealed file; the MAC is verified unless `ignore_mac`. The IVs are kept for
/// re-encryption.
pub fn open(sealed: Sealed, keyring: &Keyring, ignore_mac: bool) -> Result<Opened> {
    open_with(sealed, keyring, ignore_mac, true)
}

/// Decrypts a sealed file for reading only (no IV stash is built).
pub fn open_read_only(sealed: Sealed, keyring: &Keyring, ignore_mac: bool) -> Result<Opened> {
    open_with(sealed, keyring, ignore_mac, false)
}

fn open_with(
    sealed: Sealed,
    keyring: &Keyring,
    ignore_mac: bool,
    keep_ivs: bool,
) -> Result<Opened> {
    let Sealed {
        mut docs, metadata, ..
    } = sealed;
    let key = keyring.data_key(&metadata.key_groups, metadata.shamir_threshold)?;
    let (computed, stash, warnings) = crypt::decrypt(&mut docs, rules(&metadata), &key, keep_ivs)?;
    let plain = Plaintext(docs);
    if !ignore_mac {
        let lm = metadata.canonical_lastmodified()?;
        let stored = crypt::decrypt_mac(&key, &metadata.mac, &lm)?;
        if stored != computed {
            return Err(err!(
                MacMismatch,
                "MAC mismatch. File has {stored}, computed {computed}"
            )
            .with_hint("a value was changed outside sops; use --ignore-mac to read it anyway"));
        }
    }
    Ok(Opened {
        plain,
        metadata,
        key,
        stash,
        warnings,
    })
}

/// Encrypts `docs` with `key`, sets `lastmodified` and the MAC, and returns the documents with
/// the metadata attached, ready to write.
pub fn seal(
    format: Format,
    mut plain: Plaintext,
    metadata: &mut Metadata,
    key: &DataKey,
    stash: &Stash,
) -> Result<Vec<Node>> {
    // Encrypted in place: the walker wipes each value it replaces, and on an error `plain`
    // wipes whatever is left when it drops.
    let mac = crypt::encrypt(&mut plain.0, rules(metadata), key, stash)?;
    let mut docs = std::mem::take(&mut plain.0);
    metadata.lastmodified = Timestamp::now_utc().rfc3339();
    metadata.mac = crypt::encrypt_mac(key, &mac, &metadata.lastmodified, stash)?;
    metadata::attach(format, &mut docs, metadata);
    Ok(docs)
}

/// Checks what sops refuses to encrypt.
pub fn check_plain(format: Format, docs: &[Node]) -> Result<()> {
    if docs.is_empty() {
        return Err(err!(
            NeedAtLeastOneDocument,
            "the file is empty: need at least one document"
        ));
    }
    if metadata::has_metadata(format, docs) {
        return Err(err!(
            FileAlreadyEncrypted,
            "the file is already encrypted (it has sops metadata)"
        )
        .with_hint("use `tollgate sops rotate` or `updatekeys` to change its keys"));
    }
    Ok(())
}

/// How a PGP key appears in recipient lists beside age recipients: `pgp:FINGERPRINT`
/// (uppercase, as [`crate::config::other_identity`] writes it).
pub const PGP_PREFIX: &str = "pgp:";

/// A PGP fingerprint as a recipient list entry: normalized, with [`PGP_PREFIX`].
pub fn pgp_recipient(fp: &str) -> String {
    format!("{PGP_PREFIX}{}", keys::pgp::normalize_fingerprint(fp))
}

/// Builds key groups (data key not yet wrapped) from recipient lists: age recipients, and PGP
/// keys as `pgp:FINGERPRINT`.
pub fn groups_from(recipients: &[Vec<String>]) -> Result<Vec<KeyGroup>> {
    let mut groups = Vec::new();
    for g in recipients {
        let mut group = KeyGroup::default();
        for r in g {
            match r.strip_prefix(PGP_PREFIX) {
                Some(fp) => {
                    if !keys::pgp::is_fingerprint(fp) {
                        return Err(err!(Generic, "invalid PGP fingerprint `{fp}`").with_hint(
                            "give the full fingerprint (`gpg --list-keys --with-colons`)",
                        ));
                    }
                    group.pgp.push(metadata::PgpEntry {
                        fp: keys::pgp::normalize_fingerprint(fp),
                        created_at: String::new(),
                        enc: String::new(),
                    });
                }
                None => {
                    keys::Recipient::parse(r)?;
                    group.age.push(metadata::AgeEntry {
                        recipient: r.clone(),
                        enc: String::new(),
                    });
                }
            }
        }
        groups.push(group);
    }
    if groups.iter().all(|g| g.age.is_empty() && g.pgp.is_empty()) {
        return Err(keys::empty_key_group());
    }
    Ok(groups)
}

/// Encrypts a plaintext file for new metadata (fresh data key).
pub fn encrypt_new(format: Format, docs: Vec<Node>, mut metadata: Metadata) -> Result<Vec<Node>> {
    let plain = Plaintext(docs);
    check_plain(format, &plain.0)?;
    let key = DataKey::generate();
    keys::wrap_groups(&key, &mut metadata.key_groups, metadata.shamir_threshold)?;
    seal(format, plain, &mut metadata, &key, &Stash::default())
}

/// The recipient sets of each group (age recipients, then `pgp:FINGERPRINT`), for comparing
/// key changes.
pub fn recipient_sets(groups: &[KeyGroup]) -> Vec<Vec<String>> {
    groups
        .iter()
        .map(|g| {
            g.age
                .iter()
                .map(|a| a.recipient.clone())
                .chain(g.pgp.iter().map(|p| pgp_recipient(&p.fp)))
                .collect()
        })
        .collect()
}
