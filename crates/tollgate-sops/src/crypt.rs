//! Walks documents in sops order to encrypt or decrypt every selected value and to compute
//! the MAC in the same pass, with the IV stash that keeps unchanged values byte-identical.
//! Documents are walked in parallel; the MAC input of each is hashed in document order.

use crate::cipher::{self, DataKey};
use crate::error::{err, Result};
use crate::selector::Selector;
use crate::tree::{Entry, Node, Scalar};
use rayon::prelude::*;
use sha2::{Digest, Sha256, Sha512};
use std::collections::{HashMap, HashSet};

/// `sha256("sops")`: the MAC prefix that marks `mac_only_encrypted` files.
const MAC_ONLY_ENCRYPTED_PREFIX: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// IVs of the values seen while decrypting, by (document, path, type, plaintext), so
/// re-encryption of an unchanged value reuses its IV and ciphertext (minimal git diffs, as sops
/// does). Keys are SHA-256 digests: the stash never holds plaintext, and a collision (which
/// would reuse a nonce for another plaintext) is out of reach. The document is part of the
/// key, and one encryption hands each IV out at most once: equal values at the same path in
/// two documents once got one IV, and an AES-GCM nonce must never repeat under one data key.
#[derive(Default)]
pub struct Stash(HashMap<[u8; 32], [u8; 32]>);

/// The document index the MAC's IV is stashed under (no real document has it).
const MAC_DOCUMENT: usize = usize::MAX;

impl Stash {
    fn key(doc: usize, aad: &[u8], type_name: &str, plain: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((doc as u64).to_le_bytes());
        h.update(aad);
        h.update([0]);
        h.update(type_name.as_bytes());
        h.update([0]);
        h.update(plain);
        h.finalize().into()
    }

    fn remember(&mut self, doc: usize, aad: &[u8], type_name: &str, plain: &[u8], iv: &[u8]) {
        if let Ok(iv) = <[u8; 32]>::try_from(iv) {
            self.0.insert(Self::key(doc, aad, type_name, plain), iv);
        }
    }

    /// The stashed IV of an unchanged value, unless `used` (the IVs this encryption of the
    /// document has handed out) already has it; else a fresh random one.
    fn iv_for(
        &self,
        doc: usize,
        aad: &[u8],
        type_name: &str,
        plain: &[u8],
        used: &mut HashSet<[u8; 32]>,
    ) -> [u8; 32] {
        if self.0.is_empty() {
            return cipher::random_iv();
        }
        match self.0.get(&Self::key(doc, aad, type_name, plain)) {
            Some(iv) if used.insert(*iv) => *iv,
            _ => cipher::random_iv(),
        }
    }
}

/// How values are selected and hashed.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// The partial-encryption selector.
    pub selector: &'a Selector,
    /// Hash only encrypted values (with the `sha256("sops")` prefix).
    pub mac_only_encrypted: bool,
}

enum Mode<'a> {
    Encrypt {
        key: &'a DataKey,
        stash: &'a Stash,
    },
    Decrypt {
        key: &'a DataKey,
        stash: Option<Stash>,
        warnings: Vec<String>,
    },
    Hash,
    /// Reads only: which selected values are not well-formed ciphertext.
    Inspect(Vec<Unsealed>),
}

/// A value the file's selector says is encrypted, found otherwise (by [`inspect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    /// The document of the file.
    pub doc: usize,
    /// The keys that lead to it (list items are not numbered, as in the MAC's AAD).
    pub path: Vec<String>,
    /// `ENC[...]` that does not parse (truncated, edited), rather than a plain value.
    pub broken_ciphertext: bool,
}

/// Walks one document, collecting the bytes it feeds to the MAC.
struct Walker<'a> {
    rules: Rules<'a>,
    mode: Mode<'a>,
    /// Index of the document in the file (the stash is keyed by it).
    doc: usize,
    /// IVs taken from the stash so far (encryption only).
    used_ivs: HashSet<[u8; 32]>,
    mac_input: Vec<u8>,
    path: Vec<String>,
    comments: Vec<Vec<String>>,
}

fn aad(path: &[String]) -> Vec<u8> {
    let mut s = path.join(":");
    s.push(':');
    s.into_bytes()
}

