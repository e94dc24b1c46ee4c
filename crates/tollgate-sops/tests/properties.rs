//! Properties over random documents: YAML write→read is the identity, encrypt→decrypt is the
//! identity with the MAC verified, and changing any MAC-covered value is detected (exit 51).

use age::secrecy::ExposeSecret;
use proptest::prelude::*;
use tollgate_sops::cipher::{self, DataKey};
use tollgate_sops::crypt::{self, Rules, Stash};
use tollgate_sops::file;
use tollgate_sops::keys::Keyring;
use tollgate_sops::metadata::{AgeEntry, KeyGroup, Metadata};
use tollgate_sops::selector::Selector;
use tollgate_sops::stores::{yaml_read, yaml_write, Format};
use tollgate_sops::tree::{Entry, Node, Scalar};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_./-]{0,12}",
        "[ -~]{0,16}",
        Just("yes".to_string()),
        Just("0x1F".to_string()),
        Just("2024-01-01".to_string()),
        Just("- dash".to_string()),
        Just("a: b # c".to_string()),
        Just("line1\nline2\n".to_string()),
        Just("tab\there".to_string()),
        Just("ünïcödé ✓".to_string()),
    ]
}

fn scalar() -> impl Strategy<Value = Node> {
    prop_oneof![
        text().prop_map(Node::str),
        any::<i64>().prop_map(|i| Node::Scalar(Scalar::Int(i))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Node::Scalar(Scalar::Float(f))),
        any::<bool>().prop_map(|b| Node::Scalar(Scalar::Bool(b))),
        Just(Node::Scalar(Scalar::Null)),
    ]
}

fn comment() -> impl Strategy<Value = String> {
    "[ -~]{0,20}".prop_map(|s| format!(" {s}"))
}

fn node() -> impl Strategy<Value = Node> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((prop::option::of(comment()), inner.clone()), 0..5).prop_map(
                |items| {
                    Node::List(
                        items
                            .into_iter()
                            .flat_map(|(c, v)| {
                                c.map(Node::Comment).into_iter().chain(std::iter::once(v))
                            })
                            .collect(),
                    )
                }
            ),
            map(inner),
        ]
    })
}

fn map(inner: impl Strategy<Value = Node>) -> impl Strategy<Value = Node> {
    prop::collection::vec(
        (prop::option::of(comment()), "[a-z][a-z0-9_]{0,8}", inner),
        0..5,
    )
    .prop_map(|items| {
        let mut seen = std::collections::HashSet::new();
        let mut entries = Vec::new();
        for (c, k, v) in items {
            if !seen.insert(k.clone()) {
                continue;
            }
            if let Some(c) = c {
                entries.push(Entry::Comment(c));
            }
            entries.push(Entry::Pair(k, v));
        }
        Node::Map(entries)
    })
}

fn docs() -> impl Strategy<Value = Vec<Node>> {
    prop::collection::vec(map(node()), 1..3)
}

#[allow(clippy::cast_precision_loss, clippy::float_cmp)]
fn same_value(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Map(x), Node::Map(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Entry::Pair(k1, v1), Entry::Pair(k2, v2)) => k1 == k2 && same_value(v1, v2),
                    (Entry::Comment(c1), Entry::Comment(c2)) => c1 == c2,
                    _ => false,
                })
        }
        (Node::List(x), Node::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        // yaml.v3 writes 2.0 as `2`, which reads back as an int: the same value, as in sops.
        (Node::Scalar(Scalar::Float(f)), Node::Scalar(Scalar::Int(i))) => *f == *i as f64,
        (Node::Scalar(Scalar::Float(f)), Node::Scalar(Scalar::Float(g))) => f == g,
        _ => a == b,
    }
}