fn display_path(path: &[String]) -> String {
    path.join(".")
}

impl<'a> Walker<'a> {
    fn new(rules: Rules<'a>, mode: Mode<'a>, doc: usize) -> Self {
        Walker {
            rules,
            mode,
            doc,
            used_ivs: HashSet::new(),
            mac_input: Vec::new(),
            path: Vec::new(),
            comments: Vec::new(),
        }
    }

    fn map(&mut self, entries: &mut [Entry]) -> Result<()> {
        self.comments.push(Vec::new());
        for entry in entries.iter_mut() {
            match entry {
                Entry::Comment(text) => {
                    self.push_comment(text);
                    if let Some(new) = self.map_comment(text)? {
                        zeroize::Zeroize::zeroize(text);
                        *text = new;
                    }
                }
                Entry::Pair(key, value) => {
                    self.path.push(key.clone());
                    let r = self.value(value);
                    self.path.pop();
                    r?;
                    self.clear_comments();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn list(&mut self, items: &mut [Node]) -> Result<()> {
        self.comments.push(Vec::new());
        for item in items.iter_mut() {
            let is_comment = if let Node::Comment(text) = item {
                let t = text.clone();
                self.push_comment(&t);
                true
            } else {
                false
            };
            self.value(item)?;
            if !is_comment {
                self.clear_comments();
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn push_comment(&mut self, text: &str) {
        if let Some(top) = self.comments.last_mut() {
            top.push(text.to_owned());
        }
    }

    fn clear_comments(&mut self) {
        if let Some(top) = self.comments.last_mut() {
            top.clear();
        }
    }

    /// Decrypts a comment; sops keeps comments it cannot decrypt (plaintext comments are allowed).
    fn decrypt_comment(
        key: &DataKey,
        text: &str,
        doc: usize,
        aad: &[u8],
        stash: Option<&mut Stash>,
        warnings: &mut Vec<String>,
    ) -> Option<String> {
        match cipher::decrypt(key, text, aad) {
            Ok(cipher::Decrypted {
                node: Node::Comment(plain),
                iv,
            }) => {
                if let Some(stash) = stash {
                    stash.remember(doc, aad, "comment", plain.as_bytes(), &iv);
                }
                Some(plain)
            }
            _ => {
                warnings.push(format!(
                    "kept a comment that is not encrypted at `{}`",
                    String::from_utf8_lossy(aad)
                ));
                None
            }
        }
    }

    /// A comment item of a mapping; returns its new text when it changes.
    fn map_comment(&mut self, text: &str) -> Result<Option<String>> {
        if !self
            .rules
            .selector
            .should_encrypt(&self.path, &self.comments, true)
        {
            return Ok(None);
        }
        let aad = aad(&self.path);
        match &mut self.mode {
            // Comments sops cannot decrypt are kept in the clear by sops itself.
            Mode::Hash | Mode::Inspect(_) => Ok(None),
            Mode::Encrypt { key, stash } => {
                let iv = stash.iv_for(
                    self.doc,
                    &aad,
                    "comment",
                    text.as_bytes(),
                    &mut self.used_ivs,
                );
                cipher::encrypt(key, text.as_bytes(), &aad, "comment", &iv).map(Some)
            }
            Mode::Decrypt {
                key,
                stash,
                warnings,
            } => Ok(Self::decrypt_comment(
                key,
                text,
                self.doc,
                &aad,
                stash.as_mut(),
                warnings,
            )),
        }
    }

    fn value(&mut self, node: &mut Node) -> Result<()> {
        match node {
            Node::Map(entries) => self.map(entries),
            Node::List(items) => self.list(items),
            Node::Scalar(Scalar::Null) => Ok(()),
            Node::Comment(_) | Node::Scalar(_) => self.leaf(node),
        }
    }

    fn hash(&mut self, node: &Node, hashed: bool) {
        if let (true, Node::Scalar(s)) = (hashed, node) {
            self.mac_input.extend_from_slice(&s.to_bytes());
        }
    }

    fn leaf(&mut self, node: &mut Node) -> Result<()> {
        let is_comment = matches!(node, Node::Comment(_));
        let selected = self
            .rules
            .selector
            .should_encrypt(&self.path, &self.comments, is_comment);
        let hashed = !self.rules.mac_only_encrypted || selected;
        match &mut self.mode {
            Mode::Hash => self.hash(node, hashed),
            Mode::Inspect(found) => {
                let plain = match node {
                    _ if !selected => None,
                    Node::Scalar(Scalar::Str(s)) if s.is_empty() => None,
                    Node::Scalar(Scalar::Str(s)) if cipher::is_well_formed(s) => None,
                    Node::Scalar(Scalar::Str(s)) => Some(s.starts_with("ENC[")),
                    Node::Scalar(_) => Some(false),
                    Node::Comment(_) | Node::Map(_) | Node::List(_) => None,
                };
                if let Some(broken_ciphertext) = plain {
                    found.push(Unsealed {
                        doc: self.doc,
                        path: self.path.clone(),
                        broken_ciphertext,
                    });
                }
            }
            Mode::Encrypt { key, stash } => {
                let (bytes, type_name) = match node {
                    Node::Scalar(s) => (zeroize::Zeroizing::new(s.to_bytes()), s.type_name()),
                    Node::Comment(c) => (zeroize::Zeroizing::new(c.as_bytes().to_vec()), "comment"),
                    _ => return Ok(()),
                };
                if selected && !bytes.is_empty() {
                    let aad = aad(&self.path);
                    let iv = stash.iv_for(self.doc, &aad, type_name, &bytes, &mut self.used_ivs);
                    let enc = cipher::encrypt(key, &bytes, &aad, type_name, &iv)?;
                    self.hash(node, hashed);
                    // The plaintext leaves memory as the ciphertext takes its place.
                    node.zeroize_in_place();
                    *node = Node::str(enc);
                } else {
                    self.hash(node, hashed);
                }
            }
            Mode::Decrypt {
                key,
                stash,
                warnings,
            } => {
                if selected {
                    let aad = aad(&self.path);
                    match node {
                        // A real comment inside a list.
                        Node::Comment(text) => {
                            if let Some(plain) = Self::decrypt_comment(
                                key,
                                text,
                                self.doc,
                                &aad,
                                stash.as_mut(),
                                warnings,
                            ) {
                                *text = plain;
                            }
                        }
                        Node::Scalar(Scalar::Str(s)) if s.is_empty() => {}
                        Node::Scalar(Scalar::Str(s)) => {
                            let d = cipher::decrypt(key, s, &aad).map_err(|e| {
                                e.context(format!("at `{}`", display_path(&self.path)))
                            })?;
                            if let Some(stash) = stash {
                                let (bytes, type_name) = match &d.node {
                                    Node::Scalar(v) => (v.to_bytes(), v.type_name()),
                                    Node::Comment(c) => (c.as_bytes().to_vec(), "comment"),
                                    _ => (Vec::new(), "str"),
                                };
                                stash.remember(self.doc, &aad, type_name, &bytes, &d.iv);
                            }
                            *node = d.node;
                        }
                        _ => {
                            return Err(err!(
                                ErrorDecryptingTree,
                                "the value at `{}` should be encrypted but is not",
                                display_path(&self.path)
                            )
                            .with_hint("the file was edited by hand; restore it or re-encrypt it"))
                        }
                    }
                }
                self.hash(node, hashed);
            }
        }
        Ok(())
    }
}

/// Uppercase hex, as Go's `%X`.
pub fn hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let digit = |nibble: u8| char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'));
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 15));
    }
    s
}

/// Walks every document (in parallel when there are several) and returns the walkers in
/// document order, or the error of the first document that failed.
fn walk_all<'a, F>(docs: &mut [Node], make: F) -> Result<Vec<Walker<'a>>>
where
    F: Fn(usize) -> Walker<'a> + Sync,
{
    let walk = |(index, doc): (usize, &mut Node)| {
        let mut w = make(index);
        w.value(doc).map(|()| w)
    };
    let results: Vec<Result<Walker<'a>>> = if docs.len() > 1 {
        docs.par_iter_mut().enumerate().map(walk).collect()
    } else {
        docs.iter_mut().enumerate().map(walk).collect()
    };
    results.into_iter().collect()
}

fn mac(rules: Rules<'_>, walkers: &[Walker<'_>]) -> String {
    let mut hash = Sha512::new();
    if rules.mac_only_encrypted {
        hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
    }
    for w in walkers {
        hash.update(&w.mac_input);
    }
    hex_upper(&hash.finalize())
}

/// Encrypts every selected value of `docs` in place and returns the MAC of the plaintext.
pub fn encrypt(
    docs: &mut [Node],
    rules: Rules<'_>,
    key: &DataKey,
    stash: &Stash,
) -> Result<String> {
    let walkers = walk_all(docs, |doc| {
        Walker::new(rules, Mode::Encrypt { key, stash }, doc)
    })?;
    Ok(mac(rules, &walkers))
}

/// Decrypts every selected value of `docs` in place; returns the MAC of the plaintext, the IV
/// stash (empty unless `keep_ivs`: only re-encryption needs it), and warnings.
pub fn decrypt(
    docs: &mut [Node],
    rules: Rules<'_>,
    key: &DataKey,
    keep_ivs: bool,
) -> Result<(String, Stash, Vec<String>)> {
    let make = |doc| {
        Walker::new(
            rules,
            Mode::Decrypt {
                key,
                stash: keep_ivs.then(Stash::default),
                warnings: Vec::new(),
            },
            doc,
        )
    };
    let walkers = walk_all(docs, make)?;
    let mac = mac(rules, &walkers);
    let mut stash = Stash::default();
    let mut warnings = Vec::new();
    for w in walkers {
        if let Mode::Decrypt {
            stash: s,
            warnings: ws,
            ..
        } = w.mode
        {
            if let Some(s) = s {
                stash.0.extend(s.0);
            }
            warnings.extend(ws);
        }
    }
    Ok((mac, stash, warnings))
}

/// The selected values of encrypted `docs` that are not well-formed ciphertext: plaintext an
/// edit put there without sops, or `ENC[...]` damaged by hand. Needs no key.
pub fn inspect(docs: &mut [Node], rules: Rules<'_>) -> Result<Vec<Unsealed>> {
    let walkers = walk_all(docs, |doc| {
        Walker::new(rules, Mode::Inspect(Vec::new()), doc)
    })?;
    Ok(walkers
        .into_iter()
        .flat_map(|w| match w.mode {
            Mode::Inspect(found) => found,
            _ => Vec::new(),
        })
        .collect())
}

/// The MAC of plaintext documents, without encrypting anything.
pub fn mac_of(docs: &[Node], rules: Rules<'_>) -> Result<String> {
    let mut copy = docs.to_vec();
    let walkers = walk_all(&mut copy, |doc| Walker::new(rules, Mode::Hash, doc))?;
    Ok(mac(rules, &walkers))
}

/// Encrypts the MAC with `lastmodified` (canonical form) as AAD.
pub fn encrypt_mac(key: &DataKey, mac: &str, lastmodified: &str, stash: &Stash) -> Result<String> {
    let iv = stash.iv_for(
        MAC_DOCUMENT,
        lastmodified.as_bytes(),
        "str",
        mac.as_bytes(),
        &mut HashSet::new(),
    );
    cipher::encrypt(key, mac.as_bytes(), lastmodified.as_bytes(), "str", &iv)
        .map_err(|e| err!(ErrorEncryptingMac, "could not encrypt the MAC: {e}"))
}

/// Decrypts the stored MAC; `lastmodified` must already be canonical.
pub fn decrypt_mac(key: &DataKey, enc: &str, lastmodified: &str) -> Result<String> {
    if enc.is_empty() {
        return Err(err!(MacMismatch, "the file has no MAC"));
    }
    let d = cipher::decrypt(key, enc, lastmodified.as_bytes()).map_err(|_| {
        err!(MacMismatch, "cannot decrypt the MAC").with_hint(
            "`sops.lastmodified` or `sops.mac` was changed; the file is not as sops wrote it",
        )
    })?;
    match d.node {
        Node::Scalar(Scalar::Str(s)) => Ok(s),
        _ => Err(err!(MacMismatch, "the MAC is not a string")),
    }
}