fn keyring() -> (Keyring, String) {
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let mut ring = Keyring::default();
    ring.add_age_text(id.to_string().expose_secret(), "test");
    (ring, recipient)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn yaml_write_then_read_is_identity(docs in docs()) {
        let text = yaml_write::write(&docs, 4);
        let back = yaml_read::read(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.len(), docs.len());
        for (a, b) in docs.iter().zip(&back) {
            prop_assert!(same_value(a, b), "\n{}\n{:?}\n{:?}", text, a, b);
        }
    }

    #[test]
    fn encrypt_then_decrypt_is_identity_and_tampering_is_caught(docs in docs(), pick in any::<prop::sample::Index>()) {
        let mut docs = docs;
        // Every file gets at least one secret, so there is always something to tamper with.
        if let Some(Node::Map(entries)) = docs.first_mut() {
            entries.push(Entry::Pair("zz_secret".into(), Node::str("s3cr3t")));
        }
        let (ring, recipient) = keyring();
        let groups = vec![KeyGroup { age: vec![AgeEntry { recipient, enc: String::new() }], ..KeyGroup::default() }];
        let meta = Metadata::new(groups, 0, Selector::default(), false);
        let sealed_docs = file::encrypt_new(Format::Yaml, docs.clone(), meta).unwrap();
        let text = Format::Yaml.write_encrypted(&sealed_docs, None).unwrap();
        let sealed = file::read_sealed(&text, Format::Yaml).unwrap();
        let opened = file::open(sealed, &ring, false).unwrap();
        prop_assert_eq!(opened.plain.0.len(), docs.len());
        for (a, b) in docs.iter().zip(&opened.plain.0) {
            prop_assert!(same_value(a, b));
        }

        // Change one hashed value, re-encrypted under its own path so only the MAC can notice.
        let mut sealed = file::read_sealed(&text, Format::Yaml).unwrap();
        let key = ring.data_key(&sealed.metadata.key_groups, 0).unwrap();
        let mut leaves = Vec::new();
        for (i, d) in sealed.docs.iter().enumerate() {
            collect(d, &mut vec![], i, &mut leaves);
        }
        let (doc, path) = leaves[pick.index(leaves.len())].clone();
        let aad = format!("{}:", path.join(":"));
        let forged = cipher::encrypt(&key, b"forged value", aad.as_bytes(), "str", &cipher::random_iv()).unwrap();
        replace(&mut sealed.docs[doc], &path, Node::str(forged));
        let err = file::open(sealed, &ring, false).err().expect("tampering went unnoticed");
        prop_assert_eq!(err.exit_code(), 51);
    }

    #[test]
    fn readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for f in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini, Format::Binary] {
            let _ = f.read_plain(&bytes);
            let _ = file::read_sealed(&bytes, f);
        }
    }

    #[test]
    fn yaml_reader_never_panics_on_yaml_like_text(s in "[-:#&*!|>'\"\\[\\]{}, a-z0-9\n]{0,200}") {
        let _ = yaml_read::read(&s);
    }
}

/// Paths (map keys only) of encrypted leaves that are not inside lists.
fn collect(n: &Node, path: &mut Vec<String>, doc: usize, out: &mut Vec<(usize, Vec<String>)>) {
    if let Node::Map(entries) = n {
        for e in entries {
            if let Entry::Pair(k, v) = e {
                path.push(k.clone());
                match v {
                    Node::Scalar(Scalar::Str(s))
                        if s.starts_with("ENC[") && !s.contains("type:comment") =>
                    {
                        out.push((doc, path.clone()));
                    }
                    Node::Map(_) => collect(v, path, doc, out),
                    _ => {}
                }
                path.pop();
            }
        }
    }
}

fn replace(n: &mut Node, path: &[String], value: Node) {
    let Some((k, rest)) = path.split_first() else {
        *n = value;
        return;
    };
    if let Node::Map(entries) = n {
        for e in entries {
            if let Entry::Pair(name, v) = e {
                if name == k {
                    replace(v, rest, value);
                    return;
                }
            }
        }
    }
}

#[test]
fn mac_of_matches_the_encrypt_walk() {
    let docs = yaml_read::read("a: 1\nb: [x, {c: true}]\nd_unencrypted: z\n").unwrap();
    let sel = Selector::default();
    let rules = Rules {
        selector: &sel,
        mac_only_encrypted: false,
    };
    let mut copy = docs.clone();
    let mac = crypt::encrypt(&mut copy, rules, &DataKey::generate(), &Stash::default()).unwrap();
    assert_eq!(mac, crypt::mac_of(&docs, rules).unwrap());
}
